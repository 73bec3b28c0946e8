"""The out-of-fold log loss as the selection band's signal: on the rescored board, under bootstrap
weights, and inside the bias-corrected estimate's resamples (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import KFold, StratifiedKFold

from automl.evaluation.bbc import bias_corrected_estimate, choose, resample_weights
from automl.evaluation.oof import OutOfFold, rescored_board
from automl.metrics import get_metric
from automl.search.results import summaries
from automl.search.selection import TrialSummary


def _folds(y: np.ndarray, k: int, seed: int = 0):
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(len(y)), y)]


def _tiny_study(metric: str = "accuracy") -> tuple[OutOfFold, list[TrialSummary]]:
    """20 rows in 5 folds of 4: every trial is right on every row (accuracy 1.00, spread 0), but t000
    is sure, t001 barely (0.55) and is the simplest, t002 in between."""
    y = np.array([0, 1] * 10)
    onehot = np.eye(2)[y]
    proba = np.stack([onehot * (2 * p - 1) + (1 - p) for p in (0.95, 0.55, 0.8)])
    ids = ["t000", "t001", "t002"]
    oof = OutOfFold(ids, proba[:, None].astype(np.float32), y, _folds(y, 5), get_metric(metric), 2)
    raw = [
        TrialSummary(t, 0.0, 0.0, 0.0, 5, 0.0, n, "completed")
        for t, n in zip(ids, (500, 10, 300), strict=True)
    ]
    mean, std = oof.fold_summary(np.ones((1, len(y))))
    return oof, oof.summaries(raw, mean, std)


def _board(oof: OutOfFold) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial": oof.trials + ["t_stopped"],
            "status": ["completed"] * len(oof.trials) + ["stopped_early"],
            "val_score": 0.5,
            "val_std": 0.1,
            "train_score": 1.0,
            "gap": 0.5,
            "n_folds": 5,
            "n_params": 100,
            "objective": 0.5,
        }
    )


def test_the_board_has_the_log_loss_beside_the_users_metric() -> None:
    oof, _ = _tiny_study()
    board = rescored_board(_board(oof), oof).set_index("trial")
    assert {"val_log_loss", "val_log_loss_std", "val_score", "val_std"} <= set(board.columns)
    assert board.loc[oof.trials, "val_score"].tolist() == [1.0, 1.0, 1.0]  # still the user's metric
    for i, trial in enumerate(oof.trials):
        per_fold = [
            sk_log_loss(oof.y[val], oof.predictions[i, 0, val], labels=[0, 1]) for _, val in oof.folds
        ]
        assert board.loc[trial, "val_log_loss"] == pytest.approx(np.mean(per_fold), rel=1e-6)
        assert board.loc[trial, "val_log_loss_std"] == pytest.approx(np.std(per_fold, ddof=1), abs=1e-6)
    assert np.isnan(board.loc["t_stopped", "val_log_loss"])  # no out-of-fold predictions
    read_back = {t.trial_id: t for t in summaries(board.reset_index())}
    assert read_back["t000"].val_log_loss == pytest.approx(board.loc["t000", "val_log_loss"])
    assert not read_back["t_stopped"].has_log_loss


def test_regression_boards_have_no_log_loss() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=30)
    folds = [(np.sort(a), np.sort(b)) for a, b in KFold(3, shuffle=True, random_state=0).split(y)]
    preds = (y[None, None] + rng.normal(scale=0.3, size=(2, 1, 30))).astype(np.float32)
    oof = OutOfFold(["t000", "t001"], preds, y, folds, get_metric("rmse"), 0)
    assert oof.log_loss_summary(np.ones((1, 30))) is None
    board = rescored_board(_board(oof), oof)
    assert board["val_log_loss"].isna().all() and board["val_log_loss_std"].isna().all()


def test_log_loss_under_weights_is_the_log_loss_of_the_repeated_rows() -> None:
    oof, _ = _tiny_study()
    W = resample_weights(oof.n_rows, 6, seed=3).astype(np.float64)
    mean, std = oof.log_loss_summary(W)
    metric = get_metric("log_loss")
    for b in range(len(W)):
        for t in range(len(oof.trials)):
            per_fold = []
            for _, val in oof.folds:
                rows = np.repeat(val, W[b, val].astype(int))
                if len(rows):
                    per_fold.append(metric(oof.y[rows], oof.predictions[t, 0, rows], 2))
            assert mean[t, b] == pytest.approx(np.mean(per_fold), rel=1e-6)
            expected_std = np.std(per_fold, ddof=1) if len(per_fold) > 1 else 0.0
            assert std[t, b] == pytest.approx(expected_std, abs=1e-6)


def test_the_study_and_every_resample_band_on_the_log_loss() -> None:
    """Accuracy ties all three trials in every resample, so the old signal always takes the simplest
    (t001, barely right); the log loss leaves it out of the band, in the study and in each resample."""
    oof, base = _tiny_study()
    chosen = choose(oof, base, "one_se_min_gap")
    assert chosen.trial_id == "t000" and "t001" not in chosen.candidates
    estimate = bias_corrected_estimate(oof, base, "one_se_min_gap", chosen, seed=0, n_resamples=200)
    assert estimate.picked == {"t000": 1.0}

    old = choose(oof, base, "one_se_min_gap_metric")
    assert old.trial_id == "t001"
    old_estimate = bias_corrected_estimate(oof, base, "one_se_min_gap_metric", old, seed=0, n_resamples=200)
    assert old_estimate.picked == {"t001": 1.0}


def test_when_the_metric_is_log_loss_the_two_signals_agree() -> None:
    oof, base = _tiny_study("log_loss")
    assert choose(oof, base, "one_se_min_gap").trial_id == choose(oof, base, "one_se_min_gap_metric").trial_id
