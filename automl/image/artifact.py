"""The exported image model, with no pickle:

model/weights.safetensors   the whole network (resize + normalization buffers, backbone, head)
model/model.json            modality, backbone, trial config, classes, normalization, input and stored sizes
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.torch import save as save_safetensors

from automl.errors import ConfigError, ModelError
from automl.image.fit import network_output
from automl.image.network import ImageClassifier, build_network
from automl.model_files import check_against_weights, check_count, read_model_files, save_files

FORMAT_VERSION = 1
IMAGE_MODEL_FILES = ("weights.safetensors", "model.json")
MAX_CLASSES, MAX_SIDE, MAX_HEAD_WIDTH, MAX_HEADS = 100_000, 2048, 65_536, 1000  # beyond any real model's


@dataclass
class ImageModel:
    """A fitted image network; `predict_output` gives class probabilities for uint8 images."""

    network: ImageClassifier
    info: dict[str, Any]  # modality, task, classes, backbone, config, image_size, input_size, mean, std, ...

    task = "classification"

    @property
    def classes(self) -> list[str]:
        return self.info["classes"]

    @property
    def image_size(self) -> int:
        """The stored square side that input images are brought to before the network."""
        return int(self.info["image_size"])

    def predict_output(self, images: np.ndarray) -> np.ndarray:
        return network_output(self.network, images)

    def predict_frame(self, images: np.ndarray, paths: list[str] | None = None) -> pd.DataFrame:
        """One row per image: `path` (when given), `prediction`, and `proba_<class>` columns."""
        output = self.predict_output(images)
        frame = pd.DataFrame({"prediction": [self.classes[i] for i in output.argmax(axis=1)]})
        if paths is not None:
            frame.insert(0, "path", paths)
        for i, label in enumerate(self.classes):
            frame[f"proba_{label}"] = output[:, i]
        return frame

    def files(self) -> dict[str, bytes]:
        state = {k: v.detach().cpu().contiguous() for k, v in self.network.state_dict().items()}
        return {
            "weights.safetensors": save_safetensors(state),
            "model.json": json.dumps(dict(self.info, format_version=FORMAT_VERSION), indent=2).encode(),
        }

    def save(self, directory: str | Path) -> Path:
        return save_files(self.files(), directory)

    @classmethod
    def from_files(cls, files: dict[str, bytes], where: str = "model") -> ImageModel:
        info, state = read_model_files(files, IMAGE_MODEL_FILES, where, FORMAT_VERSION)
        _check_sizes(info, where)  # nothing is sized by an unchecked model.json

        def build() -> ImageClassifier:
            return build_network(
                info["config"],
                len(info["classes"]),
                image_size=info.get("input_size"),
                pretrained=False,
                n_heads=int(info.get("n_heads", 1)),
            )

        try:
            check_against_weights(build, state, where)  # on the meta device: nothing allocated
            network = build()
            network.load_state_dict(state)
        except (ConfigError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0][:200]
            raise ModelError(
                f"{where} cannot be loaded (the weights do not fit the network in model.json: {reason}). "
                "Re-export it with `automl run`."
            ) from None
        network.eval()
        return cls(network, info)


def _check_sizes(info: dict[str, Any], where: str) -> None:
    """model.json's classes, image sizes and configuration within sane limits."""
    classes = info.get("classes")
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        count = f"{len(classes):,} classes" if isinstance(classes, list) else "no list of classes"
        raise ModelError(
            f"{where} cannot be loaded: model.json has {count}, where a classifier has 2 to {MAX_CLASSES:,}. "
            "Re-export it with `automl run`."
        )
    check_count(info, "image_size", 1, MAX_SIDE, where)  # every new image is decoded at this side
    if info.get("input_size") is not None:
        check_count(info, "input_size", 1, MAX_SIDE, where)
    if not isinstance(info.get("config"), dict):
        raise ModelError(f"{where} cannot be loaded: model.json has no 'config' object. Re-export it.")
    if "n_heads" in info:  # a bag of fold heads on one backbone
        check_count(info, "n_heads", 1, MAX_HEADS, where)
    if "head_width" in info["config"]:
        check_count(info["config"], "head_width", 1, MAX_HEAD_WIDTH, where)
