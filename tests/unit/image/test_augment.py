"""Augmentation policies: shapes, strength ordering, seeding, RandAugment settings, errors and previews."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image
from skimage import data

from automl.errors import ConfigError
from automl.image import augment
from automl.image.augment import (
    PREVIEW_GAP,
    Augmenter,
    available_policies,
    build_policy,
    preview_grid,
)

SIZE = 64
POLICIES = ["none", "light", "medium", "heavy", "randaugment"]
AUGMENTING = [p for p in POLICIES if p != "none"]


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A textured natural image, 64 x 64 RGB uint8."""
    return np.asarray(Image.fromarray(data.astronaut()).resize((SIZE, SIZE), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def batch(image: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    return np.concatenate([image[None], noise])


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def _mean_change(augmenter: Augmenter, image: np.ndarray, draws: int = 16) -> float:
    return float(np.mean([_mad(augmenter(image), image) for _ in range(draws)]))


def test_available_policies() -> None:
    assert available_policies() == POLICIES


@pytest.mark.parametrize("name", POLICIES)
def test_shape_and_dtype_are_kept(name: str, image: np.ndarray, batch: np.ndarray) -> None:
    before = image.copy()
    augmenter = build_policy(name, size=SIZE, magnitude=10, n_ops=4)
    assert isinstance(augmenter, Augmenter) and augmenter.name == name
    for _ in range(4):
        out = augmenter(image)
        assert out.shape == image.shape and out.dtype == np.uint8
    out = augmenter.batch(batch)
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(image, before), "the input must not be modified"


def test_none_is_identity(image: np.ndarray, batch: np.ndarray) -> None:
    augmenter = build_policy("none", size=SIZE)
    assert augmenter.is_identity
    assert np.array_equal(augmenter(image), image)
    assert np.array_equal(augmenter.batch(batch), batch)
    assert augmenter(image) is not image


@pytest.mark.parametrize("name", AUGMENTING)
def test_other_policies_change_the_image(name: str, image: np.ndarray) -> None:
    augmenter = build_policy(name, size=SIZE)
    assert not augmenter.is_identity
    changed = sum(not np.array_equal(augmenter(image), image) for _ in range(8))
    # Each transform fires with some probability, so a single draw may be the identity; most are not.
    assert changed >= 5


def test_heavier_policies_change_the_image_more(image: np.ndarray) -> None:
    change = {name: _mean_change(build_policy(name, size=SIZE, seed=1), image) for name in POLICIES}
    assert change["none"] == 0.0
    assert change["light"] < change["medium"] < change["heavy"]


def test_same_seed_same_outputs(image: np.ndarray, batch: np.ndarray) -> None:
    for name in AUGMENTING:
        a, b = build_policy(name, size=SIZE, seed=7), build_policy(name, size=SIZE, seed=7)
        for _ in range(5):
            assert np.array_equal(a(image), b(image)), name
        assert np.array_equal(a.batch(batch), b.batch(batch)), name


def test_different_seed_different_outputs(image: np.ndarray) -> None:
    for name in AUGMENTING:
        a, b = build_policy(name, size=SIZE, seed=1), build_policy(name, size=SIZE, seed=2)
        assert any(not np.array_equal(a(image), b(image)) for _ in range(5)), name


def test_global_random_state_is_neither_used_nor_touched(image: np.ndarray) -> None:
    outputs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        np_state, py_state = np.random.get_state(), random.getstate()
        augmenter = build_policy("heavy", size=SIZE, seed=3)
        outputs.append([augmenter(image) for _ in range(3)])
        assert random.getstate() == py_state
        assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), np_state, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(*outputs, strict=True))


def test_a_registered_policy_is_built_and_its_transforms_draw_independently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A new policy is one builder and one registry entry. It also checks the seeding fix:
    # albumentations 2.0.x gives every transform of ``Compose(seed=...)`` an identical stream, so
    # two p=0.5 flips would always fire together; with one shared stream they agree about half the time.
    A = augment._albumentations()
    two_flips = lambda spec: [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]  # noqa: E731
    monkeypatch.setattr(augment.POLICIES, "_entries", dict(augment.POLICIES._entries))  # restored afterwards
    augment.POLICIES.add("two_flips", two_flips, description="independent horizontal and vertical flips")
    assert "two_flips" in available_policies()
    augmenter = build_policy("two_flips", size=8, seed=0)
    image = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    agree = 0
    for _ in range(200):
        out = augmenter(image)
        h = np.array_equal(out, image[:, ::-1]) or np.array_equal(out, image[::-1, ::-1])
        v = np.array_equal(out, image[::-1]) or np.array_equal(out, image[::-1, ::-1])
        agree += h == v
    assert 0.35 < agree / 200 < 0.65


def test_randaugment_magnitude_zero_returns_the_input(image: np.ndarray) -> None:
    # At magnitude 0 every op has zero strength and the ops that are not an identity at zero
    # strength (solarize, equalize, autocontrast) are left out, so the output is exactly the input.
    augmenter = build_policy("randaugment", size=SIZE, magnitude=0, n_ops=4, seed=5)
    assert not augmenter.is_identity
    for _ in range(16):
        assert np.array_equal(augmenter(image), image)


def test_randaugment_strength_grows_with_magnitude(image: np.ndarray) -> None:
    change = [
        _mean_change(build_policy("randaugment", size=SIZE, magnitude=m, n_ops=2, seed=4), image, draws=24)
        for m in (2, 10)
    ]
    assert 0.0 < change[0] < change[1]


def test_randaugment_more_ops_change_more(image: np.ndarray) -> None:
    change = [
        _mean_change(build_policy("randaugment", size=SIZE, magnitude=8, n_ops=n, seed=4), image, draws=24)
        for n in (1, 4)
    ]
    assert change[0] < change[1]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_ops": 0}, "'n_ops' parameter of build_policy must be an integer from 1 to 4. Got 0"),
        ({"n_ops": 5}, "'n_ops' parameter"),
        ({"n_ops": 2.5}, "'n_ops' parameter"),
        ({"n_ops": True}, "'n_ops' parameter"),
        ({"magnitude": -1}, "'magnitude' parameter of build_policy must be an integer from 0 to 10. Got -1"),
        ({"magnitude": 11}, "'magnitude' parameter"),
        ({"size": 4}, "'size' parameter of build_policy must be an integer >= 8"),
        ({"seed": -1}, "'seed' parameter"),
    ],
)
def test_invalid_settings_raise_config_error(kwargs: dict, fragment: str) -> None:
    settings = {"size": SIZE, **kwargs}
    with pytest.raises(ConfigError) as info:
        build_policy("randaugment", **settings)
    assert fragment in str(info.value)


def test_numpy_integers_are_accepted(image: np.ndarray) -> None:
    augmenter = build_policy("randaugment", size=np.int64(SIZE), n_ops=np.int64(3), magnitude=np.int32(7))
    assert augmenter(image).shape == image.shape


@pytest.mark.parametrize("name", ["hevy", "", None, "Light"])
def test_unknown_policy_lists_the_names(name: object) -> None:
    with pytest.raises(ConfigError) as info:
        build_policy(name, size=SIZE)  # type: ignore[arg-type]
    message = str(info.value)
    assert "Unknown augmentation policy" in message
    for valid in POLICIES:
        assert repr(valid) in message


def test_wrong_images_raise_value_error(image: np.ndarray) -> None:
    augmenter = build_policy("light", size=SIZE)
    with pytest.raises(ValueError, match=r"built for \(64, 64, 3\)"):
        augmenter(image[:32, :32])
    with pytest.raises(ValueError, match="uint8"):
        augmenter(image.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        augmenter(image[None])
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        augmenter.batch(image)


def _decode(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG" and decoded.mode == "RGB"
    return np.asarray(decoded)


def test_preview_grid_layout(image: np.ndarray, batch: np.ndarray) -> None:
    grid = _decode(preview_grid(batch[:3], "heavy", n_views=4, seed=2))
    assert grid.shape == (3 * SIZE + 2 * PREVIEW_GAP, 5 * SIZE + 4 * PREVIEW_GAP, 3)
    assert np.array_equal(grid[:SIZE, :SIZE], image), "the first tile is the original"
    assert np.all(grid[:SIZE, SIZE : SIZE + PREVIEW_GAP] == 255), "tiles are separated by a white gap"
    second = grid[:SIZE, SIZE + PREVIEW_GAP : 2 * SIZE + PREVIEW_GAP]
    assert not np.array_equal(second, image) or not np.array_equal(grid[:SIZE, -SIZE:], image)
    assert preview_grid(batch[:3], "heavy", n_views=4, seed=2) == preview_grid(
        batch[:3], "heavy", n_views=4, seed=2
    )


def test_preview_grid_uses_at_most_four_images_and_resizes(image: np.ndarray) -> None:
    images = np.stack([image] * 6)
    grid = _decode(preview_grid(images, "randaugment", size=32, n_views=2, magnitude=9))
    assert grid.shape == (4 * 32 + 3 * PREVIEW_GAP, 3 * 32 + 2 * PREVIEW_GAP, 3)
    single = _decode(preview_grid(image, "none", n_views=1))
    assert single.shape == (SIZE, 2 * SIZE + PREVIEW_GAP, 3)
    assert np.array_equal(single[:, -SIZE:], image)
    not_square = _decode(preview_grid(np.zeros((2, 40, 50, 3), np.uint8), "light", n_views=3))
    assert not_square.shape == (2 * 40 + PREVIEW_GAP, 4 * 40 + 3 * PREVIEW_GAP, 3)


def test_preview_grid_errors(image: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="'n_views' parameter of preview_grid"):
        preview_grid(image, "light", n_views=0)
    with pytest.raises(ConfigError, match="Unknown augmentation policy"):
        preview_grid(image, "bogus")
    with pytest.raises(ValueError, match="uint8 RGB"):
        preview_grid(image[..., 0], "light")


def test_no_backend_warnings(image: np.ndarray, batch: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in POLICIES:
            for magnitude in (0, 1, 5, 10):
                augmenter = build_policy(name, size=SIZE, magnitude=magnitude, n_ops=4, seed=magnitude)
                augmenter.batch(batch)
        for size in (8, 33):
            build_policy("heavy", size=size).batch(np.zeros((4, size, size, 3), np.uint8))


def test_importing_the_module_does_not_import_the_backend() -> None:
    code = "import sys, automl.image.augment; print('albumentations' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
