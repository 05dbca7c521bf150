#!/usr/bin/env bash
# The alarms, all with alarm and OK actions on the alert topic:
#  * rds-user-dml-detected-<epoch>: UserDMLOperationCount > 0 (Sum over one window). The epoch is taken at the
#    first deployment and kept by later ones (the alarm is updated, not duplicated); set NEW_ALARM_NAME=1 to
#    rotate it (a fresh incident identity for platforms that deduplicate by alarm name): the old one is deleted.
#  * rds-user-audit-monitor-health: the monitor failed (MonitorExecutionErrors), read an audit record it could not
#    parse (MalformedRecords: a truncated or damaged record may hide a detection), or stopped running (no
#    UserDMLOperationCount datapoint, which every run publishes, a 0 too), in 2 of the last 3 windows.
#  * rds-user-audit-canary-silent (with CANARY_USER): no CanaryRecords in CANARY_PERIOD_SECONDS (3600):
#    the canary's audited statements stopped reaching the log, so pgAudit may be logging nothing.
#
# The metric is timestamped when the monitor publishes it, so a detection found while catching up after a gap
# lands in the current period and fires the alarm; missing data is not a detection (notBreaching) but is a
# health failure (breaching).
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME. Optional: QUERY_WINDOW_MINUTES (5), CANARY_USER,
#   CANARY_PERIOD_SECONDS (3600), NEW_ALARM_NAME.
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
: "${CANARY_USER:=}" "${CANARY_PERIOD_SECONDS:=3600}" "${NEW_ALARM_NAME:=}"
check_account

topic="$(topic_arn)"
period=$((QUERY_WINDOW_MINUTES * 60))
dimension="Name=LogGroup,Value=$LOG_GROUP_NAME"

# -- detections -------------------------------------------------------------------------------------------------
name="$(existing_alarm)"
if [[ -z "$name" || -n "$NEW_ALARM_NAME" ]]; then
  old="$name"
  name="${ALARM_PREFIX}$(date +%s)"
fi
aws cloudwatch put-metric-alarm --alarm-name "$name" \
  --alarm-description "A person ran DML on application tables ($LOG_GROUP_NAME). See the monitor's log and README runbook." \
  --namespace "$METRIC_NAMESPACE" --metric-name UserDMLOperationCount --dimensions "$dimension" \
  --statistic Sum --period "$period" --evaluation-periods 1 --datapoints-to-alarm 1 \
  --threshold 0 --comparison-operator GreaterThanThreshold --treat-missing-data notBreaching \
  --alarm-actions "$topic" --ok-actions "$topic"
if [[ -n "${old:-}" && "$old" != "$name" ]]; then
  aws cloudwatch delete-alarms --alarm-names "$old"
  echo "cloudwatch: alarm $old replaced"
fi
echo "cloudwatch: alarm $name: UserDMLOperationCount > 0 over ${period}s -> $topic"

# -- the monitor's health ---------------------------------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
metric() { # id metric-name stat
  printf '{"Id":"%s","ReturnData":false,"MetricStat":{"Metric":{"Namespace":%s,"MetricName":"%s","Dimensions":[{"Name":"LogGroup","Value":%s}]},"Period":%d,"Stat":"%s"}}' \
    "$1" "$(json_string "$METRIC_NAMESPACE")" "$2" "$(json_string "$LOG_GROUP_NAME")" "$period" "$3"
}
printf '[%s,%s,%s,{"Id":"unhealthy","Label":"failed or silent runs, unreadable records","ReturnData":true,"Expression":"IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(runs, 0) < 1, 1, 0)"}]\n' \
  "$(metric errors MonitorExecutionErrors Sum)" "$(metric runs UserDMLOperationCount SampleCount)" \
  "$(metric malformed MalformedRecords Sum)" >"$work/health.json"
aws cloudwatch put-metric-alarm --alarm-name "$HEALTH_ALARM_NAME" \
  --alarm-description "The pgaudit monitor of $LOG_GROUP_NAME failed, stopped running or read unreadable audit records: detections may be delayed or missed. See README runbook." \
  --metrics "file://$work/health.json" --evaluation-periods 3 --datapoints-to-alarm 2 \
  --threshold 0 --comparison-operator GreaterThanThreshold --treat-missing-data breaching \
  --alarm-actions "$topic" --ok-actions "$topic"
echo "cloudwatch: alarm $HEALTH_ALARM_NAME: errors, malformed records or no run in 2 of 3 windows -> $topic"

# -- the canary ---------------------------------------------------------------------------------------------------
if [[ -n "$CANARY_USER" ]]; then
  aws cloudwatch put-metric-alarm --alarm-name "$CANARY_ALARM_NAME" \
    --alarm-description "No audit record of the canary role $CANARY_USER reached $LOG_GROUP_NAME: is pgAudit logging?" \
    --namespace "$METRIC_NAMESPACE" --metric-name CanaryRecords --dimensions "$dimension" \
    --statistic Sum --period "$CANARY_PERIOD_SECONDS" --evaluation-periods 1 \
    --threshold 1 --comparison-operator LessThanThreshold --treat-missing-data breaching \
    --alarm-actions "$topic" --ok-actions "$topic"
  echo "cloudwatch: alarm $CANARY_ALARM_NAME: no CanaryRecords in ${CANARY_PERIOD_SECONDS}s -> $topic"
fi
