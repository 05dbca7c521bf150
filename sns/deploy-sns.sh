#!/usr/bin/env bash
# The alert topic: a customer-managed KMS key whose policy lets CloudWatch alarms (and the monitor, through SNS)
# use it, the encrypted topic with its three-statement policy, and the e-mail and HTTPS subscriptions. Creates
# what is missing, updates the policies and attributes of what exists; never subscribes an endpoint twice.
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME ALERT_EMAIL INCIDENT_PLATFORM_URL (https only; it carries the
# platform's API key, so it is never printed, logged or passed on a command line).
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
check_inputs
require ALERT_EMAIL INCIDENT_PLATFORM_URL
if [[ "$INCIDENT_PLATFORM_URL" != https://* ]]; then
  echo "${0##*/}: INCIDENT_PLATFORM_URL must be an https:// URL (value not shown)" >&2
  exit 2
fi
[[ "$ALERT_EMAIL" == *@*.* ]] || { echo "${0##*/}: ALERT_EMAIL is not an e-mail address" >&2; exit 2; }
check_account

here="$DEPLOY_ROOT/sns"
work="$(umask 077 && mktemp -d)"
trap 'rm -rf "$work"' EXIT
render "$here/kms-key-policy.json" >"$work/key-policy.json"
render "$here/topic-policy.json" >"$work/topic-policy.json"

# -- the key ------------------------------------------------------------------------------------------------------
key_arn="$(aws kms describe-key --key-id "$KMS_ALIAS" --query KeyMetadata.Arn --output text 2>/dev/null || true)"
if [[ "$key_arn" == arn:* ]]; then
  aws kms put-key-policy --key-id "$key_arn" --policy-name default --policy "file://$work/key-policy.json"
  echo "sns: key $KMS_ALIAS exists; key policy updated"
else
  key_arn="$(aws kms create-key --description "pgaudit-monitor: encrypts the $TOPIC_NAME topic" \
    --policy "file://$work/key-policy.json" --query KeyMetadata.Arn --output text)"
  aws kms create-alias --alias-name "$KMS_ALIAS" --target-key-id "$key_arn"
  echo "sns: key $KMS_ALIAS created"
fi
aws kms enable-key-rotation --key-id "$key_arn"

# -- the topic ----------------------------------------------------------------------------------------------------
topic="$(aws sns create-topic --name "$TOPIC_NAME" --query TopicArn --output text)"
aws sns set-topic-attributes --topic-arn "$topic" --attribute-name KmsMasterKeyId --attribute-value "$key_arn"
aws sns set-topic-attributes --topic-arn "$topic" --attribute-name Policy \
  --attribute-value "file://$work/topic-policy.json"
echo "sns: topic $topic encrypted with $key_arn; policy applied"

# -- subscriptions ------------------------------------------------------------------------------------------------
# (protocol, endpoint) pairs already on the topic, kept in a file: the webhook URL is never echoed
aws sns list-subscriptions-by-topic --topic-arn "$topic" \
  --query 'Subscriptions[].[Protocol, Endpoint]' --output text >"$work/existing"
subscribe() { # protocol endpoint label
  if grep -qxF "$1"$'\t'"$2" "$work/existing"; then
    echo "sns: $3 subscription already present"
    return
  fi
  printf '{"TopicArn":%s,"Protocol":%s,"Endpoint":%s}\n' \
    "$(json_string "$topic")" "$(json_string "$1")" "$(json_string "$2")" >"$work/subscribe.json"
  aws sns subscribe --cli-input-json "file://$work/subscribe.json" >/dev/null
  echo "sns: $3 subscription requested (the endpoint must confirm it)"
}
subscribe email "$ALERT_EMAIL" "email ($ALERT_EMAIL)"
subscribe https "$INCIDENT_PLATFORM_URL" "https (incident platform; URL not shown)"
