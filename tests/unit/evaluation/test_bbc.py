"""The bias-corrected estimate prices in the choice among many trials, and stays honest on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from automl.evaluation.bbc import (
    bias_corrected_estimate,
    choose,
    fixed_model_estimate,
    resample_weights,
)
from automl.evaluation.oof import OutOfFold
from automl.metrics import effective_rows, get_metric, wilson_interval
from automl.search.selection import TrialSummary


def _folds(y: np.ndarray, k: int = 5, seed: int = 0):
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(len(y)), y)]


def _study(
    proba: np.ndarray, y: np.ndarray, metric: str = "accuracy"
) -> tuple[OutOfFold, list[TrialSummary]]:
    """Trials t000.. with these out-of-fold probabilities (T, n, k), as the study's finish builds them."""
    ids = [f"t{i:03d}" for i in range(len(proba))]
    oof = OutOfFold(ids, proba[:, None].astype(np.float32), y, _folds(y), get_metric(metric), proba.shape[-1])
    raw = [TrialSummary(t, 0.0, 0.0, 0.0, 5, 0.0, 100 + i, "completed") for i, t in enumerate(ids)]
    mean, std = oof.fold_summary(np.ones((1, len(y))))
    return oof, oof.summaries(raw, mean, std)


def _noise(n_trials: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = rng.uniform(size=(n_trials, n))
    return np.stack([1 - p1, p1], axis=-1), y


@pytest.mark.parametrize("rule", ["one_se_min_gap", "best_validation"])
def test_choosing_the_best_of_many_noise_trials_is_priced_in(rule: str) -> None:
    proba, y = _noise(100, 120, seed=3)
    oof, base = _study(proba, y)
    chosen = choose(oof, base, rule)
    estimate = bias_corrected_estimate(oof, base, rule, chosen, seed=0, n_resamples=300)
    if rule == "best_validation":
        assert estimate.apparent > 0.58  # the winner of 100 coin flips looks good on its own rows
        assert estimate.bias > 0.05
    assert abs(estimate.value - 0.5) < 0.04  # the corrected estimate does not
    assert estimate.ci_low <= 0.5 <= estimate.ci_high


def test_a_real_signal_is_kept() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    good = np.where(rng.uniform(size=300) < 0.85, y, 1 - y)  # right on 85% of rows
    noise, _ = _noise(20, 300, seed=2)
    proba = np.concatenate([np.eye(2)[good][None] * 0.8 + 0.1, noise])
    oof, base = _study(proba, y)
    chosen = choose(oof, base, "one_se_min_gap")
    estimate = bias_corrected_estimate(oof, base, "one_se_min_gap", chosen, seed=0)
    assert chosen.trial_id == "t000"
    assert estimate.value == pytest.approx(estimate.apparent, abs=0.01)
    assert estimate.ci_low < estimate.value < estimate.ci_high
    width = estimate.ci_high - estimate.ci_low
    assert 0.05 < width < 0.12  # about the binomial interval over 300 rows, not over the out-of-bag third


def test_same_seed_same_estimate_other_seed_close() -> None:
    proba, y = _noise(30, 80, seed=5)
    oof, base = _study(proba, y)
    chosen = choose(oof, base, "one_se_min_gap")
    first = bias_corrected_estimate(oof, base, "one_se_min_gap", chosen, seed=7).to_dict()
    again = bias_corrected_estimate(oof, base, "one_se_min_gap", chosen, seed=7).to_dict()
    other = bias_corrected_estimate(oof, base, "one_se_min_gap", chosen, seed=8).to_dict()
    assert first == again
    assert other["value"] == pytest.approx(first["value"], abs=0.02)


def test_a_perfect_score_on_few_rows_is_never_certain() -> None:
    y = np.array([0, 1] * 10)
    perfect = np.eye(2)[y][None] * 0.9 + 0.05
    oof, base = _study(perfect, y)
    chosen = choose(oof, base, "best_validation")
    estimate = bias_corrected_estimate(oof, base, "best_validation", chosen, seed=0)
    assert estimate.value == 1.0
    assert estimate.ci_high == 1.0
    assert estimate.ci_low == pytest.approx(wilson_interval(1.0, 20)[0])
    assert estimate.ci_low < 0.87
    assert any("does not" in note and "perfect" in note for note in estimate.notes)


def test_a_rare_class_always_right_widens_a_class_balanced_interval() -> None:
    y = np.array([1] * 12 + [0] * 108)  # 10% minority, as bc120_minority
    perfect = np.eye(2)[y][None] * 0.9 + 0.05
    oof, base = _study(perfect, y, metric="balanced_accuracy")
    chosen = choose(oof, base, "best_validation")
    estimate = bias_corrected_estimate(oof, base, "best_validation", chosen, seed=0)
    rows = effective_rows("balanced_accuracy", y)
    assert rows == pytest.approx(4 / (1 / 12 + 1 / 108))  # about 43: the 12 rare rows weigh half the score
    assert estimate.ci_low == pytest.approx(wilson_interval(1.0, rows)[0])
    assert estimate.ci_low < wilson_interval(1.0, 120)[0] - 0.05  # not as sure as 120 balanced rows
    assert any("class-balanced" in note for note in estimate.notes)
    assert (
        effective_rows("accuracy", y) == 120
        and effective_rows("balanced_accuracy", np.array([0, 1] * 30)) == 60
    )


def test_wilson_interval() -> None:
    low, high = wilson_interval(0.5, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_resample_weights_are_bootstrap_counts() -> None:
    W = resample_weights(50, 200, seed=0)
    assert W.shape == (200, 50) and (W.sum(axis=1) == 50).all()
    assert np.mean(W == 0) == pytest.approx((1 - 1 / 50) ** 50, abs=0.02)  # about 36% out of bag


def test_ensemble_rule_combines_complementary_trials_and_is_estimated() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    onehot = np.eye(2)[y]
    trials = []
    for _ in range(4):  # each right on a different 70% of rows, confidently
        right = rng.uniform(size=200) < 0.7
        trials.append(np.where(right[:, None], onehot, 1 - onehot) * 0.8 + 0.1)
    oof, base = _study(np.stack(trials), y, metric="log_loss")
    chosen = choose(oof, base, "ensemble")
    assert chosen.is_ensemble and len(chosen.weights) >= 3
    assert sum(chosen.weights.values()) == pytest.approx(1.0)
    single = choose(oof, base, "best_validation")
    ensemble_loss = oof.pooled_scores(np.ones((1, 200)), oof.combine(chosen.weights))[0, 0]
    single_loss = oof.pooled_scores(np.ones((1, 200)), oof.combine(single.weights))[0, 0]
    assert ensemble_loss < single_loss - 0.05
    estimate = bias_corrected_estimate(oof, base, "ensemble", chosen, seed=0, n_resamples=40)
    assert estimate.n_bootstrap == 40
    assert estimate.value >= estimate.apparent - 0.1  # log loss: larger is worse, the correction adds some


def test_baseline_estimate_has_no_correction() -> None:
    proba, y = _noise(1, 60, seed=9)
    oof, _ = _study(proba, y)
    estimate = fixed_model_estimate(oof, "t000", seed=0)
    assert estimate.value == estimate.apparent
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
