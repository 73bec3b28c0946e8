"""The held-out test report (when a study has a test set): evaluated once, on rows the search never saw.

The chosen metric with a 95% bootstrap interval, every metric of the task, a confusion matrix and
per-class scores (classification) or a residual summary (regression).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from automl.metrics import (
    PROPORTIONS,
    Metric,
    bootstrap_interval,
    effective_rows,
    metrics_for,
    wilson_interval,
)


def scored(metric: Metric, y: np.ndarray, output: np.ndarray, n_classes: int, seed: int) -> dict[str, float]:
    """The score on the test rows with its 95% bootstrap interval; for scores in [0, 1] never narrower
    than the Wilson interval over those rows (all of 20 rows right is not a certain 1.0), counted as the
    metric weighs them (`metrics.effective_rows`: a class-balanced score leans on its rarest class)."""
    value = metric(y, output, n_classes)
    low, high = bootstrap_interval(metric, y, output, n_classes, seed=seed)
    if metric.name in PROPORTIONS and np.isfinite(value):
        w_low, w_high = wilson_interval(value, effective_rows(metric.name, y))
        low, high = max(0.0, min(low, w_low)), min(1.0, max(high, w_high))
    return {"value": value, "ci_low": low, "ci_high": high, "level": 0.95}


def test_report(
    metric: Metric,
    y: np.ndarray,
    output: np.ndarray,
    *,
    task: str,
    classes: list[str] | None,
    seed: int,
) -> dict[str, Any]:
    n_classes = len(classes) if classes else 0
    report: dict[str, Any] = {
        "metric": metric.name,
        "n_test": int(len(y)),
        **scored(metric, y, output, n_classes, seed),
        "all_metrics": {m.name: m(y, output, n_classes) for m in metrics_for(task)},
    }
    if task == "classification":
        predicted = output.argmax(axis=1)
        labels = np.arange(n_classes)
        report["confusion_matrix"] = {
            "labels": classes,
            "rows_true_columns_predicted": confusion_matrix(y, predicted, labels=labels).tolist(),
        }
        precision, recall, f1, support = precision_recall_fscore_support(
            y, predicted, labels=labels, zero_division=0
        )
        report["per_class"] = [
            {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        ]
    else:
        residuals = y - output
        q = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
        report["residuals"] = {
            "mean": float(residuals.mean()),
            "std": float(residuals.std()),
            "max_abs": float(np.abs(residuals).max()),
            **{
                f"q{int(p * 100):02d}": float(v)
                for p, v in zip([0.05, 0.25, 0.5, 0.75, 0.95], q, strict=True)
            },
        }
    return report


def chance_level(metric: Metric, y_train: np.ndarray, n_classes: int) -> float | None:
    """What a model that learned nothing scores, where that is well defined."""
    if metric.name in ("balanced_accuracy", "roc_auc"):
        return 1.0 / n_classes if metric.name == "balanced_accuracy" else 0.5
    if metric.name == "accuracy":
        return float(np.bincount(y_train.astype(int), minlength=n_classes).max() / len(y_train))
    if metric.name == "r2":
        return 0.0
    return None
