#!/usr/bin/env bash
# The main job: a real study on the Palmer penguins table (344 rows, shipped in the palmerpenguins package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p examples
.venv/bin/python -m automl.datasets penguins examples/penguins.csv >/dev/null
.venv/bin/automl run examples/penguins.csv --target species --trials "${TRIALS:-20}" --budget "${BUDGET:-5m}" "$@"
