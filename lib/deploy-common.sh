#!/usr/bin/env bash
# Shared by the deployment scripts (sourced, never run): names, input checks, policy rendering, JSON escaping.
# Every script sources it and still runs on its own. AWS_ENDPOINT_URL, when set, is honoured by the AWS CLI itself.

# The names of the reference design; override only to run two stacks in one account and region.
: "${FUNCTION_NAME:=rds-user-audit-monitor}"
: "${ROLE_NAME:=rds-user-audit-monitor-role}"
: "${ROLE_POLICY_NAME:=rds-user-audit-monitor-permissions}"
: "${TOPIC_NAME:=rds-user-audit-alerts}"
: "${KMS_ALIAS:=alias/rds-user-audit-alerts}"
: "${RULE_NAME:=rds-user-audit-monitor-schedule}"
: "${METRIC_NAMESPACE:=RDSAudit/UserActivity}"
: "${QUERY_WINDOW_MINUTES:=5}"
: "${ALARM_PREFIX:=rds-user-dml-detected-}"
: "${HEALTH_ALARM_NAME:=rds-user-audit-monitor-health}"
: "${DATA_LOSS_ALARM_NAME:=rds-user-audit-monitor-data-loss}"
: "${CANARY_ALARM_NAME:=rds-user-audit-canary-silent}"
DEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEPLOY_ROOT

# require NAME...: every variable must be set and non-empty; all missing ones are named at once.
require() {
  local missing=() name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
  done
  if ((${#missing[@]})); then
    echo "${0##*/}: missing required environment variable(s): ${missing[*]}" >&2
    exit 2
  fi
}

# check_inputs: the inputs every script shares, validated, and the names derived from them.
check_inputs() {
  require AWS_REGION ACCOUNT_ID CLUSTER_NAME
  [[ "$ACCOUNT_ID" =~ ^[0-9]{12}$ ]] || { echo "${0##*/}: ACCOUNT_ID must be 12 digits" >&2; exit 2; }
  [[ "$CLUSTER_NAME" =~ ^[A-Za-z0-9-]+$ ]] || { echo "${0##*/}: CLUSTER_NAME: letters, digits, hyphens" >&2; exit 2; }
  [[ "$QUERY_WINDOW_MINUTES" =~ ^[1-9][0-9]*$ ]] || { echo "${0##*/}: QUERY_WINDOW_MINUTES: whole minutes" >&2; exit 2; }
  : "${LOG_GROUP_NAME:=/aws/rds/cluster/${CLUSTER_NAME}/postgresql}"
  : "${CHECKPOINT_PARAMETER:=/rds-user-audit-monitor/${CLUSTER_NAME}/checkpoint}"
  export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION" LOG_GROUP_NAME CHECKPOINT_PARAMETER
}

# check_account: refuse to deploy into an account other than ACCOUNT_ID (credentials for the wrong account).
check_account() {
  local actual
  actual="$(aws sts get-caller-identity --query Account --output text)"
  if [[ "$actual" != "$ACCOUNT_ID" ]]; then
    echo "${0##*/}: the credentials belong to account $actual, not ACCOUNT_ID=$ACCOUNT_ID" >&2
    exit 2
  fi
}

# render FILE: a policy template with its ${placeholders} filled in (the Terraform module fills the same ones).
render() {
  local text
  text="$(<"$1")"
  text="${text//\$\{account_id\}/$ACCOUNT_ID}"
  text="${text//\$\{region\}/$AWS_REGION}"
  text="${text//\$\{log_group_name\}/$LOG_GROUP_NAME}"
  text="${text//\$\{function_name\}/$FUNCTION_NAME}"
  text="${text//\$\{role_name\}/$ROLE_NAME}"
  text="${text//\$\{topic_name\}/$TOPIC_NAME}"
  text="${text//\$\{metric_namespace\}/$METRIC_NAMESPACE}"
  text="${text//\$\{checkpoint_parameter\}/$CHECKPOINT_PARAMETER}"
  if [[ "$text" =~ \$\{[a-z_]+\} ]]; then
    echo "${0##*/}: $1: unknown placeholder ${BASH_REMATCH[0]}" >&2
    exit 2
  fi
  printf '%s\n' "$text"
}

# json_string TEXT: TEXT as a JSON string literal, quotes included.
json_string() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\r'/\\r}"
  printf '"%s"' "$s"
}

topic_arn() { printf 'arn:aws:sns:%s:%s:%s' "$AWS_REGION" "$ACCOUNT_ID" "$TOPIC_NAME"; }
function_arn() { printf 'arn:aws:lambda:%s:%s:function:%s' "$AWS_REGION" "$ACCOUNT_ID" "$FUNCTION_NAME"; }
role_arn() { printf 'arn:aws:iam::%s:role/%s' "$ACCOUNT_ID" "$ROLE_NAME"; }

# existing_alarm: the name of the detection alarm this stack already has, if any (names carry the deploy epoch).
existing_alarm() {
  aws cloudwatch describe-alarms --alarm-name-prefix "$ALARM_PREFIX" \
    --query "MetricAlarms[?Dimensions[?Name=='LogGroup' && Value=='${LOG_GROUP_NAME}']].AlarmName | [0]" \
    --output text | sed 's/^None$//'
}
