"""Asynchronous successive halving whose decisions do not depend on timing, taken inside the trial.

Ray's ASHA compares a trial at a rung with whichever trials happen to have reported there already,
so two runs of the same study stop different trials. Here trial k is compared only with the trials
its proposal was based on: those OrderedConcurrency had told the searcher when it proposed k, which had
all finished by then. Their values at every rung are known at that moment, so the cutoffs are too:
`SuccessiveHalving.cutoffs()` travels with the trial's configuration (`train.report.RUNG_CUTOFFS`),
and the trial stops itself at a rung where its objective is below the cutoff. A trial then needs no
report at its rungs: each report is a round trip to the driver (a few ms, which on a table is a
large part of a 30 ms trial), and most trials now report once, at their end, with their value at each
rung reached (`RUNG_OBJECTIVES`), which the next proposals' cutoffs take in.

A seeded study gives the same leaderboard on CPU: the cutoffs depend on trial numbers and results
only, never on which trial reached a rung first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from ray.tune.schedulers import FIFOScheduler

from automl.train.report import RUNG_OBJECTIVES


def asha_rungs(max_t: int, grace_period: int, reduction_factor: float = 3) -> list[int]:
    """The epochs at which successive halving compares trials: grace, grace*rf, ... below max_t."""
    rungs, t = [], grace_period
    while t < max_t:
        rungs.append(int(t))
        t *= reduction_factor
    return rungs


class SuccessiveHalving:
    """The rung values of the trials told so far (in the order told) and the cutoffs they set: a trial
    stops at rung r when its objective (larger = better) is below the top 1/`reduction_factor` of
    at least `min_reference` earlier values at r."""

    def __init__(self, rungs: Iterable[int], reduction_factor: float = 3, min_reference: int = 3) -> None:
        self.rungs = [int(r) for r in rungs]
        self.keep = 1.0 / reduction_factor
        self.min_reference = min_reference
        self.values: dict[int, list[float]] = {r: [] for r in self.rungs}

    def tell(self, result: Mapping[str, Any] | None) -> None:
        """Take in a finished trial's value at each rung it reached (none from a trial that failed
        before its end, which has no final report)."""
        for rung, value in zip(self.rungs, (result or {}).get(RUNG_OBJECTIVES) or (), strict=False):
            self.values[rung].append(float(value))

    def cutoffs(self) -> dict[str, float]:
        """{rung (as text: configurations are stored as JSON): cutoff} for a trial proposed now; rungs
        with fewer than `min_reference` values have none (the trial goes on there)."""
        return {
            str(rung): float(np.quantile(values, 1.0 - self.keep))
            for rung, values in self.values.items()
            if len(values) >= self.min_reference
        }


class KeptActors(FIFOScheduler):
    """Tune's first-in-first-out scheduling (the trials stop themselves at rungs), keeping one idle
    actor per trial slot for reuse."""

    def __init__(self, slots: int = 1) -> None:
        super().__init__()
        self._slots = slots
        self._added = False

    def on_trial_add(self, tune_controller, trial) -> None:
        if not self._added:
            _keep_actors(tune_controller, trial, self._slots)
            self._added = True


class ReproducibleASHA(KeptActors):
    """How a study saved before the trials halved themselves loads its scheduler (Tune stores it with the
    experiment, under this name): it keeps the actors and stops nothing. That study's searcher was saved
    without `SuccessiveHalving` either, so its proposals carry no cutoffs: resumed, it runs without
    successive halving, each trial to its own early stopping."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        KeptActors.__init__(self, slots=int(state.get("_lag", 1)))


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
