"""The final model and the baselines beside it, all fitted on every non-test row.

The chosen configuration is refitted for the number of epochs its folds' early stopping found
(their mean best epoch); there are no validation rows left to stop on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.artifact import ARCH_KEYS, TabularModel
from automl.data.preprocess import Preprocessor
from automl.models.families import family_of
from automl.train.loop import NetworkFit, TargetScale, fit_fixed_epochs
from automl.train.table_folds import synthesize

# The network a practitioner would write without any small-data technique: no dropout, no L1/L2,
# no synthetic rows, no class weights, no early stopping (a fixed 100 epochs).
PLAIN_NETWORK: dict[str, Any] = {
    "depth": 2,
    "width": 64,
    "activation": "relu",
    "batch_norm": False,
    "dropout": 0.0,
    "l1": 0.0,
    "l2": 0.0,
    "lr": 1e-3,
    "batch_size": 32,
    "scaler": "standard",
    "class_weight": "none",
    "synth_method": "none",
    "synth_ratio": 0.0,
}
PLAIN_EPOCHS = 100


def fit_final(
    config: dict[str, Any],
    features: pd.DataFrame,
    y: np.ndarray,
    *,
    schema: dict[str, str],
    task: str,
    classes: list[str] | None,
    epochs: int,
    seed: int,
    info: dict[str, Any],
) -> tuple[TabularModel, dict[str, Any]]:
    """Refit `config` on all given rows; returns the model and what the refit did."""
    family = family_of(config)
    pre = Preprocessor(schema, config.get("scaler", "standard") if family.scaled else "standard")
    X = pre.fit_transform(features)
    n_classes = len(classes) if classes else 0
    n_rows = int(round(float(config.get("synth_ratio", 0.0)) * len(X)))
    X_syn, y_syn, synth_seconds = synthesize(
        config, n_rows, frame=features.reset_index(drop=True), X=X, y=y, task=task, seed=seed, pre=pre
    )
    X_fit = np.vstack([X, X_syn]) if len(X_syn) else X
    y_fit = np.concatenate([y, y_syn.astype(y.dtype)]) if len(y_syn) else y
    model_info = table_model_info(info, config, schema, task, classes, int(X.shape[1]), epochs)
    details = {"epochs": int(epochs), "n_synthetic": int(len(X_syn)), "synth_seconds": synth_seconds}
    engine = family.engine(
        [_whole_fold(config, family.name, X_fit, y_fit, X, y, seed)], _Task(task, n_classes), "cpu"
    )
    if engine is not None:  # a family that trains itself (a convex fit, boosted trees)
        for _ in range(max(1, family.max_epochs or epochs)):
            engine.step(np.ones(1, dtype=bool))
        network, scale = engine.fold_network(0)
        return TabularModel(pre, network, scale, model_info), details
    fit: NetworkFit = fit_fixed_epochs(
        config, X_fit, y_fit, task=task, n_classes=n_classes, epochs=epochs, seed=seed
    )
    fit.model.eval()
    return TabularModel(pre, fit.model, fit.scale, model_info), details


@dataclass(frozen=True)
class _Task:
    task: str
    n_classes: int


def _whole_fold(config, family: str, X_fit, y_fit, X, y, seed: int) -> dict[str, Any]:
    """Every row as one fold's training part (its validation rows only feed the engine's bookkeeping)."""
    from automl.train.table_folds import network_fold, scored_fold

    fold = {**network_fold(config, "mlp", seed, X_fit, y_fit), **scored_fold(1, X, y, X, y, 0, 0.0)}
    return {**fold, "table_family": family}


def table_model_info(
    info: dict[str, Any],
    config: dict[str, Any],
    schema: dict[str, str],
    task: str,
    classes: list[str] | None,
    n_inputs: int,
    epochs: int,
) -> dict[str, Any]:
    """What an exported table model's model.json says of it. `family` names how it is rebuilt: the torch
    network family (`mlp`: a linear model too, at depth 0), or `gbdt` (a booster); `table_family` is the
    searched family it came from."""
    family = family_of(config)
    return dict(
        info,
        task=task,
        classes=classes,
        schema=schema,
        family="gbdt" if family.name == "gbdt" else "mlp",
        table_family=family.name,
        architecture={k: config[k] for k in ARCH_KEYS if k in config} if family.name == "mlp" else {},
        n_inputs=int(n_inputs),
        config=config,
        epochs=int(epochs),
    )


def fold_model(
    data: Any,
    fold_index: int,
    config: dict[str, Any],
    network: Any,
    info: dict[str, Any],
    epochs: int,
) -> TabularModel:
    """One fold's network of a fixed-epoch run (train/fixed.py `FoldNetwork`) with the fold's own
    preprocessor (fitted on the fold's training part only): a member of the exported bag. `data` is a
    table's SearchData."""
    from automl.train.table_folds import encoded_fold

    family = family_of(config)
    scaler = config.get("scaler", "standard") if family.scaled else "standard"
    pre = encoded_fold(data, fold_index, scaler)[0]
    n_inputs = len(pre.feature_names)
    n_outputs = data.n_classes if data.task == "classification" else 1
    scale = TargetScale(network.scale_mean, network.scale_std)
    model_info = table_model_info(info, config, data.schema, data.task, info.get("classes"), n_inputs, epochs)
    if network.text is not None:  # a booster's own text format
        from automl.models.gbdt import BoosterNetwork

        booster = BoosterNetwork.from_text(network.text, data.task, data.n_classes)
        return TabularModel(pre, booster, scale, model_info)
    import torch

    from automl.models import build_model

    module = build_model("mlp", n_inputs, n_outputs, model_info["architecture"])
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in network.state.items()})
    return TabularModel(pre, module.eval(), scale, model_info)


def majority_output(y_train: np.ndarray, n_rows: int, task: str, n_classes: int) -> np.ndarray:
    """The majority/mean baseline: class frequencies of the training rows, or their mean."""
    if task == "classification":
        priors = np.bincount(y_train.astype(int), minlength=n_classes) / len(y_train)
        return np.tile(priors, (n_rows, 1))
    return np.full(n_rows, float(np.mean(y_train)))
