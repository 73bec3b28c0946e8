#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (about 25 minutes on 2 cores).
# `bash scripts/test.sh --fast`: the unit and contract tests only (tests/unit, not slow; a few minutes),
# what a developer runs on every change. Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
FAST=0
if [ "${1:-}" = "--fast" ]; then
  FAST=1
  shift
fi
# Debian's Chromium for the dashboard's browser test (tests/ui/test_browser.py); never `playwright install`.
if [ "$FAST" = 0 ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "warning: could not install chromium; the browser test will be skipped" >&2
fi
.venv/bin/ruff check automl tests ui benchmarks
if [ "$FAST" = 1 ]; then
  exec .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow" tests/unit "$@"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
