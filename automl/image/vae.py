"""A small class-conditional VAE that synthesizes extra training images for few-shot classification.

It is fitted on the training images of ONE cross-validation fold (the caller guarantees that), once
per (fold, VAE settings), and then sampled at a searched ratio. Images are downsampled to
``resolution`` and scaled to [0, 1]; a conv encoder (stride-2 blocks) with the one-hot class appended
to its flattened features gives the posterior mean and log-variance; a decoder maps ``[z, one-hot]``
through a linear layer and transposed convs to pixel logits. Samples are decoded at ``resolution`` and
upsampled bilinearly to the fitted images' size.

Fitting and sampling are deterministic for a given seed and leave the caller's global torch RNG state
unchanged: weights are initialised inside ``torch.random.fork_rng`` and shuffling and noise come from
local generators. The thread count is left to the caller.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from automl.errors import ConfigError, DataError, invalid_parameter
from automl.registry import Registry

_OWNER = "ConditionalVAESynthesizer"
_CHANNELS = (32, 64, 128, 128)  # encoder channels per stride-2 block; the decoder mirrors them
_BOTTOM = 4  # spatial size of the innermost feature map
_SAMPLE_CHUNK = 256  # images decoded at once by `sample`
_MAX_SEED = 2**63 - 1


IMAGE_SYNTHESIZERS: Registry[type] = Registry(
    "image synthesizer", reserved=("none",), hint="(or 'none' to turn synthesis off)", sort=True
)
"""Name -> image synthesizer class. A new one is one decorated class with the API of
`ConditionalVAESynthesizer` (keyword-only settings with defaults, `fit`, `sample`, `fit_seconds`,
`reconstruction_loss`); a trial's `synth_<setting>` values reach its settings (`image_synth_settings`)."""


class VAENotFittedError(RuntimeError):
    """``sample`` was called before ``fit``: a bug in the calling code, not a user mistake."""


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= value <= high:
        raise invalid_parameter(name, _OWNER, f"an integer in [{low}, {high}]", value)
    return int(value)


def _check_positive(name: str, value: object) -> float:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise invalid_parameter(name, _OWNER, "a finite number > 0", value)
    return float(value)


def _check_seed(value: object) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not 0 <= value <= _MAX_SEED:
        raise invalid_parameter("seed", _OWNER, "a non-negative integer", value)
    return int(value)


class _CVAE(nn.Module):
    """Encoder/decoder pair; the decoder returns logits (apply a sigmoid for pixels)."""

    def __init__(self, resolution: int, latent_dim: int, n_classes: int) -> None:
        super().__init__()
        n_blocks = int(math.log2(resolution // _BOTTOM))
        channels = _CHANNELS[:n_blocks]
        enc: list[nn.Module] = []
        c_in = 3
        for c_out in channels:
            enc += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.bottom_channels = channels[-1]
        flat = channels[-1] * _BOTTOM * _BOTTOM
        self.to_stats = nn.Linear(flat + n_classes, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim + n_classes, flat), nn.LeakyReLU(0.2))
        dec: list[nn.Module] = []
        rev = list(reversed(channels))
        for c_from, c_to in zip(rev, rev[1:] + [3], strict=True):
            dec.append(nn.ConvTranspose2d(c_from, c_to, 4, stride=2, padding=1))
            if c_to != 3:
                dec.append(nn.LeakyReLU(0.2))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(torch.cat([self.encoder(x), onehot], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(torch.cat([z, onehot], dim=1))
        return self.decoder(h.view(-1, self.bottom_channels, _BOTTOM, _BOTTOM))


@IMAGE_SYNTHESIZERS.register(
    "vae",
    description="a small class-conditional VAE fitted on each fold's training images",
    tasks=("classification",),
    cost="expensive",
)
class ConditionalVAESynthesizer:
    """Class-conditional VAE image synthesizer: ``fit`` on one fold's training images, then ``sample``.

    After ``fit``: ``reconstruction_loss`` is the mean per-pixel MSE (pixels in [0, 1], at
    ``resolution``) of the training images reconstructed from their posterior means in eval mode, and
    ``fit_seconds`` the wall time of the fit.
    """

    name = "vae"

    def __init__(
        self,
        *,
        latent_dim: int = 16,
        epochs: int = 150,
        resolution: int = 32,
        beta: float = 1.0,
        lr: float = 2e-3,
        batch_size: int = 32,
    ) -> None:
        self.latent_dim = _check_int("latent_dim", latent_dim, 2, 128)
        self.epochs = _check_int("epochs", epochs, 1, 2000)
        if (
            not isinstance(resolution, numbers.Integral)
            or isinstance(resolution, bool)
            or resolution not in (16, 32, 64)
        ):
            raise invalid_parameter(
                "resolution", _OWNER, "a power of two in 16..64 (16, 32 or 64)", resolution
            )
        self.resolution = int(resolution)
        self.beta = _check_positive("beta", beta)
        self.lr = _check_positive("lr", lr)
        self.batch_size = _check_int("batch_size", batch_size, 1, 4096)
        self.reconstruction_loss: float = float("nan")
        self.fit_seconds: float = float("nan")
        self._model: _CVAE | None = None
        self._device = torch.device("cpu")
        self._n_classes = 0
        self._class_counts = np.zeros(0, dtype=np.int64)
        self._image_size = 0

    def get_settings(self) -> dict[str, Any]:
        """The constructor settings, as given to ``create_image_synthesizer``."""
        return {
            "latent_dim": self.latent_dim,
            "epochs": self.epochs,
            "resolution": self.resolution,
            "beta": self.beta,
            "lr": self.lr,
            "batch_size": self.batch_size,
        }

    @property
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``from_state``) has run."""
        return self._model is not None

    # ------------------------------------------------------------------ fit

    def fit(
        self, images: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int, device: str = "cpu"
    ) -> ConditionalVAESynthesizer:
        """Train on ``images`` (N, H, W, 3) uint8 RGB with H == W and labels ``y`` (N,) in [0, n_classes)."""
        seed = _check_seed(seed)
        dev = _check_device(device)
        images, y, n_classes = _check_data(images, y, n_classes)
        start = time.perf_counter()
        self._n_classes = n_classes
        self._image_size = images.shape[1]
        self._class_counts = np.bincount(y, minlength=n_classes).astype(np.int64)
        self._device = dev
        x = _to_resolution(torch.from_numpy(images).to(dev), self.resolution)
        labels = torch.from_numpy(y).to(dev)
        onehot_all = F.one_hot(labels, n_classes).float()
        n = x.shape[0]
        fork_devices = (
            [dev.index if dev.index is not None else torch.cuda.current_device()]
            if dev.type == "cuda"
            else []
        )
        with torch.random.fork_rng(devices=fork_devices):
            torch.random.default_generator.manual_seed(seed)  # weight init only; CPU generator
            model = _CVAE(self.resolution, self.latent_dim, n_classes).to(dev)
        shuffle_gen = torch.Generator().manual_seed(seed)
        noise_gen = torch.Generator(device=dev).manual_seed(seed + 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        model.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=shuffle_gen).to(dev)
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                xb, ob = x[idx], onehot_all[idx]
                mu, logvar = model.encode(xb, ob)
                eps = torch.randn(mu.shape, generator=noise_gen, device=dev)
                z = mu + eps * torch.exp(0.5 * logvar)
                logits = model.decode(z, ob)
                rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
                kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
                loss = (rec + self.beta * kl) / xb.shape[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        model.eval()
        self._model = model
        self.reconstruction_loss = self._reconstruction_mse(x, onehot_all)
        self.fit_seconds = time.perf_counter() - start
        return self

    @torch.no_grad()
    def _reconstruction_mse(self, x: torch.Tensor, onehot: torch.Tensor) -> float:
        assert self._model is not None
        total = 0.0
        for i in range(0, x.shape[0], _SAMPLE_CHUNK):
            xb, ob = x[i : i + _SAMPLE_CHUNK], onehot[i : i + _SAMPLE_CHUNK]
            mu, _ = self._model.encode(xb, ob)
            total += float(((torch.sigmoid(self._model.decode(mu, ob)) - xb) ** 2).sum())
        return total / x.numel()

    # --------------------------------------------------------------- sample

    def sample(self, n: int, *, seed: int, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` synthetic images (n, H, W, 3) uint8 at the fitted size, and their int64 labels.

        With ``y=None`` the labels follow the fitted class proportions (largest remainders), in a
        seeded order; otherwise ``y`` (length ``n``) gives the class of each image.
        """
        if self._model is None:
            raise VAENotFittedError("ConditionalVAESynthesizer.sample was called before fit.")
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise invalid_parameter("n", _OWNER, "a non-negative integer", n)
        n = int(n)
        seed = _check_seed(seed)
        if y is None:
            labels = self._allocate(n, seed)
        else:
            labels = np.asarray(y)
            if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
                raise DataError(f"y must be an integer array of shape ({n},); got shape {labels.shape}.")
            if n and (labels.min() < 0 or labels.max() >= self._n_classes):
                raise DataError(f"y must hold class codes in [0, {self._n_classes}).")
            labels = labels.astype(np.int64)
        size = self._image_size
        out = np.empty((n, size, size, 3), dtype=np.uint8)
        gen = torch.Generator(device=self._device).manual_seed(seed)
        with torch.no_grad():
            for i in range(0, n, _SAMPLE_CHUNK):
                lb = torch.from_numpy(labels[i : i + _SAMPLE_CHUNK]).to(self._device)
                z = torch.randn((lb.shape[0], self.latent_dim), generator=gen, device=self._device)
                img = torch.sigmoid(self._model.decode(z, F.one_hot(lb, self._n_classes).float()))
                if size != self.resolution:
                    img = F.interpolate(
                        img,
                        size=(size, size),
                        mode="bilinear",
                        align_corners=False,
                        antialias=size < self.resolution,
                    )
                pixels = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
                out[i : i + lb.shape[0]] = pixels.cpu().numpy()
        return out, labels

    def _allocate(self, n: int, seed: int) -> np.ndarray:
        """Labels in proportion to the fitted class counts (largest remainders), shuffled by ``seed``."""
        counts = self._class_counts
        quotas = n * counts / counts.sum()
        alloc = np.floor(quotas).astype(np.int64)
        remainders = quotas - alloc
        order = np.lexsort((np.arange(len(counts)), -remainders))  # largest remainder, then lowest class
        alloc[order[: n - int(alloc.sum())]] += 1
        labels = np.repeat(np.arange(len(counts), dtype=np.int64), alloc)
        return np.random.default_rng(seed).permutation(labels)

    # ---------------------------------------------------------------- state

    def to_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted synthesizer with ``from_state`` (tensors on CPU)."""
        if self._model is None:
            raise VAENotFittedError("ConditionalVAESynthesizer.to_state was called before fit.")
        return {
            "settings": self.get_settings(),
            "n_classes": self._n_classes,
            "image_size": self._image_size,
            "class_counts": self._class_counts.tolist(),
            "reconstruction_loss": self.reconstruction_loss,
            "fit_seconds": self.fit_seconds,
            "model": {k: v.detach().cpu().clone() for k, v in self._model.state_dict().items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, device: str = "cpu") -> ConditionalVAESynthesizer:
        """Rebuild a fitted synthesizer from ``to_state``'s dict."""
        self = cls(**state["settings"])
        self._device = _check_device(device)
        self._n_classes = int(state["n_classes"])
        self._image_size = int(state["image_size"])
        self._class_counts = np.asarray(state["class_counts"], dtype=np.int64)
        self.reconstruction_loss = float(state["reconstruction_loss"])
        self.fit_seconds = float(state["fit_seconds"])
        model = _CVAE(self.resolution, self.latent_dim, self._n_classes)
        model.load_state_dict(state["model"])
        self._model = model.to(self._device).eval()
        return self


def _check_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise invalid_parameter("device", _OWNER, "'cpu' or 'cuda[:i]'", device) from exc
    if dev.type not in ("cpu", "cuda"):
        raise invalid_parameter("device", _OWNER, "'cpu' or 'cuda[:i]'", device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"The device {device!r} was asked for, but no CUDA GPU is available; use 'cpu'.")
    return dev


def _check_data(images: object, y: object, n_classes: object) -> tuple[np.ndarray, np.ndarray, int]:
    images = np.asarray(images)
    if (
        images.ndim != 4
        or images.shape[3] != 3
        or images.shape[1] != images.shape[2]
        or images.dtype != np.uint8
    ):
        raise DataError(
            f"images must be a uint8 array of shape (N, H, H, 3); got {images.dtype} {images.shape}."
        )
    if images.shape[0] == 0:
        raise DataError("The VAE needs at least one training image; got none.")
    if not isinstance(n_classes, numbers.Integral) or isinstance(n_classes, bool) or n_classes < 1:
        raise invalid_parameter("n_classes", _OWNER, "a positive integer", n_classes)
    y = np.asarray(y)
    if y.shape != (images.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y must be an integer array of shape ({images.shape[0]},); got {y.dtype} {y.shape}.")
    if y.min() < 0 or y.max() >= n_classes:
        raise DataError(f"y must hold class codes in [0, {n_classes}); got values in [{y.min()}, {y.max()}].")
    return np.ascontiguousarray(images), y.astype(np.int64), int(n_classes)


def _to_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, r, r) float in [0, 1], bilinear with antialias."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != resolution:
        x = F.interpolate(
            x,
            size=(resolution, resolution),
            mode="bilinear",
            align_corners=False,
            antialias=x.shape[-1] > resolution,
        )
    return x.clamp(0.0, 1.0).contiguous()


def available_image_synthesizers() -> list[str]:
    """The registered image synthesizer names, sorted."""
    return IMAGE_SYNTHESIZERS.names()


def image_synth_settings(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The trial's `synth_<setting>` values that image synthesizer `name` takes (from its signature)."""
    accepted = IMAGE_SYNTHESIZERS.entry(name).settings
    return {setting: config[f"synth_{setting}"] for setting in accepted if f"synth_{setting}" in config}


def create_image_synthesizer(name: str, **settings: Any) -> Any:
    """A new, unfitted image synthesizer ``name`` with ``settings``; ConfigError on an unknown name or setting."""
    entry = IMAGE_SYNTHESIZERS.entry(name)
    unknown = sorted(set(settings) - set(entry.settings))
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(map(repr, unknown))} for image synthesizer {name!r}. "
            f"Known settings: {', '.join(entry.settings)}."
        )
    return entry.obj(**settings)
