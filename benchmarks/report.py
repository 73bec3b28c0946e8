"""Assemble benchmarks/RESULTS.md from the sections the harnesses write under benchmarks/results/.

Each harness (`python -m benchmarks.quality`, `python -m benchmarks.speed`, ...) writes its raw
figures as `results/<name>.json` and its section as `results/<name>.md`, then calls `write_results()`,
so RESULTS.md always holds the latest run of every harness, each section saying its machine and commit.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
ORDER = ("quality", "speed", "image_speed")  # sections in this order, then any others by name


def machine() -> dict[str, str | int]:
    """Which machine and which commit a figure comes from."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import torch

    return {
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count() or 0,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def machine_line(facts: dict) -> str:
    return (
        f"Machine: {facts['cpus']} CPUs, GPU {facts['gpu']}, {facts['platform']}, Python {facts['python']}, "
        f"torch {facts['torch']}; commit {facts['commit']}, {facts['date']}."
    )


def write_results(results_dir: Path = RESULTS_DIR, out: Path | None = None) -> Path:
    out = out or results_dir.parent / "RESULTS.md"
    sections = sorted(
        results_dir.glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem)
    )
    parts = [
        "# Benchmark results\n",
        "Written by the harnesses under `benchmarks/` (see each section for its command). "
        "Figures are medians or means over repeats on a shared machine: compare ratios, not single timings.\n",
    ]
    parts += [p.read_text().strip() + "\n" for p in sections]
    out.write_text("\n".join(parts))
    return out


if __name__ == "__main__":
    print(write_results())
