"""The image network as a configuration means it: the effective transfer policy, the input size the
images call for, raw pixels as a backbone, and the parameters a trial counts as trained on the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl.image.backbones import available_backbones, backbone_spec
from automl.image.fit import ImageFit
from automl.image.network import (
    InputSize,
    build_network,
    effective_config,
    extract_features,
    frozen_stages,
    input_size,
    trains_backbone,
    uses_feature_cache,
)
from automl.image.prepare import native_side, stored_size
from automl.image.trainable import ImageSearchData, clear_caches, image_fold_setup
from automl.image.weights import find_weights
from automl.search.space import TRANSFER_POLICIES

LITE0 = "tf_efficientnet_lite0"
FROM_SCRATCH = [n for n in available_backbones() if backbone_spec(n).from_scratch]
PIXELS = [n for n in available_backbones() if not backbone_spec(n).trainable]
PRETRAINED = [n for n in available_backbones() if backbone_spec(n).pretrained]


def _images(n: int = 12, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8), np.arange(n) % 2


# ---------------------------------------------------------------- the transfer policy a backbone allows


@pytest.mark.parametrize("name", FROM_SCRATCH)
@pytest.mark.parametrize("transfer", TRANSFER_POLICIES)
def test_a_backbone_without_pretrained_weights_never_runs_as_a_frozen_probe(name, transfer):
    config = {"backbone": name, "transfer": transfer, "freeze_stages": 2, "augment": "none"}
    effective = effective_config(config)
    assert effective["transfer"] == "full" and "freeze_stages" not in effective
    assert trains_backbone(config) and not uses_feature_cache(config)
    images, y = _images(4)
    fit = ImageFit({**config, "batch_size": 4}, images, y, n_classes=2, seed=0, weights=None)
    assert frozen_stages(config, fit.model.backbone) == 0
    assert all(p.requires_grad for p in fit.model.parameters())
    if transfer == "linear_probe":  # and it does learn: the first stage moves
        first = fit.model.backbone.stage_groups()[0]
        before = [p.detach().clone() for p in first]
        fit.epoch()
        assert any(not torch.equal(a, p) for a, p in zip(before, first, strict=True))


@pytest.mark.parametrize("name", PIXELS)
@pytest.mark.parametrize("transfer", TRANSFER_POLICIES)
def test_raw_pixels_are_always_frozen_and_cached(name, transfer):
    config = {"backbone": name, "transfer": transfer, "drop_stages": 2, "drop_path": 0.1, "augment": "none"}
    effective = effective_config(config)
    assert effective["transfer"] == "linear_probe" and effective["drop_stages"] == 0
    assert "drop_path" not in effective
    assert not trains_backbone(config) and uses_feature_cache(config)
    assert not uses_feature_cache({**config, "augment": "light"})  # augmented: through ImageFit, head only


@pytest.mark.parametrize("transfer", TRANSFER_POLICIES)
def test_a_pretrained_backbone_keeps_its_sampled_policy(transfer):
    config = {"backbone": LITE0, "transfer": transfer, "freeze_stages": 2, "backbone_lr_mult": 0.1}
    effective = effective_config(config)
    assert effective["transfer"] == transfer
    assert ("freeze_stages" in effective) == (transfer == "partial")
    assert ("backbone_lr_mult" in effective) == (transfer != "linear_probe")
    assert config == {"backbone": LITE0, "transfer": transfer, "freeze_stages": 2, "backbone_lr_mult": 0.1}


# ---------------------------------------------------------------- the input size follows the images


def test_small_cnn_runs_at_the_images_native_size_by_default():
    for native, expected in ((32, 32), (8, 16), (48, 48), (500, 64)):
        assert input_size("small_cnn", InputSize(native=native)) == expected
    assert input_size("small_cnn", InputSize(native=48, cap=24)) == 24
    network = build_network({"backbone": "small_cnn"}, 2, image_size=InputSize(native=32), pretrained=False)
    assert network.normalize.size == 32
    assert stored_size(["small_cnn", LITE0, "pixels_16"], InputSize(native=32)) == 32  # never upsampled


def test_pretrained_input_size_derives_from_the_images():
    assert input_size(LITE0, InputSize(native=32)) == 96
    assert input_size(LITE0, InputSize(native=64)) == 128
    assert input_size(LITE0, InputSize(native=400)) == 224
    assert input_size("tf_efficientnet_lite2", InputSize(native=400)) == 260
    assert input_size(LITE0, InputSize(native=64, cap=48)) == 48  # --image-size stays a cap
    assert input_size(LITE0, None) == 224 and input_size(LITE0, 100) == 100  # unknown size / exported cap
    assert input_size("pixels_16", InputSize(native=400)) == 16
    assert stored_size([LITE0, "small_cnn"], InputSize(native=400)) == 224
    assert stored_size([LITE0, "small_cnn"], InputSize(native=400, cap=64)) == 64
    assert stored_size([LITE0], 128) == 128  # a cap alone, as before


def test_native_side_of_a_folder_zip_and_csv(tmp_path):
    import shutil

    from automl.datasets import write_images

    folder = write_images("digits", tmp_path / "digits", per_class=3, size=32)
    assert native_side(folder) == 32
    archive = shutil.make_archive(str(tmp_path / "digits"), "zip", folder)
    assert native_side(archive) == 32
    listing = tmp_path / "listing.csv"
    rows = [f"{p.relative_to(tmp_path).as_posix()},{p.parent.name}" for p in sorted(folder.rglob("*.png"))]
    listing.write_text("Path,Label\n" + "\n".join(rows) + "\n")
    assert native_side(listing) == 32
    assert native_side(tmp_path / "missing") is None


# ---------------------------------------------------------------- raw pixels as a backbone


def test_pixels_are_the_downsampled_normalized_image():
    images, _ = _images(4, size=32)
    grey = build_network({"backbone": "pixels_grey_8", "head_depth": 0}, 3, image_size=InputSize(native=32))
    assert grey.normalize.size == 8 and grey.backbone.out_dim == 64
    assert sum(p.numel() for p in grey.backbone.parameters()) == 0
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    small = torch.nn.functional.interpolate(x, size=(8, 8), mode="bilinear", antialias=True)
    expected = ((small - 0.5) / 0.5).mean(dim=1).flatten(1)
    np.testing.assert_allclose(extract_features(grey, images), expected.numpy(), atol=1e-5)
    colour = build_network({"backbone": "pixels_16"}, 3, image_size=InputSize(native=32))
    assert extract_features(colour, images).shape == (4, 3 * 16 * 16)


def _search_data(images: np.ndarray, y: np.ndarray, n_folds: int = 2) -> ImageSearchData:
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=0).split(images, y))
    lite0 = find_weights(LITE0, allow_hub=False)
    return ImageSearchData(
        images=images,
        y=y,
        classes=[str(c) for c in np.unique(y)],
        folds=folds,
        metric="accuracy",
        max_epochs=5,
        seed=0,
        weights={LITE0: {"kind": lite0.kind, "path": lite0.path}, "small_cnn": None},
        image_size=InputSize(native=int(images.shape[1])),
    )


def test_logistic_regression_on_pixels_learns_the_digits():
    """A pixels trial goes through the feature cache (features once, no backbone) and its depth-0 head is
    logistic regression on the pixels: trained on them, the exported network reads sklearn's 8 x 8 digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.concatenate([np.flatnonzero(digits.target == d)[:20] for d in range(10)])
    grey = (digits.images[pick] * (255 / 16)).round().astype(np.uint8)
    images, y = np.repeat(grey[..., None], 3, axis=3), digits.target[pick]
    data = _search_data(images, y)
    clear_caches()
    config = {"backbone": "pixels_grey_8", "transfer": "full", "head_depth": 0, "augment": "none"}
    setup = image_fold_setup(data, 0, config, "cpu")
    train, val = data.folds[0]
    features, _ = data.frozen_features("pixels_grey_8", 0)
    np.testing.assert_array_equal(setup["X_train"], features[train])  # the cached pixels, not images
    assert setup["n_params"] == 64 * 10 + 10 == setup["extra"]["model_params"]

    network = build_network(config, 10, image_size=data.image_size)
    x, target = torch.from_numpy(features[train]), torch.from_numpy(y[train])
    optimizer = torch.optim.AdamW(network.head.parameters(), lr=0.05, weight_decay=1e-4)
    torch.manual_seed(0)
    for _ in range(150):  # full-batch logistic regression
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(network.head(x), target).backward()
        optimizer.step()
    network.eval()
    with torch.no_grad():
        predicted = network(torch.from_numpy(images[val]).permute(0, 3, 1, 2).float() / 255).argmax(1)
    accuracy = (predicted.numpy() == y[val]).mean()
    assert accuracy > 0.8, accuracy


# ---------------------------------------------------------------- parameters trained on this data


def _trainable(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_n_params_counts_only_what_is_trained_on_this_data():
    images, y = _images(8, size=32)
    data = _search_data(images, y)
    clear_caches()
    base = {"backbone": LITE0, "drop_stages": 2, "head_depth": 0, "batch_size": 4, "augment": "none"}
    head = 40 * 2 + 2  # a linear head on Lite0's 40 features after dropping two stages

    probe = image_fold_setup(data, 0, {**base, "transfer": "linear_probe"}, "cpu")
    assert probe["n_params"] == head
    exported = probe["extra"]["model_params"]
    assert exported > 100 * head  # the frozen backbone is exported, not trained

    partial = image_fold_setup(data, 0, {**base, "transfer": "partial", "freeze_stages": 1}, "cpu")
    frozen_part = sum(p.numel() for p in partial["fit"].model.backbone.stage_groups()[0])
    assert partial["n_params"] == _trainable(partial["fit"].model) == exported - frozen_part
    assert head < partial["n_params"] < exported

    full = image_fold_setup(data, 0, {**base, "transfer": "full"}, "cpu")
    assert full["n_params"] == full["extra"]["model_params"] == exported

    scratch = image_fold_setup(data, 0, {**base, "backbone": "small_cnn", "transfer": "linear_probe"}, "cpu")
    assert scratch["n_params"] == sum(p.numel() for p in scratch["fit"].model.parameters())
    assert scratch["fit"].model.normalize.size == 32  # native size: the images are not upsampled


def test_the_default_space_searches_pixels_and_three_offline_pretrained_networks():
    from automl.search.space import SearchSpace

    space = SearchSpace.load(None, "image")
    backbones = space.choices("backbone")
    assert {"pixels_8", "pixels_16", "pixels_32", "small_cnn"} <= set(backbones)
    offline = [n for n in backbones if find_weights(n, allow_hub=False) is not None]
    assert offline == ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"]
    points = space.start_points("classification", {"n_rows": 40, "n_features": 0, "n_classes": 4})
    assert [p["backbone"] for p in points] == [
        "tf_efficientnet_lite0",  # convex probes first: logistic regression on frozen features
        "tf_efficientnet_lite1",
        "tf_efficientnet_lite0",  # then SGD-trained heads
        "pixels_16",
        "tf_efficientnet_lite1",
        "pixels_32",
        "tf_efficientnet_lite2",
        "pixels_8",
        "tf_efficientnet_lite0",
        "small_cnn",
    ]
    assert all(p["transfer"] == "linear_probe" for p in points[:-1])  # the cheap ones first
    assert [p["head_solver"] for p in points[:3]] == ["lbfgs", "lbfgs", "sgd"]
    assert [p["input_size"] for p in points[:2]] == ["backbone", "backbone"]
    for point in points:  # every start point means what it says
        assert effective_config(point)["transfer"] == point["transfer"]
    pixels = points[3]
    assert pixels["head_depth"] == 0 and uses_feature_cache(pixels)  # logistic regression on pixels


def test_the_pixel_baseline_encodes_a_black_batch_at_its_training_width():
    """Colour training images fix the encoder to three channels: a batch of black images (which look grey
    on their own) still encodes to the width the scaler was fitted on."""
    images, y = _images(8, size=32)
    data = _search_data(images, y)
    encode = data.linear_encoder(np.arange(len(images)))
    black = np.zeros((3, 32, 32, 3), np.uint8)
    assert encode(black).shape == encode(images[:3]).shape
