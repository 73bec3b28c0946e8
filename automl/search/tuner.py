"""Builds the Ray Tune run of a study: searcher, scheduler, resources, storage and progress.

Optuna TPE proposes (seeded, told results in trial order so a seeded study is reproducible; only the
parameters active in a trial, see search/conditions.py), successive halving stops poor trials early
(each trial at its rungs, with the cutoffs of its proposal: search/scheduler.py), the dataset travels
once through the object store (`tune.with_parameters`), actors are reused between trials, and a
crashing trial is recorded as failed while the study goes on.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray
from ray import tune
from ray.tune import Callback
from ray.tune.logger import JsonLoggerCallback
from ray.tune.search.optuna import OptunaSearch
from ray.tune.stopper import Stopper

from automl.config import StudyConfig
from automl.reevaluate import REEVALUATION_SHARE
from automl.search.frugal import CostLedger, FrugalSampler
from automl.search.ordered import OrderedConcurrency
from automl.search.results import trial_status
from automl.search.scheduler import KeptActors, SuccessiveHalving, asha_rungs
from automl.search.space import TuneSpace
from automl.train.trainable import SearchData, tune_trainable

OBJECTIVE = "objective"  # the out-of-fold signal with larger = better (see train/trainable.py)
# The finish besides the refit: estimate, baselines, export (~1 s), Tune's teardown, Ray's stop at exit.
FINISH_FIXED_S = 5.0


class ProgressLine(Callback):
    """One line per finished trial: done / running / stopped early, best so far, time used of the budget."""

    def __init__(
        self, total: int, budget_s: float, metric: str, sign: float, log: Callable[[str], None] | None = None
    ) -> None:
        self.total, self.budget_s, self.metric, self.sign = total, budget_s, metric, sign
        self.log = log
        self.start = time.monotonic()
        self.done = self.failed = 0
        self.best: float | None = None  # the best objective so far
        self.best_score: float | None = None  # the study's metric of that trial, out of fold

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.done += 1
        result = trial.last_result or {}
        if OBJECTIVE in result and (self.best is None or result[OBJECTIVE] > self.best):
            self.best = result[OBJECTIVE]
            self.best_score = result.get("oof_score", self.sign * result[OBJECTIVE])
        self._print(trials, trial)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.failed += 1
        self._print(trials, trial)

    def _print(self, trials, finished) -> None:
        running = sum(t.status == "RUNNING" and t is not finished for t in trials)
        stopped = sum(
            t.status == "TERMINATED" and trial_status(t.last_result or {}, None) == "stopped_early"
            for t in trials
        )
        best = "-" if self.best_score is None else f"{self.best_score:.4f}"
        used = time.monotonic() - self.start
        (self.log or _to_stderr)(
            f"trials {self.done + self.failed}/{self.total} done ({running} running, "
            f"{stopped} stopped early, {self.failed} failed) | best out-of-fold {self.metric} {best} | "
            f"{used:.0f}s of {self.budget_s:.0f}s budget"
        )

    def __getstate__(self) -> dict:
        # Tune stores its callbacks with the experiment (for restore); the log target may not pickle.
        return dict(self.__dict__, log=None)


def _to_stderr(line: str) -> None:
    print(f"[automl] {line}", file=sys.stderr, flush=True)


class Deadline(Stopper):
    """Ends the search early enough for the study to finish within its budget.

    `--budget` bounds the whole study, so the search stops at the study's deadline minus what the
    finish needs: a few seconds for the estimate, baselines and export, plus the re-evaluation of the
    best candidates on fresh folds (`reevaluation_s`: its share of the budget, and at least one trial's
    time: the 90th percentile of the trials' durations seen so far, every report carries
    `time_total_s`), plus, for a refitted export, one more such trial. A stored experiment is resumed
    without a deadline (a new process has its own clock).
    """

    def __init__(
        self,
        deadline: float,
        fixed_s: float = FINISH_FIXED_S,
        reevaluation_s: float = 0.0,
        refit: bool = False,
    ) -> None:
        self.deadline, self.fixed_s = deadline, fixed_s
        self.reevaluation_s, self.refit = reevaluation_s, refit
        self.durations: dict[str, float] = {}

    def reserve_s(self) -> float:
        trial = float(np.quantile(list(self.durations.values()), 0.9)) if self.durations else 0.0
        return self.fixed_s + max(self.reevaluation_s, trial) + (trial if self.refit else 0.0)

    def __call__(self, trial_id: str, result: dict) -> bool:
        if "time_total_s" in result:
            self.durations[trial_id] = float(result["time_total_s"])
        return False

    def stop_all(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline - self.reserve_s()

    def __getstate__(self) -> dict:
        return dict(self.__dict__, deadline=None)


def trial_resources(config: StudyConfig) -> dict[str, float]:
    """What one trial asks Ray for: its CPUs, and a fraction of a GPU where the cluster has GPUs."""
    gpus = config.resources.resolved_gpus(ray.cluster_resources().get("GPU", 0))
    return {"cpu": config.resources.cpus_per_trial, "gpu": gpus}


def concurrency(config: StudyConfig) -> int:
    """Trials at once: as set, or as many as the cluster's CPUs and GPUs hold (never a node count)."""
    if config.resources.max_concurrent_trials:
        return config.resources.max_concurrent_trials
    total = ray.cluster_resources()
    wanted = trial_resources(config)
    fits = [total.get(kind.upper(), 0) / amount for kind, amount in wanted.items() if amount > 0]
    return max(1, int(min(fits))) if fits else 1


def build_searcher(
    config: StudyConfig,
    param_space: dict[str, Any],
    start_points: list[dict[str, Any]],
    in_flight: int,
    expensive: dict[str, list[Any]] | None = None,
    low_cost: dict[str, Any] | None = None,
) -> tuple[OrderedConcurrency, dict[str, Any]]:
    """Optuna TPE (cost-frugal where `expensive` names values, search/frugal.py; `low_cost`: the
    cheapest value of the parameters the space marks) under OrderedConcurrency, and the param_space
    Tune itself gets (none for a define-by-run space)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Random start-up trials explore the space after the start points (which Optuna counts as
    # completed trials too, and which pin every setting they do not name to one value).
    n_startup = len(start_points) + min(10, max(5, config.trials // 3))
    sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=n_startup)
    gated = {name: frozenset(values) for name, values in (expensive or {}).items() if values}
    ledger = CostLedger(gated, budget_s=config.budget_s)
    if gated:
        sampler = FrugalSampler(sampler, ledger, cheap_trials=n_startup, seed=config.seed, low_cost=low_cost)
    if isinstance(param_space, TuneSpace):
        # Define-by-run: only the parameters active in a trial are sampled (`when:` in the space),
        # the others come as constants; Tune gets no domains of its own then.
        searcher = OptunaSearch(
            space=param_space.define_by_run(start_points),
            metric=OBJECTIVE,
            mode="max",
            sampler=sampler,
            points_to_evaluate=start_points or None,
        )
        param_space = {}
    else:
        searcher = OptunaSearch(sampler=sampler, points_to_evaluate=start_points or None)
    limiter = OrderedConcurrency(
        searcher,
        max_concurrent=in_flight,
        listener=ledger.record if gated else None,
        # Waiting for a slow trial later only pays where another slot can run cheap trials meanwhile.
        slow=ledger.uses_expensive if gated and in_flight > 1 else None,
        slow_lag=max(in_flight, n_startup),
        # The trials stop themselves at these rungs (the study gives them the same list: study._search).
        halving=SuccessiveHalving(asha_rungs(config.max_epochs, config.grace_period), reduction_factor=3),
    )
    return limiter, param_space


def build_tuner(
    config: StudyConfig,
    data: SearchData,
    param_space: dict[str, Any],
    start_points: list[dict[str, Any]],
    storage: tuple[str, Any],
    callbacks: list[Callback] | None = None,
    deadline: float | None = None,
    expensive: dict[str, list[Any]] | None = None,
    low_cost: dict[str, Any] | None = None,
) -> tune.Tuner:
    """The study's Tuner. `deadline` (a time.time()) ends the search in time for the finish; without
    it the search has the whole budget. `expensive` names, per choice parameter, the values that cost
    much more than the others (search/frugal.py: cheap ones first, a third of the budget unless earned),
    `low_cost` the values their first trials take (the space's `low_cost:`)."""
    in_flight = concurrency(config)
    limiter, param_space = build_searcher(config, param_space, start_points, in_flight, expensive, low_cost)
    scheduler = KeptActors(slots=in_flight)
    return tune.Tuner(
        _trainable(config, data),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE,
            mode="max",
            search_alg=limiter,
            scheduler=scheduler,
            num_samples=config.trials,
            time_budget_s=config.budget_s if deadline is None else max(1.0, deadline - time.time()),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=storage[0],
            storage_filesystem=storage[1],
            verbose=0,
            stop=None
            if deadline is None
            else Deadline(
                deadline,
                reevaluation_s=REEVALUATION_SHARE * config.budget_s,
                refit=config.export == "refit",
            ),
            callbacks=[JsonLoggerCallback(), *(callbacks or [])],
            failure_config=tune.FailureConfig(max_failures=config.max_trial_retries, fail_fast=False),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )


def fit(tuner: tune.Tuner, config: StudyConfig) -> tune.ResultGrid:
    """`tuner.fit()` with as many trials waiting for an actor as may run at once.

    Tune lets a searcher that is not its own ConcurrencyLimiter have one pending trial at a time, so
    the second slot's actor (seconds of imports) is only requested once the first trial runs; short
    trials then finish first and reuse the one actor, and the study runs one trial at a time.
    OrderedConcurrency never has more than `concurrency` trials unfinished, so this many is exact.
    """
    settings = {
        "TUNE_MAX_PENDING_TRIALS_PG": str(concurrency(config)),
        # Tune's CSV and TensorBoard loggers write every report a second and third time, and nobody
        # reads them; the JSON log (result.json: the dashboard's live view) is in the tuner's callbacks.
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    }
    previous = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    # A crashing trial is recorded, with its error, in the leaderboard; Tune's traceback per attempt
    # (and its "Trials did not complete" line for trials the deadline stopped) would only bury the
    # progress lines.
    quiet = [logging.getLogger(name) for name in ("ray.tune.execution.tune_controller", "ray.tune.tune")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL)
    try:
        return tuner.fit()
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _trainable(config: StudyConfig, data: SearchData):
    return tune.with_resources(tune.with_parameters(tune_trainable, data=data), trial_resources(config))


def restore_tuner(config: StudyConfig, data: SearchData, storage: tuple[str, Any]) -> tune.Tuner:
    """The study's stored experiment, to continue after its driver died: finished trials are not rerun,
    unfinished and errored ones are resumed."""
    path, filesystem = storage
    experiment = f"{path}/tune"
    return tune.Tuner.restore(
        experiment,
        trainable=_trainable(config, data),
        resume_unfinished=True,
        resume_errored=True,
        storage_filesystem=filesystem,
    )


# Imported by a local Ray's workers as they start, before any trial asks for one: Ray starts a
# worker per CPU ahead of need, so the trial actors land on processes that already hold torch and the
# trainable (otherwise every slot's first trial waits seconds for its imports). Ray starts two such
# sets (one with the raylet, one for the first driver). One set (`prestart_worker_first_driver`:
# False) made the first trial start 1 s sooner on 2 CPUs but left the second slot's actor to a cold
# worker, which Tune cancels whenever the first slot frees up: 2 of 3 speed benchmarks then ran one
# trial at a time (3234 trials per hour instead of 5215).
PRELOAD = ("automl.train.trainable",)


MAX_WARM_SPARES = 8  # idle preloaded workers kept beyond one per CPU (see system_config)


def system_config(num_cpus: int | None, preload: tuple[str, ...]) -> dict[str, Any] | None:
    """A local Ray's settings: its workers import `preload` as they start, and as many idle workers are
    kept as trial slots besides the trials' own. The re-evaluation after the search (automl/reevaluate.py)
    runs as tasks when the trial actors are gone: with Ray's default (one worker per CPU in all), the
    prestarted spares were killed during the search and every task waited for a cold worker to import
    torch (11 s on 2 loaded CPUs; 0.1 s with the spares kept)."""
    if not preload:
        return None
    cpus = int(num_cpus or os.cpu_count() or 1)
    return {
        "preload_python_modules": list(preload),
        "num_workers_soft_limit": cpus + min(cpus, MAX_WARM_SPARES),
    }


def ensure_ray(
    num_cpus: int | None = None, keep: bool = False, preload: tuple[str, ...] = PRELOAD
) -> Callable[[], None]:
    """Join the running Ray (a Ray Job, RAY_ADDRESS, or an earlier ray.init) or start a local one
    whose workers import `preload` as they start.

    Returns what to call to undo it: nothing when Ray was already there, or with `keep` (a study's
    choice: the next study in the same process reuses this Ray instead of paying its start again;
    it stops when the process exits).
    """
    import atexit

    # A trial the study's deadline stops mid-fetch leaves an error nobody reads; Tune records every
    # trial's own error in the leaderboard, so Ray's "Unhandled error" tracebacks are only noise.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    if ray.is_initialized():
        return lambda: None
    if os.environ.get("RAY_ADDRESS"):  # inside a Ray Job or pointed at a cluster: connect, configure nothing
        ray.init(log_to_driver=False, logging_level="ERROR")
    else:  # address="local": a Ray of our own, even when `ray start` left a cluster running on this machine
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
            _system_config=system_config(num_cpus, preload),
        )
    if not keep:
        return ray.shutdown
    # Registered after ray.init, so it runs before Ray's own exit handler, which first waits 0.5 s for
    # its workers' last log lines (log_to_driver=False: there are none) and then finds nothing to do.
    atexit.register(ray.shutdown)
    return lambda: None
