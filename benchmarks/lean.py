"""Time a whole study spends outside its trials: the fixed cost of `automl run` on a small table.

    python -m benchmarks.lean [--repeats N] [--trials 20] [--rows 100] [--budget 5m] [--quick] [--out DIR]

Each repeat runs `python -m automl.cli run penguins.csv --target species ...` as a fresh process, as a user
would (its own Ray, a fresh store), and times it from just before the process starts to its exit. Its
stderr progress lines and its first stdout line are stamped as they arrive; every trial's interval comes
from its Tune reports (`started_at`, stamped when the trial function began in its actor, plus the largest
`time_total_s`). Outside the trials = wall time - the union of the trial intervals, split into phases:
before_study (imports, data checks), to_first_trial (Ray's start, the first actors), idle_in_search (no
trial running), search_end (last trial -> "search finished"), finish (selection, estimate, refit,
baselines, export, summary), exit (Ray's shutdown). Target: a 20-trial study on a 100-row table spends
less than 15 s outside its trials (2 CPU cores). Writes <out>/lean.json and <out>/lean.md, then
RESULTS.md (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from benchmarks.report import RESULTS_DIR, load_average, machine, machine_line, save_section

TARGET_S = 15.0
TARGET = "a 20-trial study on a 100-row table spends less than 15 s outside its trials (2 CPU cores)"
PHASES = ("before_study", "to_first_trial", "idle_in_search", "search_end", "finish", "exit")
FIGURES = ("wall_s", "trial_union_s", "outside_s", *PHASES)
QUICK_OPTIONS = ["--max-epochs", "5", "--grace-period", "2"]


def _read(stream: IO[str], lines: list[tuple[float, str]]) -> None:
    """Every line of `stream`, stamped with time.time() as it arrives (a thread per stream)."""
    for line in stream:
        lines.append((time.time(), line.rstrip("\n")))


def run_cli(csv: Path, store: Path, trials: int, budget: str, extra: list[str]) -> dict[str, Any]:
    """One `automl run` process: its start and exit times, and its stamped stderr and stdout lines."""
    command = [sys.executable, "-m", "automl.cli", "run", str(csv), "--target", "species"]
    command += ["--trials", str(trials), "--budget", budget, "--storage", str(store), *extra]
    # Its own Ray; unbuffered so that stdout arrives line by line, as on a terminal.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"PYTHONUNBUFFERED": "1"}
    err: list[tuple[float, str]] = []
    out: list[tuple[float, str]] = []
    start = time.time()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    readers = [
        threading.Thread(target=_read, args=(s, x)) for s, x in ((child.stderr, err), (child.stdout, out))
    ]
    for reader in readers:
        reader.start()
    code = child.wait()
    end = time.time()
    for reader in readers:
        reader.join()
    if code != 0:
        tail = "\n".join(line for _, line in err[-40:])
        raise RuntimeError(f"`{' '.join(command)}` exited with code {code}; its stderr ends:\n{tail}")
    return {"command": command, "start": start, "end": end, "stderr": err, "stdout": out}


def stamp(lines: list[tuple[float, str]], prefix: str) -> float:
    """When the first line starting with `prefix` arrived."""
    for at, line in lines:
        if line.startswith(prefix):
            return at
    raise RuntimeError(f"no line starting with {prefix!r} in the study's output")


def trial_intervals(store: Path) -> dict[tuple[str, float], float]:
    """{(trial folder, started_at): started_at + largest time_total_s} for each trial (each run of a
    retried trial)."""
    studies = [p for p in store.iterdir() if p.is_dir()]
    if len(studies) != 1:
        raise RuntimeError(f"expected one study folder in {store}, found {[p.name for p in studies]}")
    ends: dict[tuple[str, float], float] = {}
    for path in sorted((studies[0] / "tune").glob("*/result.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                key = (path.parent.name, float(row["started_at"]))
                ends[key] = max(ends.get(key, key[1]), key[1] + float(row["time_total_s"]))
    if not ends:
        raise RuntimeError(f"no trial reports under {studies[0] / 'tune'}")
    return ends


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def repeat_figures(run: dict[str, Any], store: Path) -> dict[str, Any]:
    """One repeat's wall time, trial union, outside time and its phases (they add up to outside_s)."""
    runs = trial_intervals(store)
    intervals = sorted((start, end) for (_, start), end in runs.items())
    first, last = intervals[0][0], max(end for _, end in intervals)
    union = union_length(intervals)
    study = stamp(run["stderr"], "[automl] study ")
    finished = stamp(run["stderr"], "[automl] search finished")
    if not run["stdout"]:
        raise RuntimeError("the study printed no summary on stdout")
    summary = run["stdout"][0][0]
    wall = run["end"] - run["start"]
    phases = {
        "before_study": study - run["start"],
        "to_first_trial": first - study,
        "idle_in_search": (last - first) - union,
        "search_end": finished - last,
        "finish": summary - finished,
        "exit": run["end"] - summary,
    }
    figures = {"wall_s": wall, "trial_union_s": union, "outside_s": wall - union, **phases}
    gap = sum(phases.values()) - figures["outside_s"]
    if abs(gap) > 1e-6:
        raise RuntimeError(f"the phases add up to {gap:+.6f} s more than the time outside the trials")
    return {
        **{k: round(v, 3) for k, v in figures.items()},
        "n_trials": len({folder for folder, _ in runs}),
        "trial_runs": len(intervals),
        "search_seconds_logged": round(finished - study, 3),
    }


def run_repeat(csv: Path, work: Path, index: int, args: argparse.Namespace) -> dict[str, Any]:
    store = work / f"store-{index}"
    store.mkdir()
    load_start = load_average()
    run = run_cli(csv, store, args.trials, args.budget, QUICK_OPTIONS if args.quick else [])
    figures = repeat_figures(run, store)
    return {"repeat": index, **figures, "load_average": {"start": load_start, "end": load_average()}}


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(r[key] for r in rows)), 3)


def markdown(results: dict[str, Any]) -> str:
    """The RESULTS.md section: the target, then every figure's median and each repeat's value."""
    s, med, rows = results["settings"], results["median"], results["repeats"]
    load = results["load_average"]
    comparable = s["trials"] == 20 and s["rows"] == 100 and not results["quick"]
    verdict = (
        f"median {med['outside_s']:.1f} s: {'met' if results['meets_target'] else 'NOT met'}"
        if comparable
        else f"not comparable at these sizes (median {med['outside_s']:.1f} s)"
    )
    lines = [
        "## Time outside the trials (`benchmarks/lean.py`)",
        "",
        f"Command: `{results['command']}` ({s['repeats']} repeat(s) of `automl run` on penguins, {s['rows']} "
        f"rows, {s['trials']} trials, budget {s['budget']}{', ' + ' '.join(QUICK_OPTIONS) if results['quick'] else ''}"
        f"; {results['total_seconds']:.0f} s). {machine_line(results['machine'])}",
        f"Load average (1 min) {load['start'][0]} at the start, {load['end'][0]} at the end, on "
        f"{results['machine']['cpus']} CPUs.",
        "",
        f"Target: {TARGET}; {verdict}.",
        "",
        "| figure (s) | median | " + " | ".join(f"repeat {r['repeat']}" for r in rows) + " |",
        "|---|---|" + "---|" * len(rows),
    ]
    for key in (*FIGURES, "n_trials"):
        lines.append(f"| {key} | {med[key]:g} | " + " | ".join(f"{r[key]:g}" for r in rows) + " |")
    lines.append(
        "| load average start / end | | "
        + " | ".join(f"{r['load_average']['start'][0]} / {r['load_average']['end'][0]}" for r in rows)
        + " |"
    )
    lines += [
        "",
        "Wall: process start to exit. Trial union: time with at least one trial running (from each trial's "
        "`started_at` + `time_total_s`). Outside = wall - union = before_study (imports, data checks, until "
        "the `study` line) + to_first_trial (Ray's start, the first actors) + idle_in_search (no trial "
        "running) + search_end (last trial's last report -> `search finished`) + finish (selection, estimate, "
        "refit, baselines, export -> the summary) + exit (Ray's shutdown). Medians are taken figure by "
        "figure, so the median phases need not add up to the median outside time.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the repeats, print their figures, write lean.json, lean.md and RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lean", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="studies to run (default 3; --quick: 1)")
    parser.add_argument("--trials", type=int, default=None, help="trials per study (default 20; --quick: 3)")
    parser.add_argument("--rows", type=int, default=100, help="rows of penguins (default 100)")
    parser.add_argument("--budget", default="5m", help="the study's --budget (default 5m)")
    parser.add_argument(
        "--quick", action="store_true", help=f"1 repeat, 3 trials, {' '.join(QUICK_OPTIONS)}: a smoke test"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help=f"results folder (default {RESULTS_DIR})"
    )
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.trials = args.trials or (3 if args.quick else 20)
    command = (
        "python -m benchmarks.lean"
        + (" " + " ".join(str(a) for a in (argv if argv is not None else sys.argv[1:]))).rstrip()
    )
    settings = {"repeats": args.repeats, "trials": args.trials, "rows": args.rows, "budget": args.budget}
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "settings": settings,
        "machine": machine(),
        "target": TARGET,
        "target_s": TARGET_S,
        "load_average": {"start": load_average()},
    }
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="lean-bench-"))
    try:
        from automl.datasets import write

        csv = work / "penguins.csv"
        write("penguins", csv, n_rows=args.rows, seed=0)
        rows = []
        for index in range(1, args.repeats + 1):
            print(f"== repeat {index}/{args.repeats}", flush=True)
            rows.append(run_repeat(csv, work, index, args))
            print(f"   outside {rows[-1]['outside_s']:.1f} s of {rows[-1]['wall_s']:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["repeats"] = rows
    results["median"] = {key: _median(rows, key) for key in FIGURES}
    results["median"]["n_trials"] = int(statistics.median(r["n_trials"] for r in rows))
    results["meets_target"] = results["median"]["outside_s"] < TARGET_S
    results["load_average"]["end"] = load_average()
    results["total_seconds"] = time.perf_counter() - started
    text = markdown(results)
    print("\n" + text.replace("## ", ""))
    written = save_section(args.out, "lean", results, text)
    print(f"\ntotal {results['total_seconds']:.0f} s; written to {args.out / 'lean.json'}, {written}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
