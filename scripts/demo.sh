#!/usr/bin/env bash
# The demo: a throwaway PostgreSQL with pgAudit, a human and a service account at work, the detections printed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/python scripts/demo.py "$@"
