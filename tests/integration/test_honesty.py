"""The reported number is honest: held-out test rows never reach the search, the re-evaluation or the
exported model, and shuffled
labels report chance inside the estimate's interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl.finish as finish_module
import automl.search.tuner as tuner_module
import automl.train.final as final_module
from automl.study import run_study
from tests.helpers import small_config

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.mark.parametrize("export", ["bag", "refit"])
def test_test_rows_never_reach_the_search_or_the_export(
    penguins_csv, fast_space, tmp_path, monkeypatch, export
):
    path, target = penguins_csv
    frame = pd.read_csv(path)
    frame.insert(0, "row_id", np.arange(len(frame), dtype=float))
    marked = tmp_path / "marked.csv"
    frame.to_csv(marked, index=False)

    seen: dict[str, set[float]] = {}
    real_build, real_fit_final = tuner_module.build_tuner, final_module.fit_final
    real_reevaluate, real_fold_model = finish_module.reevaluate, final_module.fold_model

    def spy_build(config, data, *args, **kwargs):
        seen["search"] = set(data.features["row_id"])
        return real_build(config, data, *args, **kwargs)

    def spy_reevaluate(candidates, data, *args, **kwargs):
        seen["reevaluation"] = set(data.features["row_id"])
        return real_reevaluate(candidates, data, *args, **kwargs)

    def spy_fit_final(config, features, *args, **kwargs):
        seen.setdefault("export", set()).update(features["row_id"])
        return real_fit_final(config, features, *args, **kwargs)

    def spy_fold_model(data, fold_index, *args, **kwargs):  # a bag member's preprocessor: its fold's rows
        seen.setdefault("export", set()).update(data.features["row_id"].iloc[data.folds[fold_index][0]])
        return real_fold_model(data, fold_index, *args, **kwargs)

    monkeypatch.setattr(tuner_module, "build_tuner", spy_build)
    monkeypatch.setattr(finish_module, "reevaluate", spy_reevaluate)
    monkeypatch.setattr(final_module, "fit_final", spy_fit_final)
    monkeypatch.setattr(final_module, "fold_model", spy_fold_model)
    study = run_study(
        small_config(marked, target, tmp_path, fast_space, trials=2, test_size=0.2, export=export),
        log=lambda m: None,
    )
    assert study.manifest["model"]["kind"] == ("bag" if export == "bag" else "single")
    test_ids = {float(i) for i in study.manifest["splits"]["test_rows"]}
    assert len(test_ids) == 24
    assert not seen["search"] & test_ids
    assert seen["reevaluation"] == seen["search"]
    assert seen["export"] and not seen["export"] & test_ids
    assert seen["search"] | test_ids == set(frame["row_id"])


@pytest.mark.slow
def test_shuffled_labels_report_chance(fast_space, tmp_path):
    """Random labels: whatever the best trial's own folds say, the bias-corrected estimate sits at
    chance, and so does the plain baseline on the same folds."""
    from automl.datasets import load

    frame, target = load("breast_cancer")
    frame = frame.sample(n=200, random_state=1).reset_index(drop=True)
    frame[target] = np.random.default_rng(7).permutation(frame[target].to_numpy())
    path = tmp_path / "shuffled.csv"
    frame.to_csv(path, index=False)
    config = small_config(path, target, tmp_path, fast_space, trials=8, metric="balanced_accuracy")
    study = run_study(config, log=lambda m: None)
    estimate = study.estimate
    assert estimate["protocol"] == "out_of_fold" and estimate["n_rows"] == 200
    assert estimate["chance_level"] == 0.5
    assert estimate["ci_low"] <= 0.5 <= estimate["ci_high"]
    assert abs(estimate["value"] - 0.5) < 0.08
    assert estimate["ci_high"] - estimate["ci_low"] < 0.3  # as narrow as 200 rows allow, not a held-out 40


def test_the_same_seed_gives_the_same_estimate(penguins_csv, fast_space, tmp_path):
    path, target = penguins_csv
    first, again = (
        run_study(small_config(path, target, tmp_path / name, fast_space, trials=3), log=lambda m: None)
        for name in ("a", "b")
    )
    for key in ("value", "ci_low", "ci_high", "apparent", "picked"):
        assert first.manifest["cv_estimate"][key] == again.manifest["cv_estimate"][key], key
    assert first.manifest["best"]["trial"] == again.manifest["best"]["trial"]
