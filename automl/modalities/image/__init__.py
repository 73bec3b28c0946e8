"""Images: a folder with one subfolder per class, a .zip of one, or a CSV of path,label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.modalities import MODALITIES, Modality

if TYPE_CHECKING:
    import pandas as pd


class Image(Modality):
    name = "image"
    unit = "images"
    new_data = "./new_images/"

    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        # The registries' modules import torch and timm: loaded when an image space is checked.
        from automl.image.augment import available_policies
        from automl.image.backbones import available_backbones
        from automl.image.vae import available_image_synthesizers
        from automl.search.space import TRANSFER_POLICIES

        return {
            "backbone": ("backbone(s)", available_backbones()),
            "augment": ("augmentation policy(ies)", available_policies()),
            "synth_method": ("image synthesizer(s)", ["none", *available_image_synthesizers()]),
            "transfer": ("transfer policy(ies)", list(TRANSFER_POLICIES)),
        }

    def data_line(self, summary: dict[str, Any]) -> str:
        return (
            f"{summary.get('source')} ({summary.get('n_images')} images of {len(summary.get('classes') or [])} "
            f"classes at {summary.get('image_size')} px)"
        )

    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        from automl.predict import predict_images

        return predict_images(model, source, output)

    def refit(self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]):
        from automl.image.final import fit_final_image  # torch, timm

        return fit_final_image(config, prep.data, epochs=epochs, seed=seed, info=info)

    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        test = prep.splits.test
        return prep.dataset.images[test], prep.dataset.y[test]


MODALITIES.add(
    Image.name,
    Image(),
    description="images: a folder of class subfolders, a .zip of one, or a CSV of path,label",
    tasks=("classification",),
)
