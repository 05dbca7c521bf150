#!/usr/bin/env bash
# The Lambda's execution role: trust policy (Lambda, this account only) and the least-privilege inline policy
# (Logs Insights on the cluster's log group, metrics in the monitor's namespace, the checkpoint parameter, the
# alert topic, the function's own log). Creates the role, or updates both policies when it exists.
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME (see README, "AWS deployment").
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
check_account

here="$DEPLOY_ROOT/iam"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
render "$here/lambda-trust-policy.json" >"$work/trust.json"
render "$here/lambda-permissions-policy.json" >"$work/permissions.json"

if aws iam get-role --role-name "$ROLE_NAME" >/dev/null 2>&1; then
  aws iam update-assume-role-policy --role-name "$ROLE_NAME" --policy-document "file://$work/trust.json"
  echo "iam: role $ROLE_NAME exists; trust policy updated"
else
  aws iam create-role --role-name "$ROLE_NAME" \
    --description "pgaudit-monitor: Logs Insights on $LOG_GROUP_NAME, metrics in $METRIC_NAMESPACE" \
    --assume-role-policy-document "file://$work/trust.json" >/dev/null
  echo "iam: role $ROLE_NAME created"
fi
aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name "$ROLE_POLICY_NAME" \
  --policy-document "file://$work/permissions.json"
echo "iam: inline policy $ROLE_POLICY_NAME applied: $(role_arn)"
