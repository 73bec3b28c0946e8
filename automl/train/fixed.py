"""One configuration trained on given folds for a fixed number of epochs, keeping every fold's network.

This is how the best candidates of a search are re-run on fresh folds (automl/reevaluate.py): each
for the epoch count its search trial's early stopping found (the mean best epoch of its folds, the
count a refit would train for), with no early stopping on the fresh folds, so no epoch is chosen on
the rows a fold predicts. Each fold's validation outputs at that epoch are its out-of-fold
predictions, and each fold's network at that epoch is a member of the exported bag: the out-of-fold
score measures exactly the networks that ship.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.metrics import get_metric
from automl.train.engines import engine_for, out_of_fold


@dataclass
class FoldNetwork:
    """One fold's trained network, as plain data (it travels back from a Ray task): a torch network's
    weights, or a model's own text format (`text`: a LightGBM booster)."""

    state: dict[str, np.ndarray]
    scale_mean: float = 0.0
    scale_std: float = 1.0
    text: str | None = None


@dataclass
class FixedRun:
    """What a fixed-epoch run of one configuration on every fold gives."""

    oof: np.ndarray  # (repeats, rows[, classes]): each fold's validation outputs at the last epoch
    train_scores: list[float]  # per fold: the study's metric on the fold's real training rows
    val_scores: list[float]  # per fold: the study's metric on its validation rows
    epochs: int
    n_params: int
    seconds: float
    networks: list[FoldNetwork] = field(default_factory=list)  # empty unless asked for
    extra: dict[str, float] = field(default_factory=dict)


def run_fixed(
    config: dict[str, Any], data: Any, epochs: int, device: str = "cpu", keep_networks: bool = True
) -> FixedRun:
    """Train `config` on every fold of `data` (a modality's search data: its `setup_fold`) for exactly
    `epochs` epochs."""
    metric = get_metric(data.metric)
    start = time.perf_counter()
    folds = [data.setup_fold(i, config, device) for i in range(len(data.folds))]
    engine = engine_for(folds, data, device)
    active = np.ones(len(folds), dtype=bool)
    stepped = {}
    for _ in range(max(1, int(epochs))):
        stepped = engine.step(active)
    train_scores, val_scores, val_outputs = [], [], []
    for f, fold in enumerate(folds):
        out_train, out_val = stepped[f][0], stepped[f][1]
        train_scores.append(float(metric(fold["y_train"], out_train, data.n_classes)))
        val_scores.append(float(metric(fold["y_val"], out_val, data.n_classes)))
        val_outputs.append([np.asarray(out_val, dtype=np.float32)])
    oof = out_of_fold(val_outputs, data.folds, [1] * len(folds), len(data.y), data.n_classes)
    networks = []
    if keep_networks:
        for f in range(len(folds)):
            module, scale = engine.fold_network(f)
            if hasattr(module, "state_dict"):
                state = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
                networks.append(FoldNetwork(state, float(scale.mean), float(scale.std)))
            else:
                networks.append(FoldNetwork({}, float(scale.mean), float(scale.std), text=module.text()))
    extra = {key: float(np.mean([f["extra"][key] for f in folds])) for key in folds[0].get("extra", {})}
    return FixedRun(
        oof=oof,
        train_scores=train_scores,
        val_scores=val_scores,
        epochs=int(epochs),
        n_params=int(engine.n_params),
        seconds=time.perf_counter() - start,
        networks=networks,
        extra=extra,
    )
