"""Image backbones over timm, built by name, with truncation (drop the last stages) and stage-wise freezing.

The names and what each one is are the registry in ``backbone_specs.py`` (``BACKBONES``, a ``Registry``;
``register_backbone``, ``backbone_spec``, ``available_backbones``, also importable from here). A registered
timm model needs nothing here: every one is built, truncated and frozen the same way.

Three kinds of entries: pretrained timm models; ``small_cnn``, trained from scratch (always fully: a frozen random
network is no transfer); and ``pixels_<S>`` / ``pixels_grey_<S>``, the raw pixels downsampled to S x S and
flattened, with no parameters at all (a depth-0 head on them is logistic regression on the pixels, and their
features are computed once, like a frozen pretrained backbone's).

A :class:`Backbone` maps normalized ``(B, 3, H, W)`` float images to pooled features ``(B, out_dim)``.
Stages are timm's ``feature_info`` taps (the ones ``forward_intermediates`` returns); the stem belongs to the
first stage. ``drop_stages=k`` removes the last ``k`` stages (timm's ``prune_intermediate_layers``) and pools the
last kept stage's feature map; ``drop_stages=0`` keeps the whole network, including what follows the last stage
(final norm, ConvNeXt's head norm, EfficientNet's / MobileNetV3's head conv) and the model's own pooling.

The ViT is created with ``dynamic_img_size=True`` (its position embedding is resampled to the input's patch
grid), so it takes any input size, e.g. 64x64 (a 4x4 patch grid); it was pretrained at 224, its ``data_config``.
"""

from __future__ import annotations

import operator
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from automl.errors import ConfigError, ModelError
from automl.image.backbone_specs import BACKBONES, available_backbones, backbone_spec, register_backbone
from automl.image.weights import WeightsSource, find_weights, load_pretrained, no_weights_message

__all__ = [
    "BACKBONES",
    "Backbone",
    "Pixels",
    "SmallCNN",
    "available_backbones",
    "backbone_spec",
    "build_backbone",
    "data_config",
    "n_stages",
    "register_backbone",
]

SMALL_CNN_WIDTHS = (32, 64, 128, 256)
SMALL_CNN_MAX_INPUT = (
    64  # the largest side the from-scratch CNN runs at by default (smaller images: their own)
)


def data_config(name: str) -> dict[str, Any]:
    """Input size, normalization and interpolation the backbone was pretrained with (no download needed).

    For the project's own backbones, the input size is the largest they run at: the small CNN's default
    ceiling, a raw-pixel backbone's side."""
    spec = backbone_spec(name)
    if spec.timm_name is None:
        return {
            "input_size": spec.pixel_size or SMALL_CNN_MAX_INPUT,
            "mean": (0.5, 0.5, 0.5),
            "std": (0.5, 0.5, 0.5),
            "interpolation": "bilinear",
        }
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(spec.timm_name)
    if cfg is None:  # pragma: no cover - every registered timm model has a default pretrained tag
        cfg = _timm_model(spec.timm_name).pretrained_cfg
    cfg = cfg if isinstance(cfg, dict) else cfg.to_dict()
    return {
        "input_size": int(cfg["input_size"][-1]),
        "mean": tuple(float(v) for v in cfg["mean"]),
        "std": tuple(float(v) for v in cfg["std"]),
        "interpolation": str(cfg.get("interpolation") or "bilinear"),
    }


def _timm_kwargs(timm_name: str) -> dict[str, Any]:
    return {"dynamic_img_size": True} if timm_name.startswith("vit_") else {}


def _timm_model(timm_name: str, drop_path_rate: float = 0.0) -> nn.Module:
    import timm

    return timm.create_model(
        timm_name, pretrained=False, num_classes=0, drop_path_rate=drop_path_rate, **_timm_kwargs(timm_name)
    )


@cache
def n_stages(name: str) -> int:
    """The number of feature stages of backbone ``name`` (timm's ``feature_info`` taps)."""
    spec = backbone_spec(name)
    if spec.pixel_size is not None:
        return 1
    if spec.timm_name is None:
        return len(SMALL_CNN_WIDTHS)
    return len(_timm_model(spec.timm_name).feature_info)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """The from-scratch CNN: per stage conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool 2; global average pooling.

    Works for any input of at least 16x16 (32 or more recommended).
    """

    def __init__(self, n_stages: int = len(SMALL_CNN_WIDTHS), in_chans: int = 3) -> None:
        super().__init__()
        widths = SMALL_CNN_WIDTHS[:n_stages]
        chans = (in_chans, *widths)
        self.stages = nn.ModuleList(
            nn.Sequential(_conv_bn_relu(c_in, c_out), _conv_bn_relu(c_out, c_out), nn.MaxPool2d(2))
            for c_in, c_out in zip(chans[:-1], chans[1:], strict=True)
        )
        self.num_features = widths[-1]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x.mean(dim=(2, 3))


class Pixels(nn.Module):
    """The normalized image itself as features: brought to ``size`` x ``size`` by area averaging (the network's
    resize has usually done it already), optionally averaged over the colour channels, and flattened."""

    def __init__(self, size: int, grey: bool) -> None:
        super().__init__()
        self.size = int(size)
        self.grey = bool(grey)
        self.num_features = self.size * self.size * (1 if grey else 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = F.adaptive_avg_pool2d(x, self.size)
        if self.grey:
            x = x.mean(dim=1, keepdim=True)
        return x.flatten(1)


def _timm_group_index(model: nn.Module, n_keep: int) -> dict[str, int]:
    """Group (kept stage) of every parameter and module name of a (pruned) timm model, by forward position.

    The model's top-level children (containers holding stage taps expanded into their children) are in forward
    order; a unit belongs to the first stage whose tap is at or after it; whatever follows the last kept tap
    (final norm, head conv) joins the last group, and the model's own parameters (ViT's tokens) the first.
    """
    taps = [info["module"] for info in model.feature_info[:n_keep]]
    containers = {tap.rsplit(".", 1)[0] for tap in taps if "." in tap}
    units: list[str] = []
    for child_name, child in model.named_children():
        if child_name in containers:
            units += [f"{child_name}.{sub}" for sub, _ in child.named_children()]
        else:
            units.append(child_name)
    position = {unit: i for i, unit in enumerate(units)}
    tap_positions = [position[tap] for tap in taps]

    def group(name: str) -> int:
        parts = name.split(".")
        unit = ".".join(parts[:2]) if parts[0] in containers and len(parts) > 1 else parts[0]
        pos = position.get(unit, -1)  # -1: the model's own parameters (ViT's tokens), used first
        return next((i for i, tap_pos in enumerate(tap_positions) if tap_pos >= pos), n_keep - 1)

    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_modules() if n]
    return {name: group(name) for name in names}


class Backbone(nn.Module):
    """A (possibly truncated) backbone giving pooled features (B, out_dim) from normalized (B,3,H,W) float input."""

    def __init__(
        self,
        name: str,
        body: nn.Module,
        out_dim: int,
        n_groups: int,
        group_index: dict[str, int],
        take: int | None,
    ) -> None:
        super().__init__()
        self.name = name
        self.body = body
        self.out_dim = int(out_dim)
        self.n_groups = n_groups
        self._group_index = group_index  # parameter / module name inside ``body`` -> group
        self._take = take  # forward_intermediates index of a truncated timm model, None: the full forward
        self._frozen_bn: list[str] = []
        self.frozen_groups = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._take is None:
            return self.body(x)
        feats = self.body.forward_intermediates(
            x, indices=[self._take], intermediates_only=True, stop_early=True, norm=True
        )[0]
        return feats.mean(dim=(2, 3))

    def stage_groups(self) -> list[list[nn.Parameter]]:
        """Parameters grouped by stage in forward order ([stem + stage 1, stage 2, ...]), each exactly once."""
        groups: list[list[nn.Parameter]] = [[] for _ in range(self.n_groups)]
        for name, param in self.body.named_parameters():
            groups[self._group_index[name]].append(param)
        return groups

    def freeze_first(self, k: int) -> None:
        """Freeze the first ``k`` groups (all when ``k`` >= their number), unfreeze the others.

        Frozen BatchNorm layers stay in eval mode (their running statistics are kept) even after ``train()``.
        """
        count = _as_count(k)
        if count is None:
            raise ConfigError(f"freeze_first needs a number of stages >= 0. Got {k!r} instead.")
        k = min(count, self.n_groups)
        for i, group in enumerate(self.stage_groups()):
            for param in group:
                param.requires_grad_(i >= k)
        self.frozen_groups = k
        self._frozen_bn = [
            name
            for name, module in self.body.named_modules()
            if isinstance(module, _BatchNorm) and self._group_index.get(name, 0) < k
        ]
        self.train(self.training)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        for name in self._frozen_bn:
            self.body.get_submodule(name).eval()
        return self


def _as_count(value: Any) -> int | None:
    """``value`` as an integer >= 0 (numpy integers too), None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        count = operator.index(value)
    except TypeError:
        return None
    return count if count >= 0 else None


def _check_args(name: str, drop_stages: int, drop_path_rate: float) -> None:
    if _as_count(drop_stages) is None:
        raise ConfigError(
            f"drop_stages of backbone {name!r} must be an integer >= 0 (0 keeps all stages). Got {drop_stages!r}."
        )
    try:
        rate = float(drop_path_rate)
    except (TypeError, ValueError):
        rate = -1.0
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"drop_path_rate must be in [0, 1). Got {drop_path_rate!r} instead.")


def build_backbone(
    name: str,
    *,
    drop_stages: int = 0,
    pretrained: bool = True,
    weights: WeightsSource | None = None,
    drop_path_rate: float = 0.0,
) -> Backbone:
    """Build backbone ``name`` without its last ``drop_stages`` stages (clipped so one stage remains).

    ``pretrained`` loads ImageNet weights from ``weights`` (default: ``find_weights(name)``) and raises ModelError
    when none are available. With ``pretrained=False`` nothing is loaded (``weights`` is not read).
    ``small_cnn`` and the raw-pixel backbones have no pretrained weights: ``pretrained`` alone is ignored for
    them, ``weights`` with it is a ConfigError. ``drop_path_rate`` (stochastic depth) is passed to timm; the
    project's own backbones have none.
    """
    spec = backbone_spec(name)
    _check_args(name, drop_stages, drop_path_rate)
    total = n_stages(name)
    n_keep = max(1, total - operator.index(drop_stages))
    if spec.timm_name is None and pretrained and weights is not None:
        raise ConfigError(
            f"Backbone {name!r} has no pretrained weights (it is trained from scratch, or is raw pixels) and "
            "takes none; leave weights unset."
        )
    if spec.pixel_size is not None:
        pixels = Pixels(spec.pixel_size, spec.grey)
        return Backbone(name, pixels, pixels.num_features, 1, {}, take=None)
    if spec.timm_name is None:
        body = SmallCNN(n_keep)
        group_index = {
            n: int(n.split(".")[1])
            for n in [*dict(body.named_parameters()), *dict(body.named_modules())]
            if "." in n
        }
        return Backbone(name, body, body.num_features, n_keep, group_index, take=None)

    source = None
    if pretrained:
        source = weights if weights is not None else find_weights(name)
        if source is None:
            raise ModelError(no_weights_message(name))
    model = _timm_model(spec.timm_name, drop_path_rate=float(drop_path_rate))
    if source is not None:
        load_pretrained(model, name, source)
    take: int | None = None
    if n_keep < total:
        take = n_keep - 1
        model.prune_intermediate_layers(indices=[take], prune_norm=False, prune_head=True)
        out_dim = model.feature_info[take]["num_chs"]
    else:
        out_dim = getattr(model, "head_hidden_size", None) or model.num_features
    return Backbone(name, model, out_dim, n_keep, _timm_group_index(model, n_keep), take=take)
