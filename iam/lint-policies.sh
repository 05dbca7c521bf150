#!/usr/bin/env bash
# Lint the IAM permission policies with parliament, as deploy-iam.sh renders them (placeholders filled with example
# values): any finding fails. Run by scripts/test.sh; needs parliament (the project's test extra).
#
# Trust policies (*-trust-policy.json) are resource policies: a Principal and, by definition, no Resource. parliament
# lints identity policies only and reports every trust policy as malformed, so they are checked by
# tests/deploy/test_aws_deploy.py instead (service principal, sts:AssumeRole only, this account only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
parliament="${PARLIAMENT:-$(command -v parliament || echo "$here/../.venv/bin/parliament")}"
[[ -x "$parliament" ]] || { echo "lint-policies.sh: parliament not found (pip install parliament)" >&2; exit 2; }

export AWS_REGION=us-east-1 ACCOUNT_ID=123456789012 CLUSTER_NAME=example-cluster
# shellcheck source=lib/deploy-common.sh
source "$here/../lib/deploy-common.sh"
check_inputs

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count=0
for policy in "$here"/*.json; do
  [[ "$policy" == *-trust-policy.json ]] && continue
  render "$policy" >"$out/${policy##*/}"
  count=$((count + 1))
done
if ! findings="$("$parliament" --directory "$out" </dev/null)" || [[ -n "$findings" ]]; then
  printf '%s\n' "$findings" >&2
  echo "lint-policies.sh: parliament reported findings" >&2
  exit 1
fi
echo "parliament: $count permission policies, no findings"
