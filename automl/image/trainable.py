"""The image side of the trainable: what a trial receives, and one fold's setup.

The fold loop, early stopping and the reported metrics are the tabular ones (train/trainable.py,
`run_trial(..., fold_setup=image_fold_setup)`). Per fold:
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.image.augment import build_policy
from automl.image.fit import ImageFit
from automl.image.network import build_network, extract_features, head_params, uses_feature_cache
from automl.image.vae import create_image_synthesizer
from automl.image.weights import WeightsSource
from automl.models import count_parameters
from automl.train.loop import EarlyStopping, NetworkFit

NO_SYNTHESIS = "none"
MAX_SYNTH_RATIO = 1.0  # synthetic images per training image when the space does not bound synth_ratio
_SYNTH_SETTINGS = {"synth_latent_dim": "latent_dim", "synth_epochs": "epochs"}  # trial key -> VAE setting


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
    synth_pool: Any = None
    extra: dict = field(default_factory=dict)
    task: str = "classification"
    modality: str = "image"

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def weights_for(self, backbone: str) -> WeightsSource | None:
        found = self.weights.get(backbone)
        return WeightsSource(**found) if found else None


_LOCAL_FEATURES: dict[tuple, tuple[np.ndarray, float]] = {}  # per process, when there is no shared pool


def frozen_features(data: ImageSearchData, backbone: str, drop_stages: int) -> tuple[np.ndarray, float]:
    """Pooled features of every search image through the frozen pretrained backbone: (features, seconds)."""
    import torch

    start = time.perf_counter()
    config = {"backbone": backbone, "drop_stages": drop_stages, "transfer": "linear_probe"}
    with torch.random.fork_rng(devices=[]):
        network = build_network(
            config, data.n_classes, image_size=data.image_size, weights=data.weights_for(backbone)
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    features = extract_features(network.to(device), data.images, device=device)
    return features, time.perf_counter() - start


def _features(data: ImageSearchData, backbone: str, drop_stages: int) -> tuple[np.ndarray, float]:
    """The shared frozen features, and the seconds this trial spent getting them (near 0 once cached)."""
    start = time.perf_counter()
    if data.synth_pool is not None:
        import ray

        try:
            features, _ = ray.get(ray.get(data.synth_pool.features.remote(backbone, drop_stages))[0])
            return features, time.perf_counter() - start
        except ray.exceptions.RayError:  # the pool was lost with its node: compute here
            pass
    key = (data.extra.get("fingerprint"), id(data), backbone, drop_stages)
    if key not in _LOCAL_FEATURES:
        _LOCAL_FEATURES.clear()  # one study's features at a time
        _LOCAL_FEATURES[key] = frozen_features(data, backbone, drop_stages)
    return _LOCAL_FEATURES[key][0], time.perf_counter() - start


def synth_settings(config: dict[str, Any]) -> dict[str, Any]:
    return {setting: config[key] for key, setting in _SYNTH_SETTINGS.items() if key in config}


def fit_image_synthesizer(
    data: ImageSearchData, fold_index: int, method: str, settings: dict, max_ratio: float, seed: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Fit the synthesizer on the fold's training images only and sample `max_ratio` of their count:
    (images, labels, fit seconds, reconstruction loss)."""
    train = data.folds[fold_index][0]
    return sample_synthetic(
        method, settings, data.images[train], data.y[train], data.n_classes, max_ratio, seed
    )


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
    result = None
    if data.synth_pool is not None:
        import ray

        try:
            result = ray.get(ray.get(data.synth_pool.get.remote(fold_index, method, settings, seed))[0])
        except ray.exceptions.RayError:  # the pool was lost with its node: fit here, same seed
            result = None
    if result is None:
        result = fit_image_synthesizer(data, fold_index, method, settings, max_ratio, seed)
    images, labels, _, recon = result
    return images[:n], np.asarray(labels)[:n], time.perf_counter() - start, recon


def head_config(config: dict[str, Any]) -> dict[str, Any]:
    """A linear probe's head as a NetworkFit config (the `image_head` model family)."""
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
    weights = data.weights_for(config["backbone"])
    if uses_feature_cache(config):
        drop = int(config.get("drop_stages", 0))
        features, feature_seconds = _features(data, config["backbone"], drop)
        X_train, X_val = features[train], features[val]
        X_fit, y_fit = X_train, y_train
        network = None
        if len(syn_images):
            network = build_network(config, data.n_classes, image_size=data.image_size, weights=weights)
            X_fit = np.vstack([X_train, extract_features(network.to(device), syn_images, device=device)])
            y_fit = np.concatenate([y_train, syn_labels])
        fit: Any = NetworkFit(
            head_config(config),
            X_fit,
            y_fit,
            task="classification",
            n_classes=data.n_classes,
            seed=data.seed * 1000 + fold_index,
            model_family="image_head",
            device=device,
        )
        extra["feature_seconds"] = feature_seconds
        n_params = _network_size(config, data, weights) if fold_index == 0 else None
    else:
        augmenter = build_policy(
            config.get("augment", "none"),
            size=data.images.shape[1],
            n_ops=int(config.get("aug_ops", 2)),
            magnitude=int(config.get("aug_magnitude", 5)),
            seed=seed,
        )
        fit = ImageFit(
            config,
            np.concatenate([data.images[train], syn_images]) if len(syn_images) else data.images[train],
            np.concatenate([y_train, syn_labels]) if len(syn_images) else y_train,
            n_classes=data.n_classes,
            seed=data.seed * 1000 + fold_index,
            weights=weights,
            image_size=data.image_size,
            augmenter=augmenter,
            device=device,
        )
        X_train, X_val = data.images[train], data.images[val]
        n_params = count_parameters(fit.model)
    return {
        "fit": fit,
        "stop": EarlyStopping(int(config.get("patience", 5))),
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "n_synthetic": len(syn_images),
        "synth_seconds": synth_seconds,
        "n_params": n_params,
        "extra": extra,
    }


def _network_size(config: dict[str, Any], data: ImageSearchData, weights: WeightsSource | None) -> int:
    """Parameters of the whole network a linear probe exports (backbone + head), without loading weights."""
    return count_parameters(
        build_network(config, data.n_classes, image_size=data.image_size, pretrained=False)
    )
