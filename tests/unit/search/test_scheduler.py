"""Tests of automl.search.scheduler.ReproducibleASHA with fake trials (no Ray cluster)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from ray.tune.schedulers import TrialScheduler

from automl.search.scheduler import ReproducibleASHA

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


@dataclass(frozen=True)
class FakeTrial:
    trial_id: str


def asha(**kwargs: object) -> ReproducibleASHA:
    options = {"max_t": 100, "grace_period": 5, "reduction_factor": 3, "min_reference": 3}
    options.update(kwargs)
    return ReproducibleASHA("objective", "max", **options)  # type: ignore[arg-type]


def report(s: ReproducibleASHA, trial: FakeTrial, epoch: int, value: float) -> str:
    return s.on_trial_result(None, trial, {"epoch": epoch, "objective": value})


def finished_trials(s: ReproducibleASHA, values: dict[str, float], rung: int = 5) -> None:
    """Add, report at `rung` and complete one trial per value, one after the other."""
    for trial_id, value in values.items():
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        assert report(s, trial, rung, value) in (CONTINUE, STOP)
        s.on_trial_complete(None, trial, {})


# --- rungs and bookkeeping -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "max_t", "factor", "rungs"),
    [(5, 100, 3, [5, 15, 45]), (1, 10, 2, [1, 2, 4, 8]), (5, 5, 3, []), (10, 100, 4, [10, 40])],
)
def test_rungs(grace: int, max_t: int, factor: float, rungs: list[int]) -> None:
    s = asha(grace_period=grace, max_t=max_t, reduction_factor=factor)
    assert s.rungs == rungs
    assert s.debug_string() == f"ReproducibleASHA: rungs {rungs}, keep top {1 / factor:.2f}"


def test_set_search_properties() -> None:
    s = asha()
    assert s.set_search_properties(None, None) is True
    assert s.set_search_properties("loss", "min") is True
    for trial_id, loss in {"a": 1.0, "b": 2.0, "c": 3.0}.items():  # recorded as -1, -2, -3 under mode min
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        s.on_trial_result(None, trial, {"epoch": 5, "loss": loss})
        s.on_trial_complete(None, trial, {})
    assert s.on_trial_result(None, FakeTrial("x"), {"epoch": 5, "objective": 0.0}) == CONTINUE
    late = FakeTrial("late")
    s.on_trial_add(None, late)
    assert s.on_trial_result(None, late, {"epoch": 5, "loss": 0.5}) == CONTINUE
    assert s.on_trial_result(None, late, {"epoch": 15, "loss": 99.0}) == CONTINUE
    other = FakeTrial("other")
    s.on_trial_add(None, other)
    assert s.on_trial_result(None, other, {"epoch": 5, "loss": 2.5}) == STOP


# --- decisions -----------------------------------------------------------------------------


def test_below_the_cutoff_stops_above_continues() -> None:
    s = asha()
    finished_trials(s, {"a": 0.1, "b": 0.5, "c": 0.9})
    cutoff = float(np.quantile([0.1, 0.5, 0.9], 1.0 - 1.0 / 3))  # keep the top third
    decisions = {}
    for trial_id, value in {
        "low": 0.3,
        "high": 0.7,
        "best": 0.95,
        "at": cutoff,
        "under": cutoff - 1e-9,
    }.items():
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        decisions[trial_id] = report(s, trial, 5, value)
    assert decisions == {"low": STOP, "high": CONTINUE, "best": CONTINUE, "at": CONTINUE, "under": STOP}
    assert s.stopped == {"low", "under"}


def test_mode_min_stops_the_larger_values() -> None:
    s = ReproducibleASHA("loss", "min", max_t=100, grace_period=5, reduction_factor=3, min_reference=3)
    for trial_id, loss in {"a": 1.0, "b": 2.0, "c": 3.0}.items():
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        s.on_trial_result(None, trial, {"epoch": 5, "loss": loss})
        s.on_trial_complete(None, trial, {})
    good, bad = FakeTrial("good"), FakeTrial("bad")
    s.on_trial_add(None, good)
    s.on_trial_add(None, bad)
    assert s.on_trial_result(None, good, {"epoch": 5, "loss": 1.1}) == CONTINUE
    assert s.on_trial_result(None, bad, {"epoch": 5, "loss": 2.5}) == STOP


def test_results_between_rungs_or_without_the_metric_continue() -> None:
    s = asha()
    finished_trials(s, {"a": 0.8, "b": 0.9, "c": 1.0})
    trial = FakeTrial("t")
    s.on_trial_add(None, trial)
    for epoch in (1, 4, 6, 14, 100):
        assert report(s, trial, epoch, -100.0) == CONTINUE
    assert s.on_trial_result(None, trial, {"epoch": 5}) == CONTINUE
    assert s.on_trial_result(None, trial, {"objective": -100.0}) == CONTINUE
    assert s.stopped == set()


def test_fewer_than_min_reference_earlier_values_continue() -> None:
    s = asha()
    finished_trials(s, {"a": 0.8, "b": 0.9})
    trial = FakeTrial("t")
    s.on_trial_add(None, trial)
    assert report(s, trial, 5, -100.0) == CONTINUE
    # with min_reference=2 the same two trials are enough
    s2 = asha(min_reference=2)
    finished_trials(s2, {"a": 0.8, "b": 0.9})
    s2.on_trial_add(None, trial)
    assert report(s2, trial, 5, -100.0) == STOP


def test_only_trials_finished_before_the_add_are_compared() -> None:
    s = asha()
    # a, b, c are added together and run concurrently with d
    running = [FakeTrial(i) for i in "abcd"]
    for trial in running:
        s.on_trial_add(None, trial)
    for trial, value in zip(running[:3], (0.7, 0.8, 0.9), strict=True):
        assert report(s, trial, 5, value) == CONTINUE
    # d is far worse than a, b and c, but none of them had finished when d was added
    assert report(s, running[3], 5, 0.0) == CONTINUE
    for trial in running:
        s.on_trial_complete(None, trial, {})
    # a trial added now is compared with all four
    late = FakeTrial("late")
    s.on_trial_add(None, late)
    assert report(s, late, 5, 0.75) == STOP
    assert s.stopped == {"late"}


def test_a_trial_still_running_when_another_is_added_is_not_its_reference() -> None:
    s = asha()
    finished_trials(s, {"a": 0.5, "b": 0.6})
    slow = FakeTrial("slow")
    s.on_trial_add(None, slow)
    assert report(s, slow, 5, 0.9) == CONTINUE  # reference {}: nothing had finished
    new = FakeTrial("new")
    s.on_trial_add(None, new)  # slow has reported at rung 5 but is still running
    assert report(s, new, 5, 0.0) == CONTINUE  # only a and b count: fewer than 3
    s.on_trial_complete(None, slow, {})
    newer = FakeTrial("newer")
    s.on_trial_add(None, newer)
    assert report(s, newer, 5, 0.0) == STOP  # a, b and slow


@pytest.mark.parametrize("how", ["error", "remove"])
def test_errored_and_removed_trials_count_as_finished(how: str) -> None:
    s = asha()
    for trial_id, value in {"a": 0.5, "b": 0.6, "c": 0.7}.items():
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        report(s, trial, 5, value)
        if how == "error":
            s.on_trial_error(None, trial)
        else:
            s.on_trial_remove(None, trial)
    trial = FakeTrial("t")
    s.on_trial_add(None, trial)
    assert report(s, trial, 5, 0.0) == STOP


def test_each_rung_compares_with_the_values_at_that_rung() -> None:
    s = asha()
    for trial_id, (v5, v15) in {"a": (0.1, 0.9), "b": (0.2, 0.95), "c": (0.3, 0.99)}.items():
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        report(s, trial, 5, v5)
        report(s, trial, 15, v15)
        s.on_trial_complete(None, trial, {})
    trial = FakeTrial("t")
    s.on_trial_add(None, trial)
    assert report(s, trial, 5, 0.5) == CONTINUE  # top at rung 5
    assert report(s, trial, 15, 0.5) == STOP  # bottom at rung 15


def test_reference_trials_stopped_before_a_rung_do_not_count_there() -> None:
    s = asha()
    finished_trials(s, {"a": 0.5, "b": 0.6, "c": 0.7, "d": 0.8})  # at rung 5 only
    for trial_id, value in {"e": 0.9, "f": 0.95}.items():  # also reach rung 15
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        report(s, trial, 5, value)
        report(s, trial, 15, value)
        s.on_trial_complete(None, trial, {})
    trial = FakeTrial("t")
    s.on_trial_add(None, trial)
    assert report(s, trial, 5, 0.92) == CONTINUE
    assert report(s, trial, 15, 0.0) == CONTINUE  # only two earlier values at rung 15


def run_batch(order: list[tuple[str, int, float]]) -> dict[tuple[str, int], str]:
    """Finished history, then a concurrent batch reporting in `order`; returns every decision."""
    s = asha()
    history = {"h1": (0.2, 0.3), "h2": (0.4, 0.5), "h3": (0.6, 0.7), "h4": (0.8, None)}
    for trial_id, (v5, v15) in history.items():  # finished trials, h4 without a result at rung 15
        trial = FakeTrial(trial_id)
        s.on_trial_add(None, trial)
        report(s, trial, 5, v5)
        if v15 is not None:
            report(s, trial, 15, v15)
        s.on_trial_complete(None, trial, {})
    batch = {trial_id for trial_id, _, _ in order}
    for trial_id in sorted(batch):
        s.on_trial_add(None, FakeTrial(trial_id))
    decisions = {}
    for trial_id, epoch, value in order:
        if trial_id in s.stopped:
            continue
        decisions[(trial_id, epoch)] = report(s, FakeTrial(trial_id), epoch, value)
    return decisions


def test_decisions_do_not_depend_on_the_order_concurrent_trials_report_in() -> None:
    results = [
        ("p", 5, 0.9),
        ("q", 5, 0.1),
        ("r", 5, 0.7),
        ("s", 5, 0.65),
        ("p", 15, 0.2),
        ("r", 15, 0.8),
        ("s", 15, 0.6),
    ]
    expected = None
    for perm in itertools.permutations(range(4)):
        # the concurrent trials report at rung 5 in every order, then rung 15 in reverse order
        rung5 = [results[i] for i in perm]
        rung15 = [r for r in results[4:] if r[0] != "q"][:: 1 if perm[0] % 2 else -1]
        decisions = run_batch(rung5 + rung15)
        if expected is None:
            expected = decisions
        assert decisions == expected
    assert expected == {
        ("p", 5): CONTINUE,
        ("q", 5): STOP,
        ("r", 5): CONTINUE,
        ("s", 5): CONTINUE,
        ("p", 15): STOP,
        ("r", 15): CONTINUE,
        ("s", 15): CONTINUE,
    }


def test_decisions_are_identical_across_runs_with_interleaved_reports() -> None:
    def run(seed: int) -> dict[str, list[str]]:
        rng = np.random.default_rng(seed)
        s = asha(max_t=50, grace_period=2, reduction_factor=2)
        values = {f"t{i}": float(v) for i, v in enumerate(np.random.default_rng(0).random(12))}
        decisions: dict[str, list[str]] = {}
        ids = list(values)
        for batch in (ids[:4], ids[4:8], ids[8:]):
            for trial_id in batch:
                s.on_trial_add(None, FakeTrial(trial_id))
            # every reporting step in a random interleaving of the batch's trials
            steps = [(trial_id, epoch) for trial_id in batch for epoch in range(1, 50)]
            rng.shuffle(steps)
            steps.sort(key=lambda step: step[1])  # a trial's own epochs stay in order
            active = set(batch)
            for trial_id, epoch in steps:
                if trial_id not in active:
                    continue
                value = values[trial_id] + 0.001 * epoch
                decision = report(s, FakeTrial(trial_id), epoch, value)
                decisions.setdefault(trial_id, []).append(decision)
                if decision == STOP:
                    active.discard(trial_id)
            for trial_id in batch:
                s.on_trial_complete(None, FakeTrial(trial_id), {})
        return decisions

    first = run(0)
    assert any(STOP in d for d in first.values())
    for seed in range(1, 6):
        assert run(seed) == first


def test_with_a_lag_trial_k_is_compared_only_with_trials_up_to_k_minus_lag() -> None:
    from types import SimpleNamespace

    from automl.search.scheduler import ReproducibleASHA

    asha = ReproducibleASHA(
        "objective", "max", max_t=30, grace_period=2, reduction_factor=3, min_reference=1, lag=2
    )
    trials = [SimpleNamespace(trial_id=f"t{i}") for i in range(4)]
    asha.on_trial_add(None, trials[0])
    asha.on_trial_add(None, trials[1])
    asha.on_trial_result(None, trials[0], {"epoch": 2, "objective": 0.9})
    asha.on_trial_complete(None, trials[0], {})
    asha.on_trial_result(None, trials[1], {"epoch": 2, "objective": 0.1})
    asha.on_trial_complete(None, trials[1], {})
    asha.on_trial_add(None, trials[2])  # k=2: compared with t0 only, although t1 has finished too
    assert asha._reference["t2"] == frozenset({"t0"})
    asha.on_trial_add(None, trials[3])
    assert asha._reference["t3"] == frozenset({"t0", "t1"})


def test_a_trial_is_compared_with_exactly_the_trials_its_proposal_heard_of() -> None:
    known = {"c": frozenset({"a"})}  # "b" ran beside "a" but had not been told when "c" was proposed
    s = asha(known=known, lag=1)
    a, b, c = FakeTrial("a"), FakeTrial("b"), FakeTrial("c")
    for trial in (a, b, c):
        s.on_trial_add(None, trial)
    s.on_trial_complete(None, b, {})
    assert s._reference["c"] == frozenset({"a"})  # as told, whatever finished meanwhile


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

    def cached_after_flush(slots: int) -> int:
        controller = Controller()
        asha(lag=slots).on_trial_add(controller, Resourced("t0"))
        for actor in ("actor_a", "actor_b"):
            controller._actor_cache.cache_object("1 CPU", actor)
        list(controller._actor_cache.flush_cached_objects())
        return controller._actor_cache.num_cached_objects

    assert cached_after_flush(slots=1) == 1  # Tune's own behaviour: one kept
    assert cached_after_flush(slots=2) == 2
