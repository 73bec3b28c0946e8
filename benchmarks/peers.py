"""Peers: what a practitioner would run instead of the project, each with its library's defaults, trained on
the study's training rows and scored on the same fresh rows.

Tables: LogisticRegressionCV / RidgeCV on imputed, one-hot, standardized features; CatBoost (categoricals
natively); pytabkit's RealMLP_TD and TabM_D (numeric gaps filled with the training median, categoricals as
pandas categories); LightGBM (categoricals one-hot); FLAML with the study's budget and metric (its learners but CatBoost).
Images: LogisticRegressionCV on standardized frozen features of each offline pretrained backbone, the
images resized to the backbone's own input size (the project's backbone and weights code builds them).

`PEERS[name]` is a `Peer`; `fit_predict(peer, ...)` returns its `scoring.Output` on the fresh inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.scoring import Output, from_proba


@dataclass(frozen=True)
class TableFit:
    """What a table peer is given: the training rows, their labels (words) or targets, the fresh rows."""

    train: pd.DataFrame
    y: np.ndarray
    fresh: pd.DataFrame
    task: str  # classification | regression
    metric: str
    budget_s: float  # FLAML's time budget: the budget-bound study's
    seed: int
    cpus: int

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.y.astype(str)))

    @property
    def codes(self) -> np.ndarray:
        return np.searchsorted(np.asarray(self.classes), self.y.astype(str))

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.train.columns if not pd.api.types.is_numeric_dtype(self.train[c])]

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.train.columns if c not in self.categorical]


@dataclass(frozen=True)
class Peer:
    name: str
    family: str  # table | image
    about: str
    fit: Callable[..., Output]
    acceptance: bool = False  # one of the peers issue 21's acceptance compares with


def _output(model, X, fit: TableFit) -> Output:
    """The model's probabilities under the class words (it was trained on the codes), or its predictions."""
    if fit.task == "regression":
        return Output(predictions=np.asarray(model.predict(X), dtype=float))
    proba = np.asarray(model.predict_proba(X), dtype=float)
    full = np.zeros((len(proba), len(fit.classes)))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return from_proba(full, fit.classes)


def _encoder(fit: TableFit, scale: bool):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median"), *([StandardScaler()] if scale else []))
    onehot = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    )
    return ColumnTransformer([("num", numeric, fit.numeric), ("cat", onehot, fit.categorical)])


def _folds(fit: TableFit) -> int:
    """LogisticRegressionCV's stratified folds: 5, or fewer where a class has fewer rows."""
    return max(2, min(5, int(np.bincount(fit.codes).min())))


def _linear_cv(fit: TableFit) -> Output:
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.pipeline import make_pipeline

    if fit.task == "regression":
        model = make_pipeline(_encoder(fit, scale=True), RidgeCV()).fit(fit.train, fit.y)
    else:
        model = make_pipeline(
            _encoder(fit, scale=True), LogisticRegressionCV(cv=_folds(fit), max_iter=5000)
        ).fit(fit.train, fit.codes)
    return _output(model, fit.fresh, fit)


def _catboost(fit: TableFit) -> Output:
    from catboost import CatBoostClassifier, CatBoostRegressor

    def frame(X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c in fit.categorical:
            X[c] = X[c].astype(object).where(X[c].notna(), "missing").astype(str)
        return X

    kind = CatBoostRegressor if fit.task == "regression" else CatBoostClassifier
    model = kind(
        random_seed=fit.seed,
        verbose=0,
        thread_count=fit.cpus,
        allow_writing_files=False,
        cat_features=fit.categorical,
    )
    model.fit(frame(fit.train), fit.y if fit.task == "regression" else fit.codes)
    return _output(model, frame(fit.fresh), fit)


def _pytabkit(classifier: str, regressor: str) -> Callable[[TableFit], Output]:
    def run(fit: TableFit) -> Output:
        import pytabkit

        median = fit.train[fit.numeric].median()

        def frame(X: pd.DataFrame) -> pd.DataFrame:
            X = X.copy()
            X[fit.numeric] = X[fit.numeric].fillna(median).astype(float)
            for c in fit.categorical:
                X[c] = pd.Categorical(X[c], categories=sorted(fit.train[c].dropna().unique()))
            return X

        kind = getattr(pytabkit, regressor if fit.task == "regression" else classifier)
        model = kind(random_state=fit.seed, device="cpu", n_threads=fit.cpus, verbosity=0)
        model.fit(frame(fit.train), fit.y if fit.task == "regression" else fit.codes)
        return _output(model, frame(fit.fresh), fit)

    return run


def _lightgbm(fit: TableFit) -> Output:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.pipeline import make_pipeline

    kind = LGBMRegressor if fit.task == "regression" else LGBMClassifier
    model = make_pipeline(
        _encoder(fit, scale=False), kind(random_state=fit.seed, verbose=-1, n_jobs=fit.cpus)
    )
    model.fit(fit.train, fit.y if fit.task == "regression" else fit.codes)
    return _output(model, fit.fresh, fit)


def _flaml(fit: TableFit) -> Output:
    from flaml import AutoML
    from sklearn.metrics import balanced_accuracy_score

    metric: Any = fit.metric
    if fit.metric == "balanced_accuracy":  # FLAML has no such metric: a custom one, as its docs show

        def metric(X_val, y_val, estimator, *args, **kwargs):
            score = balanced_accuracy_score(y_val, estimator.predict(X_val))
            return 1.0 - score, {"balanced_accuracy": score}

    model = AutoML()
    # FLAML's default learners but CatBoost: on these tiny tables its CatBoost trials and final retrain
    # ran 45 to 100 times past FLAML's time budget (225 s on a 5-s budget); CatBoost is a peer of its own.
    learners = [
        "lgbm",
        "rf",
        "xgboost",
        "extra_tree",
        "xgb_limitdepth",
        "lrl1" if fit.task != "regression" else "rf",
    ]
    model.fit(
        X_train=fit.train,
        y_train=fit.y if fit.task == "regression" else fit.codes,
        task=fit.task,
        metric=metric,
        estimator_list=list(dict.fromkeys(learners)),
        time_budget=fit.budget_s,
        seed=fit.seed,
        n_jobs=fit.cpus,
        verbose=0,
    )
    return _output(model, fit.fresh, fit)


def _probe(backbone: str) -> Callable[..., Output]:
    def run(train: np.ndarray, y: np.ndarray, fresh: np.ndarray, *, seed: int) -> Output:
        """LogisticRegressionCV on standardized frozen features, the images at the backbone's own size."""
        import torch
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from automl.image.network import build_network, extract_features
        from automl.image.weights import find_weights

        weights = find_weights(backbone, allow_hub=False)
        if weights is None:
            raise RuntimeError(f"no offline weights for {backbone}")
        torch.manual_seed(seed)
        classes = sorted(set(y))
        network = build_network(
            {"backbone": backbone, "transfer": "linear_probe"}, len(classes), image_size=None, weights=weights
        )
        codes = np.searchsorted(np.asarray(classes), y)
        folds = max(2, min(5, int(np.bincount(codes).min())))
        model = make_pipeline(StandardScaler(), LogisticRegressionCV(cv=folds, max_iter=5000))
        model.fit(extract_features(network, train), codes)
        proba = model.predict_proba(extract_features(network, fresh))
        full = np.zeros((len(proba), len(classes)))
        full[:, model.classes_] = proba
        return from_proba(full, classes)

    return run


PEERS: dict[str, Peer] = {
    p.name: p
    for p in [
        Peer(
            "logreg_cv",
            "table",
            "LogisticRegressionCV / RidgeCV on imputed, one-hot, standardized features",
            _linear_cv,
            acceptance=True,
        ),
        Peer("catboost", "table", "CatBoost, defaults, categoricals natively", _catboost, acceptance=True),
        Peer(
            "realmlp",
            "table",
            "pytabkit RealMLP_TD, defaults",
            _pytabkit("RealMLP_TD_Classifier", "RealMLP_TD_Regressor"),
            acceptance=True,
        ),
        Peer(
            "tabm",
            "table",
            "pytabkit TabM_D, defaults",
            _pytabkit("TabM_D_Classifier", "TabM_D_Regressor"),
            acceptance=True,
        ),
        Peer("lightgbm", "table", "LightGBM, defaults, categoricals one-hot", _lightgbm),
        Peer("flaml", "table", "FLAML AutoML, the budget-bound study's budget and metric", _flaml),
        *[
            Peer(
                f"probe_{name[-5:]}",
                "image",
                f"LogisticRegressionCV on frozen {name} features at its own input size",
                _probe(name),
                acceptance=True,
            )
            for name in ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")
        ],
    ]
}


def peers_for(family: str, names: tuple[str, ...]) -> list[Peer]:
    return [PEERS[n] for n in names if PEERS[n].family == family]
