"""The reported test score is honest: test rows never reach the search, and shuffled labels report chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl.search.tuner as tuner_module
import automl.study as study_module
from automl.study import run_study
from tests.helpers import small_config

pytestmark = pytest.mark.usefixtures("ray_session")


def test_test_rows_never_reach_the_search_or_the_refit(penguins_csv, fast_space, tmp_path, monkeypatch):
    path, target = penguins_csv
    frame = pd.read_csv(path)
    frame.insert(0, "row_id", np.arange(len(frame), dtype=float))
    marked = tmp_path / "marked.csv"
    frame.to_csv(marked, index=False)

    seen: dict[str, set[float]] = {}
    real_build, real_fit_final = tuner_module.build_tuner, study_module.fit_final

    def spy_build(config, data, *args, **kwargs):
        seen["search"] = set(data.features["row_id"])
        return real_build(config, data, *args, **kwargs)

    def spy_fit_final(config, features, *args, **kwargs):
        seen.setdefault("refit", set()).update(features["row_id"])
        return real_fit_final(config, features, *args, **kwargs)

    monkeypatch.setattr(tuner_module, "build_tuner", spy_build)
    monkeypatch.setattr(study_module, "fit_final", spy_fit_final)
    study = run_study(small_config(marked, target, tmp_path, fast_space, trials=2), log=lambda m: None)
    test_ids = {float(i) for i in study.manifest["splits"]["test_rows"]}
    assert len(test_ids) == 24
    assert not seen["search"] & test_ids
    assert not seen["refit"] & test_ids
    assert seen["search"] | test_ids == set(frame["row_id"])


@pytest.mark.slow
def test_shuffled_labels_report_chance(fast_space, tmp_path):
    """Random labels: whatever the validation scores say, the held-out report must sit at chance."""
    from automl.datasets import load

    frame, target = load("breast_cancer")
    frame = frame.sample(n=200, random_state=1).reset_index(drop=True)
    frame[target] = np.random.default_rng(7).permutation(frame[target].to_numpy())
    path = tmp_path / "shuffled.csv"
    frame.to_csv(path, index=False)
    config = small_config(path, target, tmp_path, fast_space, trials=8, metric="balanced_accuracy")
    report = run_study(config, log=lambda m: None).test_report
    assert report["chance_level"] == 0.5
    assert report["ci_low"] <= 0.5 <= report["ci_high"]
    assert abs(report["value"] - 0.5) < 0.2
