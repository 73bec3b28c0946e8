"""Every metric of automl.metrics, computed for many models and many row weightings at once.

The bootstrap of the estimate scores T trials under B resamples of the rows. A resample is a vector
of row counts (how often each row was drawn), so a score under a resample is a weighted score,
and for every metric here it is a function of a few weighted sums: one matrix product
`(T, n) @ (n, B)` per sum instead of T x B Python calls. With integer weights the result equals
the metric on the rows repeated that many times (tested against automl.metrics).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from automl.metrics import Metric


_EPS = 1e-15


def _sums(per_row: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(T, n) per-row values, (B, n) weights -> (T, B) weighted sums."""
    return per_row @ weights.T


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _correct(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    return (output.argmax(axis=-1) == y[None, :]).astype(np.float64)


def _accuracy(y, output, weights, n_classes):
    return _ratio(_sums(_correct(y, output), weights), weights.sum(axis=1)[None, :])


def _log_loss(y, output, weights, n_classes):
    picked = np.take_along_axis(output, y.astype(int)[None, :, None], axis=-1)[..., 0]
    nll = -np.log(np.clip(picked, _EPS, 1.0))
    return _ratio(_sums(nll, weights), weights.sum(axis=1)[None, :])


def _balanced_accuracy(y, output, weights, n_classes):
    correct = _correct(y, output)
    per_class = []
    for c in range(max(n_classes, int(y.max(initial=0)) + 1)):
        is_c = (y == c).astype(np.float64)
        support = weights @ is_c  # (B,)
        if not np.any(support > 0):
            continue
        per_class.append(_ratio(_sums(correct * is_c[None, :], weights), support[None, :]))
    if not per_class:
        return np.full((output.shape[0], weights.shape[0]), np.nan)
    with _quiet():
        return np.nanmean(np.stack(per_class), axis=0)


def _f1_macro(y, output, weights, n_classes):
    predicted = output.argmax(axis=-1)
    k = max(n_classes, int(y.max(initial=0)) + 1)
    scores = []
    for c in range(k):
        is_c = (y == c).astype(np.float64)
        pred_c = (predicted == c).astype(np.float64)
        tp = _sums(pred_c * is_c[None, :], weights)
        denom = _sums(pred_c, weights) + (weights @ is_c)[None, :]
        scores.append(np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1.0), 0.0))
    stacked = np.stack(scores)
    return stacked[:n_classes].mean(axis=0) if n_classes else stacked.mean(axis=0)


def _binary_auc(score: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC of one model's scores under each weighting (ties count half): (B,)."""
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = weights[:, order]
    pos = positive[order].astype(np.float64)
    pos_groups = np.add.reduceat(w * pos, starts, axis=1)
    neg_groups = np.add.reduceat(w * (1 - pos), starts, axis=1)
    neg_below = np.cumsum(neg_groups, axis=1) - neg_groups
    num = np.sum(pos_groups * (neg_below + 0.5 * neg_groups), axis=1)
    return _ratio(num, pos_groups.sum(axis=1) * neg_groups.sum(axis=1))


def _roc_auc(y, output, weights, n_classes):
    T, B = output.shape[0], weights.shape[0]
    if len(np.unique(y)) < 2:
        return np.full((T, B), np.nan)
    classes = [1] if n_classes == 2 else [int(c) for c in np.unique(y)]
    result = np.zeros((T, B))
    for t in range(T):
        per_class = [_binary_auc(output[t, :, c], y == c, weights) for c in classes]
        with _quiet():
            result[t] = np.nanmean(np.stack(per_class), axis=0)
    return result


def _squared(y, output):
    return (output - y[None, :]) ** 2


def _rmse(y, output, weights, n_classes):
    return np.sqrt(_ratio(_sums(_squared(y, output), weights), weights.sum(axis=1)[None, :]))


def _mae(y, output, weights, n_classes):
    return _ratio(_sums(np.abs(output - y[None, :]), weights), weights.sum(axis=1)[None, :])


def _r2(y, output, weights, n_classes):
    total_w = weights.sum(axis=1)
    mean = _ratio(weights @ y, total_w)
    spread = weights @ (y**2) - total_w * mean**2  # weighted sum of squares about the weighted mean
    sse = _sums(_squared(y, output), weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            spread[None, :] > 1e-12, 1.0 - sse / np.where(spread > 1e-12, spread, 1.0)[None, :], np.nan
        )


@contextlib.contextmanager
def _quiet():
    """nanmean of an all-NaN column warns; NaN is the intended answer there."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


_WEIGHTED = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "f1_macro": _f1_macro,
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}


def weighted_scores(
    metric: Metric, y: np.ndarray, outputs: np.ndarray, weights: np.ndarray, n_classes: int = 0
) -> np.ndarray:
    """Scores of T models' outputs under B row weightings: (T, B).

    `outputs`: (T, n, k) class probabilities or (T, n) predictions; `weights`: (B, n), non-negative
    (bootstrap counts, or 0/1 masks). A weighting that leaves nothing to score gives NaN."""
    if metric.name not in _WEIGHTED:
        raise KeyError(f"no weighted form of metric {metric.name!r}")
    y = np.asarray(y)
    outputs = np.asarray(outputs, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if metric.task == "regression":
        y = y.astype(np.float64)
    return _WEIGHTED[metric.name](y, outputs, weights, n_classes)


def has_weighted_form(metric: Metric) -> bool:
    return metric.name in _WEIGHTED
