"""Images: a folder with one subfolder per class, a .zip of one, or a CSV of path,label.

The work itself lives in `automl/image/` (preparation, backbones, fold setup, final fit, export); this
module answers the core's questions and reaches it there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.data.image_sources import check_image_source, is_image_source
from automl.image.augment import available_policies, preview_grid
from automl.modalities import Log, Modality, register_modality
from automl.search.space import TRANSFER_POLICIES

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_CLASSES = 4  # the augmentation previews show one training image of each of the first classes


@register_modality
class Image(Modality):
    name = "image"
    unit = "images"
    new_data = "./new_images/"
    trial_modules = ("automl.train.trainable", "automl.image.trainable")
    description = "images: a folder of class subfolders, a .zip of one, or a CSV of path,label"
    tasks = ("classification",)

    def claims(self, path: Path, target: str | None) -> bool:
        """A folder always; a .zip or a CSV of `path,label` unless another --target is named (a zipped
        table, a table with those columns)."""
        if path.is_dir():
            return True
        if target not in (None, "label"):
            return False
        return path.suffix.lower() == ".zip" or (path.is_file() and is_image_source(path))

    def check(self, config: Any) -> None:
        """The task, the metric and the images' layout (folders, archive headers, a CSV listing, class
        sizes), before torch, timm and the weights look-up load: a misplaced folder is refused at once."""
        from automl.errors import ConfigError
        from automl.metrics import get_metric

        if config.task not in (None, "classification"):
            raise ConfigError(
                f"Image studies are classifications: the task of {config.data} cannot be {config.task!r}. "
                "Drop --task, or give a table for a regression."
            )
        if config.metric:
            get_metric(config.metric, "classification")
        check_image_source(
            config.data,
            max_archive_bytes=int(config.images.max_archive_mb * 1024 * 1024),
            skip_bad=config.images.skip_bad,
        )

    def prepare(self, config: Any, log: Log) -> Any:
        from automl.image.prepare import prepare_images  # torch, timm

        return prepare_images(config, log)

    def describe(self, dataset: Any) -> str:
        return f"{dataset.n_rows} images of {len(dataset.classes)} classes"

    def data_line(self, summary: dict[str, Any]) -> str:
        return (
            f"{summary.get('source')} ({summary.get('n_images')} images of {len(summary.get('classes') or [])} "
            f"classes at {summary.get('image_size')} px)"
        )

    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        # The registries' modules import torch and timm: loaded when an image space is checked.
        from automl.image.backbones import available_backbones
        from automl.image.vae import available_image_synthesizers

        return {
            "backbone": ("backbone(s)", available_backbones()),
            "augment": ("augmentation policy(ies)", available_policies()),
            "synth_method": ("image synthesizer(s)", ["none", *available_image_synthesizers()]),
            "transfer": ("transfer policy(ies)", list(TRANSFER_POLICIES)),
        }

    def setting_parameters(self) -> set[str]:
        from automl.image.vae import IMAGE_SYNTHESIZERS  # torch

        return {f"synth_{setting}" for entry in IMAGE_SYNTHESIZERS.entries() for setting in entry.settings}

    def expensive_choices(self) -> dict[str, list[Any]]:
        """The image synthesizers that train per fold (the VAE), and fine-tuning a backbone (a linear
        probe on cached features costs a fraction of it)."""
        from automl.image.vae import IMAGE_SYNTHESIZERS  # torch

        return {
            "synth_method": [e.name for e in IMAGE_SYNTHESIZERS.entries() if e.cost == "expensive"],
            "transfer": [t for t in TRANSFER_POLICIES if t != "linear_probe"],
        }

    def save_extras(self, store: Any, study_id: str, prep: Any) -> None:
        """A grid per searched augmentation policy, on real training images (one per class, up to 4)."""
        data = prep.data
        firsts = [int(np.flatnonzero(data.y == c)[0]) for c in range(data.n_classes)][:PREVIEW_CLASSES]
        for policy in prep.space.choices("augment"):
            store.write_bytes(
                study_id,
                f"report/augment/{policy}.png",
                preview_grid(data.images[firsts], policy, seed=data.seed),
            )

    def is_simple(self, config: dict[str, Any]) -> bool:
        """A linear classifier on frozen features (pretrained or raw pixels), without augmentation."""
        from automl.image.network import uses_feature_cache  # torch, timm

        return uses_feature_cache(config) and int(config.get("head_depth", 0)) == 0

    def prepare_fresh(self, fresh: Any, configs: list[dict[str, Any]], search: Any) -> None:
        """A pool of the fresh folds' own (for their synthetic images), holding the frozen features the
        search's pool already extracted (they depend on no fold)."""
        import ray

        from automl.synth.pool import HEAD_NODE_RESOURCE, SharedPool

        inherited = [] if search.shared_pool is None else ray.get(search.shared_pool.feature_refs.remote())
        ref = ray.put(fresh)  # without the pool, which it is for
        fresh.shared_pool = SharedPool.options(resources={HEAD_NODE_RESOURCE: 0.001}).remote(
            [ref], fresh.extra.get("max_synth_ratio", 1.0), None, 0.0, inherited
        )

    def fold_model(
        self, fresh: Any, fold_index: int, config: dict[str, Any], network: Any, info: dict, epochs: int
    ) -> Any:
        """The fold's network (a probe's head goes on the frozen pretrained backbone)."""
        from automl.image.final import image_fold_model  # torch, timm

        return image_fold_model(fresh, fold_index, config, network.state, info, epochs)

    def bag(
        self, fresh: Any, config: dict[str, Any], networks: list[Any], info: dict, epochs: int, bag: dict
    ) -> Any | None:
        """A bag of linear probes on cached features: one backbone under the fold heads."""
        from automl.image.final import image_probe_bag  # torch, timm
        from automl.image.network import uses_feature_cache

        if not uses_feature_cache(config):
            return None
        return image_probe_bag(fresh, config, [n.state for n in networks], info, epochs, bag)

    def refit(
        self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from automl.image.final import fit_final_image  # torch, timm

        return fit_final_image(config, prep.data, epochs=epochs, seed=seed, info=info)

    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        test = prep.splits.test
        return prep.dataset.images[test], prep.dataset.y[test]

    def model_files(self) -> tuple[str, ...]:
        from automl.image.artifact import IMAGE_MODEL_FILES  # torch, timm

        return IMAGE_MODEL_FILES

    def load_model(self, files: dict[str, bytes], where: str) -> Any:
        from automl.image.artifact import ImageModel  # torch, timm

        return ImageModel.from_files(files, where)

    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        from automl.predict import predict_images  # torch

        return predict_images(model, source, output)
