"""Scores on the fresh sample come from scikit-learn, for `automl predict`'s output and the peers' alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.scoring import from_predictions, from_proba, points, score


def test_predictions_are_scored_by_their_class_columns_in_any_order(tmp_path):
    path = tmp_path / "predictions.csv"
    pd.DataFrame(
        {"prediction": ["b", "a", "b"], "proba_b": [0.9, 0.2, 0.6], "proba_a": [0.1, 0.8, 0.4]}
    ).to_csv(path, index=False)
    output = from_predictions(path, "classification")
    y = np.array(["b", "a", "a"])
    scores = score("accuracy", y, output)
    assert scores["true"] == pytest.approx(2 / 3)
    assert scores["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4])))
    assert score("balanced_accuracy", y, output)["true"] == pytest.approx(0.75)


def test_a_class_the_model_never_saw_scores_zero_and_has_no_log_loss():
    output = from_proba([[0.7, 0.3], [0.4, 0.6]], ["a", "b"])
    scores = score("accuracy", np.array(["a", "c"]), output)
    assert scores == {"true": 0.5}


def test_regression_and_points(tmp_path):
    path = tmp_path / "predictions.csv"
    pd.DataFrame({"prediction": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    output = from_predictions(path, "regression")
    assert score("r2", np.array([1.0, 2.0, 4.0]), output)["true"] == pytest.approx(1 - 1 / (14 / 3))
    assert score("rmse", np.array([1.0, 2.0, 4.0]), output)["true"] == pytest.approx(np.sqrt(1 / 3))
    assert points("accuracy", 0.91, 0.90) == pytest.approx(1.0)
    assert points("rmse", 45.0, 50.0) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="2 outputs for 3 fresh rows"):
        score("accuracy", np.array(["a", "b", "a"]), from_proba([[1.0], [1.0]], ["a"]))
