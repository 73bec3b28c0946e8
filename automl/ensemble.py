"""An exported ensemble: several refitted trials whose predictions are averaged with weights.

One model directory, no pickle:
model/weights.safetensors   every member's tensors, keys prefixed `m<i>.`
model/model.json            kind "ensemble", the shared description (task, classes, schema, target)
                            and per member its weight and its own model.json / preprocessing.json
Each member is an ordinary exported model (tabular or image), rebuilt from its part of the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from automl.errors import ModelError
from automl.model_files import read_model_files, save_files

FORMAT_VERSION = 1
ENSEMBLE_FILES = ("weights.safetensors", "model.json")
SHARED_KEYS = ("modality", "task", "classes", "schema", "target", "metric", "study_id", "n_inputs")


def is_ensemble_json(model_json: bytes) -> bool:
    try:
        info = json.loads(model_json)
    except ValueError:
        return False
    return isinstance(info, dict) and info.get("kind") == "ensemble"


@dataclass
class EnsembleModel:
    """Weighted mean of the members' outputs (class probabilities, or predictions)."""

    members: list[Any]  # TabularModel / ImageModel
    weights: list[float]
    info: dict[str, Any]

    @classmethod
    def of(cls, members: list[Any], weights: list[float], **extra: Any) -> EnsembleModel:
        first = members[0].info
        info = {k: first[k] for k in SHARED_KEYS if k in first}
        info.update(kind="ensemble", n_members=len(members), **extra)
        total = float(sum(weights))
        return cls(list(members), [float(w) / total for w in weights], info)

    @property
    def task(self) -> str:
        return self.members[0].task

    @property
    def classes(self) -> list[str] | None:
        return self.members[0].classes

    @property
    def image_size(self) -> int:
        """Images are read at the largest stored size of the members; each network resizes its input."""
        return max(int(m.image_size) for m in self.members)

    def predict_output(self, inputs: Any) -> np.ndarray:
        return sum(
            w * np.asarray(m.predict_output(inputs), dtype=np.float64)
            for m, w in zip(self.members, self.weights, strict=True)
        )

    def predict_frame(self, inputs: Any, paths: list[str] | None = None) -> pd.DataFrame:
        output = self.predict_output(inputs)
        if self.task != "classification":
            return pd.DataFrame({"prediction": output})
        classes = self.classes or []
        frame = pd.DataFrame({"prediction": [classes[i] for i in output.argmax(axis=1)]})
        if paths is not None:
            frame.insert(0, "path", paths)
        for i, label in enumerate(classes):
            frame[f"proba_{label}"] = output[:, i]
        return frame

    def files(self) -> dict[str, bytes]:
        tensors, described = {}, []
        for i, (member, weight) in enumerate(zip(self.members, self.weights, strict=True)):
            files = member.files()
            for key, tensor in load_safetensors(files["weights.safetensors"]).items():
                tensors[f"m{i}.{key}"] = tensor
            described.append(
                {
                    "weight": weight,
                    "files": {
                        name: json.loads(data) for name, data in files.items() if name.endswith(".json")
                    },
                }
            )
        model_json = dict(self.info, members=described, format_version=FORMAT_VERSION)
        return {
            "weights.safetensors": save_safetensors(tensors),
            "model.json": json.dumps(model_json, indent=2).encode(),
        }

    def save(self, directory: str | Path) -> Path:
        return save_files(self.files(), directory)

    @classmethod
    def from_files(
        cls,
        files: dict[str, bytes],
        where: str,
        load_member: Callable[[dict[str, bytes], str], Any],
    ) -> EnsembleModel:
        """`load_member` rebuilds one member from its files (artifact.model_from_files: a member is a
        tabular or an image model)."""
        info, state = read_model_files(files, ENSEMBLE_FILES, where, FORMAT_VERSION)
        described = info.pop("members", None)
        if not isinstance(described, list) or not described:
            raise ModelError(
                f"{where}/model.json describes an ensemble without members. Re-export it with `automl run`."
            )
        members, weights = [], []
        for i, member in enumerate(described):
            prefix = f"m{i}."
            try:
                part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                member_files = {name: json.dumps(body).encode() for name, body in member["files"].items()}
                weights.append(float(member["weight"]))
            except (TypeError, KeyError, AttributeError, ValueError) as exc:
                raise ModelError(
                    f"{where}/model.json: member {i} is malformed ({exc}). Re-export it with `automl run`."
                ) from None
            member_files["weights.safetensors"] = save_safetensors(part)
            members.append(load_member(member_files, f"{where} (member {i})"))
        return cls(members, weights, info)
