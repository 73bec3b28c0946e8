"""The `gbdt` table family: gradient-boosted trees (LightGBM), one booster per fold.

One "epoch" of the trial loop is `ROUNDS_PER_EPOCH` boosting rounds, so the loop's early stopping on each
fold's validation loss (patience in epochs), its out-of-fold predictions at the other folds' mean best
epoch, successive halving and the per-trial time cap apply to boosting rounds as they do to a network's
epochs; the fresh re-evaluation trains each fold for its search trial's mean best epoch. Features are
the fold's encoded rows (one-hot categories, imputed values with missing indicators); scaling changes
no tree. Class weights are sample weights. LightGBM was measured against CatBoost's defaults on the
small tables of the quality benchmark (benchmarks/RESULTS.md): as accurate there, and 20 to 100 times
cheaper per fit, which a search of hundreds of trials x 10 folds needs.

Exported without pickle: the booster's own text format, inside model.json (`BoosterNetwork`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.models.families import TableFamily, register_family

ROUNDS_PER_EPOCH = 10
MAX_BOOSTER_TEXT = 200 * 2**20  # characters of an exported booster: far beyond any small-data model


@register_family
class GBDT(TableFamily):
    name = "gbdt"
    description = "gradient-boosted trees (LightGBM), boosting rounds chosen by early stopping on each fold"
    params = ("gbdt_lr", "gbdt_leaves", "gbdt_min_leaf", "gbdt_l2", "gbdt_subsample", "gbdt_colsample")
    scaled = False

    def engine(self, folds: list[dict[str, Any]], data: Any, device: str) -> Boosters:
        return Boosters(folds, data)


def booster_params(config: dict[str, Any], task: str, n_classes: int, seed: int) -> dict[str, Any]:
    """LightGBM's settings for a trial's configuration: small-data friendly, single-threaded, deterministic."""
    if task == "regression":
        objective = {"objective": "regression"}
    elif n_classes == 2:
        objective = {"objective": "binary"}
    else:
        objective = {"objective": "multiclass", "num_class": n_classes}
    subsample = float(config.get("gbdt_subsample", 1.0))
    return {
        **objective,
        "learning_rate": float(config.get("gbdt_lr", 0.05)),
        "num_leaves": int(config.get("gbdt_leaves", 15)),
        "min_data_in_leaf": int(config.get("gbdt_min_leaf", 5)),
        "lambda_l2": float(config.get("gbdt_l2", 1.0)),
        "bagging_fraction": subsample,
        "bagging_freq": 1 if subsample < 1.0 else 0,
        "feature_fraction": float(config.get("gbdt_colsample", 1.0)),
        "min_data_in_bin": 1,  # a few dozen rows: every distinct value may be a split point
        "min_sum_hessian_in_leaf": 1e-6,
        "num_threads": 1,
        "seed": int(seed),
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


class BoosterNetwork:
    """A fitted booster as the exported table model's network: class probabilities or predictions (in
    standardized target units for regression, which the model's target scale undoes)."""

    def __init__(self, booster: Any, task: str, n_classes: int) -> None:
        self.booster, self.task, self.n_classes = booster, task, n_classes

    @classmethod
    def from_text(cls, text: str, task: str, n_classes: int) -> BoosterNetwork:
        import lightgbm as lgb

        return cls(lgb.Booster(model_str=text), task, n_classes)

    def text(self) -> str:
        return self.booster.model_to_string()

    @property
    def n_inputs(self) -> int:
        return int(self.booster.num_feature())

    def output(self, X: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.booster.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)
        if self.task == "regression":
            return raw
        if raw.ndim == 1:  # binary: the positive class's probability
            raw = np.stack([1.0 - raw, raw], axis=1)
        return raw / raw.sum(axis=1, keepdims=True)

    @property
    def n_params(self) -> int:
        """Trees x leaves per tree (at most): the values boosting fitted to this data. (Counting the leaves
        tree by tree means dumping the model, which costs more than the trial's training.)"""
        leaves = int(self.booster.params.get("num_leaves", 31)) if self.booster.params else 31
        return int(self.booster.num_trees()) * leaves


class Boosters:
    """One LightGBM booster per fold, boosted `ROUNDS_PER_EPOCH` rounds per step."""

    def __init__(self, folds: list[dict[str, Any]], data: Any) -> None:
        import lightgbm as lgb

        from automl.train.loop import TargetScale, class_weights

        self.folds, self.task, self.n_classes = folds, data.task, data.n_classes
        self.scales, self.boosters = [], []
        for fold in folds:
            y = np.asarray(fold["y_fit"])
            scale = TargetScale.fit(y, self.task)
            label = (y - scale.mean) / scale.std if self.task == "regression" else y.astype(int)
            weights = class_weights(y, self.n_classes, fold["params"].get("class_weight", "none"))
            params = booster_params(fold["params"], self.task, self.n_classes, fold["seed"])
            dataset = lgb.Dataset(
                np.asarray(fold["X_fit"], dtype=np.float64),
                label=label,
                weight=None if weights is None else weights.numpy()[y.astype(int)],
                params={"min_data_in_bin": 1, "verbose": -1},
                free_raw_data=False,
            )
            self.boosters.append(lgb.Booster(params, dataset))
            self.scales.append(scale)
        self.epochs_done = np.zeros(len(folds), dtype=int)

    @property
    def n_params(self) -> int:
        """Leaves per fold's booster so far, averaged over the folds."""
        return int(np.mean([self._network(f).n_params for f in range(len(self.folds))]))

    def step(self, active: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, float, int]]:
        from automl.train.loop import validation_loss

        done = {}
        for f in np.flatnonzero(active):
            fold, booster = self.folds[f], self.boosters[f]
            for _ in range(ROUNDS_PER_EPOCH):
                if booster.update():  # True: no split left to make (nothing more to learn)
                    break
            self.epochs_done[f] += 1
            network = self._network(f)
            out_train = self._scaled(f, network.output(fold["X_train"]))
            out_val = self._scaled(f, network.output(fold["X_val"]))
            loss = validation_loss(out_val, fold["y_val"], self.task, self.scales[f])
            done[int(f)] = (out_train, out_val, loss, int(self.epochs_done[f]))
        return done

    def _network(self, f: int) -> BoosterNetwork:
        return BoosterNetwork(self.boosters[f], self.task, self.n_classes)

    def _scaled(self, f: int, output: np.ndarray) -> np.ndarray:
        if self.task != "regression":
            return output
        return output * self.scales[f].std + self.scales[f].mean

    def fold_network(self, f: int) -> tuple[BoosterNetwork, Any]:
        return self._network(f), self.scales[f]
