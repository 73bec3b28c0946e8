#!/usr/bin/env bash
# Create .venv and install the project with what it needs (idempotent; about 3 minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# torch and torchvision must come from the same build (timm imports torchvision): plain PyPI
# wheels run on the CPU when there is no GPU. A machine that already has a matching pair keeps it.
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  "${PIP[@]}" torch torchvision
fi
"${PIP[@]}" -e ".[test]"
