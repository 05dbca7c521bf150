#!/usr/bin/env bash
# Log retention for the cluster's PostgreSQL log group (the audit trail) and the monitor's own log (the record of
# every detection): RETENTION_DAYS, 365 by default. CloudWatch keeps logs forever unless told otherwise.
# The cluster's group is created if RDS has not exported to it yet, so the retention holds from the first event.
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME. Optional: RETENTION_DAYS (365).
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
: "${RETENTION_DAYS:=365}"
allowed=" 1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653 "
if [[ "$allowed" != *" $RETENTION_DAYS "* ]]; then
  echo "${0##*/}: RETENTION_DAYS=$RETENTION_DAYS is not one CloudWatch accepts:$allowed" >&2
  exit 2
fi
check_account

for group in "$LOG_GROUP_NAME" "/aws/lambda/$FUNCTION_NAME"; do
  exists="$(aws logs describe-log-groups --log-group-name-prefix "$group" \
    --query "length(logGroups[?logGroupName=='$group'])" --output text)"
  if [[ "$exists" == 0 ]]; then
    aws logs create-log-group --log-group-name "$group"
  fi
  aws logs put-retention-policy --log-group-name "$group" --retention-in-days "$RETENTION_DAYS"
  echo "cloudwatch: $group kept $RETENTION_DAYS days"
done
