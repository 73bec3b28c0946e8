"""Tests of automl.metrics: the numpy metrics against scikit-learn, look-up errors and the bootstrap."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from automl.errors import ConfigError
from automl.metrics import (
    METRICS,
    bootstrap_interval,
    default_metric,
    get_metric,
    metrics_for,
)

SEEDS = [0, 1, 2, 3, 4]
CLASSIFICATION = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"]
REGRESSION = ["rmse", "mae", "r2"]


def probabilities(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Random rows of class probabilities (every row sums to one, no row has ties)."""
    return rng.dirichlet(np.ones(k), size=n)


def classification_data(
    seed: int, n: int, k: int, absent: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    present = [c for c in range(k) if c != absent]
    y = rng.choice(present, size=n)
    y[: len(present)] = present  # every present class occurs at least once
    proba = probabilities(rng, n, k)
    # make the model better than chance so that the scores are not all near one value
    proba[np.arange(n), y] += rng.uniform(0, 1, n)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba


def sklearn_score(name: str, y: np.ndarray, proba: np.ndarray, k: int) -> float:
    predicted = proba.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        if name == "accuracy":
            return skm.accuracy_score(y, predicted)
        if name == "balanced_accuracy":
            return skm.balanced_accuracy_score(y, predicted)
        if name == "f1_macro":
            return skm.f1_score(y, predicted, average="macro", labels=np.arange(k), zero_division=0)
        if name == "log_loss":
            return skm.log_loss(y, proba, labels=np.arange(k))
    raise AssertionError(name)


# --- the registry ---------------------------------------------------------------------------


def test_registry_names_tasks_and_directions() -> None:
    assert list(METRICS) == CLASSIFICATION + REGRESSION
    assert [m.name for m in metrics_for("classification")] == CLASSIFICATION
    assert [m.name for m in metrics_for("regression")] == REGRESSION
    larger_is_better = {name for name, m in METRICS.items() if m.greater_is_better}
    assert larger_is_better == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "r2"}
    assert get_metric("log_loss").sign() == -1.0
    assert get_metric("accuracy").sign() == 1.0


def test_metric_call_returns_a_python_float_and_accepts_lists() -> None:
    score = get_metric("accuracy")([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], 2)
    assert type(score) is float
    assert score == pytest.approx(2 / 3)


# --- classification metrics equal scikit-learn's ---------------------------------------------


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1_macro", "log_loss"])
@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metric_equals_sklearn(name: str, k: int, seed: int) -> None:
    y, proba = classification_data(seed, 60, k)
    assert get_metric(name)(y, proba, k) == pytest.approx(sklearn_score(name, y, proba, k), abs=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1_macro", "log_loss"])
@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metric_with_a_class_absent_from_y(name: str, seed: int) -> None:
    # class 1 of 4 never occurs in y, but the model may still predict it
    y, proba = classification_data(seed, 40, 4, absent=1)
    proba[:3] = [0.05, 0.85, 0.05, 0.05]  # some rows predicted as the absent class
    assert 1 not in y
    assert get_metric(name)(y, proba, 4) == pytest.approx(sklearn_score(name, y, proba, 4), abs=1e-12)


def test_perfect_and_worst_predictions() -> None:
    y = np.array([0, 1, 2, 1, 0])
    perfect = np.eye(3)[y]
    wrong = np.eye(3)[(y + 1) % 3]
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"):
        assert get_metric(name)(y, perfect, 3) == pytest.approx(1.0)
    for name in ("accuracy", "balanced_accuracy", "f1_macro"):
        assert get_metric(name)(y, wrong, 3) == 0.0
    assert get_metric("log_loss")(y, perfect, 3) == pytest.approx(0.0, abs=1e-12)
    # a zero probability for the true class is clipped, not infinite
    assert get_metric("log_loss")(y, wrong, 3) == pytest.approx(-math.log(1e-15))


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_binary_equals_sklearn(seed: int) -> None:
    y, proba = classification_data(seed, 50, 2)
    assert get_metric("roc_auc")(y, proba, 2) == pytest.approx(skm.roc_auc_score(y, proba[:, 1]), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [3, 4])
def test_roc_auc_multiclass_equals_sklearn_ovr_macro(seed: int, k: int) -> None:
    y, proba = classification_data(seed, 80, k)
    expected = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=np.arange(k))
    assert get_metric("roc_auc")(y, proba, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_scores_the_present_classes_when_one_is_absent(seed: int) -> None:
    y, proba = classification_data(seed, 60, 4, absent=2)
    # the same as a 3-class problem without the absent column (probabilities renormalized)
    keep = [0, 1, 3]
    sub = proba[:, keep] / proba[:, keep].sum(axis=1, keepdims=True)
    relabeled = np.searchsorted(keep, y)
    expected = skm.roc_auc_score(relabeled, sub, multi_class="ovr", average="macro", labels=np.arange(3))
    assert get_metric("roc_auc")(y, proba, 4) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_with_two_of_three_classes_present_is_binary_auc() -> None:
    y, proba = classification_data(7, 40, 3, absent=0)
    sub = proba[:, [1, 2]]
    expected = skm.roc_auc_score(y == 2, sub[:, 1] / sub.sum(axis=1))
    assert get_metric("roc_auc")(y, proba, 3) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_of_a_single_class_is_nan() -> None:
    y = np.array([1, 1, 1])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    assert math.isnan(get_metric("roc_auc")(y, proba, 2))


# --- regression metrics equal scikit-learn's -------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [5, 50])
def test_regression_metrics_equal_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    pred = y + rng.normal(0, 2, n)
    assert get_metric("rmse")(y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)), abs=1e-12)
    assert get_metric("mae")(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-12)
    assert get_metric("r2")(y, pred) == pytest.approx(skm.r2_score(y, pred), abs=1e-12)


def test_r2_of_a_constant_target_is_nan() -> None:
    assert math.isnan(get_metric("r2")(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0])))


# --- get_metric and default_metric -----------------------------------------------------------


def test_get_metric_by_name() -> None:
    assert get_metric("rmse").name == "rmse"
    assert get_metric("f1_macro", "classification").task == "classification"


def test_get_metric_unknown_name_lists_all_metrics() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'metric' parameter must be one of accuracy, balanced_accuracy, f1_macro, roc_auc, "
            "log_loss, rmse, mae, r2. Got 'auc' instead."
        ),
    ):
        get_metric("auc")


def test_get_metric_unknown_name_for_a_task_lists_that_tasks_metrics() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'metric' parameter must be one of rmse, mae, r2 for regression. Got 'mse' instead."
        ),
    ):
        get_metric("mse", "regression")


def test_get_metric_of_the_wrong_task() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'metric' parameter must be one of accuracy, balanced_accuracy, f1_macro, roc_auc, "
            "log_loss for classification. Got 'rmse' instead."
        ),
    ):
        get_metric("rmse", "classification")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'metric' parameter must be one of rmse, mae, r2 for regression. Got 'accuracy' instead."
        ),
    ):
        get_metric("accuracy", "regression")


@pytest.mark.parametrize(
    ("task", "counts", "expected"),
    [
        ("regression", None, "rmse"),
        ("regression", {"a": 100, "b": 1}, "rmse"),
        ("classification", None, "accuracy"),
        ("classification", {}, "accuracy"),
        ("classification", {"a": 10, "b": 10}, "accuracy"),
        ("classification", {"a": 15, "b": 10}, "accuracy"),  # ratio 1.5 is not above 1.5
        ("classification", {"a": 16, "b": 10}, "balanced_accuracy"),
        ("classification", {"a": 10, "b": 10, "c": 3}, "balanced_accuracy"),
        ("classification", {"x": 90, "y": 10}, "balanced_accuracy"),
    ],
)
def test_default_metric(task: str, counts: dict | None, expected: str) -> None:
    assert default_metric(task, counts) == expected


# --- bootstrap_interval ----------------------------------------------------------------------


def noisy_classifier(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About 80% correct binary predictions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < 0.8
    predicted = np.where(correct, y, 1 - y)
    return y, np.eye(2)[predicted] * 0.8 + 0.1


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_interval_contains_the_point_estimate(name: str, seed: int) -> None:
    y, proba = classification_data(seed, 80, 3)
    metric = get_metric(name)
    low, high = bootstrap_interval(metric, y, proba, 3, n_resamples=100, seed=seed)
    assert low <= metric(y, proba, 3) <= high
    assert low < high


@pytest.mark.parametrize("name", REGRESSION)
def test_bootstrap_interval_contains_the_point_estimate_regression(name: str) -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0, 1, 60)
    pred = y + rng.normal(0, 0.5, 60)
    metric = get_metric(name)
    low, high = bootstrap_interval(metric, y, pred, n_resamples=300)
    assert low <= metric(y, pred) <= high


def test_bootstrap_interval_narrows_with_more_rows() -> None:
    metric = get_metric("accuracy")
    widths = []
    for n in (30, 300, 3000):
        y, proba = noisy_classifier(n, seed=0)
        low, high = bootstrap_interval(metric, y, proba, 2, n_resamples=300)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0


def test_bootstrap_interval_narrows_with_a_lower_level() -> None:
    y, proba = noisy_classifier(100, seed=1)
    metric = get_metric("accuracy")
    low95, high95 = bootstrap_interval(metric, y, proba, 2, n_resamples=300, level=0.95)
    low50, high50 = bootstrap_interval(metric, y, proba, 2, n_resamples=300, level=0.5)
    assert low95 <= low50 <= high50 <= high95
    assert high50 - low50 < high95 - low95


def test_bootstrap_interval_is_reproducible_with_a_seed() -> None:
    y, proba = noisy_classifier(50, seed=2)
    metric = get_metric("accuracy")
    first = bootstrap_interval(metric, y, proba, 2, n_resamples=200, seed=3)
    assert bootstrap_interval(metric, y, proba, 2, n_resamples=200, seed=3) == first
    others = {bootstrap_interval(metric, y, proba, 2, n_resamples=200, seed=s) for s in range(4, 9)}
    assert others != {first}


def test_bootstrap_interval_skips_undefined_resamples() -> None:
    # r2 of a constant target is undefined on every resample: no interval
    metric = get_metric("r2")
    low, high = bootstrap_interval(metric, np.ones(10), np.arange(10.0), n_resamples=50)
    assert math.isnan(low) and math.isnan(high)
    # roc_auc is undefined on resamples holding one class; the others still give an interval
    y = np.array([0] * 9 + [1])
    proba = np.column_stack([np.linspace(0.9, 0.1, 10), np.linspace(0.1, 0.9, 10)])
    low, high = bootstrap_interval(get_metric("roc_auc"), y, proba, 2, n_resamples=100)
    assert 0.0 <= low <= high <= 1.0


def test_a_held_out_test_with_every_row_right_is_never_reported_as_certain() -> None:
    from automl.metrics import get_metric, wilson_interval
    from automl.report import scored

    y = np.array([0, 1] * 10)
    entry = scored(get_metric("accuracy"), y, np.eye(2)[y], 2, seed=0)
    assert entry["value"] == 1.0 and entry["ci_high"] == 1.0
    assert entry["ci_low"] == pytest.approx(wilson_interval(1.0, 20)[0]) and entry["ci_low"] < 0.85
