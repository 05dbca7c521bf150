#!/usr/bin/env bash
# The whole AWS pipeline in one account and region, step by step; every step can also be run on its own, and
# running this again updates what exists (nothing is duplicated).
#
#   export AWS_REGION=us-east-1 ACCOUNT_ID=123456789012 CLUSTER_NAME=my-aurora-cluster
#   export ALERT_EMAIL=team@example.com INCIDENT_PLATFORM_URL='https://platform.example/hook?apiKey=...'
#   export SERVICE_ACCOUNTS='app_*,etl' RETENTION_DAYS=365
#   ./deploy-all.sh
#
# FIRST_INVOKE=1 also invokes the function once, so that the alarms leave INSUFFICIENT_DATA at once (opt-in:
# it runs a Logs Insights query, which costs a little). See README, "AWS deployment", for every input.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib/deploy-common.sh
source lib/deploy-common.sh
check_inputs
require ALERT_EMAIL INCIDENT_PLATFORM_URL
if [[ -z "${SERVICE_ACCOUNTS+set}" ]]; then
  echo "${0##*/}: missing required environment variable(s): SERVICE_ACCOUNTS (set it empty if there are none)" >&2
  exit 2
fi
: "${RETENTION_DAYS:=365}" "${FIRST_INVOKE:=}"
export RETENTION_DAYS SERVICE_ACCOUNTS ALERT_EMAIL INCIDENT_PLATFORM_URL
check_account

steps=(
  iam/deploy-iam.sh
  lambda/deploy-lambda.sh
  eventbridge/deploy-eventbridge.sh
  sns/deploy-sns.sh
  cloudwatch/deploy-alarm.sh
  cloudwatch/set-log-retention.sh
  cloudwatch/deploy-dashboard.sh
)
for i in "${!steps[@]}"; do
  echo "== $((i + 1))/${#steps[@]} ${steps[i]}"
  bash "${steps[i]}"
done

if [[ -n "$FIRST_INVOKE" ]]; then
  echo "== first invoke"
  response="$(mktemp)"
  trap 'rm -f "$response"' EXIT
  aws lambda invoke --function-name "$FUNCTION_NAME" --payload '{}' "$response" >/dev/null
  cat "$response"
  echo
fi
echo "== done: $(function_arn), topic $(topic_arn), alarm $(existing_alarm), health alarms $HEALTH_ALARM_NAME, $DATA_LOSS_ALARM_NAME"
