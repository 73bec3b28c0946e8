"""A concurrency limit under which a seeded search proposes the same configurations on every run.

Optuna's proposals depend on the results it has been told. Told in completion order, they
depend on timing; Tune's ConcurrencyLimiter(batch=True) fixes that by waiting for a whole batch,
which leaves trial slots idle while the longest trial of the batch runs. Here trial k is proposed
once trials 0..k-c have finished (c = max_concurrent), and the searcher is told exactly those
results, in trial order. Slots stay busy except while an early trial outlasts the c-1 after it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.util import _set_search_properties_backwards_compatible


class OrderedConcurrency(Searcher):
    """At most `max_concurrent` trials in flight; proposals depend only on the seed and earlier trials' results."""

    def __init__(
        self,
        searcher: Searcher,
        max_concurrent: int,
        listener: Callable[[dict | None, dict | None], None] | None = None,
    ) -> None:
        """`listener(config, result)` hears every finished trial, in trial order, just before the
        searcher does (search/frugal.py's cost ledger)."""
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be a positive integer, got {max_concurrent!r}")
        self.searcher = searcher
        self.listener = listener
        self.max_concurrent = max_concurrent
        self.order: list[str] = []  # trial ids in the order they were proposed
        self.finished: dict[str, tuple[dict | None, bool]] = {}
        self.told = 0  # how many of `order` the searcher has been told about
        self.configs: dict[str, dict] = {}  # what each trial was proposed
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        return _set_search_properties_backwards_compatible(
            self.searcher.set_search_properties, metric, mode, config, **spec
        )

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.max_concurrent = max_concurrent
        return True

    def suggest(self, trial_id: str) -> dict | None:
        must_be_done = len(self.order) - self.max_concurrent + 1  # trials 0 .. k-c
        if must_be_done > 0 and not all(t in self.finished for t in self.order[:must_be_done]):
            return None  # Tune asks again later
        while self.told < must_be_done:
            done_id = self.order[self.told]
            result, error = self.finished[done_id]
            if self.listener is not None:
                self.listener(self.configs.get(done_id), result)
            self.searcher.on_trial_complete(done_id, result=result, error=error)
            self.told += 1
        suggestion = self.searcher.suggest(trial_id)
        if suggestion not in (None, Searcher.FINISHED):
            self.order.append(trial_id)
            self.configs[trial_id] = suggestion
        return suggestion

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self.order:
            self.finished[trial_id] = (result, error)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results are not passed on: when they arrive depends on timing."""

    def get_state(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["searcher"], state["listener"]
        return copy.deepcopy(state)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)
