#!/usr/bin/env bash
# Create .venv and install the project with what it needs (idempotent; about 3 minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# A CPU-only torch is enough for tabular studies and is much smaller than the default CUDA build.
# Use a local CPU wheel when the machine has one, else PyPI's CPU index, else plain PyPI.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${PIP[@]}" "torch==2.13.0" 2>/dev/null \
    || "${PIP[@]}" torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
    || "${PIP[@]}" torch
fi
"${PIP[@]}" -e ".[test]"
