"""A simpler model keeps the ties it deserves: the paired comparison of the rule's choice with the linear
model on the same rows, in the study's choice and in every resample of its estimate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from automl.evaluation.bbc import bias_corrected_estimate, choose
from automl.evaluation.oof import OutOfFold
from automl.evaluation.paired import SIMPLER_Z, compare, row_losses
from automl.metrics import get_metric
from automl.search.selection import TrialSummary


def _study(proba: np.ndarray, y: np.ndarray, params: list[int]):
    """Trials t0.. with out-of-fold probabilities (T, n, 2); `params` their sizes (the rule's tie-break)."""
    folds = [
        (np.sort(a), np.sort(b)) for a, b in StratifiedKFold(5, shuffle=True, random_state=0).split(y, y)
    ]
    ids = [f"t{i}" for i in range(len(proba))]
    oof = OutOfFold(ids, proba[:, None].astype(np.float32), y, folds, get_metric("accuracy"), 2)
    raw = [TrialSummary(t, 0.0, 0.0, 0.0, 5, 0.0, p, "completed") for t, p in zip(ids, params, strict=True)]
    mean, std = oof.fold_summary(np.ones((1, len(y))))
    return oof, oof.summaries(raw, mean, std)


def _confident(y: np.ndarray, right: float, rng) -> np.ndarray:
    """Probabilities that put `right` on the true class, with a little noise."""
    p_true = np.clip(right + 0.03 * rng.normal(size=len(y)), 0.01, 0.99)
    p1 = np.where(y == 1, p_true, 1 - p_true)
    return np.stack([1 - p1, p1], axis=-1)


def test_row_losses_are_the_log_loss_per_row() -> None:
    y = np.array([0, 1, 1])
    proba = np.array([[[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]]])
    oof = OutOfFold(["a"], proba[:, None], y, [], get_metric("accuracy"), 2)
    losses, name = row_losses(oof)
    np.testing.assert_allclose(losses[0], -np.log([0.8, 0.7, 0.5]))
    assert name == "log loss"


def test_compare_is_the_paired_mean_and_its_standard_error() -> None:
    losses = np.array([[1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 4.0, 4.5]])  # simpler = row 1
    mean, se = compare(losses, chosen=0, simpler=1)
    d = losses[1] - losses[0]
    assert mean == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / 2)
    weighted, _ = compare(losses, 0, 1, weights=np.array([2.0, 0.0, 1.0, 1.0]))
    assert weighted == pytest.approx((2 * 0.5 + 1.0 + 0.5) / 4)


def test_a_network_within_the_noise_of_the_linear_model_loses_to_it() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    linear = _confident(y, 0.80, rng)
    wrong = np.flatnonzero(y == 1)[:3]
    linear[wrong] = [0.6, 0.4]  # the linear model misses three rows
    network = linear.copy()
    network[wrong[0]] = [0.45, 0.55]  # the network gets one of them right, by a hair: a better accuracy
    oof, base = _study(np.stack([linear, network]), y, params=[10, 10])
    plain = choose(oof, base, "best_validation")
    assert plain.trial_id == "t1" and plain.comparison is None
    chosen = choose(oof, base, "best_validation", simple=frozenset({"t0"}))
    assert chosen.trial_id == "t0"
    comparison = chosen.comparison
    assert comparison["chosen"] == "t1" and comparison["simpler"] == "t0" and comparison["keeps_simpler"]
    assert 0 < comparison["advantage"] <= SIMPLER_Z * comparison["std_error"]
    assert "within the noise" in chosen.reason and "the simpler model t0 is chosen" in chosen.reason


def test_a_network_beyond_the_noise_is_kept() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    oof, base = _study(np.stack([_confident(y, 0.70, rng), _confident(y, 0.90, rng)]), y, params=[10, 5])
    chosen = choose(oof, base, "best_validation", simple=frozenset({"t0"}))
    assert chosen.trial_id == "t1" and not chosen.comparison["keeps_simpler"]
    assert "so t1 is kept" in chosen.reason


def test_the_estimate_repeats_the_comparison_in_its_resamples() -> None:
    """Noise trials beside a linear model of the same quality: the resamples mostly keep the linear model,
    as the study does, and the estimate is that model's score, not the luckiest trial's."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 150)
    models = np.stack([_confident(y, 0.75, rng) for _ in range(8)])
    oof, base = _study(models, y, params=[1] + [50] * 7)
    simple = frozenset({"t0"})
    chosen = choose(oof, base, "best_validation", simple=simple)
    estimate = bias_corrected_estimate(
        oof, base, "best_validation", chosen, seed=0, n_resamples=200, simple=simple
    )
    assert estimate.picked.get("t0", 0.0) > 0.5
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
