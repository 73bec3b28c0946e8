"""The band's signal: out-of-fold log loss for classification, the user's metric otherwise (issue 12).

On tiny folds accuracy saturates (several trials at 1.00 with spread 0); the log loss still tells a
trial that is right with confidence from one that is right by a hair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl.search.selection import (
    LOG_LOSS_SIGNAL,
    METRIC_SIGNAL,
    TrialSummary,
    band_signal,
    select,
)


def trial(
    trial_id: str,
    score: float,
    log_loss: float = math.nan,
    *,
    std: float = 0.0,
    log_loss_std: float = 0.0,
    gap: float = 0.0,
    n_params: int = 100,
) -> TrialSummary:
    return TrialSummary(
        trial_id,
        score,
        score,
        std,
        4,
        gap,
        n_params,
        "completed",
        val_log_loss=log_loss,
        val_log_loss_std=log_loss_std,
    )


def saturated() -> list[TrialSummary]:
    """Three trials at accuracy 1.00 on every fold; `hedging` is the simplest but barely right."""
    return [
        trial("sharp", 1.0, 0.05, log_loss_std=0.02, n_params=500),
        trial("sound", 1.0, 0.058, log_loss_std=0.02, n_params=300),
        trial("hedging", 1.0, 0.60, log_loss_std=0.02, n_params=10),
    ]


def test_a_trial_tied_at_accuracy_one_with_worse_log_loss_loses_the_band() -> None:
    chosen = select(saturated())
    assert chosen.rule == "one_se_min_gap"
    assert "hedging" not in chosen.candidates
    assert chosen.candidates == ["sharp", "sound"]  # sound is within one standard error (0.01) of 0.05
    assert chosen.trial_id == "sound"  # same gap: the simpler of the band
    assert chosen.band_log_loss == pytest.approx(0.06)
    assert chosen.band_floor == 1.0  # in the user's metric: the band's lowest-scoring member
    assert chosen.reason.startswith(
        "Best out-of-fold log loss 0.05 (trial sharp, standard error 0.01; mean validation score 1);"
    )


def test_the_old_signal_cannot_separate_them() -> None:
    chosen = select(saturated(), "one_se_min_gap_metric")
    assert chosen.rule == "one_se_min_gap_metric"
    assert sorted(chosen.candidates) == ["hedging", "sharp", "sound"]
    assert chosen.band_log_loss is None and chosen.band_floor == 1.0
    assert chosen.trial_id == "hedging"  # every trial in the band, the simplest wins


def test_the_gap_still_decides_inside_the_band() -> None:
    trials = saturated()
    trials[1].gap = 0.2  # sound overfits: train above validation
    assert select(trials).trial_id == "sharp"


def test_best_validation_stays_on_the_users_metric() -> None:
    trials = [trial("a", 0.9, 0.1, n_params=50), trial("b", 0.95, 0.3, n_params=50)]
    assert select(trials, "best_validation").trial_id == "b"
    assert select(trials).trial_id == "a"


def test_without_log_loss_the_users_metric_is_the_signal() -> None:
    regression = [trial("a", -50.0, std=4.0, gap=2.0), trial("b", -51.0, std=4.0, gap=0.1)]  # rmse
    assert band_signal(regression) is METRIC_SIGNAL
    assert select(regression).trial_id == select(regression, "one_se_min_gap_metric").trial_id == "b"
    mixed = saturated() + [trial("no_oof", 1.0)]
    assert band_signal(mixed) is METRIC_SIGNAL
    assert band_signal(saturated()) is LOG_LOSS_SIGNAL


def test_the_log_loss_standard_error_counts_folds() -> None:
    t = trial("a", 1.0, 0.2, log_loss_std=0.1)
    assert t.log_loss_std_error == pytest.approx(0.05)
    assert trial("b", 1.0, 0.2, log_loss_std=math.nan).log_loss_std_error == 0.0
    assert np.isnan(trial("c", 1.0).val_log_loss) and not trial("c", 1.0).has_log_loss


def test_the_band_floor_stays_in_the_users_metric() -> None:
    """The dashboard draws the band in the user's metric: its floor is the band's lowest score."""
    trials = [
        trial("sure", 1.0, 0.10, log_loss_std=0.1),
        trial("close", 0.95, 0.12, log_loss_std=0.1),
        trial("poor", 1.0, 0.50, log_loss_std=0.1),
    ]
    chosen = select(trials)
    assert chosen.candidates == ["sure", "close"]
    assert chosen.band_floor == pytest.approx(0.95)
    assert chosen.band_log_loss == pytest.approx(0.15)
