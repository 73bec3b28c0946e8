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

from automl.errors import ModelError
from automl.image.fit import network_output
from automl.image.network import ImageClassifier, build_network
from automl.model_files import read_model_files, save_files

FORMAT_VERSION = 1
IMAGE_MODEL_FILES = ("weights.safetensors", "model.json")


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
        network = build_network(
            info["config"],
            len(info["classes"]),
            image_size=info.get("input_size"),
            pretrained=False,
            n_heads=int(info.get("n_heads", 1)),
        )
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{where}: the weights do not fit the network in model.json ({exc}).") from None
        network.eval()
        return cls(network, info)
