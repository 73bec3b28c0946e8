"""One fold's image fit: what it trains, what it freezes, and what it augments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl.image.augment import build_policy
from automl.image.fit import ImageFit
from automl.image.network import frozen_stages, trains_backbone, uses_feature_cache
from automl.image.weights import find_weights

LITE0 = find_weights("tf_efficientnet_lite0", allow_hub=False)


def _images(n: int = 12, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8), np.arange(n) % 2


def _fit(config: dict, augment: str = "none", seed: int = 0) -> ImageFit:
    images, y = _images()
    base = {"lr": 1e-2, "batch_size": 4, "backbone_lr_mult": 0.1, "head_depth": 0, "drop_stages": 2}
    return ImageFit(
        {**base, **config},
        images,
        y,
        n_classes=2,
        seed=seed,
        weights=LITE0 if config["backbone"] != "small_cnn" else None,
        image_size=32,
        augmenter=build_policy(augment, size=32, seed=seed),
    )


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict, module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_a_linear_probe_with_augmentation_trains_only_the_head():
    fit = _fit({"backbone": "tf_efficientnet_lite0", "transfer": "linear_probe"}, augment="light")
    backbone, head = _snapshot(fit.model.backbone), _snapshot(fit.model.head)
    fit.epoch()
    assert not _changed(backbone, fit.model.backbone)  # weights and BatchNorm statistics alike
    assert _changed(head, fit.model.head)


def test_partial_fine_tuning_freezes_the_first_stages_and_trains_the_rest():
    fit = _fit({"backbone": "tf_efficientnet_lite0", "transfer": "partial", "freeze_stages": 1})
    groups = fit.model.backbone.stage_groups()
    assert (
        frozen_stages(
            {"backbone": "tf_efficientnet_lite0", "transfer": "partial", "freeze_stages": 1},
            fit.model.backbone,
        )
        == 1
    )
    before = [[p.detach().clone() for p in group] for group in groups]
    fit.epoch()
    assert all(torch.equal(a, p) for a, p in zip(before[0], groups[0], strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(before[-1], groups[-1], strict=True))


def test_a_pretrained_backbone_learns_at_a_lower_rate_than_the_head():
    fit = _fit({"backbone": "tf_efficientnet_lite0", "transfer": "full", "backbone_lr_mult": 0.05})
    rates = [group["lr"] for group in fit.optimizer.param_groups]
    assert rates == pytest.approx([1e-2, 5e-4])
    scratch = _fit({"backbone": "small_cnn", "transfer": "full", "backbone_lr_mult": 0.05})
    assert [g["lr"] for g in scratch.optimizer.param_groups] == pytest.approx([1e-2, 1e-2])


def test_a_from_scratch_backbone_is_always_trained_and_never_cached():
    config = {"backbone": "small_cnn", "transfer": "linear_probe", "augment": "none"}
    assert trains_backbone(config) and not uses_feature_cache(config)
    assert uses_feature_cache({"backbone": "resnet18", "transfer": "linear_probe", "augment": "none"})
    assert not uses_feature_cache({"backbone": "resnet18", "transfer": "linear_probe", "augment": "light"})


def test_augmentation_touches_training_batches_only_and_outputs_are_probabilities():
    images, _ = _images()
    fit = _fit({"backbone": "small_cnn", "transfer": "full"}, augment="heavy")
    before = images.copy()
    fit.epoch()
    assert np.array_equal(fit.images, before)  # the stored training images are never modified
    out = fit.output(images)
    assert out.shape == (12, 2) and np.allclose(out.sum(axis=1), 1.0)
    again = _fit({"backbone": "small_cnn", "transfer": "full"}, augment="heavy")
    again.epoch()
    np.testing.assert_array_equal(again.output(images), out)  # seeded: the same fit twice
