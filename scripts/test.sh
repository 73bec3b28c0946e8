#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check automl tests
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
