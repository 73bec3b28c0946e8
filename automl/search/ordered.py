"""A concurrency limit under which a seeded search proposes the same configurations on every run.

Optuna's proposals depend on the results it has been told. Told in completion order, they
depend on timing; Tune's ConcurrencyLimiter(batch=True) fixes that by waiting for a whole batch,
which leaves trial slots idle while the longest trial of the batch runs. Here trial k is proposed
once trials 0..k-c have finished (c = max_concurrent), and the searcher is told exactly those
results, in trial order. Slots stay busy except while an early trial outlasts the c-1 after it.

A trial known at its proposal to be slow (`slow(config)`: an expensive synthesizer, fine-tuning) gets
a longer lag instead: trial k waits for it only from k = j + `slow_lag` on, so the other slots keep
proposing and running cheap trials while it runs (otherwise a 20 s TVAE trial idles every other slot
after one cheap trial). Which trials each proposal has heard of still depends only on trial numbers
and configurations, never on timing: `known[trial_id]` records it (`ToldBefore`: a count into the told
order, not a set per trial), and with `halving` each proposal carries the successive-halving cutoffs set
by exactly those trials (search/scheduler.py), under `RUNG_CUTOFFS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Set
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.util import _set_search_properties_backwards_compatible

from automl.search.scheduler import SuccessiveHalving
from automl.train.report import RUNG_CUTOFFS


class ToldBefore(Set):
    """The trials the searcher had been told about when one trial was proposed: the first `count` of
    the told order. Trials are only ever added to that order, so every proposal shares one index and
    keeps a count (a set per trial grew with the square of the trial count: 4.5 million entries, and
    a 1 s state copy at each of Tune's experiment checkpoints, after 3000 trials)."""

    __slots__ = ("index", "count")

    def __init__(self, index: dict[str, int], count: int) -> None:
        self.index, self.count = index, count

    def __contains__(self, trial_id: object) -> bool:
        position = self.index.get(trial_id)  # type: ignore[arg-type]
        return position is not None and position < self.count  # a set: compares equal to a frozenset

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return (trial_id for trial_id, position in self.index.items() if position < self.count)

    def __getstate__(self) -> tuple[dict[str, int], int]:
        return self.index, self.count

    def __setstate__(self, state: tuple[dict[str, int], int]) -> None:
        self.index, self.count = state


class OrderedConcurrency(Searcher):
    """Trial k waits for trial j from k = j + lag(j) on; proposals depend only on the seed and the
    results of the trials waited for, which the searcher hears as they fall due (in trial order
    among those falling due together)."""

    halving: SuccessiveHalving | None = None  # also for one saved before it existed

    def __init__(
        self,
        searcher: Searcher,
        max_concurrent: int,
        listener: Callable[[dict | None, dict | None], None] | None = None,
        slow: Callable[[dict], bool] | None = None,
        slow_lag: int | None = None,
        halving: SuccessiveHalving | None = None,
    ) -> None:
        """`listener(config, result)` hears every finished trial, in the order the searcher does, just
        before it (search/frugal.py's cost ledger). `slow(config)` marks trials whose lag is
        `slow_lag` (at least `max_concurrent`) instead of `max_concurrent`. `halving` hears every
        finished trial too, and sets the rung cutoffs each proposal carries."""
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be a positive integer, got {max_concurrent!r}")
        self.searcher = searcher
        self.listener = listener
        self.slow = slow
        self.max_concurrent = max_concurrent
        self.slow_lag = max(max_concurrent, slow_lag or max_concurrent)
        self.order: list[str] = []  # trial ids in the order they were proposed
        self.lags: list[int] = []  # each trial's lag, fixed at its proposal
        self.finished: dict[str, tuple[dict | None, bool]] = {}
        self.told: dict[str, int] = {}  # the trials the searcher has been told about, in telling order
        self.untold: list[int] = []  # indices into `order` of the others
        self.known: dict[str, ToldBefore] = {}  # per trial: the trials told before its proposal
        self.configs: dict[str, dict] = {}  # what each trial was proposed
        self.halving = halving  # part of the saved state: a resumed study keeps its rung values
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        return _set_search_properties_backwards_compatible(
            self.searcher.set_search_properties, metric, mode, config, **spec
        )

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.max_concurrent = max_concurrent
        self.slow_lag = max(self.slow_lag, max_concurrent)
        return True

    def suggest(self, trial_id: str) -> dict | None:
        # Tune asks many times a second: only the few trials not yet told are looked at.
        k = len(self.order)
        due = [j for j in self.untold if j + self.lags[j] <= k]  # in trial order
        if not all(self.order[j] in self.finished for j in due):
            return None  # Tune asks again later
        for j in due:
            done_id = self.order[j]
            result, error = self.finished[done_id]
            if self.listener is not None:
                self.listener(self.configs.get(done_id), result)
            self.searcher.on_trial_complete(done_id, result=result, error=error)
            if self.halving is not None:
                self.halving.tell(result)
            self.told[done_id] = len(self.told)
        if due:
            self.untold = [j for j in self.untold if j + self.lags[j] > k]
        suggestion = self.searcher.suggest(trial_id)
        if suggestion not in (None, Searcher.FINISHED):
            self.untold.append(len(self.order))
            self.order.append(trial_id)
            slow = self.slow is not None and self.slow(suggestion)
            self.lags.append(self.slow_lag if slow else self.max_concurrent)
            self.configs[trial_id] = suggestion
            self.known[trial_id] = ToldBefore(self.told, len(self.told))
            if self.halving is not None:
                return {**suggestion, RUNG_CUTOFFS: self.halving.cutoffs()}
        return suggestion

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self.order:
            self.finished[trial_id] = (result, error)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results are not passed on: when they arrive depends on timing."""

    def get_state(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["searcher"], state["listener"], state["slow"]
        return copy.deepcopy(state)

    def set_state(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("told"), set):  # saved before the told order was kept: any order will do
            state = dict(state, told={trial_id: i for i, trial_id in enumerate(sorted(state["told"]))})
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)
