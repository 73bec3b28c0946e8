"""The class-conditional VAE image synthesizer: API contract, determinism, RNG hygiene and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl.errors import ConfigError, DataError
from automl.image.vae import (
    IMAGE_SYNTHESIZERS,
    ConditionalVAESynthesizer,
    VAENotFittedError,
    available_image_synthesizers,
    create_image_synthesizer,
    image_synth_settings,
)

FAST = {"epochs": 2, "resolution": 16, "latent_dim": 4}


def _random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _two_classes(n_per_class: int = 20, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: dark noisy squares; class 1: bright images with a dark vertical bar."""
    rng = np.random.default_rng(seed)
    dark = rng.normal(40, 15, (n_per_class, size, size, 3))
    bright = rng.normal(215, 10, (n_per_class, size, size, 3))
    for i in range(n_per_class):
        col = size // 2 + int(rng.integers(-2, 3))
        bright[i, :, col - 2 : col + 2, :] = 20
    images = np.clip(np.concatenate([dark, bright]), 0, 255).astype(np.uint8)
    y = np.repeat(np.arange(2, dtype=np.int64), n_per_class)
    return images, y


@pytest.fixture(scope="module")
def fitted() -> ConditionalVAESynthesizer:
    """A tiny fit on 10 images of 24x24 in 3 classes with counts 6, 3, 1."""
    y = np.array([0] * 6 + [1] * 3 + [2], dtype=np.int64)
    return ConditionalVAESynthesizer(**FAST).fit(_random_images(10, 24), y, 3, seed=0)


# ------------------------------------------------------------------ registry and settings


def test_registry_lists_and_creates_the_vae():
    assert IMAGE_SYNTHESIZERS["vae"] is ConditionalVAESynthesizer and len(IMAGE_SYNTHESIZERS) == 1
    assert available_image_synthesizers() == ["vae"]
    vae = create_image_synthesizer("vae", latent_dim=8, epochs=3)
    assert isinstance(vae, ConditionalVAESynthesizer)
    assert vae.get_settings() == {
        "latent_dim": 8,
        "epochs": 3,
        "resolution": 32,
        "beta": 1.0,
        "lr": 2e-3,
        "batch_size": 32,
    }


def test_a_trials_synth_values_become_the_settings_the_signature_names():
    config = {
        "synth_method": "vae",
        "synth_ratio": 0.5,
        "synth_latent_dim": 8,
        "synth_epochs": 100,
        "lr": 0.1,
    }
    assert image_synth_settings("vae", config) == {"latent_dim": 8, "epochs": 100}


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"Unknown image synthesizer 'gan'.*vae"):
        create_image_synthesizer("gan")


def test_unknown_setting_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'latent'.*latent_dim"):
        create_image_synthesizer("vae", latent=8)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("latent_dim", 1),
        ("latent_dim", 129),
        ("latent_dim", 2.5),
        ("latent_dim", True),
        ("epochs", 0),
        ("epochs", 2001),
        ("resolution", 8),
        ("resolution", 24),
        ("resolution", 128),
        ("resolution", 32.0),
        ("beta", 0.0),
        ("beta", -1.0),
        ("beta", float("nan")),
        ("beta", float("inf")),
        ("lr", 0),
        ("batch_size", 0),
    ],
)
def test_bad_settings_raise_config_error(name, value):
    with pytest.raises(ConfigError, match=f"'{name}' parameter of ConditionalVAESynthesizer"):
        create_image_synthesizer("vae", **{name: value})


def test_bad_seed_and_device_raise_config_error():
    images, y = _random_images(4, 16), np.array([0, 1, 0, 1])
    with pytest.raises(ConfigError, match="'seed'"):
        ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=-1)
    with pytest.raises(ConfigError, match="'device'"):
        ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=0, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=0, device="cuda")


def test_bad_data_raises_data_error():
    vae = ConditionalVAESynthesizer(**FAST)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(DataError, match="uint8"):
        vae.fit(_random_images(4, 16).astype(np.float32), y, 2, seed=0)
    with pytest.raises(DataError, match=r"\(N, H, H, 3\)"):
        vae.fit(np.zeros((4, 16, 20, 3), np.uint8), y, 2, seed=0)
    with pytest.raises(DataError, match="class codes"):
        vae.fit(_random_images(4, 16), np.array([0, 1, 2, 1]), 2, seed=0)
    with pytest.raises(DataError, match="shape"):
        vae.fit(_random_images(4, 16), np.array([0, 1]), 2, seed=0)


def test_sample_before_fit_is_a_bug():
    with pytest.raises(VAENotFittedError):
        ConditionalVAESynthesizer().sample(3, seed=0)


# ------------------------------------------------------------------ sampling contract


def test_sample_shapes_dtypes_and_labels(fitted):
    images, labels = fitted.sample(7, seed=1)
    assert images.shape == (7, 24, 24, 3) and images.dtype == np.uint8
    assert labels.shape == (7,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < 3
    assert fitted.fit_seconds > 0
    assert 0 <= fitted.reconstruction_loss <= 1


def test_sample_zero_gives_empty_arrays(fitted):
    images, labels = fitted.sample(0, seed=1)
    assert images.shape == (0, 24, 24, 3) and images.dtype == np.uint8
    assert labels.shape == (0,) and labels.dtype == np.int64
    images, labels = fitted.sample(0, seed=1, y=np.zeros(0, np.int64))
    assert images.shape == (0, 24, 24, 3) and labels.shape == (0,)


@pytest.mark.parametrize(
    ("n", "expected"), [(10, [6, 3, 1]), (7, [4, 2, 1]), (20, [12, 6, 2]), (1, [1, 0, 0])]
)
def test_labels_follow_class_proportions_by_largest_remainders(fitted, n, expected):
    _, labels = fitted.sample(n, seed=3)
    assert np.bincount(labels, minlength=3).tolist() == expected


def test_label_order_is_seeded(fitted):
    _, a = fitted.sample(20, seed=3)
    _, b = fitted.sample(20, seed=3)
    _, c = fitted.sample(20, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, np.sort(a))


def test_explicit_labels_are_honoured(fitted):
    y = np.array([2, 2, 0, 1, 2], dtype=np.int64)
    images, labels = fitted.sample(5, seed=0, y=y)
    np.testing.assert_array_equal(labels, y)
    assert images.shape == (5, 24, 24, 3)
    with pytest.raises(DataError, match="shape"):
        fitted.sample(4, seed=0, y=y)
    with pytest.raises(DataError, match="class codes"):
        fitted.sample(2, seed=0, y=np.array([0, 3]))
    with pytest.raises(ConfigError, match="'n'"):
        fitted.sample(-1, seed=0)


# ------------------------------------------------------------------ determinism and RNG hygiene


def test_same_seed_gives_identical_fits_and_samples():
    images, y = _random_images(12, 16, seed=5), np.arange(12) % 2
    a = ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=7)
    b = ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=7)
    c = ConditionalVAESynthesizer(**FAST).fit(images, y, 2, seed=8)
    assert a.reconstruction_loss == b.reconstruction_loss
    np.testing.assert_array_equal(a.sample(6, seed=1)[0], b.sample(6, seed=1)[0])
    assert not np.array_equal(a.sample(6, seed=1)[0], c.sample(6, seed=1)[0])


def test_different_sample_seeds_give_different_images(fitted):
    y = np.array([0, 1, 2, 0])
    first, _ = fitted.sample(4, seed=1, y=y)
    again, _ = fitted.sample(4, seed=1, y=y)
    other, _ = fitted.sample(4, seed=2, y=y)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_global_rng_state_is_unchanged():
    torch.manual_seed(123)
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    vae = ConditionalVAESynthesizer(**FAST).fit(_random_images(6, 16), np.array([0, 1] * 3), 2, seed=0)
    vae.sample(5, seed=0)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_state_round_trip_gives_identical_samples(fitted):
    rebuilt = ConditionalVAESynthesizer.from_state(fitted.to_state())
    assert rebuilt.get_settings() == fitted.get_settings()
    np.testing.assert_array_equal(rebuilt.sample(5, seed=9)[0], fitted.sample(5, seed=9)[0])
    np.testing.assert_array_equal(rebuilt.sample(5, seed=9)[1], fitted.sample(5, seed=9)[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_fit_and_sample_on_cuda():
    vae = ConditionalVAESynthesizer(**FAST).fit(
        _random_images(6, 16), np.array([0, 1] * 3), 2, seed=0, device="cuda"
    )
    images, labels = vae.sample(4, seed=0)
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8 and labels.shape == (4,)


# ------------------------------------------------------------------ it learns


def test_samples_resemble_their_class_and_reconstruction_improves():
    images, y = _two_classes()
    one = ConditionalVAESynthesizer(epochs=1, latent_dim=8).fit(images, y, 2, seed=0)
    vae = ConditionalVAESynthesizer(epochs=60, latent_dim=8).fit(images, y, 2, seed=0)
    assert vae.reconstruction_loss < one.reconstruction_loss
    means = [images[y == c].astype(np.float64).mean(axis=0) for c in (0, 1)]
    for c in (0, 1):
        samples, labels = vae.sample(10, seed=c, y=np.full(10, c))
        assert (labels == c).all()
        dist = [np.abs(samples.astype(np.float64) - m).mean() for m in means]
        assert dist[c] < dist[1 - c], (c, dist)
    # the bar of class 1 is reproduced: its middle columns are darker than the rest of the image
    bars, _ = vae.sample(10, seed=5, y=np.ones(10, np.int64))
    assert bars[:, :, 14:18].mean() < bars[:, :, :10].mean() - 40
