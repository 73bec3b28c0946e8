"""The per-trial time cap: a trial that outlasts it ends with what it has, and a shared fit that
outlasts it is abandoned once for the whole study, with a message that says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.search.costs import format_costs, technique_costs
from automl.train.trainable import run_trial
from tests.unit.train.test_no_leakage import BASE, _data


def test_a_trial_past_its_cap_ends_after_the_epoch_in_progress_with_its_out_of_fold_predictions():
    data = _data()
    data.max_epochs = 50
    data.extra["trial_cap_s"] = 0.0
    reports: list[dict] = []
    run_trial(dict(BASE, patience=100, synth_method="none"), data, reports.append)
    assert [r["epoch"] for r in reports] == [1]
    assert reports[-1]["time_capped"] is True
    assert np.isfinite(reports[-1]["payload"]["oof"]).all()


def test_without_a_cap_the_trial_is_not_marked():
    data = _data()
    reports: list[dict] = []
    run_trial(dict(BASE, synth_method="none"), data, reports.append)
    assert reports[-1]["time_capped"] is False


def test_a_shared_setting_past_its_cap_is_abandoned_for_every_later_trial(ray_session):
    import ray

    from automl.synth.pool import HEAD_NODE_RESOURCE, SharedPool, TooSlow, fetch_shared

    data = _data()
    pool = SharedPool.options(resources={HEAD_NODE_RESOURCE: 0.001}).remote([ray.put(data)], 1.0, 0.2)
    try:
        with pytest.raises(TooSlow, match="synthesizer 'ctgan'.*cap of 0 s"):
            fetch_shared(pool, "get", 0, "ctgan", {"epochs": 5000}, 0)
        assert ray.get(pool.size.remote()) == 0  # its fit was cancelled
        for fold in range(len(data.folds)):  # later trials, any fold of the setting: at once, same reason
            with pytest.raises(TooSlow, match="not tried again"):
                fetch_shared(pool, "get", fold, "ctgan", {"epochs": 5000}, fold)
        assert ray.get(pool.size.remote()) == 0
        with pytest.raises(TooSlow):  # another setting has a cap of its own (and, here, too short)
            fetch_shared(pool, "get", 0, "ctgan", {"epochs": 4000}, 0)
    finally:
        ray.kill(pool)


def test_without_a_cap_a_shared_fit_is_waited_for(ray_session):
    import ray

    from automl.synth.pool import HEAD_NODE_RESOURCE, SharedPool, fetch_shared

    data = _data()
    pool = SharedPool.options(resources={HEAD_NODE_RESOURCE: 0.001}).remote([ray.put(data)], 1.0)
    try:
        rows, labels, _ = fetch_shared(pool, "get", 0, "gaussian_copula", {}, 0)
        assert len(rows) == len(labels) == len(data.folds[0][0])
    finally:
        ray.kill(pool)


def test_technique_costs_sum_the_trials_seconds_and_say_which_earned_their_share():
    board = pd.DataFrame(
        {
            "seconds": [1.0, 1.0, 8.0, 0.5],
            "objective": [0.90, 0.80, 0.70, np.nan],
            "param_synth_method": ["none", "none", "tvae", "tvae"],
            "param_backbone": [None, None, None, None],  # one value only: not a technique here
        }
    )
    costs = technique_costs(board, band_floor=0.85)
    assert [(c["value"], c["trials"], c["seconds"], c["earned"]) for c in costs] == [
        ("tvae", 2, 8.5, False),
        ("none", 2, 2.0, True),
    ]
    assert costs[0]["share"] == pytest.approx(8.5 / 10.5)
    text = "\n".join(format_costs(costs))
    assert "synth_method: tvae 8 s (81%, 2 trials), none 2 s (19%, 2 trials)*" in text
