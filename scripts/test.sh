#!/usr/bin/env bash
# The whole test suite, set-up included: what CI runs (.ci/run) and what the README tells a newcomer to run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== lint: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== types: mypy"
.venv/bin/mypy
echo "== structure: import layers, dead code, generated docs"
.venv/bin/lint-imports --no-cache
.venv/bin/vulture src scripts tests lambda bench --exclude bench/out
.venv/bin/python scripts/readme_rules.py --check
echo "== lint: shellcheck"
mapfile -t shell_scripts < <(git ls-files '*.sh' .ci/run)
shellcheck "${shell_scripts[@]}"
echo "== lint: parliament (IAM policies)"
PARLIAMENT=.venv/bin/parliament bash iam/lint-policies.sh
echo "== tests: pytest"
.venv/bin/pytest "$@"
