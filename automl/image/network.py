"""The image network of a trial: resize + normalize, a (truncated) backbone, and a small head.

It takes float images in [0, 1], (B, 3, H, W) at the stored size, so an exported model needs no
preprocessing code of its own. The head is the tabular MLP family (depth 0 = a linear classifier),
so a linear probe on cached features trains exactly the module that the exported model uses
(a `NetworkFit` of the `image_head` family).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from automl.image.backbones import Backbone, backbone_spec, build_backbone, data_config
from automl.image.weights import WeightsSource
from automl.models import build_model

HEAD_FAMILY = "image_head"  # see automl/models/tabular.py


def head_params(config: dict[str, Any]) -> dict[str, Any]:
    """The MLP-family parameters of the head, from an image trial's config."""
    return {
        "depth": int(config.get("head_depth", 0)),
        "width": int(config.get("head_width", 128)),
        "activation": "relu",
        "dropout": float(config.get("dropout", 0.0)),
        "batch_norm": False,
    }


def input_size(backbone: str, image_size: int | None) -> int:
    """The backbone's pretrained input size, capped by the study's `image_size` when one is set."""
    native = int(data_config(backbone)["input_size"])
    return min(native, int(image_size)) if image_size else native


class Normalize(nn.Module):
    """Resize to the backbone's input size and normalize with its pretrained mean and std."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.size = int(size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
            )
        return (x - self.mean) / self.std


class ImageClassifier(nn.Module):
    """normalize -> backbone -> pooled features -> head (class logits)."""

    def __init__(self, normalize: Normalize, backbone: Backbone, head: nn.Module) -> None:
        super().__init__()
        self.normalize = normalize
        self.backbone = backbone
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_network(
    config: dict[str, Any],
    n_classes: int,
    *,
    image_size: int | None = None,
    weights: WeightsSource | None = None,
    pretrained: bool = True,
) -> ImageClassifier:
    """The trial's network; `pretrained=False` builds the architecture only (to load exported weights)."""
    name = config["backbone"]
    spec = backbone_spec(name)
    backbone = build_backbone(
        name,
        drop_stages=int(config.get("drop_stages", 0)),
        pretrained=pretrained and spec.pretrained,
        weights=weights,
        drop_path_rate=float(config.get("drop_path", 0.0)) if trains_backbone(config) else 0.0,
    )
    cfg = data_config(name)
    normalize = Normalize(input_size(name, image_size), tuple(cfg["mean"]), tuple(cfg["std"]))
    head = build_model(HEAD_FAMILY, backbone.out_dim, n_classes, head_params(config))
    return ImageClassifier(normalize, backbone, head)


def trains_backbone(config: dict[str, Any]) -> bool:
    """Whether any backbone weight is trained: always for a from-scratch backbone, else unless linear probe."""
    if not backbone_spec(config["backbone"]).pretrained:
        return True
    return config.get("transfer", "linear_probe") != "linear_probe"


def frozen_stages(config: dict[str, Any], backbone: Backbone) -> int:
    """How many backbone stage groups stay frozen: all (linear probe), the first K (partial), or none."""
    if not trains_backbone(config):
        return len(backbone.stage_groups())
    if config.get("transfer") == "partial" and backbone_spec(config["backbone"]).pretrained:
        return min(int(config.get("freeze_stages", 1)), len(backbone.stage_groups()) - 1)
    return 0


def uses_feature_cache(config: dict[str, Any]) -> bool:
    """A frozen backbone whose input is never augmented: its features are computed once and shared."""
    return not trains_backbone(config) and config.get("augment", "none") == "none"


def to_tensor(images: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def extract_features(
    model: ImageClassifier, images: np.ndarray, *, batch_size: int = 32, device: str = "cpu"
) -> np.ndarray:
    """Pooled backbone features (N, D) float32 of uint8 images, in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_tensor(images[start : start + batch_size], device)
        with autocast(device):
            out.append(model.features(x).float().cpu())
    if not out:
        return np.zeros((0, model.backbone.out_dim), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def autocast(device: str):
    """bf16 autocast on CUDA; nothing on the CPU (where it is slower and changes results)."""
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext()
