"""A table trial's folds: the encoded rows (made once per study and scaler, `encode_folds`), the
synthetic rows of the trial's synthesizer, and what the trial trains on each fold (`table_fold_setup`;
`network_fold` and `scored_fold` are the parts of a fold the image modality builds the same way).
Everything fitted here is fitted on the fold's training part only. `data` is the study's
`train.trainable.SearchData` (not imported: that module builds on this one)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from automl.data.preprocess import Preprocessor
from automl.models.families import family_of
from automl.synth.base import setting_names
from automl.synth.pool import fetch_shared, fit_and_sample
from automl.synth.registry import create_synthesizer, synthesizer_class
from automl.train.loop import EarlyStopping

NO_SYNTHESIS = "none"
MAX_SYNTH_RATIO = 2.0  # synthetic rows per training row when the space does not bound synth_ratio


def synth_settings(method: str, config: dict[str, Any]) -> dict[str, Any]:
    """The trial's `synth_<name>` values that `method`'s synthesizer accepts as settings."""
    accepted = setting_names(synthesizer_class(method))
    return {
        key[len("synth_") :]: value
        for key, value in config.items()
        if key.startswith("synth_") and key[len("synth_") :] in accepted
    }


def synthesize(
    config: dict[str, Any],
    n_rows: int,
    *,
    frame: pd.DataFrame | None,
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    seed: int,
    pre: Preprocessor,
    pooled: Callable[[str, dict], tuple[pd.DataFrame, np.ndarray] | None] | None = None,
    max_ratio: float = MAX_SYNTH_RATIO,
) -> tuple[np.ndarray, np.ndarray, float]:
    """`n_rows` synthetic rows in the network's input space, from synthesizers fitted on the given
    training rows only: (X, y, seconds spent). `frame`: those rows as a frame (only read when there is
    synthesis). `pooled` fetches a shared pre-sampled pool instead of fitting an expensive synthesizer
    here (None from it: fit here after all)."""
    method = config.get("synth_method", NO_SYNTHESIS)
    if method == NO_SYNTHESIS or n_rows == 0:
        return np.zeros((0, X.shape[1]), np.float32), np.zeros(0, y.dtype), 0.0
    cls = synthesizer_class(method)
    settings = synth_settings(method, config)
    start = time.perf_counter()
    if cls.space == "encoded":  # cheap (SMOTE): fitted on the encoded training rows
        synth = create_synthesizer(method, **settings).fit(X, y, task=task, seed=seed)
        X_syn, y_syn = synth.sample(n_rows, seed=seed)
        return np.asarray(X_syn, np.float32), np.asarray(y_syn), time.perf_counter() - start
    shared = pooled(method, settings) if cls.expensive and pooled is not None else None
    if shared is not None:
        rows, labels = shared
    else:  # sample the pool size and take the head, exactly as the shared pool does
        pool_rows = max(n_rows, int(np.ceil(max_ratio * len(frame))))
        rows, labels, _ = fit_and_sample(method, settings, frame, y, task=task, n_rows=pool_rows, seed=seed)
    rows, labels = rows.iloc[:n_rows], np.asarray(labels)[:n_rows]
    return pre.transform(rows), labels, time.perf_counter() - start


_ENCODED_FOLDS: OrderedDict[tuple, tuple[Preprocessor, np.ndarray, np.ndarray]] = OrderedDict()
ENCODED_FOLDS_KEPT = 64  # (study, fold, scaler) entries an actor keeps: a few per fold and scaler
ENCODED_FOLDS_MAX_VALUES = 2**24  # encode_folds makes them ahead up to this many floats (64 MB) in all


def _encode_fold(data: Any, fold_index: int, scaler: str) -> tuple[Preprocessor, np.ndarray, np.ndarray]:
    train_rows, val_rows = data.folds[fold_index]
    pre = Preprocessor(data.schema, scaler)
    X_train = pre.fit_transform(data.features.iloc[train_rows])  # fitted on the fold's training part only
    X_val = pre.transform(data.features.iloc[val_rows])
    X_train.setflags(write=False)  # shared by later trials: nobody may change them in place
    X_val.setflags(write=False)
    return pre, X_train, X_val


def encode_folds(data: Any, scalers: list[str]) -> None:
    """Encode every fold with each of `scalers` once for the whole study, before its trials (where the
    result is small enough to travel with `data`), instead of in every actor at its first trial with a
    scaler: on a small table that first encoding was most of the trial's setup."""
    if not scalers or not data.folds:
        return
    first = _encode_fold(data, 0, scalers[0])
    values = len(data.folds) * len(scalers) * (len(first[1]) + len(first[2])) * max(1, first[1].shape[1])
    if values > ENCODED_FOLDS_MAX_VALUES:
        return  # a large table: each actor encodes the folds it needs (`encoded_fold`)
    data.encoded[(0, scalers[0])] = first
    for scaler in scalers:
        for fold_index in range(len(data.folds)):
            if (fold_index, scaler) not in data.encoded:
                data.encoded[(fold_index, scaler)] = _encode_fold(data, fold_index, scaler)


def encoded_fold(data: Any, fold_index: int, scaler: str) -> tuple[Preprocessor, np.ndarray, np.ndarray]:
    """The fold's preprocessor, fitted on its training part only, and its encoded training and
    validation rows: made before the search (`encode_folds`), or here, where a reused actor keeps the
    last few (a pure function of rows, fold and scaler, the same for every trial with that scaler)."""
    made = data.encoded.get((fold_index, scaler))
    if made is not None:
        return made
    key = (data.token, fold_index, scaler)
    hit = _ENCODED_FOLDS.get(key)
    if hit is not None:
        _ENCODED_FOLDS.move_to_end(key)
        return hit
    _ENCODED_FOLDS[key] = made = _encode_fold(data, fold_index, scaler)
    while len(_ENCODED_FOLDS) > ENCODED_FOLDS_KEPT:
        _ENCODED_FOLDS.popitem(last=False)
    return made


def table_fold_setup(data: Any, fold_index: int, config: dict[str, Any], device: str) -> dict[str, Any]:
    family = family_of(config)
    train_rows, val_rows = data.folds[fold_index]
    scaler = config.get("scaler", "standard") if family.scaled else "standard"  # no effect on trees
    pre, X_train, X_val = encoded_fold(data, fold_index, scaler)
    y_train, y_val = data.y[train_rows], data.y[val_rows]
    seed = data.seed + fold_index

    def pooled(method: str, settings: dict) -> tuple[pd.DataFrame, np.ndarray] | None:
        shared = fetch_shared(data.shared_pool, "get", fold_index, method, settings, seed)
        return None if shared is None else shared[:2]  # None: no pool, or lost with a node: fit here

    n_rows = int(round(float(config.get("synth_ratio", 0.0)) * len(train_rows)))
    synthesizing = config.get("synth_method", NO_SYNTHESIS) != NO_SYNTHESIS and n_rows > 0
    X_syn, y_syn, synth_seconds = synthesize(
        config,
        n_rows,
        frame=data.features.iloc[train_rows].reset_index(drop=True) if synthesizing else None,
        X=X_train,
        y=y_train,
        task=data.task,
        seed=seed,
        pre=pre,
        pooled=pooled,
        max_ratio=data.extra.get("max_synth_ratio", MAX_SYNTH_RATIO),
    )
    X_fit = np.vstack([X_train, X_syn]) if len(X_syn) else X_train
    y_fit = np.concatenate([y_train, y_syn.astype(y_train.dtype)]) if len(y_syn) else y_train
    return {
        **network_fold(config, "mlp", data.seed * 1000 + fold_index, X_fit, y_fit),
        **scored_fold(
            int(config.get("patience", 10)), X_train, y_train, X_val, y_val, len(X_syn), synth_seconds
        ),
        "table_family": family.name,
        "max_epochs": family.max_epochs,
    }


def network_fold(
    params: dict[str, Any], family: str, seed: int, X_fit: np.ndarray, y_fit: np.ndarray
) -> dict:
    """A fold whose network is a registered model family trained on feature rows: the trial trains
    all such folds as one batched network (train/batched.py), or builds a NetworkFit per fold."""
    return {"params": params, "family": family, "seed": seed, "X_fit": X_fit, "y_fit": y_fit}


def scored_fold(
    patience: int,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    n_synthetic: int,
    synth_seconds: float,
) -> dict:
    """What `run_trial` reads of every fold besides its network (any modality): its early stopping, the
    real training and validation inputs it scores each epoch, and its synthetic rows' count and cost."""
    return {
        "stop": EarlyStopping(patience, keep_state=False),
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "n_synthetic": n_synthetic,
        "synth_seconds": synth_seconds,
    }
