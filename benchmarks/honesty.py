"""Honest estimates: each study's reported estimate and 95% interval against the exported model's true score
on a large fresh sample of the same source, for budget-bound studies beside 20-trial ones.

    python -m benchmarks.honesty                       # every task, seeds 0,1,2, 5-minute studies
    python -m benchmarks.honesty --tasks bc80,shuffled_labels --seeds 0 --budget 120

The same harness and records file as `python -m benchmarks.quality` (see its docstring), without the peers
by default (`--peers` adds them): the studies either command ran are not run again by the other. Writes the
`honesty` section (benchmarks/honesty_report.py) under `--out` and into RESULTS.md.
"""

from __future__ import annotations

from typing import Any

from benchmarks import quality


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    return quality.main(argv, prog="honesty", names=("honesty",), default_peers=(), doc=__doc__)


if __name__ == "__main__":
    main()
