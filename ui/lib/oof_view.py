"""The chosen model's out-of-fold predictions, as data for a small figure: those of the re-evaluation on
fresh folds (report/fresh_oof.parquet: what the choice and the estimate read), or, for a study from before
it, the search's (report/oof.parquet).

Every trial stores one prediction per search row and fold repeat: class probabilities (`pred_<k>`)
or a value (`prediction`). The chosen model is the weighted mean of its members' predictions (one
member of weight 1 for single-model rules), averaged over the repeats. The true labels of the search
rows are the study's report/labels.parquet: the page never reads the user's data file again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl.store import LABELS, Store

OOF_FILE = "report/oof.parquet"
FRESH_OOF_FILE = "report/fresh_oof.parquet"
RELIABILITY_BINS = 10


def read_oof(store: Store, study_id: str) -> pd.DataFrame | None:
    """The stored out-of-fold predictions the choice read (the fresh folds', else the search's), or None
    when the study has none (an older study)."""
    for name in (FRESH_OOF_FILE, OOF_FILE):
        if store.exists(study_id, name):
            return store.read_table(study_id, name)
    return None


def chosen_predictions(oof: pd.DataFrame, members: dict[str, float]) -> pd.DataFrame | None:
    """One row per search row: the chosen model's prediction columns (members weighted, repeats averaged)."""
    columns = [c for c in oof.columns if c.startswith("pred_") or c == "prediction"]
    if not columns or not members:
        return None
    parts = []
    for trial, weight in members.items():
        rows = oof[oof["trial"] == trial]
        if rows.empty:
            return None
        parts.append(rows.groupby("row")[columns].mean() * float(weight))
    combined = sum(parts[1:], parts[0]) / sum(members.values())
    return combined.dropna().sort_index()


def true_labels(store: Store, study_id: str) -> tuple[np.ndarray | None, str]:
    """(the search rows' targets, '') as the study stored them, or (None, why there are none)."""
    if not store.exists(study_id, LABELS):
        return None, "the study stored no labels with its predictions (a study from before they were stored)"
    labels = store.read_table(study_id, LABELS).sort_values("row")
    return labels["y"].to_numpy(), ""


def aligned(predictions: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The predictions of the rows that have a label, with those labels; None when they do not match."""
    rows = predictions.index.to_numpy()
    if len(rows) == 0 or rows.max() >= len(y):
        return None
    return predictions, y[rows]


def reliability_frame(probabilities: np.ndarray, y: np.ndarray, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Top-label calibration: per bin of the predicted class's probability, its mean and how often it was right."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y.astype(int)).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "confidence": confidence, "correct": correct})
    summary = frame.groupby("bin").agg(
        confidence=("confidence", "mean"), accuracy=("correct", "mean"), rows=("correct", "size")
    )
    summary["bin_low"], summary["bin_high"] = edges[summary.index], edges[summary.index + 1]
    return summary.reset_index(drop=True)


def confusion(probabilities: np.ndarray, y: np.ndarray, n_classes: int) -> list[list[int]]:
    """Out-of-fold confusion matrix: rows true class, columns the class of highest probability."""
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (y.astype(int), probabilities.argmax(axis=1)), 1)
    return matrix.tolist()


def expected_calibration_error(reliability: pd.DataFrame) -> float:
    """Mean |accuracy - confidence| over the bins, weighted by their rows."""
    weights = reliability["rows"] / reliability["rows"].sum()
    return float((weights * (reliability["accuracy"] - reliability["confidence"]).abs()).sum())


def regression_frame(predicted: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Predicted against true, one row per search row."""
    return pd.DataFrame({"true": y.astype(float), "predicted": predicted.astype(float)})
