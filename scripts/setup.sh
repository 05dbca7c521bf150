#!/usr/bin/env bash
# Install what pgaudit-monitor's demo and tests need on a fresh Debian 12 machine, then the project in .venv.
# Idempotent: packages already present are not installed again. Needs root (or sudo) only for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(postgresql-15 postgresql-15-pgaudit postgresql-client-15 python3 python3-venv shellcheck openssl)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    sudo_cmd=()
  elif command -v sudo >/dev/null; then
    sudo_cmd=(sudo)
  else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's package starts a cluster of its own; the demo and tests start throwaway ones and need none.

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The package's bytecode, compiled once: pip compiles what it installs, but an editable install runs from src/,
# and where PYTHONDONTWRITEBYTECODE is set (as on this project's machines and CI) Python would compile every
# module again at every start (20 ms of each command's start-up).
.venv/bin/python -m compileall -q src >/dev/null

# checkov, the Terraform module's security scan (tests/deploy/test_terraform.py), in a virtualenv of its own: its
# dependencies would move the boto3/botocore pins that the AWS emulator needs in .venv.
CHECKOV_VERSION=3.3.30
if [[ "$(.venv-checkov/bin/checkov --version 2>/dev/null || true)" != "$CHECKOV_VERSION" ]]; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --upgrade pip
  .venv-checkov/bin/python -m pip install -q "checkov==$CHECKOV_VERSION"
fi
