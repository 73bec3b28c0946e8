"""Asynchronous successive halving whose decisions do not depend on timing.

Ray's ASHA compares a trial at a rung with whichever trials happen to have reported there already,
so two runs of the same study stop different trials. Here trial k is compared only with the trials
its proposal was based on: `known[trial_id]` (OrderedConcurrency's record: the trials that had
finished and been told to the searcher), else trials 0..k-lag that had finished before it started.
Under OrderedConcurrency(max_concurrent=lag) those have always finished when trial k starts, so the
set is the same on every run and a seeded study gives the same leaderboard on CPU.
"""

from __future__ import annotations

from collections.abc import Container, Mapping

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler


def asha_rungs(max_t: int, grace_period: int, reduction_factor: float = 3) -> list[int]:
    """The epochs at which successive halving compares trials: grace, grace*rf, ... below max_t.
    Trials report to Tune at these epochs (and every few epochs between), never only in between."""
    rungs, t = [], grace_period
    while t < max_t:
        rungs.append(int(t))
        t *= reduction_factor
    return rungs


class ReproducibleASHA(FIFOScheduler):
    """Stops a trial at rung r when its metric is below the top 1/`reduction_factor` of earlier trials at r."""

    def __init__(
        self,
        metric: str,
        mode: str = "max",
        *,
        time_attr: str = "epoch",
        max_t: int = 100,
        grace_period: int = 5,
        reduction_factor: float = 3,
        min_reference: int = 3,
        lag: int = 1,
        known: Mapping[str, Container[str]] | None = None,
    ) -> None:
        super().__init__()
        self._metric, self._sign = metric, (1.0 if mode == "max" else -1.0)
        self._time_attr = time_attr
        self.rungs = asha_rungs(max_t, grace_period, reduction_factor)
        self._keep = 1.0 / reduction_factor
        self._min_reference = min_reference
        self._rung_values: dict[int, dict[str, float]] = {r: {} for r in self.rungs}
        self._finished: set[str] = set()
        self._reference: dict[str, Container[str]] = {}
        self._added: list[str] = []
        self._lag = lag
        self._known = known if known is not None else {}  # shared with OrderedConcurrency, which fills it
        self.stopped: set[str] = set()

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        if metric:
            self._metric = metric
        if mode:
            self._sign = 1.0 if mode == "max" else -1.0
        return True

    def on_trial_add(self, tune_controller, trial) -> None:
        if not self._added:
            _keep_actors(tune_controller, trial, self._lag)
        if trial.trial_id in self._known:
            self._reference[trial.trial_id] = self._known[trial.trial_id]
        else:
            earlier = self._added[: max(0, len(self._added) - self._lag + 1)]  # trials 0 .. k-lag
            self._reference[trial.trial_id] = frozenset(t for t in earlier if t in self._finished)
        self._added.append(trial.trial_id)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        t = result.get(self._time_attr)
        if t not in self._rung_values or self._metric not in result:
            return TrialScheduler.CONTINUE
        value = self._sign * float(result[self._metric])
        self._rung_values[t][trial.trial_id] = value
        reference = self._reference.get(trial.trial_id, frozenset())
        earlier = [v for tid, v in self._rung_values[t].items() if tid in reference]
        if len(earlier) < self._min_reference:
            return TrialScheduler.CONTINUE
        cutoff = float(np.quantile(earlier, 1.0 - self._keep))
        if value < cutoff:
            self.stopped.add(trial.trial_id)
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def _finish(self, trial) -> None:
        self._finished.add(trial.trial_id)

    def on_trial_complete(self, tune_controller, trial, result) -> None:
        self._finish(trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._finish(trial)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._finish(trial)

    def debug_string(self) -> str:
        return f"ReproducibleASHA: rungs {self.rungs}, keep top {self._keep:.2f}"


def _keep_actors(tune_controller, trial, count: int) -> None:
    """Let Tune keep `count` idle trial actors for reuse (they all have the trial's resources).

    Tune keeps a finished trial's actor only while a staged trial will take it (and always one): when
    both slots finish while the searcher waits for an earlier trial (OrderedConcurrency), it kills one,
    and the next trial waits seconds for a new worker to import torch. The study's slots are fixed, so
    their actors are worth keeping for the whole search; Tune stops them all when it ends.
    Ray is pinned (pyproject.toml), and this reaches into its TuneController: without the attribute it
    does nothing, and tests/integration/test_search_behaviour.py checks that trials reuse the actors."""
    cache = getattr(tune_controller, "_actor_cache", None)
    resources = getattr(trial, "placement_group_factory", None)
    if cache is not None and resources is not None and hasattr(cache, "increase_max"):
        cache.increase_max(resources, by=max(0, count))
