"""How a trial's folds train (one batched network, or a loop per fold) and what their validation
outputs give: the out-of-fold predictions and the signal the search is steered by.

`Batched` stacks every fold of a registered network family into one network (train/batched.py);
`PerFold` drives one fit per fold (image fine-tuning, any family BatchedFit lacks); a table family
with an engine of its own (automl/models/families.py: a convex fit, boosted trees) brings it. Each
steps the active folds one epoch at a time and hands back each fold's network for export
(`fold_network`).

Out of fold. Each fold's early stopping picks its best epoch on its own validation rows, so
predictions at that epoch flatter it. A fold's out-of-fold predictions are taken at the rounded mean
best epoch of the OTHER folds (`out_of_fold_epochs`), and the search is steered by the score of
those predictions (`oof_signal`: the log loss for classification, the study's metric for
regression), the signal the selection rule reads, which no fold's own epoch choice can inflate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.metrics import Metric, get_metric
from automl.models import count_parameters
from automl.models.families import FAMILIES
from automl.train.batched import BatchedFit, FoldArrays, supports_batching
from automl.train.loop import NetworkFit, TargetScale, validation_loss

Stepped = dict[int, tuple[np.ndarray, np.ndarray, float, int]]  # fold -> (train out, val out, loss, epochs)


class PerFold:
    """One fit per fold, each in its own loop (image fine-tuning; any family BatchedFit lacks)."""

    def __init__(self, folds: list[dict[str, Any]], data: Any, device: str) -> None:
        for fold in folds:
            if fold.get("fit") is None:
                fold["fit"] = NetworkFit(
                    fold["params"],
                    fold["X_fit"],
                    fold["y_fit"],
                    task=data.task,
                    n_classes=data.n_classes,
                    seed=fold["seed"],
                    model_family=fold["family"],
                    device=device,
                )
        self.folds, self.task = folds, data.task
        self.n_params = folds[0].get("n_params") or count_parameters(folds[0]["fit"].model)

    def step(self, active: np.ndarray) -> Stepped:
        done = {}
        for f in np.flatnonzero(active):
            fold = self.folds[f]
            fit = fold["fit"]
            fit.epoch()
            out_train, out_val = fit.output(fold["X_train"]), fit.output(fold["X_val"])
            done[f] = (
                out_train,
                out_val,
                validation_loss(out_val, fold["y_val"], self.task, fit.scale),
                fit.epochs_done,
            )
        return done

    def fold_network(self, f: int) -> tuple[Any, TargetScale]:
        """Fold f's network as it is now (in eval mode), and its target scale."""
        fit = self.folds[f]["fit"]
        return fit.model.eval(), fit.scale


class Batched:
    """All folds as one stacked network: one optimizer step for every fold at once."""

    def __init__(self, folds: list[dict[str, Any]], data: Any, device: str) -> None:
        # Folds may encode to different widths (a category missing from one fold's training part):
        # zero columns pad them to one width, which changes no output of a fold's network.
        width = max(f["X_fit"].shape[1] for f in folds)
        self.widths = [f["X_fit"].shape[1] for f in folds]
        # `members` > 1 (the mlp family's deep ensemble): each fold's networks are rows of the stack, their
        # outputs averaged per fold; each member has its own initialization and order of batches.
        self.k = k = max(1, int(folds[0]["params"].get("members", 1)))
        params = {key: v for key, v in folds[0]["params"].items() if key != "members"}
        self.task, self.n_folds = data.task, len(folds)

        def padded(X: np.ndarray) -> np.ndarray:
            return X if X.shape[1] == width else np.pad(X, ((0, 0), (0, width - X.shape[1])))

        arrays = [
            FoldArrays(
                padded(f["X_fit"]),
                f["y_fit"],
                padded(f["X_train"]),
                f["y_train"],
                padded(f["X_val"]),
                f["y_val"],
            )
            for f in folds
            for _ in range(k)
        ]
        self.fit = BatchedFit(
            params,
            arrays,
            task=data.task,
            n_classes=data.n_classes,
            seeds=[f["seed"] + 7919 * m for f in folds for m in range(k)],  # member 0: the fold's own seed
            model_family=folds[0]["family"],
            device=device,
        )
        self.n_params = folds[0].get("n_params") or self.fit.n_params * k

    @staticmethod
    def fits(folds: list[dict[str, Any]]) -> bool:
        return all("X_fit" in f and f.get("fit") is None for f in folds) and supports_batching(
            folds[0]["params"], folds[0]["family"]
        )

    def step(self, active: np.ndarray) -> Stepped:
        k = self.k
        self.fit.epoch(np.repeat(np.asarray(active, dtype=bool), k))
        out_train, out_val = self.fit.outputs()
        if k > 1:  # each fold's members averaged: probabilities, or predictions in target units
            out_train = [np.mean(out_train[f * k : (f + 1) * k], axis=0) for f in range(self.n_folds)]
            out_val = [np.mean(out_val[f * k : (f + 1) * k], axis=0) for f in range(self.n_folds)]
        losses = [
            validation_loss(out_val[f], self.fit._y_val[f * k], self.task, self.fit.scales[f * k])
            for f in range(self.n_folds)
        ]
        return {
            int(f): (out_train[f], out_val[f], float(losses[f]), int(self.fit.epochs_done[f * k]))
            for f in np.flatnonzero(active)
        }

    def fold_network(self, f: int) -> tuple[Any, TargetScale]:
        """Fold f's network as it is now (in eval mode, on the CPU), and its target scale. A fold whose
        encoding is narrower than the stacked width gets its own width back: the padded inputs' weights
        only ever met zeros."""
        members = [
            self._narrowed(self.fit.fold_module(f * self.k + m).cpu().eval(), f) for m in range(self.k)
        ]
        if self.k == 1:
            return members[0], self.fit.scales[f]
        from automl.models.tabular import Members

        return Members(members).eval(), self.fit.scales[f * self.k]

    def _narrowed(self, module: Any, f: int) -> Any:
        width = self.widths[f]
        first = next(m for m in module.modules() if hasattr(m, "in_features"))
        if first.in_features != width:
            import torch

            with torch.no_grad():
                narrowed = torch.nn.Linear(width, first.out_features)
                narrowed.weight.copy_(first.weight[:, :width])
                narrowed.bias.copy_(first.bias)
            _replace(module, first, narrowed)
        return module


def _replace(module: Any, old: Any, new: Any) -> None:
    for name, child in module.named_children():
        if child is old:
            setattr(module, name, new)
            return
        _replace(child, old, new)


def engine_for(folds: list[dict[str, Any]], data: Any, device: str) -> Any:
    """What trains a trial's folds: the table family's own engine (a convex fit, boosted trees), else one
    batched network of every fold, else a fit per fold."""
    name = folds[0].get("table_family")
    if name is not None:
        engine = FAMILIES.entry(name).obj.engine(folds, data, device)
        if engine is not None:
            return engine
    return Batched(folds, data, device) if Batched.fits(folds) else PerFold(folds, data, device)


def fold_repeats(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> list[int]:
    """The CV repeat of each fold: every row is validated once per repeat, folds in repeat order."""
    seen, repeats = 0, []
    for _, val in folds:
        repeats.append(seen // max(n_rows, 1))
        seen += len(val)
    return repeats


def out_of_fold_epochs(best_epochs: list[int], epochs_run: list[int]) -> list[int]:
    """For each fold, the epoch whose validation predictions become its out-of-fold predictions: the
    rounded mean best epoch of the OTHER folds (the refit trains for the mean of all of them), so no
    fold's predictions are taken at an epoch chosen on its own validation rows."""
    picked = []
    for f, run in enumerate(epochs_run):
        others = [b for j, b in enumerate(best_epochs) if j != f] or best_epochs
        picked.append(int(min(max(1, round(float(np.mean(others)))), max(run, 1))))
    return picked


def out_of_fold(
    val_outputs: list[list[np.ndarray]],
    folds: list[tuple[np.ndarray, np.ndarray]],
    epochs: list[int],
    n_rows: int,
    n_classes: int,
) -> np.ndarray:
    """Out-of-fold predictions (repeats, rows, classes) or (repeats, rows) at each fold's `epochs`."""
    repeats = fold_repeats(folds, n_rows)
    shape = (max(repeats) + 1, n_rows) + ((n_classes,) if n_classes else ())
    oof = np.full(shape, np.nan, dtype=np.float32)
    for f, (_, val) in enumerate(folds):
        oof[repeats[f], val] = val_outputs[f][epochs[f] - 1]
    return oof


def signal_metric(metric: Metric, task: str) -> Metric:
    """What the search is steered by and the rule bands on: the log loss for classification (a proper
    scoring rule: it does not saturate at 1.00 on tiny folds as accuracy does), the study's metric
    for regression."""
    return get_metric("log_loss") if task == "classification" else metric


def fold_signal(
    outputs: list[np.ndarray], y_val: list[np.ndarray], metric: Metric, n_classes: int
) -> tuple[float, float, float]:
    """(objective, its spread over folds, the study's metric): `metric`'s signal (larger = better) of
    each fold's validation outputs, averaged over folds, and the study's own score of the same
    outputs, averaged too."""
    steer = signal_metric(metric, metric.task)
    signal = np.array([steer.sign() * steer(y, o, n_classes) for o, y in zip(outputs, y_val, strict=True)])
    score = float(np.mean([metric(y, o, n_classes) for o, y in zip(outputs, y_val, strict=True)]))
    spread = float(signal.std(ddof=1)) if len(signal) > 1 else 0.0
    return float(signal.mean()), spread, score


def oof_signal(
    val_outputs: list[list[np.ndarray]],
    y_val: list[np.ndarray],
    best_epochs: list[int],
    metric: Metric,
    n_classes: int,
) -> tuple[float, float, float]:
    """`fold_signal` of the out-of-fold outputs: each fold at the mean best epoch of the others so far."""
    epochs = out_of_fold_epochs(best_epochs, [len(v) for v in val_outputs])
    outputs = [v[e - 1] for v, e in zip(val_outputs, epochs, strict=True)]
    return fold_signal(outputs, y_val, metric, n_classes)
