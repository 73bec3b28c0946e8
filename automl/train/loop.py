"""One network fitted on one training set, an epoch at a time.

The trainable drives one `NetworkFit` per fold in lockstep so that every epoch it can report the
mean and spread over folds; the final refit drives one for a fixed number of epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from automl.models import build_model


@dataclass
class TargetScale:
    """Regression targets are standardized with the training part's mean and std."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, y: np.ndarray, task: str) -> TargetScale:
        if task != "regression":
            return cls()
        std = float(np.std(y))
        return cls(float(np.mean(y)), std if std > 1e-12 else 1.0)


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> torch.Tensor | None:
    """'balanced': n / (k * count) per class, as in scikit-learn; 'none': no weights."""
    if mode == "none" or n_classes == 0:
        return None
    counts = np.bincount(y.astype(int), minlength=n_classes).astype(float)
    weights = len(y) / (n_classes * np.clip(counts, 1, None))
    return torch.tensor(weights, dtype=torch.float32)


def model_output(
    model: nn.Module, X: np.ndarray | torch.Tensor, task: str, scale: TargetScale, device: str = "cpu"
) -> np.ndarray:
    """Class probabilities (classification) or predictions in target units (regression)."""
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(X, dtype=torch.float32, device=device)).cpu()
    if task == "classification":
        proba = torch.softmax(out.double(), dim=1).numpy()
        return proba / proba.sum(axis=1, keepdims=True)
    return out[:, 0].numpy().astype(np.float64) * scale.std + scale.mean


class NetworkFit:
    """A network, its optimizer and its training rows; `epoch()` trains one pass over them."""

    def __init__(
        self,
        params: dict[str, Any],
        X: np.ndarray,
        y: np.ndarray,
        *,
        task: str,
        n_classes: int,
        seed: int,
        model_family: str = "mlp",
        device: str = "cpu",
    ) -> None:
        self.task = task
        self.device = device
        self.n_classes = n_classes
        self.params = params
        self.scale = TargetScale.fit(y, task)
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        n_outputs = n_classes if task == "classification" else 1
        self.model = build_model(model_family, X.shape[1], n_outputs, params).to(device)
        # Small data stays on the device for the whole fit.
        self.X = torch.as_tensor(X, dtype=torch.float32, device=device)
        if task == "classification":
            self.y = torch.as_tensor(y, dtype=torch.long, device=device)
            weights = class_weights(y, n_classes, params.get("class_weight", "none"))
            self.loss_fn: nn.Module = nn.CrossEntropyLoss(
                weight=None if weights is None else weights.to(device),
                label_smoothing=float(params.get("label_smoothing", 0.0)),
            )
        else:
            self.y = torch.as_tensor(
                (y - self.scale.mean) / self.scale.std, dtype=torch.float32, device=device
            )
            self.loss_fn = nn.MSELoss()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=float(params.get("lr", 1e-3)),
            weight_decay=float(params.get("l2", 0.0)),
        )
        self.l1 = float(params.get("l1", 0.0))
        self.batch_size = max(1, min(int(params.get("batch_size", 32)), len(X)))
        self.epochs_done = 0

    def _l1_penalty(self) -> torch.Tensor:
        weights = [m.weight for m in self.model.modules() if isinstance(m, nn.Linear)]
        return self.l1 * sum(w.abs().sum() for w in weights)

    def epoch(self) -> float:
        """One shuffled pass over the training rows; returns the mean training loss."""
        self.model.train()

        def batch_loss(idx: torch.Tensor) -> torch.Tensor:
            idx = idx.to(self.device)
            out = self.model(self.X[idx])
            loss = self.loss_fn(out if self.task == "classification" else out[:, 0], self.y[idx])
            return loss + self._l1_penalty() if self.l1 > 0 else loss

        mean_loss = shuffled_pass(len(self.X), self.batch_size, self.generator, self.optimizer, batch_loss)
        self.epochs_done += 1
        return mean_loss

    def output(self, X: np.ndarray) -> np.ndarray:
        return model_output(self.model, X, self.task, self.scale, self.device)


def shuffled_pass(
    n: int,
    batch_size: int,
    generator: torch.Generator,
    optimizer: torch.optim.Optimizer,
    batch_loss,
) -> float:
    """One optimizer step per shuffled mini-batch of `n` rows; returns the mean loss.
    `batch_loss(idx)` gives the loss of the rows `idx` (a CPU index tensor)."""
    order = torch.randperm(n, generator=generator)
    total, batches = 0.0, 0
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if len(idx) < 2 and n > 1:  # a single row breaks batch norm and adds only noise
            continue
        loss = batch_loss(idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)


class EarlyStopping:
    """Tracks the epoch with the lowest validation loss; stops after `patience` epochs without one.
    With `keep_state` it also keeps that epoch's weights (a trial never restores them: it only
    needs the scores and the epoch)."""

    def __init__(self, patience: int, keep_state: bool = True) -> None:
        self.patience = patience
        self.keep_state = keep_state
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_scores: tuple[float, float] | None = None
        self.stopped = False

    def observe(self, epoch: int, val_loss: float, scores: tuple[float, float]) -> bool:
        """Record epoch `epoch`'s validation loss and (train, val) scores; True when it is the best yet."""
        if not np.isfinite(val_loss):  # diverged (too high a learning rate): stop with what there is
            if self.best_scores is None:
                self.best_epoch, self.best_scores = epoch, scores
            self.stopped = True
        elif val_loss < self.best_loss - 1e-7:
            self.best_loss, self.best_epoch, self.best_scores = val_loss, epoch, scores
            return True
        elif epoch - self.best_epoch >= self.patience:
            self.stopped = True
        return False

    def update(self, fit: NetworkFit, val_loss: float, scores: tuple[float, float]) -> None:
        if self.observe(fit.epochs_done, val_loss, scores) and self.keep_state:
            self.best_state = {k: v.detach().clone() for k, v in fit.model.state_dict().items()}

    def restore(self, fit: NetworkFit) -> None:
        if self.best_state is not None:
            fit.model.load_state_dict(self.best_state)


def validation_loss(output: np.ndarray, y: np.ndarray, task: str, scale: TargetScale) -> float:
    """Log loss (classification) or MSE in standardized units (regression): the early-stopping signal."""
    if task == "classification":
        return float(-np.mean(np.log(np.clip(output[np.arange(len(y)), y.astype(int)], 1e-7, 1.0))))
    return float(np.mean(((output - y) / scale.std) ** 2))


def fit_fixed_epochs(
    params: dict[str, Any], X: np.ndarray, y: np.ndarray, *, task: str, n_classes: int, epochs: int, seed: int
) -> NetworkFit:
    """Train for a fixed number of epochs (the final refit, where no validation rows are left)."""
    fit = NetworkFit(params, X, y, task=task, n_classes=n_classes, seed=seed)
    for _ in range(max(1, epochs)):
        fit.epoch()
    return fit
