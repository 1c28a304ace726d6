#!/usr/bin/env bash
# The whole suite, as CI runs it (called by `make test` after the installs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
mkdir -p test-artifacts
exec .venv/bin/python -m pytest tests -p no:cacheprovider --timeout=900 -q -ra --durations=15 "$@"
