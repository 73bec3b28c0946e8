"""Successive halving decided in the trial: the cutoffs a proposal carries (SuccessiveHalving under
OrderedConcurrency), and KeptActors (no Ray cluster)."""

from __future__ import annotations

import itertools
import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from ray.tune.search import Searcher

from automl.search.ordered import OrderedConcurrency
from automl.search.scheduler import KeptActors, ReproducibleASHA, SuccessiveHalving, asha_rungs
from automl.train.report import RUNG_CUTOFFS, RUNG_OBJECTIVES


def told(halving: SuccessiveHalving, *trials: list[float]) -> SuccessiveHalving:
    for values in trials:
        halving.tell({RUNG_OBJECTIVES: values})
    return halving


# --- rungs and cutoffs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "max_t", "factor", "rungs"),
    [(5, 100, 3, [5, 15, 45]), (1, 10, 2, [1, 2, 4, 8]), (5, 5, 3, []), (10, 100, 4, [10, 40])],
)
def test_rungs(grace: int, max_t: int, factor: float, rungs: list[int]) -> None:
    assert asha_rungs(max_t, grace, factor) == rungs


def test_the_cutoff_keeps_the_top_third_of_the_told_values() -> None:
    halving = told(SuccessiveHalving([5, 15, 45]), [0.1], [0.5], [0.9])
    assert halving.cutoffs() == {"5": pytest.approx(float(np.quantile([0.1, 0.5, 0.9], 2 / 3)))}


def test_fewer_than_min_reference_values_set_no_cutoff() -> None:
    assert told(SuccessiveHalving([5, 15]), [0.8], [0.9]).cutoffs() == {}
    assert told(SuccessiveHalving([5, 15], min_reference=2), [0.8], [0.9]).cutoffs() == {
        "5": pytest.approx(float(np.quantile([0.8, 0.9], 2 / 3)))
    }


def test_each_rung_has_the_values_of_the_trials_that_reached_it() -> None:
    halving = told(SuccessiveHalving([5, 15, 45]), [0.1, 0.9], [0.2, 0.95], [0.3, 0.99], [0.4], [0.5])
    cutoffs = halving.cutoffs()
    assert cutoffs["5"] == pytest.approx(float(np.quantile([0.1, 0.2, 0.3, 0.4, 0.5], 2 / 3)))
    assert cutoffs["15"] == pytest.approx(float(np.quantile([0.9, 0.95, 0.99], 2 / 3)))
    assert "45" not in cutoffs  # nobody reached it


@pytest.mark.parametrize("result", [None, {}, {"objective": 1.0}, {RUNG_OBJECTIVES: []}])
def test_a_trial_without_rung_values_adds_none(result) -> None:
    halving = SuccessiveHalving([5, 15])
    halving.tell(result)
    assert halving.values == {5: [], 15: []}


# --- the proposals' cutoffs under OrderedConcurrency -----------------------------------------------


class Numbered(Searcher):
    def __init__(self) -> None:
        super().__init__(metric="objective", mode="max")
        self.count = 0

    def suggest(self, trial_id: str) -> dict:
        self.count += 1
        return {"k": self.count}

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        pass


def limited(max_concurrent: int) -> OrderedConcurrency:
    return OrderedConcurrency(Numbered(), max_concurrent=max_concurrent, halving=SuccessiveHalving([5, 15]))


def test_each_proposal_carries_the_cutoffs_of_the_trials_told_before_it() -> None:
    limiter = limited(1)
    values = {"a": [0.5], "b": [0.6, 0.7], "c": [0.7, 0.8], "d": [0.8, 0.9]}
    for trial_id, rung_values in values.items():
        proposal = limiter.suggest(trial_id)
        assert (
            proposal[RUNG_CUTOFFS]
            == told(SuccessiveHalving([5, 15]), *list(values.values())[: proposal["k"] - 1]).cutoffs()
        )
        limiter.on_trial_complete(trial_id, {"objective": rung_values[-1], RUNG_OBJECTIVES: rung_values})
    proposal = limiter.suggest("e")
    assert proposal[RUNG_CUTOFFS] == {
        "5": pytest.approx(float(np.quantile([0.5, 0.6, 0.7, 0.8], 2 / 3))),
        "15": pytest.approx(float(np.quantile([0.7, 0.8, 0.9], 2 / 3))),
    }
    assert RUNG_CUTOFFS not in limiter.configs["e"]  # what the searcher proposed, for its listener


def test_the_cutoffs_do_not_depend_on_the_order_concurrent_trials_finish_in() -> None:
    values = {"t0": [0.2, 0.3], "t1": [0.4], "t2": [0.6, 0.7], "t3": [0.8, 0.1], "t4": [0.5, 0.5]}

    def run(order: tuple[str, ...]) -> list[dict]:
        limiter = limited(3)
        proposals = [limiter.suggest(t) for t in ["t0", "t1", "t2"]]
        for trial_id in order[:3]:
            limiter.on_trial_complete(trial_id, {RUNG_OBJECTIVES: values[trial_id]})
        proposals += [limiter.suggest(t) for t in ["t3", "t4", "t5"]]
        for trial_id in ("t3", "t4"):
            limiter.on_trial_complete(trial_id, {RUNG_OBJECTIVES: values[trial_id]})
        proposals += [limiter.suggest(t) for t in ["t6", "t7"]]
        return proposals

    runs = [run(order) for order in itertools.permutations(["t0", "t1", "t2"])]
    assert all(r == runs[0] for r in runs)
    assert runs[0][3][RUNG_CUTOFFS] == {}  # t3 waits for t0 only: one value is too few
    assert runs[0][5][RUNG_CUTOFFS] == {"5": pytest.approx(float(np.quantile([0.2, 0.4, 0.6], 2 / 3)))}
    assert set(runs[0][-1][RUNG_CUTOFFS]) == {"5", "15"}  # five trials told, four of them at rung 15


def test_a_failed_trial_adds_no_values_and_a_resumed_search_keeps_them() -> None:
    limiter = limited(1)
    for trial_id, rung_values in {"a": [0.5], "b": [0.6], "c": [0.7]}.items():
        limiter.suggest(trial_id)
        limiter.on_trial_complete(trial_id, {RUNG_OBJECTIVES: rung_values})
    limiter.suggest("d")
    limiter.on_trial_complete("d", None, error=True)
    restored = limited(1)
    restored.set_state(limiter.get_state())
    assert restored.suggest("e")[RUNG_CUTOFFS] == limiter.suggest("e")[RUNG_CUTOFFS]
    assert restored.halving.values[5] == [0.5, 0.6, 0.7]


def test_without_halving_a_proposal_is_the_searchers_own() -> None:
    limiter = OrderedConcurrency(Numbered(), max_concurrent=1)
    assert limiter.suggest("a") == {"k": 1}


# --- actors ---------------------------------------------------------------------------------------


def test_the_study_keeps_its_trial_actors_cached_while_the_searcher_waits() -> None:
    """Tune flushes cached actors down to the trials staged for them (keeping one); the scheduler raises
    the floor to the study's slots, so a second idle actor survives a step with nothing staged."""
    from ray.tune.utils.object_cache import _ObjectCache

    @dataclass(frozen=True)
    class Resourced:
        trial_id: str
        placement_group_factory: str = "1 CPU"

    class Controller:
        def __init__(self) -> None:
            self._actor_cache = _ObjectCache(may_keep_one=True)

    def cached_after_flush(slots: int, scheduler: KeptActors | None = None) -> int:
        controller = Controller()
        scheduler = scheduler or KeptActors(slots=slots)
        scheduler.on_trial_add(controller, Resourced("t0"))
        scheduler.on_trial_add(controller, Resourced("t1"))  # raised once, not per trial
        for actor in ("actor_a", "actor_b", "actor_c"):
            controller._actor_cache.cache_object("1 CPU", actor)
        list(controller._actor_cache.flush_cached_objects())
        return controller._actor_cache.num_cached_objects

    assert cached_after_flush(slots=1) == 1  # Tune's own behaviour: one kept
    assert cached_after_flush(slots=2) == 2

    # A study saved by an earlier version stored its ReproducibleASHA (Tune pickles the scheduler with
    # the experiment): it loads with that state, keeps the actors and decides nothing.
    saved = ReproducibleASHA.__new__(ReproducibleASHA)
    saved.__dict__.update({"_lag": 2, "_added": ["t0"], "_rung_values": {5: {"t0": 0.5}}, "stopped": set()})
    loaded = pickle.loads(pickle.dumps(saved))
    assert cached_after_flush(slots=2, scheduler=loaded) == 2
    assert loaded.on_trial_result(None, Resourced("t1"), {"epoch": 5, "objective": -1.0}) == "CONTINUE"
    restored = OrderedConcurrency.__new__(OrderedConcurrency)  # its searcher, saved without halving
    assert restored.halving is None
