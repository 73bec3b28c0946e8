"""Per-row out-of-fold losses and paired differences between two models on the same rows (numpy only).

Two models that predicted the same rows from the same folds are compared row by row: the mean of their
per-row loss differences, over its standard error, says whether one is better beyond the noise of the
rows. The selection rule's band (search/selection.py) and the comparison with the simpler model
(evaluation/paired.py) both read these.
"""

from __future__ import annotations

import numpy as np


def per_row_losses(
    preds: np.ndarray, y: np.ndarray, n_classes: int, metric_name: str
) -> tuple[np.ndarray, str]:
    """(T, n) per-row loss of T models' out-of-fold predictions (T, repeats, n[, k]), averaged over the
    repeats, and its name: log loss for classes, absolute error for MAE, squared error otherwise."""
    preds = np.asarray(preds, dtype=np.float64)
    if n_classes:
        picked = np.take_along_axis(preds, np.asarray(y).astype(int)[None, None, :, None], axis=3)[..., 0]
        return -np.log(np.clip(picked, 1e-15, 1.0)).mean(axis=1), "log loss"
    errors = preds - np.asarray(y, dtype=np.float64)[None, None, :]
    if metric_name == "mae":
        return np.abs(errors).mean(axis=1), "absolute error"
    return (errors**2).mean(axis=1), "squared error"


def per_row_errors(preds: np.ndarray, y: np.ndarray, n_classes: int, metric_name: str) -> np.ndarray | None:
    """(T, n) each row's share of the user's classification metric lost (averaged over the repeats), for
    the metrics that are a sum over rows: accuracy (1 for a wrong row), balanced accuracy (a wrong row of
    class c counts n / (K n_c), so that the mean over rows is 1 - balanced accuracy); None for the others
    (macro F1, ROC AUC) and for regression."""
    if not n_classes or metric_name not in ("accuracy", "balanced_accuracy"):
        return None
    y = np.asarray(y).astype(int)
    wrong = (np.asarray(preds).argmax(axis=-1) != y[None, None, :]).mean(axis=1)
    if metric_name == "accuracy":
        return wrong
    present, counts = np.unique(y, return_counts=True)
    per_class = np.zeros(max(n_classes, int(present.max()) + 1))
    per_class[present] = len(y) / (len(present) * counts)
    return wrong * per_class[y][None, :]


def compare(
    losses: np.ndarray, chosen: int, simpler: int, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """(mean, standard error) of the paired per-row differences simpler - chosen under row `weights`
    (bootstrap counts; None: every row once)."""
    d = losses[simpler] - losses[chosen]
    w = np.ones_like(d) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if total <= 1:
        return float("nan"), float("inf")
    mean = float(np.dot(w, d) / total)
    var = float(np.dot(w, (d - mean) ** 2) / (total - 1))
    return mean, float(np.sqrt(var / total))


def excess_over(
    losses: np.ndarray, best: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard error) per model of its paired per-row loss excess over model `best` (> 0: worse),
    under row `weights`; `best` itself has (0, 0)."""
    d = losses - losses[best][None, :]
    w = np.ones(losses.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if total <= 1:
        return np.full(len(losses), np.nan), np.full(len(losses), np.inf)
    mean = d @ w / total
    var = ((d - mean[:, None]) ** 2) @ w / (total - 1)
    return mean, np.sqrt(var / total)
