"""The image side of the trainable: what a trial receives, and one fold's setup.

The fold loop, early stopping and the reported metrics are the tabular ones (train/trainable.py,
`ImageSearchData.setup_fold`, which `run_trial` calls). Per fold:
- a linear probe without augmentation trains the head on frozen-backbone features, computed once per
  (backbone, kept stages) for every search image and shared by all folds and trials (no fitting is
  involved, so sharing them leaks nothing);
- any other trial trains (part of) the backbone and the head on the images, augmented each epoch
  with the trial's policy (training images only);
- synthetic images come from a class-conditional VAE fitted on the fold's training images only,
  once per (fold, VAE settings) through the study's shared pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from automl.image.augment import Augmenter, build_policy
from automl.image.fit import ImageFit
from automl.image.network import (
    build_network,
    convex_probe,
    effective_config,
    extract_features,
    head_params,
    uses_feature_cache,
)
from automl.image.vae import create_image_synthesizer, image_synth_settings
from automl.image.weights import WeightsSource
from automl.models import build_model, count_parameters
from automl.synth.pool import fetch_shared
from automl.train.table_folds import NO_SYNTHESIS, network_fold, scored_fold

BASELINE_PIXELS = 16  # side of the pixel grid of the logistic-regression baseline
MAX_SYNTH_RATIO = 1.0  # synthetic images per training image when the space does not bound synth_ratio


@dataclass
class ImageSearchData:
    """What every trial of an image study needs, put in the object store once (never the test images)."""

    images: np.ndarray  # (n, S, S, 3) uint8 search images
    y: np.ndarray
    classes: list[str]
    folds: list[tuple[np.ndarray, np.ndarray]]
    metric: str
    max_epochs: int
    seed: int
    weights: dict[str, dict | None]  # backbone -> WeightsSource fields (None: trained from scratch)
    image_size: int | None = None  # cap on the backbones' input size
    shared_pool: Any = None  # SharedPool actor handle, or None to compute in the trial
    extra: dict = field(default_factory=dict)
    task: str = "classification"
    modality: str = "image"

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    linear_description = f"pixels downsampled to at most {BASELINE_PIXELS} px, standardized"

    def effective_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The sampled configuration as its backbone means it (image/network.py), without a VAE's
        settings when there is none."""
        out = effective_config(config)
        if out.get("synth_method", NO_SYNTHESIS) == NO_SYNTHESIS:
            for key in [k for k in out if k.startswith("synth_") and k != "synth_method"]:
                out.pop(key)
        return out

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Raw search images, as a linear baseline's encoder takes them."""
        return self.images[index]

    def linear_encoder(self, train_rows: np.ndarray):
        """Downsampled, standardized pixels; the scaling fitted on `train_rows` only."""
        from sklearn.preprocessing import StandardScaler

        train = self.images[train_rows]
        grey = bool(np.all(train[..., :1] == train))  # decided once, on the training images
        scaler = StandardScaler().fit(pixel_vectors(train, grey=grey))
        return lambda images: scaler.transform(pixel_vectors(images, grey=grey))

    def weights_for(self, backbone: str) -> WeightsSource | None:
        found = self.weights.get(backbone)
        return WeightsSource(**found) if found else None

    def setup_fold(self, fold_index: int, config: dict[str, Any], device: str) -> dict[str, Any]:
        return image_fold_setup(self, fold_index, config, device)

    def with_folds(self, folds: list[tuple[np.ndarray, np.ndarray]]) -> ImageSearchData:
        """The same images on other folds (the fresh folds of the re-evaluation), without the old shared
        pool (its synthesizers were fitted on the old folds)."""
        return replace(self, folds=folds, shared_pool=None)

    def fit_fold_synthesizer(
        self, fold_index: int, method: str, settings: dict, max_ratio: float, seed: int
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """For the shared pool: fit on the fold's training images only, sample `max_ratio` of their count:
        (images, labels, fit seconds, reconstruction loss)."""
        train = self.folds[fold_index][0]
        return sample_synthetic(
            method, settings, self.images[train], self.y[train], self.n_classes, max_ratio, seed
        )

    def frozen_features(
        self, backbone: str, drop_stages: int, size: str = "images"
    ) -> tuple[np.ndarray, float]:
        """Features of every search image through a frozen backbone (pooled pretrained features, or the raw
        pixels of a pixel backbone) at its `size` policy (image/network.py `input_size`): (features,
        seconds)."""
        import torch

        start = time.perf_counter()
        device = "cuda" if torch.cuda.is_available() else "cpu"
        network = frozen_network(self, backbone, drop_stages, size).to(device)
        return extract_features(network, self.images, device=device), time.perf_counter() - start


def pixel_vectors(images: np.ndarray, side: int = BASELINE_PIXELS, grey: bool | None = None) -> np.ndarray:
    """(n, S, S, 3) uint8 -> (n, s*s*c) floats: area-downsampled to s <= side, one channel when `grey`
    (None: when these images are; an encoder fixes it on its training images, so that a batch of
    black images still gives the width it was fitted on)."""
    from PIL import Image

    size = min(side, images.shape[1])
    grey = bool(np.all(images[..., :1] == images)) if grey is None else grey
    out = []
    for image in images:
        small = np.asarray(
            Image.fromarray(image).resize((size, size), Image.Resampling.BOX), dtype=np.float32
        )
        out.append((small[..., :1] if grey else small).ravel() / 255.0)
    return np.stack(out)


_LOCAL_FEATURES: dict[tuple, tuple[np.ndarray, float]] = {}  # per process, when there is no shared pool
_FROZEN_NETWORKS: dict[tuple, Any] = {}  # per process: a frozen pretrained network is never trained


def clear_caches() -> None:
    """Forget this process's frozen features and networks (a benchmark's cold start)."""
    _LOCAL_FEATURES.clear()
    _FROZEN_NETWORKS.clear()


def frozen_network(data: ImageSearchData, backbone: str, drop_stages: int, size: str = "images") -> Any:
    """The frozen network of a linear probe (a pretrained backbone, or raw pixels), built (and its weights
    read) once per process."""
    import torch

    key = (backbone, drop_stages, size, data.image_size, str(data.weights.get(backbone)), data.n_classes)
    if key not in _FROZEN_NETWORKS:
        config = {
            "backbone": backbone,
            "drop_stages": drop_stages,
            "transfer": "linear_probe",
            "input_size": size,
        }
        with torch.random.fork_rng(devices=[]):  # built or not, the caller's RNG is the same
            network = build_network(
                config, data.n_classes, image_size=data.image_size, weights=data.weights_for(backbone)
            )
        _FROZEN_NETWORKS.clear()  # one at a time: they are large
        _FROZEN_NETWORKS[key] = network.eval()
    return _FROZEN_NETWORKS[key]


def _features(
    data: ImageSearchData, backbone: str, drop_stages: int, size: str = "images"
) -> tuple[np.ndarray, float]:
    """The shared frozen features, and the seconds this trial spent getting them (near 0 once cached)."""
    start = time.perf_counter()
    shared = fetch_shared(data.shared_pool, "features", backbone, drop_stages, size)
    if shared is not None:
        return shared[0], time.perf_counter() - start
    key = (data.extra.get("fingerprint"), id(data), backbone, drop_stages, size)
    if key not in _LOCAL_FEATURES:
        _LOCAL_FEATURES.clear()  # one study's features at a time
        _LOCAL_FEATURES[key] = data.frozen_features(backbone, drop_stages, size)
    return _LOCAL_FEATURES[key][0], time.perf_counter() - start


def synth_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The trial's `synth_<setting>` values its image synthesizer takes (none without one)."""
    method = config.get("synth_method", NO_SYNTHESIS)
    return {} if method == NO_SYNTHESIS else image_synth_settings(method, config)


def sample_synthetic(
    method: str,
    settings: dict,
    images: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    max_ratio: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    synth = create_image_synthesizer(method, **settings).fit(images, y, n_classes, seed=seed)
    sampled, labels = synth.sample(int(np.ceil(max_ratio * len(images))), seed=seed)
    return sampled, labels, float(synth.fit_seconds), float(synth.reconstruction_loss)


def synthetic_images(
    config: dict[str, Any], data: ImageSearchData, fold_index: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float, float | None]:
    """The fold's synthetic images for this trial: (images, labels, seconds, reconstruction loss)."""
    method = config.get("synth_method", NO_SYNTHESIS)
    train = data.folds[fold_index][0]
    n = int(round(float(config.get("synth_ratio", 0.0)) * len(train)))
    empty = (np.zeros((0, *data.images.shape[1:]), np.uint8), np.zeros(0, np.int64), 0.0, None)
    if method == NO_SYNTHESIS or n == 0:
        return empty
    start = time.perf_counter()
    settings = synth_settings(config)
    max_ratio = data.extra.get("max_synth_ratio", MAX_SYNTH_RATIO)
    result = fetch_shared(data.shared_pool, "get", fold_index, method, settings, seed)
    if result is None:  # no pool, or lost with its node: fit here, same seed
        result = data.fit_fold_synthesizer(fold_index, method, settings, max_ratio, seed)
    images, labels, _, recon = result
    return images[:n], np.asarray(labels)[:n], time.perf_counter() - start, recon


def head_config(config: dict[str, Any]) -> dict[str, Any]:
    """A linear probe's head as a NetworkFit config (the `image_head` model family); a convex probe's as
    the `linear` table family's (its C, on standardized features)."""
    if convex_probe(config):
        return {"linear_c": float(config.get("probe_c", 1.0)), "standardize": True}
    keys = ("lr", "l1", "l2", "batch_size", "label_smoothing")
    return {**head_params(config), **{k: config[k] for k in keys if k in config}}


def image_fold_setup(
    data: ImageSearchData, fold_index: int, config: dict[str, Any], device: str
) -> dict[str, Any]:
    train, val = data.folds[fold_index]
    seed = data.seed + fold_index
    y_train, y_val = data.y[train], data.y[val]
    syn_images, syn_labels, synth_seconds, recon = synthetic_images(config, data, fold_index, seed)
    extra: dict[str, float] = {}
    if recon is not None:
        extra["synth_recon_loss"] = recon
    if uses_feature_cache(config):
        effective = effective_config(config)
        drop = int(effective.get("drop_stages", 0))  # raw pixels: always 0
        size = str(effective.get("input_size", "images"))
        features, feature_seconds = _features(data, config["backbone"], drop, size)
        X_train, X_val = features[train], features[val]
        X_fit, y_fit = X_train, y_train
        frozen = frozen_network(data, config["backbone"], drop, size)
        if len(syn_images):
            synthetic = extract_features(frozen.to(device), syn_images, device=device)
            X_fit, y_fit = np.vstack([X_train, synthetic]), np.concatenate([y_train, syn_labels])
        # the head trains on the cached features: batched over folds like a table's network, or fitted to
        # convergence (a convex probe: the table family `linear` on the standardized features)
        network = network_fold(head_config(config), "image_head", data.seed * 1000 + fold_index, X_fit, y_fit)
        if convex_probe(config):
            network.update(table_family="linear", max_epochs=1)
        extra["feature_seconds"] = feature_seconds
        head = build_model("image_head", X_fit.shape[1], data.n_classes, network["params"])
        n_params = count_parameters(head)  # trained on this data: the head alone
        extra["model_params"] = count_parameters(frozen.backbone) + n_params  # the exported network
    else:
        network = {}
        fit = ImageFit(
            config,
            np.concatenate([data.images[train], syn_images]) if len(syn_images) else data.images[train],
            np.concatenate([y_train, syn_labels]) if len(syn_images) else y_train,
            n_classes=data.n_classes,
            seed=data.seed * 1000 + fold_index,
            weights=data.weights_for(config["backbone"]),
            image_size=data.image_size,
            augmenter=augmenter_for(config, data.images.shape[1], seed),
            device=device,
        )
        X_train, X_val = data.images[train], data.images[val]
        # trained on this data: the head and the unfrozen backbone stages (all of them when fully trained)
        n_params = sum(p.numel() for p in fit.model.parameters() if p.requires_grad)
        extra["model_params"] = count_parameters(fit.model)  # the exported network
    return {
        **(network or {"fit": fit}),
        **scored_fold(
            int(config.get("patience", 5)), X_train, y_train, X_val, y_val, len(syn_images), synth_seconds
        ),
        "n_params": n_params,
        "extra": extra,
    }


def augmenter_for(config: dict[str, Any], size: int, seed: int) -> Augmenter:
    """The trial's augmentation policy, for its training images."""
    return build_policy(
        config.get("augment", "none"),
        size=size,
        n_ops=int(config.get("aug_ops", 2)),
        magnitude=int(config.get("aug_magnitude", 5)),
        seed=seed,
    )
