"""The plain answers, scored on the same folds as the search: did the search beat them?

- majority / mean: the training part's class frequencies, or its mean;
- logistic / ridge regression from scikit-learn (default regularization) on the data's linear
  inputs: standardized, one-hot encoded features for tables; downsampled pixels for images.
Each gets out-of-fold predictions on the study's own folds and the same interval as the chosen
model; with a held-out test set they are also refitted on every search row and tested once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from automl.evaluation.bbc import fixed_model_estimate
from automl.evaluation.oof import OutOfFold
from automl.metrics import Metric
from automl.train.engines import fold_repeats


@dataclass(frozen=True)
class Baseline:
    name: str
    description: str
    fit: Callable[[np.ndarray, np.ndarray, str, int], Callable[[np.ndarray], np.ndarray]]


def _majority(X: np.ndarray, y: np.ndarray, task: str, n_classes: int):
    if task == "classification":
        priors = np.bincount(y.astype(int), minlength=n_classes) / len(y)
        return lambda Z: np.tile(priors, (len(Z), 1))
    mean = float(np.mean(y))
    return lambda Z: np.full(len(Z), mean)


def _linear(X: np.ndarray, y: np.ndarray, task: str, n_classes: int):
    if task == "regression":
        model = Ridge(alpha=1.0).fit(X, y)
        return lambda Z: model.predict(Z).astype(np.float64)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)

    def proba(Z: np.ndarray) -> np.ndarray:
        out = np.zeros((len(Z), n_classes))
        out[:, model.classes_.astype(int)] = model.predict_proba(Z)  # a class absent from the fold: 0
        return out

    return proba


def baselines_for(task: str, linear_inputs: str) -> list[Baseline]:
    linear = "logistic_regression" if task == "classification" else "ridge_regression"
    model = "LogisticRegression(C=1)" if task == "classification" else "Ridge(alpha=1)"
    return [
        Baseline(
            "majority" if task == "classification" else "mean",
            "predicts the training class frequencies"
            if task == "classification"
            else "predicts the training mean",
            _majority,
        ),
        Baseline(linear, f"scikit-learn {model} on {linear_inputs}, no search", _linear),
    ]


def out_of_fold_baselines(data: Any, metric: Metric, seed: int) -> tuple[list[dict[str, Any]], OutOfFold]:
    """Each baseline's out-of-fold estimate on the study's folds (dicts for the manifest), and their
    out-of-fold predictions (for the store). `data` is the study's search data (SearchData or
    ImageSearchData): its `linear_encoder(train_rows)` encodes rows for a linear model."""
    n, k = len(data.y), data.n_classes
    repeats = fold_repeats(data.folds, n)
    found: dict[str, np.ndarray] = {}
    chosen = baselines_for(data.task, data.linear_description)
    for b in chosen:
        shape = (max(repeats) + 1, n) + ((k,) if data.task == "classification" else ())
        found[b.name] = np.full(shape, np.nan)
    for (train, val), r in zip(data.folds, repeats, strict=True):
        encode = data.linear_encoder(train)
        X_train, X_val = encode(data.rows(train)), encode(data.rows(val))
        for b in chosen:
            found[b.name][r, val] = b.fit(X_train, data.y[train], data.task, k)(X_val)
    oof = OutOfFold.from_payloads(
        found, data.y, data.folds, metric, k if data.task == "classification" else 0
    )
    results = []
    for b in chosen:
        estimate = fixed_model_estimate(oof, b.name, seed=seed) if b.name in oof else None
        results.append(
            {
                "name": b.name,
                "description": b.description,
                **(
                    {}
                    if estimate is None
                    else {
                        "value": estimate.value,
                        "ci_low": estimate.ci_low,
                        "ci_high": estimate.ci_high,
                        "level": estimate.level,
                    }
                ),
            }
        )
    return results, oof


def held_out_baselines(data: Any, test_raw: Any, y_test: np.ndarray, score: Callable) -> list[dict[str, Any]]:
    """Each baseline refitted on every search row and scored once on the held-out test rows;
    `score(y, output)` gives the test entry (value and interval)."""
    encode = data.linear_encoder(np.arange(len(data.y)))
    X, X_test = encode(data.rows(np.arange(len(data.y)))), encode(test_raw)
    return [
        {
            "name": b.name,
            "description": b.description,
            **score(y_test, b.fit(X, data.y, data.task, data.n_classes)(X_test)),
        }
        for b in baselines_for(data.task, data.linear_description)
    ]
