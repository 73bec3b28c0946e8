"""All folds of one trial trained as one batched network.

A trial trains the same configuration on every inner fold (5 folds x 2 repeats on small tables). On a
100-row table each fold's arithmetic takes microseconds, so a Python loop of mini-batches per fold is
mostly interpreter and dispatcher overhead. `BatchedFit` stacks the folds' weights along a leading
fold dimension and runs every fold's mini-batch in one batched matmul (`torch.baddbmm`), one backward
and one AdamW step, so the per-step overhead is paid once per trial instead of once per fold.

Per fold it keeps `NetworkFit`'s semantics: the same initial weights (each fold's module is built by
`build_model` after `torch.manual_seed(seeds[f])`), the same shuffled order (a generator seeded with
`seeds[f]`), batch size clipped to the fold's rows, a trailing 1-row batch skipped, per-fold class
weights, label smoothing, target scale, L1 on Linear weights and AdamW with weight decay. Folds with
fewer mini-batches are padded and masked: a masked fold takes no optimizer step (no parameter, moment,
step-count, weight-decay or batch-norm-statistics change). Without dropout a fold trains as its own
`NetworkFit` would, up to float rounding; dropout masks come from one generator for the whole trial.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from automl.errors import invalid_parameter
from automl.models import build_model, count_parameters
from automl.train.loop import TargetScale, class_weights, validation_loss

BATCHED_FAMILIES = ("mlp", "image_head")
_BETAS = (0.9, 0.999)  # torch.optim.AdamW defaults, as NetworkFit uses them
_ADAM_EPS = 1e-8
_BN_MOMENTUM = 0.1


@dataclass
class FoldArrays:
    """One fold's preprocessed rows (float32 features)."""

    X_fit: np.ndarray  # the rows the network learns from (real + synthetic)
    y_fit: np.ndarray
    X_train: np.ndarray  # the real training rows: the train score is measured on these
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def supports_batching(params: dict[str, Any], model_family: str) -> bool:
    """Whether `BatchedFit` can train this configuration (the stacked MLP families)."""
    return model_family in BATCHED_FAMILIES


@dataclass
class _Layer:
    """One step of the stacked network: 'linear', 'bn', 'act' or 'dropout'."""

    kind: str
    params: tuple[int, ...] = ()  # indices into BatchedFit._tensors (weight, bias)
    module: nn.Module | None = None  # the activation
    p: float = 0.0  # dropout rate
    bn: int = -1  # index into the running statistics


class BatchedFit:
    """Every fold's network, optimizer state and rows; `epoch(active)` trains the active folds once."""

    def __init__(
        self,
        params: dict[str, Any],
        folds: list[FoldArrays],
        *,
        task: str,
        n_classes: int,
        seeds: list[int],
        model_family: str = "mlp",
        device: str = "cpu",
    ) -> None:
        if not supports_batching(params, model_family):
            raise invalid_parameter(
                "model_family", "BatchedFit", f"one of {', '.join(BATCHED_FAMILIES)}", model_family
            )
        if not folds or len(seeds) != len(folds):
            raise invalid_parameter("seeds", "BatchedFit", f"one seed per fold ({len(folds)})", seeds)
        self.params, self.task, self.n_classes, self.device = params, task, n_classes, device
        self.model_family = model_family
        self.n_folds = F = len(folds)
        self.n_inputs = folds[0].X_fit.shape[1]
        self.n_outputs = n_classes if task == "classification" else 1
        self.scales = [TargetScale.fit(fold.y_fit, task) for fold in folds]
        self._y_val = [np.asarray(fold.y_val) for fold in folds]
        modules = []
        for seed in seeds:  # each fold's init exactly as NetworkFit draws it, global RNG left as it was
            with torch.random.fork_rng(devices=[]):
                # The CPU generator alone (the models are built on the CPU): torch.manual_seed also
                # queues a seed for every accelerator backend, recording a stack trace for each (0.3 ms).
                torch.random.default_generator.manual_seed(seed)
                modules.append(build_model(model_family, self.n_inputs, self.n_outputs, params))
        self._template = modules[0]
        self.n_params = count_parameters(self._template)
        self._build_layers(modules)

        # Training rows of all folds, concatenated; a mini-batch is a (fold, row) gather from them.
        self._rows = np.array([len(fold.X_fit) for fold in folds])
        self._offsets = np.concatenate([[0], np.cumsum(self._rows)[:-1]])
        self._batch = np.maximum(1, np.minimum(int(params.get("batch_size", 32)), self._rows))
        self._generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self._X_fit = torch.as_tensor(
            np.vstack([fold.X_fit for fold in folds]), dtype=torch.float32, device=device
        )
        if task == "classification":
            self._y_fit = torch.as_tensor(
                np.concatenate([fold.y_fit for fold in folds]), dtype=torch.long, device=device
            )
            weights = [
                class_weights(fold.y_fit, n_classes, params.get("class_weight", "none")) for fold in folds
            ]
            self._class_w = torch.stack([torch.ones(n_classes) if w is None else w for w in weights]).to(
                device
            )  # (F, C); ones give the unweighted loss
        else:
            standardized = [(fold.y_fit - s.mean) / s.std for fold, s in zip(folds, self.scales, strict=True)]
            self._y_fit = torch.as_tensor(np.concatenate(standardized), dtype=torch.float32, device=device)
        self.label_smoothing = float(params.get("label_smoothing", 0.0))
        self.lr = float(params.get("lr", 1e-3))
        self.weight_decay = float(params.get("l2", 0.0))
        self.l1 = float(params.get("l1", 0.0))

        # Evaluation rows: per fold [X_train; X_val], padded to the longest fold.
        self._n_train = [len(fold.X_train) for fold in folds]
        self._n_val = [len(fold.X_val) for fold in folds]
        n_eval = max(a + b for a, b in zip(self._n_train, self._n_val, strict=True))
        X_eval = np.zeros((F, n_eval, self.n_inputs), np.float32)
        for f, fold in enumerate(folds):
            X_eval[f, : self._n_train[f]] = fold.X_train
            X_eval[f, self._n_train[f] : self._n_train[f] + self._n_val[f]] = fold.X_val
        self._X_eval = torch.as_tensor(X_eval, device=device)

        self._m = torch.zeros_like(self.theta)  # AdamW moments, laid out as theta
        self._v = torch.zeros_like(self.theta)
        self._steps = np.zeros(F)  # optimizer steps taken, per fold
        self.epochs_done = np.zeros(F, dtype=int)
        seed_state = np.random.SeedSequence([int(s) for s in seeds]).generate_state(1)[0]
        self._dropout_gen = torch.Generator(device=device).manual_seed(int(seed_state))
        self._keys = list(self._template.state_dict().keys())
        self._kept: tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], np.ndarray] | None = None
        self._kept_folds = np.zeros(F, dtype=bool)

    # -- the stacked parameters ------------------------------------------------------------------

    def _build_layers(self, modules: list[nn.Module]) -> None:
        """Lay out every fold's parameters in one (folds, n_params) tensor `theta` and list the layers.

        Row f of theta holds fold f's parameters; each parameter is a column block of theta, exposed as
        a leaf view (F, *shape) in `_tensors`: autograd gives one gradient per parameter (no scatter into
        a big tensor), and one AdamW update on theta, with per-fold scalars as (F, 1) columns, covers
        every parameter of every fold."""
        blocks: list[torch.Tensor] = []  # per parameter, the folds' copies stacked: (F, *shape)
        self._layers: list[_Layer] = []
        running_mean, running_var = [], []

        def add(tensors: list[torch.Tensor]) -> int:
            blocks.append(torch.stack([t.detach() for t in tensors]))
            return len(blocks) - 1

        per_fold = [list(m.modules()) for m in modules]
        for i, layer in enumerate(per_fold[0]):
            copies = [mods[i] for mods in per_fold]
            if isinstance(layer, nn.Linear | nn.BatchNorm1d):
                spec = (add([c.weight for c in copies]), add([c.bias for c in copies]))
                if isinstance(layer, nn.Linear):
                    self._layers.append(_Layer("linear", spec))
                else:
                    self._layers.append(_Layer("bn", spec, bn=len(running_mean)))
                    running_mean.append(torch.stack([c.running_mean for c in copies]).to(self.device))
                    running_var.append(torch.stack([c.running_var for c in copies]).to(self.device))
            elif isinstance(layer, nn.Dropout):
                if layer.p > 0:
                    self._layers.append(_Layer("dropout", p=float(layer.p)))
            elif not isinstance(layer, nn.Sequential):
                self._layers.append(_Layer("act", module=layer))
        self.theta = torch.cat([b.reshape(self.n_folds, -1) for b in blocks], dim=1).to(self.device)
        self._tensors: list[torch.Tensor] = []
        self._columns: list[tuple[int, int, tuple[int, ...]]] = []  # (start, size, one fold's shape)
        offset = 0
        for block in blocks:
            size = block[0].numel()
            view = self.theta[:, offset : offset + size].view(block.shape)
            self._tensors.append(view.requires_grad_(True))
            self._columns.append((offset, size, tuple(block.shape[1:])))
            offset += size
        self._running_mean, self._running_var = running_mean, running_var
        self._linear_weights = [
            self._tensors[layer.params[0]] for layer in self._layers if layer.kind == "linear"
        ]

    def _forward(
        self, x: torch.Tensor, rows: torch.Tensor | None, stepping: torch.Tensor | None
    ) -> torch.Tensor:
        """(F, B, n_inputs) -> (F, B, n_outputs). Training when `rows` (F, B) marks each fold's real rows
        (batch statistics over them; running statistics updated where `stepping`); eval when None."""
        h = x
        for layer in self._layers:
            if layer.kind == "linear":
                weight, bias = (self._tensors[i] for i in layer.params)
                h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            elif layer.kind == "bn":
                gamma, beta = (self._tensors[i].unsqueeze(1) for i in layer.params)
                h = self._batch_norm(h, gamma, beta, layer.bn, rows, stepping)
            elif layer.kind == "dropout":
                if rows is not None:
                    keep = torch.empty_like(h).bernoulli_(1.0 - layer.p, generator=self._dropout_gen)
                    h = h * keep / (1.0 - layer.p)
            else:
                h = layer.module(h)
        return h

    def _batch_norm(
        self,
        h: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        index: int,
        rows: torch.Tensor | None,
        stepping: torch.Tensor | None,
    ) -> torch.Tensor:
        """BatchNorm1d per fold: batch statistics over a fold's real rows in training, running ones in eval."""
        eps = 1e-5
        running_mean, running_var = self._running_mean[index], self._running_var[index]
        if rows is None:
            return (h - running_mean.unsqueeze(1)) * torch.rsqrt(
                running_var.unsqueeze(1) + eps
            ) * gamma + beta
        weight = rows.unsqueeze(2)  # (F, B, 1)
        n = weight.sum(1, keepdim=True).clamp_min(1.0)
        mean = (h * weight).sum(1, keepdim=True) / n
        centred = (h - mean) * weight
        var = (centred * centred).sum(1, keepdim=True) / n
        with torch.no_grad():
            unbiased = var * (n / (n - 1).clamp_min(1.0))
            m = stepping.to(h.dtype).view(-1, 1) * _BN_MOMENTUM
            running_mean.mul_(1 - m).add_(m * mean.squeeze(1))
            running_var.mul_(1 - m).add_(m * unbiased.squeeze(1))
        return (h - mean) * torch.rsqrt(var + eps) * gamma + beta

    # -- training --------------------------------------------------------------------------------

    def _plan(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's mini-batches: row indices (steps, F, B) into the concatenated rows, and a mask of
        the real ones. A fold with fewer batches (or an inactive fold) is masked out on the missing steps."""
        n_steps = np.where(self._rows > 1, self._rows // self._batch + (self._rows % self._batch >= 2), 1)
        steps = int(max(n_steps[active].max(initial=0), 0))
        width = int(self._batch[active].max(initial=1))
        index = np.repeat(self._offsets[None, :, None], steps, axis=0).repeat(width, axis=2)
        mask = np.zeros(index.shape, np.float32)
        for f in np.flatnonzero(active):
            order = (
                torch.randperm(int(self._rows[f]), generator=self._generators[f]).numpy() + self._offsets[f]
            )
            bs, full = int(self._batch[f]), int(self._rows[f] // self._batch[f])
            index[:full, f, :bs] = order[: full * bs].reshape(full, bs)
            mask[:full, f, :bs] = 1.0
            rest = len(order) - full * bs
            if rest >= 2:
                index[full, f, :rest] = order[full * bs :]
                mask[full, f, :rest] = 1.0
        return index, mask

    def _loss(self, out: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Sum over folds of each fold's mean loss on its real rows (so each fold's gradient is its own)."""
        if self.task != "classification":
            n = rows.sum(1).clamp_min(1.0)
            return (((out[..., 0] - y) ** 2 * rows).sum(1) / n).sum()
        logp = torch.log_softmax(out, dim=2)
        w = self._class_w  # (F, C)
        w_rows = torch.gather(w, 1, y) * rows  # each row's class weight, 0 on padding
        denom = w_rows.sum(1).clamp_min(1e-12)
        nll = -torch.gather(logp, 2, y.unsqueeze(2)).squeeze(2)
        loss = (1.0 - self.label_smoothing) * (w_rows * nll).sum(1) / denom
        if self.label_smoothing > 0:
            smooth = -(logp * w.unsqueeze(1)).sum(2) * rows
            loss = loss + self.label_smoothing / self.n_classes * smooth.sum(1) / denom
        return loss.sum()

    def _adamw_scalars(self, stepping: np.ndarray) -> torch.Tensor:
        """Per step and fold of this epoch: (step size, sqrt of the second bias correction, steps or not),
        as (steps, 3, F, 1) on the device in one transfer; advances the folds' step counts."""
        b1, b2 = _BETAS
        t = self._steps + np.cumsum(stepping, axis=0)  # each fold's step number at each step
        self._steps = t[-1].copy()
        t = np.maximum(t, 1.0)
        scalars = np.stack([self.lr / (1 - b1**t), np.sqrt(1 - b2**t), stepping], axis=1).astype(np.float32)
        return torch.as_tensor(scalars, device=self.device).unsqueeze(3)

    def _adamw(self, grad: torch.Tensor, scalars: torch.Tensor, all_step: bool) -> None:
        """torch.optim.AdamW's update (default betas and eps) on theta, for the folds that step."""
        b1, b2 = _BETAS
        step_size, bc2_sqrt, on = scalars  # (F, 1) each
        with torch.no_grad():
            theta = self.theta
            decayed = theta * (1 - self.lr * self.weight_decay) if self.weight_decay else theta
            m = torch.lerp(self._m, grad, 1 - b1)
            v = torch.addcmul(self._v * b2, grad, grad, value=1 - b2)
            update = decayed - step_size * m / (v.sqrt() / bc2_sqrt + _ADAM_EPS)
            if all_step:
                theta.copy_(update)
                self._m, self._v = m, v
            else:  # where, not arithmetic masking: a frozen fold's inf or nan gradient must not leak in
                on = on > 0
                theta.copy_(torch.where(on, update, theta))
                self._m, self._v = torch.where(on, m, self._m), torch.where(on, v, self._v)

    def epoch(self, active: np.ndarray) -> None:
        """One shuffled mini-batch pass over each active fold's X_fit; inactive folds stay frozen."""
        active = np.asarray(active, dtype=bool)
        index, mask = self._plan(active)
        if len(index) == 0:
            return
        stepping = mask[:, :, 0] > 0  # (steps, F): the folds with a batch at each step
        index_t = torch.as_tensor(index, device=self.device)
        mask_t = torch.as_tensor(mask, device=self.device)
        stepping_t = torch.as_tensor(stepping, device=self.device)
        scalars = self._adamw_scalars(stepping)
        X_epoch, y_epoch = self._X_fit[index_t], self._y_fit[index_t]
        for s in range(len(index)):
            rows = mask_t[s]
            loss = self._loss(self._forward(X_epoch[s], rows, stepping_t[s]), y_epoch[s], rows)
            if self.l1 > 0:
                loss = loss + self.l1 * sum(w.abs().sum() for w in self._linear_weights)
            grads = torch.autograd.grad(loss, self._tensors)
            grad = torch.cat([g.reshape(self.n_folds, -1) for g in grads], dim=1)
            self._adamw(grad, scalars[s], bool(stepping[s].all()))
        self.epochs_done += active

    # -- evaluation ------------------------------------------------------------------------------

    def outputs(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per fold (output on X_train, output on X_val) in eval mode, as `loop.model_output` gives them."""
        with torch.no_grad():
            out = self._forward(self._X_eval, None, None)
            if self.task == "classification":
                values = torch.softmax(out.double(), dim=2).cpu().numpy()
                values = values / values.sum(axis=2, keepdims=True)
            else:
                raw = out[..., 0].cpu().numpy().astype(np.float64)
        train, val = [], []
        for f in range(self.n_folds):
            if self.task == "classification":
                fold = values[f]
            else:
                fold = raw[f] * self.scales[f].std + self.scales[f].mean
            a, b = self._n_train[f], self._n_train[f] + self._n_val[f]
            train.append(fold[:a])
            val.append(fold[a:b])
        return train, val

    def val_losses(self, val_outputs: list[np.ndarray]) -> np.ndarray:
        """Per fold, the early-stopping signal of `loop.validation_loss`."""
        return np.array(
            [
                validation_loss(o, y, self.task, s)
                for o, y, s in zip(val_outputs, self._y_val, self.scales, strict=True)
            ]
        )

    # -- export ----------------------------------------------------------------------------------

    def keep(self, folds: np.ndarray) -> None:
        """Checkpoint the current weights of the marked folds (e.g. those whose validation loss just
        improved), all in one copy on the device; `fold_state_dict(f, kept=True)` gives them back."""
        marked = np.asarray(folds, dtype=bool)
        theta, means, variances, steps = self._state()
        if self._kept is None:
            self._kept = (
                theta.clone(),
                [t.clone() for t in means],
                [t.clone() for t in variances],
                steps.copy(),
            )
            self._kept_folds = marked.copy()
            return
        mark = torch.as_tensor(marked, device=self.device).view(-1, 1)
        kept_theta, kept_means, kept_variances, kept_steps = self._kept
        kept_theta.copy_(torch.where(mark, theta, kept_theta))
        for kept, now in zip(kept_means + kept_variances, means + variances, strict=True):
            kept.copy_(torch.where(mark, now, kept))
        kept_steps[marked] = steps[marked]
        self._kept_folds |= marked

    def _state(self) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], np.ndarray]:
        return self.theta.detach(), self._running_mean, self._running_var, self._steps

    def fold_state_dict(self, f: int, kept: bool = False) -> dict[str, torch.Tensor]:
        """Fold f's weights (or, with `kept`, its last `keep` checkpoint) under the keys of its
        `build_model` module, as copies."""
        if kept and (self._kept is None or not self._kept_folds[f]):
            raise ValueError(f"fold {f} has no kept checkpoint: call keep() with it marked first")
        theta, means, variances, steps = self._kept if kept else self._state()
        values: list[torch.Tensor] = []
        for layer in self._layers:
            for i in layer.params:
                start, size, shape = self._columns[i]
                values.append(theta[f, start : start + size].view(shape).clone())
            if layer.kind == "bn":
                batches = torch.tensor(int(steps[f]), dtype=torch.long)
                values += [means[layer.bn][f].clone(), variances[layer.bn][f].clone(), batches]
        return dict(zip(self._keys, values, strict=True))

    def fold_optimizer_state(self, f: int) -> dict[str, torch.Tensor | float]:
        """Fold f's AdamW state: its moments (in theta's column order) and its step count."""
        return {
            "exp_avg": self._m[f].clone(),
            "exp_avg_sq": self._v[f].clone(),
            "step": float(self._steps[f]),
        }

    def fold_module(self, f: int, kept: bool = False) -> nn.Module:
        """Fold f's network as the plain module `build_model` makes, with fold f's weights loaded
        (with `kept`, those of its last `keep` checkpoint)."""
        module = copy.deepcopy(self._template).to(self.device)
        module.load_state_dict(self.fold_state_dict(f, kept))
        return module
