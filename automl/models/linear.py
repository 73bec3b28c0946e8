"""The `linear` table family: L2-regularized logistic regression (classification) or ridge regression,
fitted to convergence on each fold by scikit-learn (L-BFGS / a closed form), its strength searched
(`linear_c`, the inverse of the L2 penalty, as scikit-learn's C).

A convex fit has one optimum, so a trial is one "epoch": no learning rate, batch size or early stopping
to search, and on a few dozen rows no SGD noise either. Its folds' synthetic rows and class weights
(as sample weights) are those of every family. Each fold's fit is exported as the linear network the
`mlp` family builds at depth 0 (class logits z = W x + b, a softmax of which is scikit-learn's
`predict_proba`), so exported linear models need no format of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.models.families import TableFamily, register_family

ABSENT_LOGIT = -30.0  # a class missing from a fold's training part: its probability is ~1e-13


@register_family
class Linear(TableFamily):
    name = "linear"
    description = "L2-regularized logistic or ridge regression, fitted to convergence on each fold"
    params = ("linear_c",)
    stops_early = False
    max_epochs = 1

    def is_simple(self, config: dict[str, Any]) -> bool:
        return True

    def engine(self, folds: list[dict[str, Any]], data: Any, device: str) -> LinearFits:
        return LinearFits(folds, data)


class LinearFits:
    """One convex fit per fold; the first `step` fits them all, later steps change nothing."""

    def __init__(self, folds: list[dict[str, Any]], data: Any) -> None:
        from automl.train.loop import TargetScale

        self.folds, self.task, self.n_classes = folds, data.task, data.n_classes
        self.c = float(folds[0]["params"].get("linear_c", 1.0))
        self.weights: list[tuple[np.ndarray, np.ndarray]] = []  # per fold: (W (outputs, inputs), b)
        self.scales = [TargetScale() for _ in folds]
        self.n_params = 0
        self.epochs_done = 0

    def _fit(self, fold: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        X, y = np.asarray(fold["X_fit"], dtype=np.float64), np.asarray(fold["y_fit"])
        if fold["params"].get("standardize"):  # raw features (an image backbone's): scaled for the fit
            mean, std = X.mean(axis=0), X.std(axis=0)
            std = np.where(std > 1e-12, std, 1.0)
            W, b = self._fit_scaled(fold, (X - mean) / std, y)
            return W / std, b - (W / std) @ mean  # the same model on the unscaled features
        return self._fit_scaled(fold, X, y)

    def _fit_scaled(
        self, fold: dict[str, Any], X: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression, Ridge

        from automl.train.loop import class_weights

        weights = class_weights(y, self.n_classes, fold["params"].get("class_weight", "none"))
        sample_weight = None if weights is None else weights.numpy()[y.astype(int)]
        if self.task == "regression":
            model = Ridge(alpha=1.0 / self.c).fit(X, y, sample_weight=sample_weight)
            return model.coef_.reshape(1, -1), np.array([model.intercept_], dtype=np.float64)
        present = np.unique(y).astype(int)
        W = np.zeros((self.n_classes, X.shape[1]))
        b = np.full(self.n_classes, ABSENT_LOGIT)
        if len(present) == 1:  # one class in the training part: it is always predicted
            b[present[0]] = 0.0
            return W, b
        model = LogisticRegression(C=self.c, max_iter=1000).fit(X, y, sample_weight=sample_weight)
        if len(present) == 2:  # scikit-learn's binary model: sigmoid(z) = softmax([0, z])[1]
            b[present] = [0.0, float(model.intercept_[0])]
            W[present[1]] = model.coef_[0]
        else:
            W[present], b[present] = model.coef_, model.intercept_
        return W, b

    def step(self, active: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, float, int]]:
        from automl.train.loop import validation_loss

        if not self.weights:
            self.weights = [self._fit(fold) for fold in self.folds]
            self.n_params = int(sum(W.size + b.size for W, b in self.weights) / len(self.weights))
        self.epochs_done += 1
        done = {}
        for f in np.flatnonzero(active):
            fold = self.folds[f]
            out_train, out_val = self._output(f, fold["X_train"]), self._output(f, fold["X_val"])
            loss = validation_loss(out_val, fold["y_val"], self.task, self.scales[f])
            done[int(f)] = (out_train, out_val, loss, self.epochs_done)
        return done

    def _output(self, f: int, X: np.ndarray) -> np.ndarray:
        W, b = self.weights[f]
        z = np.asarray(X, dtype=np.float64) @ W.T + b
        if self.task == "regression":
            return z[:, 0]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def fold_network(self, f: int) -> tuple[Any, Any]:
        """Fold f's fit as the `mlp` family's linear network (depth 0), in eval mode."""
        import torch

        W, b = self.weights[f]
        layer = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
            layer.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        return torch.nn.Sequential(layer).eval(), self.scales[f]
