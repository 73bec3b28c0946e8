"""Weighted scores equal the metric on the rows repeated as often as their weight says."""

from __future__ import annotations

import numpy as np
import pytest

from automl.evaluation.weighted import has_weighted_form, weighted_scores
from automl.metrics import METRICS


def _outputs(task: str, rng, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    if task == "classification":
        y = rng.integers(0, k, n)
        y[:k] = np.arange(k)  # every class present
        logits = rng.normal(size=(3, n, k)) + 1.5 * np.eye(k)[y][None]
        proba = np.exp(logits)
        return y, proba / proba.sum(axis=-1, keepdims=True)
    y = rng.normal(size=n)
    return y, y[None, :] + rng.normal(scale=0.5, size=(3, n))


def test_every_metric_has_a_weighted_form() -> None:
    assert [name for name, m in METRICS.items() if not has_weighted_form(m)] == []


@pytest.mark.parametrize("name", sorted(METRICS))
@pytest.mark.parametrize("k", [2, 3])
def test_integer_weights_equal_repeated_rows(name: str, k: int) -> None:
    metric = METRICS[name]
    rng = np.random.default_rng(k)
    n = 40
    y, outputs = _outputs(metric.task, rng, n, k)
    weights = rng.integers(0, 3, size=(5, n))
    weights[:, :k] = 1  # keep every class in every resample
    got = weighted_scores(metric, y, outputs, weights, k if metric.task == "classification" else 0)
    assert got.shape == (3, 5)
    for t in range(3):
        for b in range(5):
            idx = np.repeat(np.arange(n), weights[b])
            expected = metric(y[idx], outputs[t][idx], k if metric.task == "classification" else 0)
            assert got[t, b] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_empty_weighting_is_nan() -> None:
    metric = METRICS["accuracy"]
    y = np.array([0, 1, 1])
    proba = np.array([[[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]])
    assert np.isnan(weighted_scores(metric, y, proba, np.zeros((1, 3)), 2)[0, 0])
