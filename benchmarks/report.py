"""Assemble benchmarks/RESULTS.md from the sections the harnesses write under benchmarks/results/.

Each harness (`python -m benchmarks.quality`, `python -m benchmarks.speed`, ...) writes its raw
figures as `results/<name>.json` and its section as `results/<name>.md`, then calls `write_results()`,
so RESULTS.md always holds the latest run of every harness, each section saying its machine and commit.
Hand-written notes (measurements made by hand, not by a harness), and the sections of harnesses since
replaced (kept as measured), live in `results/notes_*.md`, never in RESULTS.md itself nor in a file a
harness rewrites.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
# Sections in this order, then any others by name. notes_* are hand-written; no harness rewrites them.
ORDER = (
    "quality",
    "notes_quality_after_issue_20",
    "notes_quality_15_trial_studies",
    "speed",
    "lean",
    "image_speed",
    "batched",
    "notes_faults_and_abuse",
    "honesty",
    "notes_honesty_protocols",
    "notes_selection_rule",
    "notes_selection_signal",
    "notes_cost_aware_search",
    "notes_few_shot_images",
)
# Full reports of side runs that a section links to, not sections of their own.
NOT_SECTIONS = ("honesty_ensemble",)


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


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was around a figure."""
    return [round(v, 2) for v in os.getloadavg()]


def load_line(records: list[dict[str, Any]], cpus: int) -> str:
    """How busy the shared machine was over a run's records (their `load_average` at the end of each)."""
    loads = sorted(float(r["load_average"]) for r in records if r.get("load_average") is not None)
    if not loads:
        return ""
    middle = loads[len(loads) // 2]
    return (
        f"Load average (1 min) at the end of each run: {loads[0]:.1f} to {loads[-1]:.1f}, median {middle:.1f}, "
        f"on {cpus} CPUs."
    )


def machine_line(facts: dict) -> str:
    return (
        f"Machine: {facts['cpus']} CPUs, GPU {facts['gpu']}, {facts['platform']}, Python {facts['python']}, "
        f"torch {facts['torch']}; commit {facts['commit']}, {facts['date']}."
    )


def save_section(out: Path, name: str, results: dict[str, Any], text: str) -> Path:
    """A harness's figures as <out>/<name>.json, its section as <out>/<name>.md, then RESULTS.md: the
    benchmarks' own for the default out (benchmarks/results), else one beside them in <out>."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{name}.md").write_text(text + "\n")
    if out.resolve() == RESULTS_DIR.resolve():
        return write_results()
    return write_results(out, out / "RESULTS.md")


def write_results(results_dir: Path = RESULTS_DIR, out: Path | None = None) -> Path:
    out = out or results_dir.parent / "RESULTS.md"
    sections = sorted(
        (p for p in results_dir.glob("*.md") if p.stem not in NOT_SECTIONS),
        key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem),
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
