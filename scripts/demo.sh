#!/usr/bin/env bash
# The demo: a throwaway PostgreSQL with pgAudit followed by the watcher; a human's UPDATE alerts a webhook in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/python scripts/demo.py "$@"
