"""One image network fitted on one fold's training images, an epoch at a time.

`ImageFit` has the interface of `train.loop.NetworkFit` (`model`, `epochs_done`, `scale`,
`epoch()`, `output(images)`), so the trainable's fold loop, early stopping and reporting are the
tabular ones. It trains the backbone (some or all of its stages) and the head on uint8 images,
augmenting the training images each epoch; linear probes without augmentation never get here: they
train the head alone on cached features (see image/trainable.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from automl.image.augment import Augmenter
from automl.image.backbone_specs import backbone_spec
from automl.image.network import autocast, build_network, frozen_stages, to_tensor, trains_backbone
from automl.image.weights import WeightsSource
from automl.train.loop import TargetScale, shuffled_pass

EVAL_BATCH = 64


class ImageFit:
    """A network, its optimizer and its training images; `epoch()` trains one pass over them."""

    def __init__(
        self,
        config: dict[str, Any],
        images: np.ndarray,
        y: np.ndarray,
        *,
        n_classes: int,
        seed: int,
        weights: WeightsSource | None,
        image_size: int | None = None,
        augmenter: Augmenter | None = None,
        device: str = "cpu",
    ) -> None:
        self.device = device
        self.task = "classification"
        self.scale = TargetScale()
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.model = build_network(config, n_classes, image_size=image_size, weights=weights).to(device)
        self.model.backbone.freeze_first(frozen_stages(config, self.model.backbone))
        if device.startswith("cuda"):
            self.model = self.model.to(memory_format=torch.channels_last)
        self.augmenter = None if augmenter is None or augmenter.is_identity else augmenter
        self.images = images
        # Small data stays on the device when there is nothing to do to it on the CPU per epoch.
        self.images_on_device = (
            torch.from_numpy(np.ascontiguousarray(images)).to(device) if self.augmenter is None else None
        )  # uint8: a quarter of the memory of floats; converted per batch
        self.y = torch.as_tensor(y, dtype=torch.long, device=device)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=float(config.get("label_smoothing", 0.0)))
        lr = float(config.get("lr", 1e-3))
        # A pretrained backbone learns more slowly than the new head; a from-scratch one at the head's rate.
        mult = (
            float(config.get("backbone_lr_mult", 0.1))
            if backbone_spec(config["backbone"]).pretrained
            else 1.0
        )
        backbone_params = [p for p in self.model.backbone.parameters() if p.requires_grad]
        groups = [{"params": list(self.model.head.parameters()), "lr": lr}]
        if backbone_params and trains_backbone(config):
            groups.append({"params": backbone_params, "lr": lr * mult})
        self.optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=float(config.get("l2", 0.0)))
        self.l1 = float(config.get("l1", 0.0))
        self.batch_size = max(2, min(int(config.get("batch_size", 16)), len(images)))
        self.epochs_done = 0

    def _batch(self, idx: torch.Tensor) -> torch.Tensor:
        if self.images_on_device is not None:
            x = self.images_on_device[idx.to(self.device)].permute(0, 3, 1, 2).float().div_(255.0)
        else:
            x = to_tensor(self.augmenter.batch(self.images[idx.numpy()]), self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.device.startswith("cuda") else x

    def _l1_penalty(self) -> torch.Tensor:
        weights = [m.weight for m in self.model.head.modules() if isinstance(m, nn.Linear)]
        return self.l1 * sum(w.abs().sum() for w in weights)

    def epoch(self) -> float:
        """One shuffled, augmented pass over the training images; returns the mean training loss."""
        self.model.train()

        def batch_loss(idx: torch.Tensor) -> torch.Tensor:
            with autocast(self.device):
                out = self.model(self._batch(idx))
            loss = self.loss_fn(out.float(), self.y[idx.to(self.device)])
            return loss + self._l1_penalty() if self.l1 > 0 else loss

        mean_loss = shuffled_pass(
            len(self.images), self.batch_size, self.generator, self.optimizer, batch_loss
        )
        self.epochs_done += 1
        return mean_loss

    @torch.no_grad()
    def output(self, images: np.ndarray) -> np.ndarray:
        return network_output(self.model, images, self.device)


@torch.no_grad()
def network_output(model: nn.Module, images: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Class probabilities (float64, rows summing to 1) of uint8 images, in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(images), EVAL_BATCH):
        x = to_tensor(images[start : start + EVAL_BATCH], device)
        with autocast(device):
            out.append(model(x).float().cpu())
    proba = torch.softmax(torch.cat(out).double(), dim=1).numpy()
    return proba / proba.sum(axis=1, keepdims=True)
