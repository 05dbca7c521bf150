#!/usr/bin/env bash
# A two-widget dashboard: the live table of audit records (the query of log-insights-query.txt, which narrows and
# never judges: the alarm counts what the Python policy decided) and the status of the monitor's alarms.
# put-dashboard replaces the whole body, so a second run updates it.
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME. Optional: DASHBOARD_NAME (rds-user-audit-<cluster>).
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
: "${DASHBOARD_NAME:=rds-user-audit-$CLUSTER_NAME}"
check_account

alarm="$(existing_alarm)"
if [[ -z "$alarm" ]]; then
  echo "${0##*/}: no alarm ${ALARM_PREFIX}* for $LOG_GROUP_NAME yet: run cloudwatch/deploy-alarm.sh first" >&2
  exit 2
fi
alarm_arns="$(aws cloudwatch describe-alarms --alarm-names "$alarm" "$HEALTH_ALARM_NAME" "$DATA_LOSS_ALARM_NAME" "$CANARY_ALARM_NAME" \
  --query 'MetricAlarms[].AlarmArn' --output text)"
alarms_json=""
for arn in $alarm_arns; do
  alarms_json+="${alarms_json:+,}$(json_string "$arn")"
done
query="SOURCE '$LOG_GROUP_NAME' | $(<"$DEPLOY_ROOT/cloudwatch/log-insights-query.txt")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/body.json" <<JSON
{
  "widgets": [
    {"type": "log", "x": 0, "y": 0, "width": 24, "height": 12,
     "properties": {"title": "pgAudit records: $LOG_GROUP_NAME", "region": "$AWS_REGION", "view": "table",
                    "query": $(json_string "$query")}},
    {"type": "alarm", "x": 0, "y": 12, "width": 24, "height": 4,
     "properties": {"title": "Audit monitor alarms", "alarms": [$alarms_json]}}
  ]
}
JSON
aws cloudwatch put-dashboard --dashboard-name "$DASHBOARD_NAME" --dashboard-body "file://$work/body.json" >/dev/null
echo "cloudwatch: dashboard https://$AWS_REGION.console.aws.amazon.com/cloudwatch/home?region=$AWS_REGION#dashboards:name=$DASHBOARD_NAME"
