#!/usr/bin/env bash
# The alarms, all with alarm and OK actions on the alert topic:
#  * rds-user-dml-detected-<epoch>: UserDMLOperationCount > 0 (Sum over one window). The epoch is taken at the
#    first deployment and kept by later ones (the alarm is updated, not duplicated); set NEW_ALARM_NAME=1 to
#    rotate it (a fresh incident identity for platforms that deduplicate by alarm name): the old one is deleted.
#  * rds-user-audit-monitor-health, the heartbeat: no run of the monitor reported in a period of twice the window
#    (600 s for the 5-minute schedule). Every run publishes MonitorExecutionErrors (0 when it completes, 1 when it
#    fails), so a failing run still counts as running (the data-loss alarm reports it); missing data is breaching,
#    so a monitor that stopped (schedule disabled, function deleted, throttled, timed out, unable to publish) pages.
#    The period is twice the schedule because CloudWatch evaluates an alarm every minute over the most recent
#    periods, and a run publishes when its query ends, so one period of the schedule's length may hold no run.
#  * rds-user-audit-monitor-data-loss: the first window in which a run failed (MonitorExecutionErrors), read an
#    audit record it could not parse (MalformedRecords: a damaged record may hide a detection) or got truncated
#    query results (QueryResultsTruncated: rows may be missing). 1 of 1 datapoints: one such window pages, and the
#    alarm returns to OK (an OK notification) when a window is clean; missing data is not breaching (the heartbeat
#    watches silence).
#  * rds-user-audit-canary-silent (with CANARY_USER): no CanaryRecords in CANARY_PERIOD_SECONDS (3600):
#    the canary's audited statements stopped reaching the log, so pgAudit may be logging nothing.
#
# The metric is timestamped when the monitor publishes it, so a detection found while catching up after a gap
# lands in the current period and fires the alarm; missing data is not a detection (notBreaching) but is a
# heartbeat failure (breaching).
#
# How CloudWatch evaluates periods, datapoints to alarm and missing data:
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
# put-metric-alarm on an existing name overwrites its whole configuration and keeps its state, so a redeploy
# turns an older installation's single health alarm (2 of 3 periods of errors, malformed records or silence)
# into the heartbeat under the same name; the next evaluation sends OK if the monitor is running:
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
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

# -- the monitor's health: the heartbeat, and data lost from alerting ------------------------------------------------
heartbeat_period=$((2 * period))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
metric() { # id metric-name stat period
  printf '{"Id":"%s","ReturnData":false,"MetricStat":{"Metric":{"Namespace":%s,"MetricName":"%s","Dimensions":[{"Name":"LogGroup","Value":%s}]},"Period":%d,"Stat":"%s"}}' \
    "$1" "$(json_string "$METRIC_NAMESPACE")" "$2" "$(json_string "$LOG_GROUP_NAME")" "$4" "$3"
}
# FILL(runs, 0): a period without a run is a 0 that breaches, not a gap CloudWatch would skip over while an older
# datapoint is still in its evaluation range; with no datapoint at all in the range, missing data breaches.
printf '[%s,{"Id":"heartbeat","Label":"runs reported","ReturnData":true,"Expression":"FILL(runs, 0)"}]\n' \
  "$(metric runs MonitorExecutionErrors SampleCount "$heartbeat_period")" >"$work/heartbeat.json"
aws cloudwatch put-metric-alarm --alarm-name "$HEALTH_ALARM_NAME" \
  --alarm-description "The pgaudit monitor of $LOG_GROUP_NAME reported no run in twice its window: it stopped, and detections are not being made. See README runbook." \
  --metrics "file://$work/heartbeat.json" --evaluation-periods 1 --datapoints-to-alarm 1 \
  --threshold 1 --comparison-operator LessThanThreshold --treat-missing-data breaching \
  --alarm-actions "$topic" --ok-actions "$topic"
echo "cloudwatch: alarm $HEALTH_ALARM_NAME: no run reported in ${heartbeat_period}s -> $topic"

printf '[%s,%s,%s,{"Id":"lost","Label":"failed runs, unreadable records, truncated results","ReturnData":true,"Expression":"IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(truncated, 0) > 0, 1, 0)"}]\n' \
  "$(metric errors MonitorExecutionErrors Sum "$period")" "$(metric malformed MalformedRecords Sum "$period")" \
  "$(metric truncated QueryResultsTruncated Sum "$period")" >"$work/data-loss.json"
aws cloudwatch put-metric-alarm --alarm-name "$DATA_LOSS_ALARM_NAME" \
  --alarm-description "The pgaudit monitor of $LOG_GROUP_NAME failed a run, read an audit record it could not parse or got truncated query results: a detection may be delayed or missed. See README runbook." \
  --metrics "file://$work/data-loss.json" --evaluation-periods 1 --datapoints-to-alarm 1 \
  --threshold 0 --comparison-operator GreaterThanThreshold --treat-missing-data notBreaching \
  --alarm-actions "$topic" --ok-actions "$topic"
echo "cloudwatch: alarm $DATA_LOSS_ALARM_NAME: errors, malformed records or truncated results in one ${period}s window -> $topic"

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
