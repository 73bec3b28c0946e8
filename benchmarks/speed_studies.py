"""Studies run in this process, on one shared Ray: the sizes of a run, and the fixed-cost and ASHA sections.

Part of the speed benchmark (`python -m benchmarks.speed`): `Settings` holds a run's sizes (the default or
the tiny `--quick` one), `LocalRay` starts Ray once for every in-process study, `measure_study` runs one
penguins study with the trial clock of `benchmarks.speed_clock` attached and returns its figures.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from benchmarks.speed_clock import TrialClock, clocked, first_reached, summarize_study

FIXED_COUNTS = (
    "fixed = trial wall time (driver clock, Tune's on_trial_start to on_trial_complete) minus the time inside "
    "the epoch loop (Tune's time_total_s minus the trial's setup_seconds). It counts the trial's setup inside "
    "the actor (setup_seconds: per fold, preprocessing fit + synthesizer fit or pool fetch = synth_seconds, "
    "network build) and Ray's share (span - time_total_s: starting the trial on its new or reused actor, "
    "result round trips to the driver (every 2 s and at the end), stopping). Waiting for a free slot and actor creation before "
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
    warmup: bool  # a 2-trial warm-up study on the shared Ray before the first measured one


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
    warmup=True,
)
# Every section's code path at the least cost; its figures need only be present and finite.
QUICK = Settings(
    rows=60,
    trials=3,  # the two start points of the default space, then one of TPE's
    max_epochs=6,
    grace_period=2,
    n_folds=2,
    short_synth=True,
    budget="5m",
    scale_rows=50,
    scale_trials=1,  # 1, 1 and 4 trials: each scaling study is a fresh process with its own Ray
    scale_max_epochs=5,  # at least the CLI's grace_period (5)
    scale_folds=2,
    gpu_trials=2,
    cache_quick=True,
    warmup=False,  # the first study pays the start of Ray's workers instead
)


class LocalRay:
    """Joins a running Ray, or starts one as a study would (`ensure_ray`) and stops it in `down()`.

    With `warmup`, the first `up()` also runs a 2-trial warm-up study, so that no measured study alone pays
    the first start of Ray's workers (process start, imports, file cache); its wall time is reported."""

    def __init__(self, warmup: bool = True) -> None:
        self.warmup = warmup
        self.shutdown = None
        self.start_seconds: float | None = None
        self.warmup_seconds: float | None = None

    def up(self, work: Path) -> None:
        if self.shutdown is None:
            from automl.search.tuner import ensure_ray

            start = time.perf_counter()
            self.shutdown = ensure_ray()
            self.start_seconds = time.perf_counter() - start
        if self.warmup and self.warmup_seconds is None:
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


def penguins_csv(folder: Path, rows: int, name: str = "penguins.csv") -> tuple[Path, str]:
    from automl.datasets import write

    path = folder / name
    if not path.exists():
        write("penguins", path, n_rows=rows, seed=0)
    return path, "species"


def measure_study(
    settings: Settings,
    work: Path,
    ray: LocalRay,
    name: str,
    folder: str = "studies",
    watch: contextlib.AbstractContextManager | None = None,
    **overrides,
) -> dict[str, Any]:
    """A penguins study on the shared Ray, clocked (and inside `watch`, a sampler, when given): its
    `summarize_study` figures and `wall_s`, the wall time of the study and its summary (not Ray's start,
    the warm-up study or writing the table)."""
    ray.up(work)
    csv, target = penguins_csv(work, settings.rows)
    storage = work / folder
    space = study_space(settings, work)
    started = time.perf_counter()
    with watch or contextlib.nullcontext():
        study, clock = run_clocked(csv, target, storage, name, settings, space=space, **overrides)
    figures = summarize_study(study, clock, storage)
    return figures | {"wall_s": time.perf_counter() - started}


def section_fixed(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 1: fixed cost per trial, trials per hour, time to the best configuration."""
    figures = measure_study(settings, work, ray, "fixed-asha")
    figures.update(
        dataset=f"penguins, {settings.rows} rows",
        ray_start_s=ray.start_seconds,
        warmup_s=ray.warmup_seconds,
        counts=FIXED_COUNTS,
    )
    cache["asha"] = figures
    return figures


def section_asha(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 2: the same study with ASHA and with no early stopping (grace_period = max_epochs)."""
    asha = cache.get("asha") or section_fixed(settings, work, ray, cache)
    off = measure_study(settings, work, ray, "no-early-stop", grace_period=settings.max_epochs)
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
        "how": "early stopping off = the same StudyConfig with grace_period = max_epochs: successive halving's "
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
