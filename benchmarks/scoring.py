"""Scores on a fresh sample, computed here with scikit-learn (not with the project's own metrics), for the
exported model and every peer alike.

A model's output is an `Output`: class probabilities with one column per class label (classification), or
predictions (regression). `from_predictions` reads what `automl predict` writes (`prediction` and
`proba_<class>` columns), so the exported model is scored through the command users run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

GREATER_IS_BETTER = {"accuracy": True, "balanced_accuracy": True, "r2": True, "rmse": False}


@dataclass
class Output:
    """Probabilities (a frame, one column per class label) or predictions (an array)."""

    proba: pd.DataFrame | None = None
    predictions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.proba) if self.proba is not None else len(self.predictions)


def from_proba(proba: np.ndarray, classes) -> Output:
    return Output(proba=pd.DataFrame(np.asarray(proba, dtype=float), columns=[str(c) for c in classes]))


def from_predictions(path: Path, task: str) -> Output:
    """The output of `automl predict ... -o path`: its `proba_<class>` columns, or its `prediction`."""
    frame = pd.read_csv(path)
    if task == "regression":
        return Output(predictions=frame["prediction"].to_numpy(dtype=float))
    columns = [c for c in frame.columns if c.startswith("proba_")]
    if not columns:
        raise ValueError(f"{path} has no proba_<class> columns: {list(frame.columns)}")
    return from_proba(frame[columns].to_numpy(), [c[len("proba_") :] for c in columns])


def score(metric: str, y: np.ndarray, output: Output) -> dict[str, float]:
    """{"true": the metric on the fresh sample, and for classification "log_loss"}."""
    from sklearn import metrics

    if len(output) != len(y):
        raise ValueError(f"{len(output)} outputs for {len(y)} fresh rows")
    if metric in ("r2", "rmse"):
        pred = np.asarray(output.predictions, dtype=float)
        if metric == "r2":
            return {"true": float(metrics.r2_score(y, pred))}
        return {"true": float(np.sqrt(metrics.mean_squared_error(y, pred)))}
    proba = output.proba
    classes = list(proba.columns)
    y = np.asarray(y).astype(str)
    unknown = sorted(set(y) - set(classes))
    if unknown:  # a class the model never saw: it scores 0 on those rows, and has no log loss
        proba = proba.assign(**{c: 0.0 for c in unknown})
    classes = sorted(proba.columns)  # scikit-learn's log_loss reads the columns in sorted label order
    values = proba[classes].to_numpy(dtype=float)
    predicted = np.asarray(classes)[values.argmax(axis=1)]
    scorer = {"accuracy": metrics.accuracy_score, "balanced_accuracy": metrics.balanced_accuracy_score}
    out = {"true": float(scorer[metric](y, predicted))}
    if not unknown:
        clipped = np.clip(values, 1e-15, 1.0)
        out["log_loss"] = float(
            metrics.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=classes)
        )
    return out


def points(metric: str, mine: float, theirs: float) -> float:
    """`mine` - `theirs` in points (> 0: `mine` is better): 100 x the difference for scores, percent of
    `theirs` for an error (RMSE)."""
    if GREATER_IS_BETTER[metric]:
        return 100.0 * (mine - theirs)
    return 100.0 * (theirs - mine) / abs(theirs)


def binomial_half_width(value: float, n: int) -> float:
    """The fresh sample's own 95% sampling error of a share, in points (NaN outside [0, 1])."""
    if not 0.0 <= value <= 1.0 or n <= 0:
        return float("nan")
    return 100 * 1.96 * float(np.sqrt(value * (1 - value) / n))
