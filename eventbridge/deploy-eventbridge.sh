#!/usr/bin/env bash
# The schedule: an EventBridge rule rate(QUERY_WINDOW_MINUTES minutes) targeting the function, and the permission
# for EventBridge (this rule only) to invoke it. The rule's event carries `time`, from which the function plans its
# windows, so a late or retried delivery processes exactly what its schedule said.
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME. Optional: QUERY_WINDOW_MINUTES (5).
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
check_account

unit=minutes
((QUERY_WINDOW_MINUTES == 1)) && unit=minute
rule_arn="$(aws events put-rule --name "$RULE_NAME" --schedule-expression "rate($QUERY_WINDOW_MINUTES $unit)" \
  --state ENABLED --description "pgaudit-monitor: run $FUNCTION_NAME every window" --query RuleArn --output text)"
aws events put-targets --rule "$RULE_NAME" \
  --targets "Id=audit-monitor,Arn=$(function_arn),RetryPolicy={MaximumRetryAttempts=2,MaximumEventAgeInSeconds=3600}" \
  >/dev/null

sid=AllowEventBridgeSchedule
policy="$(aws lambda get-policy --function-name "$FUNCTION_NAME" --query Policy --output text 2>/dev/null || true)"
if [[ "$policy" == *"\"Sid\":\"$sid\""* || "$policy" == *"\"Sid\": \"$sid\""* ]]; then
  echo "eventbridge: invoke permission $sid already present"
else
  aws lambda add-permission --function-name "$FUNCTION_NAME" --statement-id "$sid" \
    --action lambda:InvokeFunction --principal events.amazonaws.com --source-arn "$rule_arn" \
    --source-account "$ACCOUNT_ID" >/dev/null
  echo "eventbridge: invoke permission $sid added"
fi
echo "eventbridge: rule $rule_arn, rate($QUERY_WINDOW_MINUTES $unit) -> $FUNCTION_NAME"
