"""The search's deadline: it ends early enough for the finish (a fixed part plus about one trial)."""

from __future__ import annotations

import pickle
import time

from automl.search.tuner import Deadline


def test_without_trials_the_reserve_is_the_fixed_part():
    stopper = Deadline(time.time() + 100, fixed_s=3.0)
    assert stopper.reserve_s() == 3.0
    assert not stopper.stop_all()


def test_the_reserve_grows_with_the_trials_durations():
    stopper = Deadline(time.time() + 10, fixed_s=3.0)
    for i, seconds in enumerate([0.5] * 19 + [40.0]):
        assert stopper(f"t{i}", {"time_total_s": seconds}) is False  # never stops one trial
    assert stopper.reserve_s() < 10.0  # the 90th percentile: one slow trial is not the rule
    assert not stopper.stop_all()
    for i in range(20, 30):
        stopper(f"t{i}", {"time_total_s": 20.0})
    assert stopper.reserve_s() == 23.0
    assert stopper.stop_all()  # 10 s left, and the finish may need a 20 s trial's refit


def test_a_report_updates_the_trial_s_duration_instead_of_adding_one():
    stopper = Deadline(time.time() + 100, fixed_s=1.0)
    for seconds in (1.0, 2.0, 4.0):
        stopper("t1", {"time_total_s": seconds})
    stopper("t2", {"epoch": 1})  # a report without a duration counts for nothing
    assert stopper.durations == {"t1": 4.0}


def test_past_the_deadline_the_search_stops():
    assert Deadline(time.time() - 1).stop_all()


def test_a_restored_experiment_has_no_deadline():
    stopper = pickle.loads(pickle.dumps(Deadline(time.time() - 1)))
    assert stopper.deadline is None
    assert not stopper.stop_all()
