"""Augmentation policies for training images, behind the project's own small registry.

``build_policy(name, size=..., seed=...)`` returns an :class:`Augmenter` that maps one
``(size, size, 3)`` uint8 RGB image (or a batch of them) to an augmented image of the same shape
and dtype. The policies, from lightest to heaviest, are ``none``, ``light``, ``medium``,
``heavy``, plus ``randaugment`` (``n_ops`` random ops of strength ``magnitude``, see
``RANDAUGMENT_MAX``). They are applied to training images only; the caller decides that.

The backend is albumentations 2.x, imported lazily and only here: nothing outside this module
imports it, so the backend can change without touching the callers.

Adding a policy: one builder ``def _my_policy(spec: PolicySpec) -> list`` that returns the backend
transforms, decorated with ``@POLICIES.register("my_policy", description="...")`` (the dashboard
shows the description beside its previews), and its name in the YAML space's ``augment`` values.

Reproducibility: an Augmenter owns its random stream, seeded with ``seed`` (albumentations'
``A.Compose(..., seed=seed)``); the global ``random`` / ``numpy`` states are neither used nor
touched. The same seed gives the same sequence of outputs for the same inputs.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from automl.errors import ConfigError, invalid_parameter
from automl.registry import Registry

N_OPS_RANGE = (1, 4)
MAGNITUDE_RANGE = (0, 10)
PREVIEW_MAX_IMAGES = 4
PREVIEW_MAX_VIEWS = 8
PREVIEW_GAP = 4
"""Pixels of white space between the tiles of a preview grid."""

RANDAUGMENT_MAX: dict[str, float] = {
    "identity": 0.0,
    "rotate": 30.0,  # degrees, both directions
    "shear_x": 17.0,  # degrees (about 0.3 rad, as in RandAugment), both directions
    "shear_y": 17.0,
    "translate_x": 0.3,  # fraction of the side, both directions
    "translate_y": 0.3,
    "brightness": 0.4,  # added fraction of 255, both directions
    "contrast": 0.7,  # contrast factor 1 +- s
    "sharpness": 1.0,  # Sharpen alpha (1 = fully sharpened)
    "posterize": 4.0,  # bits dropped (8 bits -> 4 bits)
    "solarize": 1.0,  # how far the threshold falls below 255 (1 = inverts everything)
    "equalize": 1.0,  # no strength: on when magnitude > 0
    "autocontrast": 1.0,  # no strength: on when magnitude > 0
}
"""Strength of each RandAugment op at magnitude 10; magnitude m scales it by m / 10.

Each call draws an op's strength uniformly between 0 and the scaled maximum. Ops that are not an
exact identity at strength 0 (solarize, equalize, autocontrast) are left out at magnitude 0, so
``randaugment`` with ``magnitude=0`` returns its input unchanged.
"""

_NOT_IDENTITY_AT_ZERO = frozenset({"solarize", "equalize", "autocontrast"})


@dataclass(frozen=True)
class PolicySpec:
    """What a policy builder gets: the image side and the RandAugment settings."""

    size: int
    n_ops: int
    magnitude: int


def _albumentations() -> Any:
    """The backend module, imported on first use (it takes ~2 s) without its online update check."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def _reflect() -> int:
    import cv2

    return cv2.BORDER_REFLECT_101


# ---------------------------------------------------------------------------------------- policies


POLICIES: Registry[Callable[[PolicySpec], list[Any]]] = Registry("augmentation policy")
"""Policy name -> builder of its backend transforms, in order from the lightest to the heaviest."""


@POLICIES.register("none", description="no augmentation: every view is the original image")
def _none(spec: PolicySpec) -> list[Any]:
    return []


@POLICIES.register("light", description="horizontal flips and small shifts, zooms and rotations")
def _light(spec: PolicySpec) -> list[Any]:
    A = _albumentations()
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(
            translate_percent={"x": (-0.06, 0.06), "y": (-0.06, 0.06)},
            scale=(0.9, 1.1),
            rotate=(-10, 10),
            border_mode=_reflect(),
            p=0.7,
        ),
    ]


def _photometric() -> list[Any]:
    A = _albumentations()
    return [
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.OneOf(
            [
                A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.3, 1.2), p=1.0),
                A.MotionBlur(blur_limit=(3, 5), p=1.0),
            ],
            p=0.3,
        ),
        A.GaussNoise(std_range=(0.02, 0.06), p=0.3),
    ]


@POLICIES.register("medium", description="light, plus brightness and contrast changes, blur and noise")
def _medium(spec: PolicySpec) -> list[Any]:
    return [*_light(spec), *_photometric()]


@POLICIES.register("heavy", description="medium, plus random crops, perspective changes and cut-out patches")
def _heavy(spec: PolicySpec) -> list[Any]:
    A = _albumentations()
    return [
        A.RandomResizedCrop(size=(spec.size, spec.size), scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), p=0.5),
        *_light(spec),
        A.Perspective(scale=(0.02, 0.06), border_mode=_reflect(), p=0.3),
        *_photometric(),
        A.CoarseDropout(
            num_holes_range=(1, 4), hole_height_range=(0.05, 0.125), hole_width_range=(0.05, 0.125), p=0.5
        ),
    ]


def _randaugment_op(A: Any, name: str, s: float) -> Any:
    """One RandAugment op at maximum strength ``s`` (already scaled by the magnitude), always applied."""
    reflect = _reflect()
    match name:
        case "identity":
            return A.NoOp(p=1.0)
        case "rotate":
            return A.Affine(rotate=(-s, s), border_mode=reflect, p=1.0)
        case "shear_x":
            return A.Affine(shear={"x": (-s, s), "y": (0.0, 0.0)}, border_mode=reflect, p=1.0)
        case "shear_y":
            return A.Affine(shear={"x": (0.0, 0.0), "y": (-s, s)}, border_mode=reflect, p=1.0)
        case "translate_x":
            return A.Affine(translate_percent={"x": (-s, s), "y": (0.0, 0.0)}, border_mode=reflect, p=1.0)
        case "translate_y":
            return A.Affine(translate_percent={"x": (0.0, 0.0), "y": (-s, s)}, border_mode=reflect, p=1.0)
        case "brightness":
            return A.RandomBrightnessContrast(brightness_limit=(-s, s), contrast_limit=(0.0, 0.0), p=1.0)
        case "contrast":
            return A.RandomBrightnessContrast(brightness_limit=(0.0, 0.0), contrast_limit=(-s, s), p=1.0)
        case "sharpness":
            return A.Sharpen(alpha=(0.0, s), lightness=(1.0, 1.0), p=1.0)
        case "posterize":
            return A.Posterize(num_bits=(8 - round(s), 8), p=1.0)
        case "solarize":
            return A.Solarize(threshold_range=(1.0 - s, 1.0), p=1.0)
        case "equalize":
            return A.Equalize(p=1.0)
        case "autocontrast":
            return A.AutoContrast(p=1.0)
    raise KeyError(f"RANDAUGMENT_MAX names {name!r} but _randaugment_op has no case for it.")


@POLICIES.register("randaugment", description="a few random operations of one strength per image")
def _randaugment(spec: PolicySpec) -> list[Any]:
    A = _albumentations()
    scale = spec.magnitude / MAGNITUDE_RANGE[1]
    ops = [
        _randaugment_op(A, name, top * scale)
        for name, top in RANDAUGMENT_MAX.items()
        if spec.magnitude > 0 or name not in _NOT_IDENTITY_AT_ZERO
    ]
    return [A.SomeOf(ops, n=spec.n_ops, replace=False, p=1.0)]


def available_policies() -> list[str]:
    """The policy names, from the lightest to the heaviest, then ``randaugment``."""
    return POLICIES.names()


# ---------------------------------------------------------------------------------------- augmenter


class Augmenter:
    """A built policy: ``aug(image)`` or ``aug.batch(images)``, for ``(size, size, 3)`` uint8 RGB images.

    Build it with :func:`build_policy`. It owns its random stream, so two Augmenters built with the
    same arguments give the same sequence of outputs.
    """

    def __init__(self, name: str, size: int, pipeline: Any | None) -> None:
        self.name = name
        self.size = size
        self._pipeline = pipeline

    @property
    def is_identity(self) -> bool:
        """True when the policy never changes an image (the ``none`` policy)."""
        return self._pipeline is None

    def _check(self, image: np.ndarray, what: str) -> None:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            got = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"{what} must be a uint8 numpy array; got {got}.")
        if image.shape[-3:] != (self.size, self.size, 3):
            raise ValueError(
                f"The {self.name!r} augmenter was built for ({self.size}, {self.size}, 3) RGB images; "
                f"{what} has shape {image.shape}. Resize the images first or build the policy with their size."
            )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """One augmented copy of ``image`` (the input is never modified)."""
        self._check(image, "The image")
        if image.ndim != 3:
            raise ValueError(
                f"The image must have shape (H, W, 3); got {image.shape}. Use .batch for a stack."
            )
        if self._pipeline is None:
            return image.copy()
        out = np.ascontiguousarray(self._pipeline(image=image)["image"])
        if out.shape != image.shape or out.dtype != np.uint8:  # a bug in a policy, not a user mistake
            raise RuntimeError(
                f"The {self.name!r} policy turned {image.shape} uint8 into {out.shape} {out.dtype}."
            )
        return out

    def batch(self, images: np.ndarray) -> np.ndarray:
        """Augment each image of an ``(N, H, W, 3)`` stack independently, in order."""
        self._check(images, "The batch")
        if images.ndim != 4:
            raise ValueError(f"The batch must have shape (N, H, W, 3); got {images.shape}.")
        if self._pipeline is None or len(images) == 0:
            return images.copy()
        return np.stack([self(image) for image in images])

    def __repr__(self) -> str:
        return f"Augmenter(name={self.name!r}, size={self.size})"


def _int_in(value: object, name: str, low: int, high: int | None) -> int:
    """``value`` as an int in [low, high] (high None: no upper bound), else ConfigError."""
    ok = isinstance(value, Integral) and not isinstance(value, bool)
    if ok and low <= int(value) and (high is None or int(value) <= high):
        return int(value)
    expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    raise invalid_parameter(name, "build_policy", expected, value)


def build_policy(name: str, *, size: int, n_ops: int = 2, magnitude: int = 5, seed: int = 0) -> Augmenter:
    """The Augmenter for policy ``name`` on ``(size, size, 3)`` images, seeded with ``seed``.

    ``n_ops`` (1-4) and ``magnitude`` (0-10) are used by ``randaugment`` and validated for all
    policies. Raises ``ConfigError`` for an unknown name or an out-of-range setting.
    """
    if not isinstance(name, str) or name not in POLICIES:
        valid = ", ".join(repr(n) for n in available_policies())
        raise ConfigError(
            f"Unknown augmentation policy {name!r}. Choose one of {valid} (see automl.image.augment)."
        )
    spec = PolicySpec(
        size=_int_in(size, "size", 8, None),
        n_ops=_int_in(n_ops, "n_ops", *N_OPS_RANGE),
        magnitude=_int_in(magnitude, "magnitude", *MAGNITUDE_RANGE),
    )
    seed = _int_in(seed, "seed", 0, None)
    transforms = POLICIES[name](spec)
    if not transforms:
        return Augmenter(name, spec.size, None)
    A = _albumentations()
    pipeline = A.Compose(transforms, seed=seed)
    # albumentations 2.0.x seeds every nested transform with the *same* seed, so their draws are
    # identical streams (two p=0.5 transforms always fire together). One shared stream, seeded from
    # ``seed``, keeps the outputs reproducible and the draws independent.
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return Augmenter(name, spec.size, pipeline)


# ---------------------------------------------------------------------------------------- preview


def _square_tiles(images: np.ndarray, size: int) -> np.ndarray:
    """The images resized to ``size`` x ``size`` (unchanged when they already are)."""
    if images.shape[1:3] == (size, size):
        return images
    from PIL import Image

    return np.stack(
        [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR)) for im in images]
    )


def preview_grid(
    images: np.ndarray,
    policy: str,
    *,
    size: int | None = None,
    n_views: int = 4,
    seed: int = 0,
    n_ops: int = 2,
    magnitude: int = 5,
) -> bytes:
    """A PNG: one row per image (the first 4), the original then ``n_views`` augmented views.

    Tiles are ``size`` pixels square (default: the images' side, or their shorter side when they are
    not square; images are resized to it) with ``PREVIEW_GAP`` white pixels between them, so the PNG
    is ``cols * size + (cols - 1) * gap`` wide with ``cols = n_views + 1``, and likewise high.
    """
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) == 0:
        raise ValueError(
            f"preview_grid needs uint8 RGB images shaped (N, H, W, 3) or (H, W, 3); got {arr.dtype} {arr.shape}."
        )
    if not (
        isinstance(n_views, Integral) and not isinstance(n_views, bool) and 1 <= n_views <= PREVIEW_MAX_VIEWS
    ):
        raise invalid_parameter(
            "n_views", "preview_grid", f"an integer from 1 to {PREVIEW_MAX_VIEWS}", n_views
        )
    arr = arr[:PREVIEW_MAX_IMAGES]
    side = size if size is not None else int(min(arr.shape[1:3]))
    augmenter = build_policy(policy, size=side, n_ops=n_ops, magnitude=magnitude, seed=seed)
    side = augmenter.size
    tiles = _square_tiles(arr, side)

    rows, cols, gap = len(tiles), int(n_views) + 1, PREVIEW_GAP
    canvas = np.full((rows * side + (rows - 1) * gap, cols * side + (cols - 1) * gap, 3), 255, np.uint8)
    for r, tile in enumerate(tiles):
        views = [tile] + [augmenter(tile) for _ in range(cols - 1)]
        for c, view in enumerate(views):
            y, x = r * (side + gap), c * (side + gap)
            canvas[y : y + side, x : x + side] = view

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()
