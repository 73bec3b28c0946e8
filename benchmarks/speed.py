"""Speed of studies: fixed cost per trial, ASHA against no early stopping, the feature cache, scaling, GPU.

    python -m benchmarks.speed [--quick] [--out DIR] [--sections fixed,asha,cache,scaling,gpu]

1. fixed: a tabular study (penguins, default space). Per trial, the share of its wall time spent outside
   its training epochs, trials per hour, time to the best configuration, and the driver's overhead.
2. asha: the same study with early stopping by ASHA off (grace_period = max_epochs: ReproducibleASHA then
   has no rung below max_t, so it never stops a trial). Wall time to reach the same best validation score.
3. cache: the linear-probe feature cache, measured by `benchmarks.image_speed` (cold, warm, uncached).
4. scaling: study time and peak memory with 4x the rows and with 4x the trials, each study a separate
   `python -m automl.cli run` process (its own Ray), its process tree sampled every 0.5 s.
5. gpu: trials per hour and GPU utilization with 1 and with 4 trials per GPU (when a GPU is present).

The machine is shared and noisy: quote medians and ratios. Writes <out>/speed.json and <out>/speed.md,
then RESULTS.md (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from ray.tune import Callback

from benchmarks.report import RESULTS_DIR, machine, machine_line, write_results

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("fixed", "asha", "cache", "scaling", "gpu")
FIXED_COUNTS = (
    "fixed = trial wall time (driver clock, Tune's on_trial_start to on_trial_complete) minus the time inside "
    "the epoch loop (Tune's time_total_s minus the trial's setup_seconds). It counts the trial's setup inside "
    "the actor (setup_seconds: per fold, preprocessing fit + synthesizer fit or pool fetch = synth_seconds, "
    "network build) and Ray's share (span - time_total_s: starting the trial on its new or reused actor, "
    "per-epoch result round trips to the driver, stopping). Waiting for a free slot and actor creation before "
    "on_trial_start are not in the span: they are in the driver overhead (slot idle time)."
)


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (the default, or the tiny `--quick` one)."""

    rows: int  # penguins rows (sections fixed, asha)
    trials: int
    max_epochs: int
    grace_period: int
    n_folds: int
    short_synth: bool  # CTGAN/TVAE shortened to a few epochs (quick)
    budget: str
    scale_rows: int  # 1x rows of the synthetic table (sections scaling); 4x is 4 * this
    scale_trials: int  # 1x trials; 4x is 4 * this
    scale_max_epochs: int
    scale_folds: int
    gpu_trials: int
    cache_quick: bool  # benchmarks.image_speed at its --quick sizes


DEFAULT = Settings(
    rows=150,
    trials=20,
    max_epochs=100,
    grace_period=5,
    n_folds=5,
    short_synth=False,
    budget="30m",
    scale_rows=200,
    scale_trials=8,
    scale_max_epochs=50,
    scale_folds=5,
    gpu_trials=12,
    cache_quick=False,
)
QUICK = Settings(
    rows=60,
    trials=4,
    max_epochs=6,
    grace_period=2,
    n_folds=2,
    short_synth=True,
    budget="5m",
    scale_rows=50,
    scale_trials=2,
    scale_max_epochs=5,  # at least the CLI's grace_period (5)
    scale_folds=2,
    gpu_trials=4,
    cache_quick=True,
)


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _median(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


# ---- driver-side trial clock -----------------------------------------------------------------------------


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
            int(result.get("training_iteration", 0)),
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

    def build(config, data, param_space, start_points, storage, callbacks=None):
        tuner = original(
            config, data, param_space, start_points, storage, callbacks=[*(callbacks or []), clock]
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


class LocalRay:
    """Joins a running Ray, or starts one as a study would (`ensure_ray`) and stops it in `down()`.

    The first `up()` also runs a 2-trial warm-up study, so that no measured study alone pays the first
    start of Ray's workers (process start, imports, file cache); its wall time is reported."""

    def __init__(self) -> None:
        self.shutdown = None
        self.start_seconds: float | None = None
        self.warmup_seconds: float | None = None

    def up(self, work: Path) -> None:
        if self.shutdown is None:
            from automl.search.tuner import ensure_ray

            start = time.perf_counter()
            self.shutdown = ensure_ray()
            self.start_seconds = time.perf_counter() - start
        if self.warmup_seconds is None:
            start = time.perf_counter()
            csv, target = penguins_csv(work, 60, "warmup.csv")
            warm = replace(QUICK, trials=2, max_epochs=2, grace_period=1)
            print("  warm-up study (not measured)", flush=True)
            run_clocked(csv, target, work / "warmup", "warm-up", warm, space=study_space(warm, work))
            self.warmup_seconds = time.perf_counter() - start

    def down(self) -> None:
        if self.shutdown is not None:
            self.shutdown()
            self.shutdown = None
            self.warmup_seconds = None


# ---- studies in this process -----------------------------------------------------------------------------


def study_space(settings: Settings, folder: Path) -> str | None:
    """None (the default space), or for --quick the default space with CTGAN/TVAE cut to a few epochs."""
    if not settings.short_synth:
        return None
    from automl.search.space import default_space_path

    doc = yaml.safe_load(default_space_path("tabular").read_text())
    doc["parameters"]["synth_epochs"] = {"type": "choice", "values": [2, 4]}
    path = folder / "quick_space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def run_clocked(csv: Path, target: str, storage: Path, name: str, settings: Settings, **overrides):
    """One study through `automl.run` with the trial clock attached: (study, clock)."""
    import automl

    clock = TrialClock()
    options = dict(
        trials=settings.trials,
        seed=0,
        max_epochs=settings.max_epochs,
        grace_period=settings.grace_period,
        n_folds=settings.n_folds,
        storage=str(storage),
        name=name,
        log=lambda line: print(f"    {line}", file=sys.stderr, flush=True),  # stdout is muted during fit
    )
    options.update(overrides)
    with clocked(clock):
        study = automl.run(str(csv), target, budget=settings.budget, **options)
    return study, clock


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
                "epochs": int(last["training_iteration"]),
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
        "fixed_share_median": _median(r["fixed_share"] for r in rows),
        "fixed_share_of_all_trial_time": sum(r["fixed_s"] for r in rows) / busy,
        "fixed_s_median": _median(r["fixed_s"] for r in rows),
        "setup_s_median": _median(r["setup_s"] for r in rows),
        "synth_s_median": _median(r["synth_s"] for r in rows),
        "ray_s_median": _median(r["ray_s"] for r in rows),
        "span_s_median": _median(r["span_s"] for r in rows),
        "loop_s_median": _median(r["loop_s"] for r in rows),
        "wait_s_median": _median(r["wait_s"] for r in rows),
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


def penguins_csv(folder: Path, rows: int, name: str = "penguins.csv") -> tuple[Path, str]:
    from automl.datasets import write

    path = folder / name
    if not path.exists():
        write("penguins", path, n_rows=rows, seed=0)
    return path, "species"


def section_fixed(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 1: fixed cost per trial, trials per hour, time to the best configuration."""
    ray.up(work)
    csv, target = penguins_csv(work, settings.rows)
    storage = work / "studies"
    space = study_space(settings, work)
    started = time.perf_counter()
    study, clock = run_clocked(csv, target, storage, "fixed-asha", settings, space=space)
    figures = summarize_study(study, clock, storage)
    figures.update(
        dataset=f"penguins, {settings.rows} rows",
        wall_s=time.perf_counter() - started,
        ray_start_s=ray.start_seconds,
        warmup_s=ray.warmup_seconds,
        counts=FIXED_COUNTS,
    )
    cache["asha"] = figures
    return figures


def section_asha(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 2: the same study with ASHA and with no early stopping (grace_period = max_epochs)."""
    asha = cache.get("asha") or section_fixed(settings, work, ray, cache)
    ray.up(work)
    csv, target = penguins_csv(work, settings.rows)
    storage = work / "studies"
    space = study_space(settings, work)
    study, clock = run_clocked(
        csv, target, storage, "no-early-stop", settings, space=space, grace_period=settings.max_epochs
    )
    off = summarize_study(study, clock, storage)
    common = min(asha["best_objective"], off["best_objective"])

    def run_figures(run: dict, other: dict) -> dict[str, Any]:
        return {
            key: run[key]
            for key in (
                "search_seconds",
                "duration_s",
                "best_val_score",
                "best_objective",
                "epochs_total",
                "statuses",
                "trials_per_hour",
                "chosen_val_score",
                "trials",
            )
        } | {
            "time_to_common_best_s": first_reached(run["trials"], common),
            "time_to_other_best_s": first_reached(run["trials"], other["best_objective"]),
        }

    a, b = run_figures(asha, off), run_figures(off, asha)
    return {
        "how": "early stopping off = the same StudyConfig with grace_period = max_epochs: ReproducibleASHA's "
        "rungs are grace_period * 3^k below max_t, so it has none and never stops a trial (the trials' own "
        "patience-based early stopping, a searched parameter, stays on in both runs). Same seed: the start "
        "points and TPE's random start-up trials are identical; later proposals differ where ASHA cut trials.",
        "common_best_objective": common,
        "asha": a,
        "no_early_stopping": b,
        "search_seconds_ratio": b["search_seconds"] / a["search_seconds"],
        "epochs_ratio": b["epochs_total"] / max(1, a["epochs_total"]),
        "time_to_common_best_ratio": (
            b["time_to_common_best_s"] / a["time_to_common_best_s"]
            if a["time_to_common_best_s"] and b["time_to_common_best_s"]
            else None
        ),
    }


def section_cache(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 3: the linear-probe feature cache, as `benchmarks.image_speed` measures it."""
    from benchmarks import image_speed

    out = work / "image_speed.json"
    quick = settings.cache_quick
    results = image_speed.main(["--quick", "--out", str(out)] if quick else ["--out", str(out)])
    if results is None:
        results = json.loads(out.read_text())
    probe = results["linear_probe"]
    keys = (
        "backbone",
        "input_size",
        "search_images",
        "n_folds",
        "max_epochs",
        "cold_seconds",
        "warm_seconds",
        "uncached_seconds",
        "feature_seconds",
        "speedup_uncached_over_warm",
        "speedup_uncached_over_cold",
        "runs",
    )
    return {
        "source": "benchmarks.image_speed.main(" + ("['--quick']" if quick else "[]") + ") linear_probe",
        **{k: probe[k] for k in keys if k in probe},
    }


# ---- studies in child processes --------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, session id) of every process, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        found[int(entry)] = (int(fields[1]), int(fields[3]))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS splits shared pages (Ray's object store) between processes."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process, its descendants and its session every `interval` s."""

    def __init__(self, root: int, interval: float = 0.5, exclude: set[int] | None = None) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.exclude = root, interval, exclude or set()
        self.peak_rss_kb = self.peak_pss_kb = self.peak_processes = self.samples = 0
        self._stop_event = threading.Event()

    def tree(self) -> set[int]:
        procs = _processes()
        members = {pid for pid, (_, sid) in procs.items() if sid == self.root} | {self.root}
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        stack = [self.root]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in members:
                    members.add(child)
                    stack.append(child)
        return {pid for pid in members if pid in procs and pid not in self.exclude}

    def sample(self) -> None:
        pids = self.tree()
        memory = [_memory_kb(pid) for pid in pids]
        self.peak_rss_kb = max(self.peak_rss_kb, sum(m[0] for m in memory))
        self.peak_pss_kb = max(self.peak_pss_kb, sum(m[1] for m in memory))
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# Starts the study and reports its wait4 rusage. A process forked from this one would count this process's
# RSS at the fork in its own ru_maxrss (Linux keeps the high-water mark across exec); forked from this
# small helper instead, the study's ru_maxrss is its own (and that of the children it reaped).
RUSAGE_HELPER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as out:
    json.dump({"exit": code, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(code if code >= 0 else 1)
"""


def run_cli_study(csv: Path, target: str, storage: Path, name: str, trials: int, settings: Settings, space):
    """`python -m automl.cli run ...` in a child process: wall time, study times, peak memory."""
    from automl.store import Store

    command = [
        sys.executable,
        "-m",
        "automl.cli",
        "run",
        str(csv),
        "--target",
        target,
        "--trials",
        str(trials),
        "--budget",
        settings.budget,
        "--seed",
        "0",
        "--folds",
        str(settings.scale_folds),
        "--max-epochs",
        str(settings.scale_max_epochs),
        "--storage",
        str(storage),
        "--name",
        name,
        *(["--space", space] if space else []),
    ]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # the child starts a Ray of its own
    log_path = storage.parent / f"{name}.log"
    usage_path = storage.parent / f"{name}.rusage.json"
    storage.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        helper = subprocess.Popen(
            [sys.executable, "-c", RUSAGE_HELPER, str(usage_path), *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
    sampler = TreeMemory(helper.pid, exclude={helper.pid})
    sampler.start()
    helper.wait()
    wall = time.perf_counter() - started
    sampler.stop()
    if helper.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"study {name} exited with {helper.returncode}:\n{tail}")
    usage = json.loads(usage_path.read_text())
    manifest = Store(storage).read_manifest(name)
    return {
        "name": name,
        "trials": trials,
        "rows": manifest["data"]["n_rows"],
        "folds": manifest["splits"].get("n_folds"),
        "repeats": manifest["splits"].get("n_repeats"),
        "process_wall_s": wall,
        "duration_s": float(manifest["duration_s"]),
        "search_seconds": float(manifest["search_seconds"]),
        "trial_statuses": manifest.get("trials"),
        "peak_tree_rss_mb": sampler.peak_rss_kb / 1024,
        "peak_tree_pss_mb": sampler.peak_pss_kb / 1024,
        "peak_processes": sampler.peak_processes,
        "memory_samples": sampler.samples,
        "max_single_process_rss_mb": usage["maxrss_kb"] / 1024,
    }


def synthetic_csv(folder: Path, rows: int, seed: int = 0) -> Path:
    """A make_classification table (12 features, 3 classes, target `y`); smaller tables are its first rows."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows, n_features=12, n_informative=6, n_redundant=2, n_classes=3, random_state=seed
    )
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).round(5)
    frame["y"] = [f"c{v}" for v in y]
    path = folder / f"synthetic_{rows}.csv"
    frame.to_csv(path, index=False)
    return path


def section_scaling(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 4: study time and peak memory with 4x the rows and with 4x the trials."""
    ray.down()  # each child starts its own Ray; ours would only compete with it
    full = synthetic_csv(work, 4 * settings.scale_rows)
    small = work / f"synthetic_{settings.scale_rows}.csv"
    import pandas as pd

    pd.read_csv(full).head(settings.scale_rows).to_csv(small, index=False)
    storage = work / "scaling"
    space = study_space(settings, work)
    runs = {}
    cases = (
        ("base", small, settings.scale_trials),
        ("rows_x4", full, settings.scale_trials),
        ("trials_x4", small, 4 * settings.scale_trials),
    )
    for label, csv, trials in cases:
        print(f"  {label}: {csv.name}, {trials} trials", flush=True)
        runs[label] = run_cli_study(csv, "y", storage, label, trials, settings, space)
        r = runs[label]
        print(
            f"    {r['process_wall_s']:.0f} s process, {r['search_seconds']:.0f} s search, "
            f"peak tree PSS {r['peak_tree_pss_mb']:.0f} MB (RSS {r['peak_tree_rss_mb']:.0f} MB)",
            flush=True,
        )

    def ratios(label: str) -> dict[str, float]:
        x4, base = runs[label], runs["base"]
        keys = ("process_wall_s", "duration_s", "search_seconds", "peak_tree_pss_mb", "peak_tree_rss_mb")
        return {key: x4[key] / base[key] for key in keys} | {
            "max_single_process_rss_mb": x4["max_single_process_rss_mb"] / base["max_single_process_rss_mb"]
        }

    return {
        "dataset": f"sklearn make_classification, 12 features, 3 classes; {settings.scale_rows} and "
        f"{4 * settings.scale_rows} rows (the smaller is the first rows of the larger)",
        "settings": {
            "folds": settings.scale_folds,
            "max_epochs": settings.scale_max_epochs,
            "space": "quick (CTGAN/TVAE 2-4 epochs)" if space else "default",
            "cpus": os.cpu_count(),
        },
        "memory_note": "peak tree RSS/PSS: summed over the child, its descendants (Ray's GCS, raylet, workers) "
        "and its session, sampled every 0.5 s; RSS counts shared pages (Ray's object store, libraries) once "
        "per process, PSS splits them (the small helper that starts the study is left out). "
        "max_single_process_rss_mb: wait4's ru_maxrss of the study process, the largest of it and the "
        "children it reaped (Ray's workers, reaped by the raylet, may not be among them).",
        "runs": runs,
        "rows_x4": ratios("rows_x4"),
        "trials_x4": ratios("trials_x4"),
    }


# ---- GPU -------------------------------------------------------------------------------------------------


class GpuUtilization(threading.Thread):
    """Samples `nvidia-smi --query-gpu=utilization.gpu` every `interval` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval, self.values = interval, []
        self._stop_event = threading.Event()

    def run(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop_event.is_set():
            with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                self.values.append(float(out.strip().splitlines()[0]))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join()
        return self.values


def section_gpu(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 5: trials per hour and GPU utilization with 1 and with 4 trials per GPU."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU on this machine"}
    from automl.config import Resources

    ray.up(work)
    csv, target = penguins_csv(work, settings.rows)
    storage = work / "gpu"
    space = study_space(settings, work)
    runs = {}
    for label, share in (("1_per_gpu", 1.0), ("4_per_gpu", 0.25)):
        sampler = GpuUtilization()
        sampler.start()
        study, clock = run_clocked(
            csv,
            target,
            storage,
            f"gpu-{label}",
            settings,
            space=space,
            trials=settings.gpu_trials,
            resources=Resources(gpus_per_trial=share),
        )
        values = sampler.stop()
        figures = summarize_study(study, clock, storage)
        runs[label] = {
            "gpus_per_trial": share,
            "concurrency": figures["concurrency"],
            "search_seconds": figures["search_seconds"],
            "trials_per_hour": figures["trials_per_hour"],
            "gpu_util_mean": statistics.fmean(values) if values else None,
            "gpu_util_median": _median(values),
            "gpu_busy_share": sum(v > 0 for v in values) / len(values) if values else None,
            "samples": len(values),
        }
    return {
        "available": True,
        "gpu": torch.cuda.get_device_name(0),
        "dataset": f"penguins, {settings.rows} rows, {settings.gpu_trials} trials",
        "runs": runs,
        "trials_per_hour_ratio_4_over_1": runs["4_per_gpu"]["trials_per_hour"]
        / runs["1_per_gpu"]["trials_per_hour"],
    }


# ---- report ----------------------------------------------------------------------------------------------

RUNNERS = {
    "fixed": section_fixed,
    "asha": section_asha,
    "cache": section_cache,
    "scaling": section_scaling,
    "gpu": section_gpu,
}


def markdown(results: dict[str, Any]) -> str:
    """The RESULTS.md section: a short table per section."""
    s = results["sections"]
    load = results["load_average"]
    lines = [
        "## Speed (`benchmarks/speed.py`)",
        "",
        f"Command: `{results['command']}` ({'quick' if results['quick'] else 'default'} sizes, "
        f"{results['total_seconds']:.0f} s). {machine_line(results['machine'])}",
        f"Load average (1 min) {load['start'][0]} at the start, {load['end'][0]} at the end, on "
        f"{results['machine']['cpus']} CPUs: other jobs shared the machine; compare ratios, not single timings.",
        "",
    ]
    if "fixed" in s:
        f = s["fixed"]
        lines += [
            f"### Fixed cost per trial ({f['dataset']}, {f['n_trials']} trials, {f['concurrency']} at once)",
            "",
            "| figure | value |",
            "|---|---|",
            f"| median fixed share of a trial's wall time | {f['fixed_share_median']:.1%} |",
            f"| fixed share of all trial time | {f['fixed_share_of_all_trial_time']:.1%} |",
            f"| median trial: wall / in epochs / fixed (s) | {f['span_s_median']:.2f} / {f['loop_s_median']:.2f}"
            f" / {f['fixed_s_median']:.2f} |",
            f"| median fixed parts: setup (synth) / Ray (s) | {f['setup_s_median']:.2f} ({f['synth_s_median']:.2f})"
            f" / {f['ray_s_median']:.2f} |",
            f"| trials per hour | {f['trials_per_hour']:.0f} |",
            f"| time to the chosen trial ({f['chosen_trial']}) / to the best val score: first finished trial, "
            f"first epoch report (s) | {_num(f['time_to_chosen_s'])} / {_num(f['time_to_best_trial_s'])}, "
            f"{_num(f['time_to_best_report_s'])} of {f['search_seconds']:.0f} |",
            f"| driver: slot idle in the search / outside the search (s) | {f['slot_idle_s']:.1f} / "
            f"{f['outside_search_s']:.1f} |",
            "",
            f"{f['counts']} The first trial ({f['trials'][0]['trial']}) had {f['first_trial_fixed_s']:.2f} s "
            "fixed (a new actor's first imports). Outside the search: data checks, test split, refit, test and "
            f"export. Not counted: Ray's start ({_num(f['ray_start_s'])} s) and a 2-trial warm-up study "
            f"({_num(f['warmup_s'])} s) run before.",
            "",
        ]
    if "asha" in s:
        a = s["asha"]
        lines += [
            "### ASHA against no early stopping (same study, same seed)",
            "",
            "| run | search (s) | epochs | trials stopped by ASHA | best val | time to common best (s) "
            "| time to the other's best (s) | load after |",
            "|---|---|---|---|---|---|---|---|",
        ]
        runs = (("ASHA", "asha", "fixed"), ("no early stopping", "no_early_stopping", "asha"))
        for label, key, after in runs:
            r = a[key]
            other = "never" if r["time_to_other_best_s"] is None else _num(r["time_to_other_best_s"])
            lines.append(
                f"| {label} | {r['search_seconds']:.0f} | {r['epochs_total']} | "
                f"{r['statuses'].get('stopped_early', 0)} | {r['best_val_score']:.4f} | "
                f"{_num(r['time_to_common_best_s'])} | {other} | {load.get(after, ['n/a'])[0]} |"
            )
        lines += [
            "",
            f"No early stopping / ASHA: search time x{a['search_seconds_ratio']:.2f}, epochs "
            f"x{a['epochs_ratio']:.2f}, time to the common best x{_num(a['time_to_common_best_ratio'])}. "
            f"{a['how']}",
            "",
        ]
    if "cache" in s:
        c = s["cache"]
        lines += [
            f"### Feature cache, linear-probe trial ({c.get('backbone')} @ {c.get('input_size')} px, "
            f"{c.get('search_images')} images, {c.get('max_epochs')} epochs)",
            "",
            "| cold (s) | warm (s) | uncached (s) | uncached / warm | uncached / cold |",
            "|---|---|---|---|---|",
            f"| {c['cold_seconds']:.2f} | {c['warm_seconds']:.2f} | {c['uncached_seconds']:.2f} | "
            f"{c['speedup_uncached_over_warm']:.1f}x | {c['speedup_uncached_over_cold']:.1f}x |",
            "",
            f"From {c['source']} (medians; see its own section).",
            "",
        ]
    if "scaling" in s:
        g = s["scaling"]
        lines += [
            f"### Scaling ({g['dataset']}; {g['settings']['folds']} folds, {g['settings']['max_epochs']} "
            "max epochs, one `automl run` process each)",
            "",
            "| study | rows | trials | process (s) | search (s) | peak tree PSS (MB) | peak tree RSS (MB) "
            "| largest process (MB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, r in g["runs"].items():
            lines.append(
                f"| {label} | {r['rows']} | {r['trials']} | {r['process_wall_s']:.0f} | {r['search_seconds']:.0f}"
                f" | {r['peak_tree_pss_mb']:.0f} | {r['peak_tree_rss_mb']:.0f} | {r['max_single_process_rss_mb']:.0f} |"
            )
        lines += [
            "",
            "| 4x / 1x | process time | search time | peak PSS | peak RSS |",
            "|---|---|---|---|---|",
        ]
        for label in ("rows_x4", "trials_x4"):
            r = g[label]
            lines.append(
                f"| {label} | {r['process_wall_s']:.2f} | {r['search_seconds']:.2f} | {r['peak_tree_pss_mb']:.2f}"
                f" | {r['peak_tree_rss_mb']:.2f} |"
            )
        lines += ["", g["memory_note"], ""]
    if "gpu" in s:
        gpu = s["gpu"]
        lines += ["### GPU", ""]
        if not gpu["available"]:
            lines += [f"{gpu['note']}.", ""]
        else:
            lines += [
                f"{gpu['gpu']}, {gpu['dataset']}.",
                "",
                "| trials per GPU | at once | trials per hour | GPU util mean / median (%) |",
                "|---|---|---|---|",
            ]
            for label, r in gpu["runs"].items():
                lines.append(
                    f"| {label[0]} | {r['concurrency']} | {r['trials_per_hour']:.0f} | "
                    f"{_num(r['gpu_util_mean'])} / {_num(r['gpu_util_median'])} |"
                )
            lines += [
                "",
                f"4 per GPU / 1 per GPU: trials per hour x{gpu['trials_per_hour_ratio_4_over_1']:.2f}",
                "",
            ]
    return "\n".join(lines)


def printed(results: dict[str, Any]) -> str:
    """The printed summary: the markdown without its headings' decoration."""
    return markdown(results).replace("### ", "").replace("## ", "")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections, print their figures, write speed.json, speed.md and RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every section in about 2 minutes")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help=f"results folder (default {RESULTS_DIR})"
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of {','.join(SECTIONS)} (default all)",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    settings = QUICK if args.quick else DEFAULT
    command = (
        "python -m benchmarks.speed" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "settings": asdict(settings),
        "machine": machine(),
        "load_average": {"start": load_average()},
        "sections": {},
        "section_seconds": {},
    }
    started = time.perf_counter()
    ray, cache = LocalRay(), {}
    work = Path(tempfile.mkdtemp(prefix="speed-bench-"))
    try:
        for name in (n for n in SECTIONS if n in chosen):
            print(f"== {name}", flush=True)
            begin = time.perf_counter()
            results["sections"][name] = RUNNERS[name](settings, work, ray, cache)
            results["section_seconds"][name] = time.perf_counter() - begin
            results["load_average"][name] = load_average()
    finally:
        ray.down()
        shutil.rmtree(work, ignore_errors=True)
    results["load_average"]["end"] = load_average()
    results["total_seconds"] = time.perf_counter() - started
    text = printed(results)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "speed.md").write_text(markdown(results) + "\n")
    if args.out.resolve() == RESULTS_DIR.resolve():
        written = write_results()
    else:
        written = write_results(args.out, args.out / "RESULTS.md")
    print(f"\ntotal {results['total_seconds']:.0f} s; written to {args.out / 'speed.json'}, {written}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
