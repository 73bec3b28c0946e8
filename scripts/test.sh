#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (about 20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Debian's Chromium for the dashboard's browser test (tests/ui/test_browser.py); never `playwright install`.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "warning: could not install chromium; the browser test will be skipped" >&2
fi
.venv/bin/ruff check automl tests ui
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
