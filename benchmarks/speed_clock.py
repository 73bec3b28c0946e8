"""The driver-side clock of a study's trials, and the per-trial and per-study figures taken from it.

`clocked(clock)` adds a `TrialClock` (a Tune callback) to the tuner a study builds and times its `fit()`,
library unchanged; `summarize_study` joins that clock with Tune's per-epoch records into the figures of the
speed benchmark's fixed-cost, ASHA and GPU sections (`benchmarks.speed`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import statistics
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback


def median(values) -> float:
    """The median of the finite values, NaN when there are none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def trial_name(tag: str | None, fallback: str) -> str:
    """t01, t02 ... from Tune's experiment tag ("3_depth=2,..."), as the study's leaderboard names trials."""
    match = re.match(r"(\d+)_", tag or "")
    return f"t{int(match.group(1)):02d}" if match else fallback


class TrialClock(Callback):
    """Driver wall clock of every trial: first seen (pending), started, each result, completed."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.results: dict[str, list[tuple[float, int, float]]] = {}
        self.names: dict[str, str] = {}
        self.fit_start: float | None = None
        self.fit_end: float | None = None

    def _name(self, trial) -> None:
        self.names.setdefault(trial.trial_id, trial_name(trial.experiment_tag, trial.trial_id))

    def on_step_begin(self, iteration, trials, **info) -> None:
        now = time.time()
        for trial in trials:
            self.created.setdefault(trial.trial_id, now)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.created.setdefault(trial.trial_id, time.time())
        self.started.setdefault(trial.trial_id, time.time())
        self._name(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        entry = (
            time.time(),
            int(result.get("epoch", result.get("training_iteration", 0))),  # trials report every few epochs
            float(result.get("objective", math.nan)),
        )
        self.results.setdefault(trial.trial_id, []).append(entry)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.completed[trial.trial_id] = time.time()
        self._name(trial)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.on_trial_complete(iteration, trials, trial)


@contextlib.contextmanager
def clocked(clock: TrialClock):
    """Adds `clock` to the callbacks of the tuner a study builds, and times its `fit()` (library unchanged)."""
    from automl.search import tuner as tuning

    original = tuning.build_tuner

    def build(config, data, param_space, start_points, storage, callbacks=None, **options):
        tuner = original(
            config, data, param_space, start_points, storage, callbacks=[*(callbacks or []), clock], **options
        )
        fit = tuner.fit

        def timed_fit():
            clock.fit_start = time.time()
            try:
                return fit()
            finally:
                clock.fit_end = time.time()

        tuner.fit = timed_fit
        return tuner

    tuning.build_tuner = build
    try:
        yield clock
    finally:
        tuning.build_tuner = original


def tune_results(storage: Path, study_id: str) -> dict[str, list[dict]]:
    """Every trial's result.json rows (Tune's per-epoch records), by trial id."""
    rows: dict[str, list[dict]] = {}
    for path in sorted((storage / study_id / "tune").glob("*/result.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.setdefault(row["trial_id"], []).append(row)
    return rows


def trial_rows(study, clock: TrialClock, storage: Path) -> list[dict[str, Any]]:
    """Per trial: driver span, Tune's time_total_s, setup, epochs, fixed part, finish time, score."""
    board = study.leaderboard().set_index("trial")
    origin = clock.fit_start
    rows = []
    for trial_id, records in tune_results(storage, study.study_id).items():
        last = max(records, key=lambda r: r["training_iteration"])
        name = clock.names.get(trial_id) or trial_name(last.get("experiment_tag"), trial_id)
        total = float(last["time_total_s"])
        setup = float(last.get("setup_seconds", 0.0))
        start, end = clock.started.get(trial_id), clock.completed.get(trial_id)
        span = end - start if start is not None and end is not None else total  # fallback: actor side only
        loop = max(0.0, total - setup)
        fixed = max(0.0, span - loop)
        rows.append(
            {
                "trial": name,
                "status": board.loc[name, "status"] if name in board.index else "unknown",
                "chosen": bool(board.loc[name, "chosen"]) if name in board.index else False,
                "epochs": int(last.get("epoch", last["training_iteration"])),
                "val_score": float(last.get("val_score", math.nan)),
                "objective": float(last.get("objective", math.nan)),
                "span_s": span,
                "time_total_s": total,
                "setup_s": setup,
                "synth_s": float(last.get("synth_seconds", 0.0)),
                "loop_s": loop,
                "ray_s": span - total,
                "fixed_s": fixed,
                "fixed_share": fixed / span if span > 0 else math.nan,
                "wait_s": start - clock.created[trial_id] if start is not None else math.nan,
                "started_at_s": start - origin if start is not None else math.nan,
                "finished_at_s": end - origin if end is not None else math.nan,
            }
        )
    return sorted(rows, key=lambda r: r["trial"])


def max_overlap(rows: list[dict]) -> int:
    events = sorted([(r["started_at_s"], 1) for r in rows] + [(r["finished_at_s"], -1) for r in rows])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def first_reached(rows: list[dict], target: float) -> float | None:
    """Seconds from search start until a finished trial's objective was at least `target` (None: never)."""
    times = [r["finished_at_s"] for r in rows if r["objective"] >= target - 1e-12]
    return min(times) if times else None


def first_reported(clock: TrialClock, target: float) -> float | None:
    """Seconds from search start until any epoch report of any trial had an objective of at least `target`."""
    times = [t for entries in clock.results.values() for t, _, obj in entries if obj >= target - 1e-12]
    return min(times) - clock.fit_start if times else None


def summarize_study(study, clock: TrialClock, storage: Path) -> dict[str, Any]:
    """The figures of section 1 for one study (also used for both runs of section 2)."""
    rows = trial_rows(study, clock, storage)
    manifest = study.manifest
    search_s = float(manifest["search_seconds"])
    duration_s = float(manifest["duration_s"])
    concurrency = max_overlap(rows)
    busy = sum(r["span_s"] for r in rows)
    scored = [r for r in rows if math.isfinite(r["objective"])]  # a failed trial may have no score
    top = max(scored, key=lambda r: r["objective"])
    best = top["objective"]
    chosen = next((r for r in rows if r["chosen"]), None)
    return {
        "study_id": study.study_id,
        "n_trials": len(rows),
        "statuses": {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})},
        "epochs_total": sum(r["epochs"] for r in rows),
        "concurrency": concurrency,
        "search_seconds": search_s,
        "duration_s": duration_s,
        "trials_per_hour": len(rows) / search_s * 3600,
        "fixed_share_median": median(r["fixed_share"] for r in rows),
        "fixed_share_of_all_trial_time": sum(r["fixed_s"] for r in rows) / busy,
        "fixed_s_median": median(r["fixed_s"] for r in rows),
        "setup_s_median": median(r["setup_s"] for r in rows),
        "synth_s_median": median(r["synth_s"] for r in rows),
        "ray_s_median": median(r["ray_s"] for r in rows),
        "span_s_median": median(r["span_s"] for r in rows),
        "loop_s_median": median(r["loop_s"] for r in rows),
        "wait_s_median": median(r["wait_s"] for r in rows),
        "first_trial_fixed_s": rows[0]["fixed_s"],
        "slot_idle_s": search_s - busy / max(1, concurrency),
        "outside_search_s": duration_s - search_s,
        "best_val_score": top["val_score"],
        "best_objective": best,
        "chosen_trial": chosen["trial"] if chosen else None,
        "chosen_val_score": chosen["val_score"] if chosen else None,
        "time_to_chosen_s": chosen["finished_at_s"] if chosen else None,
        "time_to_best_trial_s": first_reached(rows, best),
        "time_to_best_report_s": first_reported(clock, best),
        "trials": rows,
    }
