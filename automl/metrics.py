"""Metrics, looked up by name, and the bootstrap interval of the held-out test report.

Every metric takes true targets and the model's output (class probabilities for classification,
predictions for regression) so that one call site serves all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from automl.errors import ConfigError
from automl.registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # "classification" | "regression"
    greater_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray, int], float]  # (y_true, output, n_classes) -> score

    def __call__(self, y_true: np.ndarray, output: np.ndarray, n_classes: int = 0) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(output), n_classes))

    def sign(self) -> float:
        """+1 when larger is better, -1 otherwise: `sign * score` is always "larger is better"."""
        return 1.0 if self.greater_is_better else -1.0


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _accuracy(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    return float(np.mean(_labels(proba) == y))


def _confusion(y: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion counts (rows: true, columns: predicted) with numpy only: this runs every epoch."""
    k = max(n_classes, int(max(y.max(initial=0), predicted.max(initial=0))) + 1)
    return np.bincount(y.astype(int) * k + predicted, minlength=k * k).reshape(k, k)


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    cm = _confusion(y, _labels(proba), n_classes)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _f1_macro(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    cm = _confusion(y, _labels(proba), n_classes)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[:n_classes].mean()) if n_classes else float(f1.mean())


def _roc_auc(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    from sklearn import metrics as skm  # deferred: importing the metrics stays light

    if len(np.unique(y)) < 2:
        return float("nan")
    if n_classes == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    present = np.unique(y)
    if len(present) < n_classes:  # a class absent from this sample: score the present ones
        sub = proba[:, present] / np.clip(proba[:, present].sum(axis=1, keepdims=True), 1e-12, None)
        if len(present) == 2:
            return skm.roc_auc_score(y == present[1], sub[:, 1])
        return skm.roc_auc_score(y, sub, multi_class="ovr", average="macro", labels=present)
    return skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes))


def _log_loss(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y.astype(int)], 1e-15, 1.0))))


def _r2(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / total if total > 0 else float("nan")


METRICS: Registry[Metric] = Registry("metric")
for _metric, _description in [
    (
        Metric("accuracy", "classification", True, _accuracy),
        "share of rows whose most probable class is right",
    ),
    (
        Metric("balanced_accuracy", "classification", True, _balanced_accuracy),
        "mean recall over the classes (the default when classes are imbalanced)",
    ),
    (Metric("f1_macro", "classification", True, _f1_macro), "mean F1 score over the classes"),
    (
        Metric("roc_auc", "classification", True, _roc_auc),
        "area under the ROC curve (one-vs-rest for 3+ classes)",
    ),
    (
        Metric("log_loss", "classification", False, _log_loss),
        "mean negative log-likelihood of the true class",
    ),
    (
        Metric("rmse", "regression", False, lambda y, p, k: float(np.sqrt(np.mean((y - p) ** 2)))),
        "root mean squared error",
    ),
    (
        Metric("mae", "regression", False, lambda y, p, k: float(np.mean(np.abs(y - p)))),
        "mean absolute error",
    ),
    (Metric("r2", "regression", True, _r2), "coefficient of determination (1 - SSE / SST)"),
]:
    METRICS.add(_metric.name, _metric, description=_description, tasks=(_metric.task,))


def get_metric(name: str, task: str | None = None) -> Metric:
    """The metric called `name`; a clear error lists the valid names (for `task` when given)."""
    valid = [m.name for m in METRICS.values() if task is None or m.task == task]
    metric = METRICS.get(name)
    if metric is None or (task is not None and metric.task != task):
        for_task = f" for {task}" if task else ""
        raise ConfigError(
            f"The 'metric' parameter must be one of {', '.join(valid)}{for_task}. Got {name!r} instead."
        )
    return metric


def metrics_for(task: str) -> list[Metric]:
    return [m for m in METRICS.values() if m.task == task]


def default_metric(task: str, class_counts: dict | None = None) -> str:
    """Balanced accuracy when classes are imbalanced (largest/smallest > 1.5), else accuracy; RMSE for regression."""
    if task == "regression":
        return "rmse"
    counts = list((class_counts or {}).values())
    if counts and max(counts) / max(min(counts), 1) > 1.5:
        return "balanced_accuracy"
    return "accuracy"


PROPORTIONS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc")  # scores in [0, 1]


def wilson_interval(p: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion p observed over n rows."""
    if n <= 0 or not np.isfinite(p):
        return float("nan"), float("nan")
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    p = min(max(p, 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


CLASS_BALANCED = ("balanced_accuracy", "f1_macro", "roc_auc")  # each class weighs the same, whatever its rows


def effective_rows(metric_name: str, y: np.ndarray) -> float:
    """The number of rows a plain proportion would need to be as uncertain as `metric_name` over `y`.

    Accuracy counts every row. A class-balanced score is a mean over the K classes, each measured on its
    own n_k rows, so its binomial variance is p(1-p)/K^2 * sum(1/n_k): the rows of a proportion with that
    variance are K^2 / sum(1/n_k). That is n for balanced classes, and little more than K^2 times the
    rarest class's rows when one is rare (12 malignant of 120 rows: 43, not 120)."""
    y = np.asarray(y)
    if metric_name not in CLASS_BALANCED or y.size == 0:
        return float(y.size)
    counts = np.unique(y, return_counts=True)[1].astype(float)
    return float(len(counts) ** 2 / np.sum(1.0 / counts))


def bootstrap_interval(
    metric: Metric,
    y_true: np.ndarray,
    output: np.ndarray,
    n_classes: int = 0,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric` over the test rows (rows resampled with replacement)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    scores = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        score = metric(y_true[idx], output[idx], n_classes)
        if np.isfinite(score):
            scores.append(score)
    if not scores:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(scores, [alpha, 1 - alpha])
    return float(low), float(high)
