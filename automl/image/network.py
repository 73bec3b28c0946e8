"""The image network of a trial: resize + normalize, a (truncated) backbone, and a small head.

It takes float images in [0, 1], (B, 3, H, W) at the stored size, so an exported model needs no
preprocessing code of its own. The head is the tabular MLP family (depth 0 = a linear classifier),
so a linear probe on cached features trains exactly the module that the exported model uses
(a `NetworkFit` of the `image_head` family).

A sampled configuration is read through `effective_config`: the transfer policy only means something
for a pretrained backbone, so a from-scratch one is always trained fully and a raw-pixel one (no
weights) always runs frozen. The input size follows the images (`InputSize`, `input_size`).
"""

from __future__ import annotations

from dataclasses import dataclass
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


# Pretrained backbones run at their pretrained size, or smaller when the images are small: at least
# PRETRAINED_MIN_INPUT px and PRETRAINED_UPSCALE times the images' own side (docs/images.md has the
# measurements behind these two numbers). From-scratch ones run at the images' own side (at most their
# `data_config` size, at least SCRATCH_MIN_INPUT); raw-pixel ones at their own side.
PRETRAINED_MIN_INPUT = 96
PRETRAINED_UPSCALE = 2
SCRATCH_MIN_INPUT = 16  # four 2x poolings of the small CNN leave 1 x 1


@dataclass(frozen=True)
class InputSize:
    """What the networks' input size derives from: the images' own side (`native`, None when unknown)
    and the study's cap (`--image-size`, None for none)."""

    native: int | None = None
    cap: int | None = None


SIZE_POLICIES = ("images", "backbone")  # the searched `input_size` of a pretrained backbone


def input_size(backbone: str, image_size: int | InputSize | None, policy: str = "images") -> int:
    """The side the backbone's input is resized to inside the network.

    `image_size` is an `InputSize` (a study: derived from the images and capped), an int (a cap alone:
    an exported model's recorded size) or None (the backbone's own size). `policy` (the searched
    `input_size` of a pretrained backbone): "images" sizes it from the images' own side (about twice
    it, at least PRETRAINED_MIN_INPUT); "backbone" takes the backbone's own pretrained resolution, where
    its features are best (for frozen features the larger input costs one cached extraction)."""
    sizes = image_size if isinstance(image_size, InputSize) else InputSize(cap=image_size or None)
    spec = backbone_spec(backbone)
    largest = int(data_config(backbone)["input_size"])
    if sizes.native is None or not spec.trainable or (spec.pretrained and policy == "backbone"):
        size = largest
    elif spec.pretrained:
        size = min(largest, max(PRETRAINED_MIN_INPUT, PRETRAINED_UPSCALE * int(sizes.native)))
    else:
        size = max(SCRATCH_MIN_INPUT, min(largest, int(sizes.native)))
    return min(size, int(sizes.cap)) if sizes.cap else size


def effective_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration a sampled one means for its backbone.

    `transfer` (and `freeze_stages`, `backbone_lr_mult`, `drop_path`) only apply where they can: a
    from-scratch backbone is always trained fully (`full`; a frozen random network is no transfer), a
    raw-pixel backbone has nothing to train (`linear_probe`, whole), and `partial` keeps `freeze_stages`.
    Settings that do nothing for the resolved policy are removed."""
    spec = backbone_spec(config["backbone"])
    out = dict(config)
    if not spec.trainable:
        out["transfer"] = "linear_probe"
        out["drop_stages"] = 0
    elif spec.from_scratch:
        out["transfer"] = "full"
    else:
        out["transfer"] = config.get("transfer", "linear_probe")
    if out["transfer"] != "partial":
        out.pop("freeze_stages", None)
    if out["transfer"] == "linear_probe":
        out.pop("drop_path", None)
    if out["transfer"] == "linear_probe" or not spec.pretrained:
        out.pop("backbone_lr_mult", None)
    if not spec.pretrained:
        out.pop("input_size", None)
    # the head solver of a frozen pretrained backbone's cached features (the space's condition)
    if not spec.pretrained or out["transfer"] != "linear_probe" or out.get("augment", "none") != "none":
        out.pop("head_solver", None)
    if out.get("head_solver", "sgd") != "lbfgs":
        out.pop("probe_c", None)
    return out


def convex_probe(config: dict[str, Any]) -> bool:
    """A linear classifier fitted to convergence (L-BFGS) on cached frozen features: `head_solver` lbfgs
    with a head of depth 0 (a deeper head is trained with AdamW)."""
    effective = effective_config(config)
    return effective.get("head_solver") == "lbfgs" and int(effective.get("head_depth", 0)) == 0


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


class HeadBag(nn.Module):
    """Several heads on the same frozen features (the fold heads of a bag of linear probes): the mean of
    their class probabilities, returned as log-probabilities, so that a softmax of the output is that
    mean. One backbone serves every head, where a bag of whole networks would store it once per fold."""

    def __init__(self, heads: list[nn.Module]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.stack([head(x).float().softmax(dim=-1) for head in self.heads]).mean(dim=0)
        return mean.clamp_min(1e-30).log()


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
    image_size: int | InputSize | None = None,
    weights: WeightsSource | None = None,
    pretrained: bool = True,
    n_heads: int = 1,
) -> ImageClassifier:
    """The trial's network (its `effective_config`); `pretrained=False` builds the architecture only (to
    load exported weights). `image_size` as in `input_size`. `n_heads` > 1: a `HeadBag` of that many
    heads (an exported bag of linear probes)."""
    config = effective_config(config)
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
    size = input_size(name, image_size, str(config.get("input_size", "images")))
    normalize = Normalize(size, tuple(cfg["mean"]), tuple(cfg["std"]))
    heads = [
        build_model(HEAD_FAMILY, backbone.out_dim, n_classes, head_params(config)) for _ in range(n_heads)
    ]
    return ImageClassifier(normalize, backbone, heads[0] if n_heads == 1 else HeadBag(heads))


def trains_backbone(config: dict[str, Any]) -> bool:
    """Whether any backbone weight is trained: always for a from-scratch backbone, never for raw pixels,
    else unless the transfer policy is a linear probe."""
    return effective_config(config)["transfer"] != "linear_probe"


def frozen_stages(config: dict[str, Any], backbone: Backbone) -> int:
    """How many backbone stage groups stay frozen: all (linear probe), the first K (partial), or none."""
    config = effective_config(config)
    if config["transfer"] == "linear_probe":
        return len(backbone.stage_groups())
    if config["transfer"] == "partial":
        return min(int(config.get("freeze_stages", 1)), len(backbone.stage_groups()) - 1)
    return 0


def uses_feature_cache(config: dict[str, Any]) -> bool:
    """A frozen backbone (pretrained, or raw pixels) whose input is never augmented: its features are
    computed once and shared."""
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
