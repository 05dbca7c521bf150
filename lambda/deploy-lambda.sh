#!/usr/bin/env bash
# Build the Lambda zip (this repository's package + manylinux wheels of its dependencies for the chosen
# architecture) and create the function, or update its code and configuration when it exists; one run at a time
# (reserved concurrency 1).
#
# Inputs: AWS_REGION ACCOUNT_ID CLUSTER_NAME SERVICE_ACCOUNTS (may be empty, but must be set).
# Optional: LAMBDA_ARCH (arm64 | x86_64, default arm64), LAMBDA_RUNTIME (python3.12), LAMBDA_MEMORY_MB (256),
#   INGESTION_DELAY_SECONDS (120), STATEMENT_GRACE_SECONDS (60), QUERY_WINDOW_MINUTES (5), CANARY_USER,
#   DETAIL_NOTIFICATIONS (on | off, default on: detail messages to the alert topic),
#   NOTIFY_STATEMENT (normalized | full | none, default normalized: what the detail message shows of a statement),
#   LOG_LINE_PREFIX,
#   PYTHON (a Python with pip, to build; default python3),
#   LAMBDA_ZIP (a zip built before: skip the build), LAMBDA_ZIP_OUT (keep the built zip at this path).
# BUILD_ONLY=1 with LAMBDA_ZIP_OUT: only build the zip (for the Terraform module); no AWS input is needed.
set -euo pipefail
# shellcheck source=lib/deploy-common.sh
source "$(dirname "$0")/../lib/deploy-common.sh"
: "${BUILD_ONLY:=}" "${LAMBDA_ZIP_OUT:=}"
if [[ -n "$BUILD_ONLY" ]]; then
  require LAMBDA_ZIP_OUT
else
  check_inputs
fi
if [[ -z "$BUILD_ONLY" && -z "${SERVICE_ACCOUNTS+set}" ]]; then
  echo "${0##*/}: missing required environment variable(s): SERVICE_ACCOUNTS (set it empty if there are none)" >&2
  exit 2
fi
: "${LAMBDA_ARCH:=arm64}" "${LAMBDA_RUNTIME:=python3.12}" "${LAMBDA_MEMORY_MB:=256}" "${PYTHON:=python3}"
: "${INGESTION_DELAY_SECONDS:=120}" "${STATEMENT_GRACE_SECONDS:=60}" "${DETAIL_NOTIFICATIONS:=on}"
: "${CANARY_USER:=}" "${LOG_LINE_PREFIX:=}" "${NOTIFY_STATEMENT:=normalized}"
case "$NOTIFY_STATEMENT" in
  normalized | full | none) ;;
  *) echo "${0##*/}: NOTIFY_STATEMENT must be normalized, full or none, not $NOTIFY_STATEMENT" >&2; exit 2 ;;
esac
case "$LAMBDA_ARCH" in
  arm64) platform=manylinux2014_aarch64 ;;
  x86_64) platform=manylinux2014_x86_64 ;;
  *) echo "${0##*/}: LAMBDA_ARCH must be arm64 or x86_64, not $LAMBDA_ARCH" >&2; exit 2 ;;
esac
[[ "$LAMBDA_RUNTIME" =~ ^python3\.([0-9]+)$ ]] || { echo "${0##*/}: LAMBDA_RUNTIME: python3.N" >&2; exit 2; }
python_version="3.${BASH_REMATCH[1]}"
[[ -n "$BUILD_ONLY" ]] || check_account

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
zip="${LAMBDA_ZIP:-}"
if [[ -z "$zip" ]]; then
  python="$(command -v "$PYTHON" || true)"
  [[ "$python" == /* ]] || python="$PWD/$python"
  "$python" -m pip --version >/dev/null 2>&1 || { echo "${0##*/}: $PYTHON has no pip: set PYTHON" >&2; exit 2; }
  build="$work/build"
  mkdir -p "$build"
  # the runtime dependencies, exactly as pyproject.toml declares them, as wheels for Lambda's platform
  mapfile -t requirements < <("$python" -c '
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$DEPLOY_ROOT/pyproject.toml")
  "$python" -m pip install --quiet --disable-pip-version-check --target "$build" --platform "$platform" \
    --implementation cp --python-version "$python_version" --only-binary=:all: "${requirements[@]}"
  cp -R "$DEPLOY_ROOT/src/pgaudit_monitor" "$build/"
  cp "$DEPLOY_ROOT/lambda/lambda_function.py" "$build/"
  find "$build" -name __pycache__ -type d -prune -exec rm -rf {} +
  zip="$work/function.zip"
  (cd "$build" && "$python" -m zipfile -c "$zip" ./*)
  echo "lambda: built $(du -h "$zip" | cut -f1) zip for $LAMBDA_RUNTIME on $LAMBDA_ARCH"
  if [[ -n "$LAMBDA_ZIP_OUT" ]]; then
    cp "$zip" "$LAMBDA_ZIP_OUT"
    echo "lambda: zip kept at $LAMBDA_ZIP_OUT"
  fi
fi
[[ -z "$BUILD_ONLY" ]] || exit 0

detail_topic=""
[[ "$DETAIL_NOTIFICATIONS" == on ]] && detail_topic="$(topic_arn)"
variables=(
  LOG_GROUP_NAME "$LOG_GROUP_NAME"
  METRIC_NAMESPACE "$METRIC_NAMESPACE"
  QUERY_WINDOW_MINUTES "$QUERY_WINDOW_MINUTES"
  SERVICE_ACCOUNTS "$SERVICE_ACCOUNTS"
  INGESTION_DELAY_SECONDS "$INGESTION_DELAY_SECONDS"
  STATEMENT_GRACE_SECONDS "$STATEMENT_GRACE_SECONDS"
  CHECKPOINT_PARAMETER "$CHECKPOINT_PARAMETER"
  CANARY_USER "$CANARY_USER"
  DETAIL_TOPIC_ARN "$detail_topic"
  NOTIFY_STATEMENT "$NOTIFY_STATEMENT"
)
[[ -n "$LOG_LINE_PREFIX" ]] && variables+=(LOG_LINE_PREFIX "$LOG_LINE_PREFIX")
json="" i=0
while ((i < ${#variables[@]})); do
  json+="${json:+,}$(json_string "${variables[i]}"):$(json_string "${variables[i + 1]}")"
  i=$((i + 2))
done
printf '{"Variables":{%s}}\n' "$json" >"$work/environment.json"

common=(--runtime "$LAMBDA_RUNTIME" --handler lambda_function.lambda_handler --timeout 300
  --memory-size "$LAMBDA_MEMORY_MB" --role "$(role_arn)" --environment "file://$work/environment.json"
  --description "pgaudit-monitor: human DML on application tables in $LOG_GROUP_NAME")
if aws lambda get-function --function-name "$FUNCTION_NAME" >/dev/null 2>&1; then
  aws lambda update-function-code --function-name "$FUNCTION_NAME" --zip-file "fileb://$zip" \
    --architectures "$LAMBDA_ARCH" >/dev/null
  aws lambda wait function-updated --function-name "$FUNCTION_NAME"
  aws lambda update-function-configuration --function-name "$FUNCTION_NAME" "${common[@]}" >/dev/null
  aws lambda wait function-updated --function-name "$FUNCTION_NAME"
  echo "lambda: function $FUNCTION_NAME updated"
else
  aws lambda create-function --function-name "$FUNCTION_NAME" --zip-file "fileb://$zip" \
    --architectures "$LAMBDA_ARCH" "${common[@]}" >/dev/null
  aws lambda wait function-active --function-name "$FUNCTION_NAME"
  echo "lambda: function $FUNCTION_NAME created"
fi
# one run at a time: two concurrent runs would read the same checkpoint
aws lambda put-function-concurrency --function-name "$FUNCTION_NAME" --reserved-concurrent-executions 1 >/dev/null

echo "lambda: $(function_arn) ($LAMBDA_RUNTIME, $LAMBDA_ARCH, 300 s, ${LAMBDA_MEMORY_MB} MB)"
