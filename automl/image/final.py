"""The final image model and its baselines, fitted on every search image, then tested once.

The chosen configuration is refitted for its folds' mean best epoch. A linear probe trains its
head on the frozen features and is then put on its backbone, so the export is one network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from automl.image.artifact import ImageModel
from automl.image.backbones import data_config
from automl.image.fit import ImageFit
from automl.image.network import build_network, convex_probe, extract_features, uses_feature_cache
from automl.image.trainable import (
    NO_SYNTHESIS,
    ImageSearchData,
    augmenter_for,
    head_config,
    sample_synthetic,
    synth_settings,
)
from automl.train.loop import NetworkFit

# The baseline a practitioner writes first: logistic regression on frozen pretrained features.
PLAIN_PROBE: dict[str, Any] = {
    "transfer": "linear_probe",
    "drop_stages": 0,
    "head_depth": 0,
    "dropout": 0.0,
    "l1": 0.0,
    "l2": 1e-4,
    "lr": 3e-3,
    "batch_size": 16,
    "augment": "none",
    "synth_method": "none",
}
PLAIN_EPOCHS = 50


def fit_final_image(
    config: dict[str, Any], data: ImageSearchData, *, epochs: int, seed: int, info: dict[str, Any]
) -> tuple[ImageModel, dict[str, Any]]:
    """Refit `config` on all search images; returns the model and what the refit did."""
    images, y = data.images, data.y
    n_syn = int(round(float(config.get("synth_ratio", 0.0)) * len(images)))
    syn_images = np.zeros((0, *images.shape[1:]), np.uint8)
    syn_labels = np.zeros(0, np.int64)
    synth_seconds = 0.0
    if config.get("synth_method", NO_SYNTHESIS) != NO_SYNTHESIS and n_syn > 0:
        syn_images, syn_labels, synth_seconds, _ = sample_synthetic(
            config["synth_method"],
            synth_settings(config),
            images,
            y,
            data.n_classes,
            n_syn / len(images),
            seed,
        )
        syn_images, syn_labels = syn_images[:n_syn], syn_labels[:n_syn]
    weights = data.weights_for(config["backbone"])
    if uses_feature_cache(config) and convex_probe(config):  # fitted to convergence on every image
        from automl.models.linear import LinearFits

        network = build_network(config, data.n_classes, image_size=data.image_size, weights=weights)
        X = extract_features(network, np.concatenate([images, syn_images]))
        labels = np.concatenate([y, syn_labels])
        fold = {"params": head_config(config), "X_fit": X, "y_fit": labels, "X_train": X, "y_train": labels,
                "X_val": X[:1], "y_val": labels[:1]}  # fmt: skip
        fits = LinearFits([fold], data)
        fits.step(np.ones(1, dtype=bool))
        load_head(network.head, fits.fold_network(0)[0].state_dict())
    elif uses_feature_cache(config):
        network = build_network(config, data.n_classes, image_size=data.image_size, weights=weights)
        X = extract_features(network, np.concatenate([images, syn_images]))
        fit = NetworkFit(
            head_config(config),
            X,
            np.concatenate([y, syn_labels]),
            task="classification",
            n_classes=data.n_classes,
            seed=seed,
            model_family="image_head",
        )
        for _ in range(max(1, epochs)):
            fit.epoch()
        network.head.load_state_dict(fit.model.state_dict())
    else:
        fit = ImageFit(
            config,
            np.concatenate([images, syn_images]),
            np.concatenate([y, syn_labels]),
            n_classes=data.n_classes,
            seed=seed,
            weights=weights,
            image_size=data.image_size,
            augmenter=augmenter_for(config, images.shape[1], seed),
        )
        for _ in range(max(1, epochs)):
            fit.epoch()
        network = fit.model
    network = network.cpu().eval()
    details = {"epochs": int(epochs), "n_synthetic": int(len(syn_images)), "synth_seconds": synth_seconds}
    return ImageModel(network, image_model_info(data, config, network, info, epochs)), details


def image_model_info(
    data: ImageSearchData, config: dict[str, Any], network: Any, info: dict[str, Any], epochs: int
) -> dict[str, Any]:
    """What an exported image network's model.json says of it."""
    cfg = data_config(config["backbone"])
    return dict(
        info,
        modality="image",
        task="classification",
        classes=data.classes,
        backbone=config["backbone"],
        config=config,
        image_size=int(data.images.shape[1]),
        input_size=int(network.normalize.size),
        mean=list(cfg["mean"]),
        std=list(cfg["std"]),
        weights=data.weights.get(config["backbone"]),
        epochs=int(epochs),
    )


def load_head(head: Any, state: dict[str, Any]) -> None:
    """A head's weights: an `image_head` module's own, or a convex probe's linear layer (the `linear` table
    family exports `0.weight`/`0.bias`), which is the head's last linear layer at depth 0."""
    if set(state) == {"0.weight", "0.bias"} and set(head.state_dict()) != set(state):
        linear = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
        linear[-1].load_state_dict({"weight": state["0.weight"], "bias": state["0.bias"]})
        return
    head.load_state_dict(state)


def image_probe_bag(
    data: ImageSearchData,
    config: dict[str, Any],
    states: list[dict[str, np.ndarray]],
    info: dict[str, Any],
    epochs: int,
    bag: dict[str, Any],
) -> ImageModel:
    """The fold heads of a linear probe on cached features, on one frozen pretrained backbone: the bag as
    one network (image/network.py `HeadBag`), its output the mean of the heads' probabilities."""
    weights = data.weights_for(config["backbone"])
    network = build_network(
        config, data.n_classes, image_size=data.image_size, weights=weights, n_heads=len(states)
    )
    for head, state in zip(network.head.heads, states, strict=True):
        load_head(head, {k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    network = network.cpu().eval()
    info = dict(image_model_info(data, config, network, info, epochs), n_heads=len(states), bag=bag)
    return ImageModel(network, info)


def image_fold_model(
    data: ImageSearchData,
    fold_index: int,
    config: dict[str, Any],
    state: dict[str, np.ndarray],
    info: dict[str, Any],
    epochs: int,
) -> ImageModel:
    """One fold's network of a fixed-epoch run (train/fixed.py): a member of the exported bag. A probe on
    cached features trained only its head: the head goes on the frozen pretrained backbone."""
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    if uses_feature_cache(config):
        weights = data.weights_for(config["backbone"])
        network = build_network(config, data.n_classes, image_size=data.image_size, weights=weights)
        load_head(network.head, tensors)
    else:
        network = build_network(config, data.n_classes, image_size=data.image_size, pretrained=False)
        network.load_state_dict(tensors)
    network = network.cpu().eval()
    return ImageModel(network, image_model_info(data, config, network, info, epochs))


def probe_backbone(chosen: str, data: ImageSearchData) -> str | None:
    """The backbone of the plain linear-probe baseline: the chosen one when pretrained, else the first
    searched backbone that has pretrained weights."""
    if data.weights.get(chosen):
        return chosen
    return next((name for name, found in data.weights.items() if found), None)
