"""Every trial's out-of-fold predictions, side by side, and the scores they give under row weightings.

A trial predicts each search row once per CV repeat, from a network that never trained on it, at
an epoch count chosen on the other folds (train/trainable.py). Stacked over trials this is what
the selection rule, the bias-corrected estimate and the ensembles all read, so that every row
trains the model and every row tests it.

For classification the rule bands trials on the out-of-fold log loss per fold (a proper scoring
rule, which does not saturate at 1.00 on tiny folds as accuracy does); `log_loss_summary` gives it
under any row weighting, so the bootstrap of the estimate bands on the same signal as the study.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.evaluation.weighted import weighted_scores
from automl.metrics import Metric, get_metric
from automl.search.selection import TrialSummary
from automl.train.engines import fold_repeats


@dataclass
class OutOfFold:
    """Out-of-fold predictions of the trials that have them, on the same rows and folds."""

    trials: list[str]
    predictions: np.ndarray  # (T, repeats, n, k) probabilities, or (T, repeats, n) predictions
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    metric: Metric
    n_classes: int

    def __post_init__(self) -> None:
        self._position = {t: i for i, t in enumerate(self.trials)}

    @classmethod
    def from_payloads(
        cls, payloads: dict[str, np.ndarray], y: np.ndarray, folds, metric: Metric, n_classes: int
    ) -> OutOfFold:
        """From {trial: (repeats, n[, k]) predictions}; trials with missing values are left out."""
        kept = {t: p for t, p in sorted(payloads.items()) if np.all(np.isfinite(p))}
        shape = (0, 1, len(y)) + ((n_classes,) if n_classes else ())
        stacked = np.stack(list(kept.values())) if kept else np.zeros(shape, np.float32)
        return cls(list(kept), stacked, np.asarray(y), folds, metric, n_classes)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, y: np.ndarray, folds, metric: Metric, n_classes: int
    ) -> OutOfFold:
        """The inverse of `to_frame` (a study's report/oof.parquet), on the study's rows and folds."""
        trials = sorted(frame["trial"].unique()) if len(frame) else []
        columns = [f"pred_{k}" for k in range(n_classes)] if n_classes else ["prediction"]
        repeats = int(frame["repeat"].max()) + 1 if len(frame) else 1
        shape = (len(trials), repeats, len(y)) + ((n_classes,) if n_classes else ())
        stacked = np.full(shape, np.nan, np.float32)
        position = {t: i for i, t in enumerate(trials)}
        at = (frame["trial"].map(position).to_numpy(), frame["repeat"].to_numpy(), frame["row"].to_numpy())
        values = frame[columns].to_numpy(np.float32)
        stacked[at] = values if n_classes else values[:, 0]
        return cls(list(trials), stacked, np.asarray(y), folds, metric, n_classes)

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def index(self, trial: str) -> int:
        return self._position[trial]

    def __contains__(self, trial: str) -> bool:
        return trial in self._position

    def subset(self, trials: list[str]) -> OutOfFold:
        return OutOfFold(
            list(trials),
            self.predictions[[self.index(t) for t in trials]],
            self.y,
            self.folds,
            self.metric,
            self.n_classes,
        )

    def pooled_scores(self, weights: np.ndarray, predictions: np.ndarray | None = None) -> np.ndarray:
        """(T, B): the metric over all rows under each weighting, averaged over the CV repeats."""
        preds = self.predictions if predictions is None else predictions
        per_repeat = [
            weighted_scores(self.metric, self.y, preds[:, r], weights, self.n_classes)
            for r in range(preds.shape[1])
        ]
        return np.mean(per_repeat, axis=0)

    def fold_scores(self, weights: np.ndarray, metric: Metric | None = None) -> np.ndarray:
        """(folds, T, B): each fold's validation score (the study's metric, or `metric`) under each
        weighting (NaN where it has no weight)."""
        metric = metric or self.metric
        repeats = fold_repeats(self.folds, self.n_rows)
        return np.stack(
            [
                weighted_scores(
                    metric, self.y[val], self.predictions[:, r][:, val], weights[:, val], self.n_classes
                )
                for (_, val), r in zip(self.folds, repeats, strict=True)
            ]
        )

    def fold_summary(
        self, weights: np.ndarray, metric: Metric | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(T, B) mean and std over folds of the fold scores: what the rule reads as val score and spread."""
        scores = self.fold_scores(weights, metric)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(scores, axis=0)
            std = np.nanstd(scores, axis=0, ddof=1) if len(scores) > 1 else np.zeros_like(mean)
        return mean, np.nan_to_num(std)

    @property
    def has_probabilities(self) -> bool:
        """Classification: the predictions are class probabilities, so a log loss exists."""
        return self.predictions.ndim == 4

    def log_loss_summary(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(T, B) mean and std over folds of the out-of-fold log loss under each weighting (the band's
        signal for classification); None for regression."""
        if not self.has_probabilities:
            return None
        if self.metric.name == "log_loss":
            return self.fold_summary(weights)
        return self.fold_summary(weights, get_metric("log_loss"))

    def summaries(
        self,
        base: list[TrialSummary],
        val: np.ndarray,
        std: np.ndarray,
        column: int = 0,
        loss: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[TrialSummary]:
        """`base` (trials with out-of-fold predictions) re-scored with the fold means and spreads of
        one weighting (`loss`: the log loss's, from `log_loss_summary` of the same weighting); the
        gap keeps each trial's train score: gap = sign * (train - val), in the user's metric."""
        sign = self.metric.sign()
        out = []
        for t in base:
            i = self.index(t.trial_id)
            v = float(val[i, column])
            train = t.val_score + sign * t.gap
            out.append(
                TrialSummary(
                    trial_id=t.trial_id,
                    objective=sign * v if np.isfinite(v) else float("nan"),
                    val_score=v,
                    val_std=float(std[i, column]),
                    n_folds=t.n_folds,
                    gap=sign * (train - v),
                    n_params=t.n_params,
                    status=t.status,
                    config=t.config,
                    val_log_loss=float(loss[0][i, column]) if loss is not None else float("nan"),
                    val_log_loss_std=float(loss[1][i, column]) if loss is not None else float("nan"),
                )
            )
        return out

    def combine(self, members: dict[str, float]) -> np.ndarray:
        """(1, repeats, n[, k]): the weighted mean of the members' predictions (an ensemble's)."""
        total = sum(members.values())
        combined = sum(w * self.predictions[self.index(t)].astype(np.float64) for t, w in members.items())
        return (combined / total)[None]

    def to_frame(self) -> pd.DataFrame:
        """Long form for the store: trial, repeat, row, then pred_<k> (classification) or prediction."""
        T, R, n = self.predictions.shape[:3]
        frame = pd.DataFrame(
            {
                "trial": np.repeat(self.trials, R * n),
                "repeat": np.tile(np.repeat(np.arange(R), n), T),
                "row": np.tile(np.arange(n), T * R),
            }
        )
        if self.predictions.ndim == 4:
            flat = self.predictions.reshape(T * R * n, self.predictions.shape[3])  # T may be 0
            for k in range(flat.shape[1]):
                frame[f"pred_{k}"] = flat[:, k]
        else:
            frame["prediction"] = self.predictions.reshape(-1)
        return frame


def rescored_board(board: pd.DataFrame, oof: OutOfFold) -> pd.DataFrame:
    """The leaderboard with val_score, val_std and gap of trials that have out-of-fold predictions
    taken from those predictions (the honest ones, at the refit's epoch count); the scores each
    fold's own early stopping saw stay beside them as `val_score_best_epoch`. `val_score` stays the
    user's metric; for classification `val_log_loss` and `val_log_loss_std` (mean and spread over
    folds of the out-of-fold log loss, the selection band's signal) are added beside it (NaN for
    trials without out-of-fold predictions and for regression)."""
    board = board.copy()
    board["val_score_best_epoch"] = board["val_score"]
    board["has_oof"] = board["trial"].isin(oof.trials)
    board["val_log_loss"] = np.nan
    board["val_log_loss_std"] = np.nan
    if not oof.trials:
        return board
    ones = np.ones((1, oof.n_rows))
    mean, std = oof.fold_summary(ones)
    loss = oof.log_loss_summary(ones)
    sign = oof.metric.sign()
    for i, trial in enumerate(oof.trials):
        at = board.index[board["trial"] == trial]
        train = board.loc[at, "train_score"]
        board.loc[at, "val_score"] = mean[i, 0]
        board.loc[at, "val_std"] = std[i, 0]
        board.loc[at, "gap"] = sign * (train - mean[i, 0])
        if loss is not None:
            board.loc[at, "val_log_loss"] = loss[0][i, 0]
            board.loc[at, "val_log_loss_std"] = loss[1][i, 0]
    board["objective"] = sign * board["val_score"]
    return board.sort_values(["objective", "trial"], ascending=[False, True], na_position="last").reset_index(
        drop=True
    )
