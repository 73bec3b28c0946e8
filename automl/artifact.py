"""The exported table model: preprocessing + network + what is needed to use them, with no pickle.

model/weights.safetensors   the network's tensors
model/model.json            family, architecture, task, classes, target, metric, feature schema
model/preprocessing.json    the fitted Preprocessor (imputation values, scaler, categories)

`model_files_for` and `model_from_files` read any model directory: an ensemble's (ensemble.py), or the
one of the modality its model.json names (`Modality.model_files`, `Modality.load_model`; a model.json
without a modality is a table's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch.nn as nn
from safetensors.torch import save as save_safetensors

from automl.data.preprocess import Preprocessor
from automl.data.special_files import TooLarge, read_limited, special_kind
from automl.ensemble import ENSEMBLE_FILES, EnsembleModel, is_ensemble_json
from automl.errors import ConfigError, ModelError
from automl.modalities import MODALITIES, Modality
from automl.model_files import (
    check_against_weights,
    check_count,
    read_json_object,
    read_model_files,
    save_files,
)
from automl.models import build_model
from automl.train.loop import TargetScale, model_output

FORMAT_VERSION = 1
ARCH_KEYS = ("depth", "width", "activation", "dropout", "batch_norm", "members")
MODEL_FILES = ("weights.safetensors", "model.json", "preprocessing.json")
MAX_MODEL_FILE_BYTES = 2**30  # one file of a model directory; the largest image backbone's is ~50 MB
MAX_INPUTS, MAX_WIDTH, MAX_CLASSES = 1_000_000, 65_536, 100_000  # far beyond any table model's, and bounded


@dataclass
class TabularModel:
    """A fitted preprocessor and network; `predict_output` gives probabilities or predictions."""

    preprocessor: Preprocessor
    network: Any  # a torch network (family mlp), or a booster (family gbdt: models/gbdt.py BoosterNetwork)
    scale: TargetScale
    info: dict[str, Any]  # task, classes, target, schema, family, architecture, metric, config

    @property
    def task(self) -> str:
        return self.info["task"]

    @property
    def classes(self) -> list[str] | None:
        return self.info.get("classes")

    def predict_output(self, features: pd.DataFrame) -> np.ndarray:
        """`features` must be coerced to the schema (see data.tabular.coerce_features)."""
        X = self.preprocessor.transform(features)
        if not isinstance(self.network, nn.Module):  # a booster: probabilities, or standardized values
            output = self.network.output(X)
            return output if self.task == "classification" else output * self.scale.std + self.scale.mean
        return model_output(self.network, X, self.task, self.scale)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """One row per input row: `prediction`, plus `proba_<class>` columns for classification."""
        output = self.predict_output(features)
        if self.task == "classification":
            classes = self.classes or []
            frame = pd.DataFrame({"prediction": [classes[i] for i in output.argmax(axis=1)]})
            for i, label in enumerate(classes):
                frame[f"proba_{label}"] = output[:, i]
            return frame
        return pd.DataFrame({"prediction": output})

    # ---- export ------------------------------------------------------------------------------
    def files(self) -> dict[str, bytes]:
        """The model directory's files as bytes, ready for any store (a booster's own text format goes in
        model.json, beside no tensors)."""
        booster = not isinstance(self.network, nn.Module)
        state = (
            {}
            if booster
            else {k: v.detach().cpu().contiguous() for k, v in self.network.state_dict().items()}
        )
        model_json = dict(
            self.info,
            format_version=FORMAT_VERSION,
            target_scale={"mean": self.scale.mean, "std": self.scale.std},
        )
        if booster:
            model_json["booster"] = self.network.text()
        return {
            "weights.safetensors": save_safetensors(state),
            "model.json": json.dumps(model_json, indent=2).encode(),
            "preprocessing.json": json.dumps(self.preprocessor.to_dict(), indent=2).encode(),
        }

    def save(self, directory: str | Path) -> Path:
        return save_files(self.files(), directory)

    @classmethod
    def from_files(cls, files: dict[str, bytes], where: str = "model") -> TabularModel:
        info, state = read_model_files(files, MODEL_FILES, where, FORMAT_VERSION)
        preprocessing = read_json_object(files, "preprocessing.json", where)
        try:
            pre = Preprocessor.from_dict(preprocessing)
        except Exception as exc:  # the right JSON shape, the wrong content
            raise ModelError(
                f"{where} cannot be loaded (preprocessing.json: {exc!r}). Re-export it with `automl run`."
            ) from None
        n_inputs, n_outputs = _checked_sizes(info, pre, where)  # model.json sizes nothing unchecked
        if info.get("family") == "gbdt":
            return cls(pre, _booster(info, n_inputs, n_outputs, where), _target_scale(info, where), info)
        try:
            architecture = info["architecture"]
            check_against_weights(
                lambda: build_model(info["family"], n_inputs, n_outputs, architecture), state, where
            )
            network = build_model(info["family"], n_inputs, n_outputs, architecture)
            network.load_state_dict(state)
            scale = TargetScale(**info.pop("target_scale"))
        except (
            KeyError,
            TypeError,
            ValueError,
            RuntimeError,
            ConfigError,
        ) as exc:  # fields missing or not matching the weights
            reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0][:200]
            raise ModelError(
                f"{where} cannot be loaded (model.json does not describe the saved network: {reason}). "
                "Re-export it with `automl run`."
            ) from None
        network.eval()
        return cls(pre, network, scale, info)

    @classmethod
    def load(cls, directory: str | Path) -> TabularModel:
        return cls.from_files(read_model_dir(directory, MODEL_FILES), str(directory))


def _target_scale(info: dict[str, Any], where: str) -> TargetScale:
    try:
        return TargetScale(**info.pop("target_scale"))
    except (KeyError, TypeError) as exc:
        raise ModelError(
            f"{where} cannot be loaded (model.json: no valid target_scale, {exc}). Re-export it."
        ) from None


def _booster(info: dict[str, Any], n_inputs: int, n_outputs: int, where: str) -> Any:
    """A gbdt model's booster, from LightGBM's own text format in model.json (never a pickle), checked
    against the inputs the preprocessing makes and the classes."""
    from automl.models.gbdt import MAX_BOOSTER_TEXT, BoosterNetwork

    text = info.pop("booster", None)
    if not isinstance(text, str) or not text or len(text) > MAX_BOOSTER_TEXT:
        raise ModelError(
            f"{where} cannot be loaded: model.json has no booster text. Re-export it with `automl run`."
        )
    try:
        network = BoosterNetwork.from_text(
            text, info["task"], n_outputs if info["task"] == "classification" else 0
        )
    except Exception as exc:  # LightGBM's parser reports a damaged text as an exception
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelError(
            f"{where} cannot be loaded (its booster text is damaged: {reason}). Re-export it."
        ) from None
    if network.n_inputs != n_inputs:
        raise ModelError(
            f"{where} cannot be loaded: its booster reads {network.n_inputs} inputs, but preprocessing.json makes "
            f"{n_inputs}. Re-export it with `automl run`."
        )
    return network


def _checked_sizes(info: dict[str, Any], pre: Preprocessor, where: str) -> tuple[int, int]:
    """model.json's input and output counts, within sane limits and agreeing with preprocessing.json."""
    n_inputs = check_count(info, "n_inputs", 1, MAX_INPUTS, where)
    if n_inputs != len(pre.feature_names):
        raise ModelError(
            f"{where} cannot be loaded: model.json's 'n_inputs' is {n_inputs}, but preprocessing.json makes "
            f"{len(pre.feature_names)} inputs. Re-export it with `automl run`."
        )
    if not isinstance(info.get("architecture"), dict):
        raise ModelError(f"{where} cannot be loaded: model.json has no 'architecture' object. Re-export it.")
    if "width" in info["architecture"]:
        check_count(info["architecture"], "width", 1, MAX_WIDTH, where)
    if info.get("task") == "regression":
        return n_inputs, 1
    classes = info.get("classes")
    if info.get("task") != "classification" or not isinstance(classes, list):
        raise ModelError(
            f"{where} cannot be loaded: model.json must give the task (classification or regression) and a "
            "classifier's list of classes. Re-export it with `automl run`."
        )
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise ModelError(
            f"{where} cannot be loaded: model.json lists {len(classes):,} classes, where a classifier has 2 to "
            f"{MAX_CLASSES:,}. Re-export it with `automl run`."
        )
    return n_inputs, len(classes)


def _modality_of(model_json: bytes | None, where: str) -> Modality:
    """The modality a model.json names; tabular when it names none (models from before the field), or
    when it cannot be read (the modality's loader then reports the broken file)."""
    try:
        name = json.loads(model_json).get("modality") if model_json is not None else None
    except (ValueError, AttributeError, RecursionError):
        name = None
    if name is not None and name not in MODALITIES:
        known = ", ".join(sorted(MODALITIES.names()))
        raise ModelError(
            f"{where} is a model of the modality {name!r}, which this automl does not know ({known}); "
            "upgrade automl to load it."
        )
    return MODALITIES[name or "tabular"]


def model_files_for(model_json: bytes, where: str = "model") -> tuple[str, ...]:
    """The files of a model directory, from its model.json (image models and ensembles have no
    preprocessing.json)."""
    if is_ensemble_json(model_json):
        return ENSEMBLE_FILES
    return _modality_of(model_json, where).model_files()


def model_from_files(files: dict[str, bytes], where: str = "model") -> Any:
    """A TabularModel, an ImageModel or an EnsembleModel of them, whichever model.json describes."""
    if "model.json" in files and is_ensemble_json(files["model.json"]):
        return EnsembleModel.from_files(files, where, model_from_files)
    return _modality_of(files.get("model.json"), where).load_model(files, where)


def load_model(directory: str | Path) -> Any:
    files = read_model_dir(directory, ("model.json",))
    names = model_files_for(files["model.json"], str(directory)) if "model.json" in files else ()
    return model_from_files(read_model_dir(directory, names), str(directory))


def read_model_dir(directory: str | Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files `names` of a model directory that are there (the loader names those missing), each a
    regular file (not a FIFO, a device or under /proc) read up to MAX_MODEL_FILE_BYTES."""
    files = {}
    for name in names:
        path = Path(directory, name)
        if not path.exists():
            continue
        special = special_kind(path)
        if special or path.is_dir():
            raise ModelError(f"{directory} cannot be loaded: {name} is {special or 'a folder'}, not a file.")
        try:
            files[name] = read_limited(path, MAX_MODEL_FILE_BYTES)
        except TooLarge:
            raise ModelError(
                f"{directory} cannot be loaded: {name} is over {MAX_MODEL_FILE_BYTES // 2**20} MB, more than "
                "any exported model holds. Re-export it with `automl run`."
            ) from None
        except OSError as exc:
            raise ModelError(f"{directory} cannot be loaded: {name}: {exc.strerror or exc}.") from None
    return files
