"""Exported models are untrusted (issue 24): a tampered model.json is checked against the weights' shapes
and sane limits before anything is allocated, a file that is not safetensors says so, a model directory's
files are read with a bound, and predictions that overflow the model's 32-bit numbers are refused with
their row instead of written as empty probabilities."""

from __future__ import annotations

import json
import re
import resource
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.artifact import MAX_INPUTS, TabularModel, load_model
from automl.data.tabular import coerce_features
from automl.errors import DataError, ModelError
from automl.image.artifact import ImageModel
from automl.image.network import build_network
from automl.predict import predict_frame
from automl.train.final import fit_final
from tests.unit.test_artifact import classification_model


@pytest.fixture(scope="module")
def classifier() -> TabularModel:
    return classification_model()[0]


def _tampered(files: dict[str, bytes], change) -> dict[str, bytes]:
    info = json.loads(files["model.json"])
    change(info)
    return dict(files, **{"model.json": json.dumps(info).encode()})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda info: info["architecture"].update(width=40_000),
            "model.json does not describe the saved network: it gives '0.weight' the shape [40000, 9], the "
            "weights [8, 9]",
        ),
        (
            lambda info: info["architecture"].update(depth=1),
            "model.json does not describe the saved network: the weights hold an unknown '5.bias'",
        ),
    ],
)
def test_a_tampered_architecture_is_refused_before_it_is_built(classifier, change, reason) -> None:
    before = _peak_mb()
    message = f"model cannot be loaded ({reason}). Re-export it with `automl run`."
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        TabularModel.from_files(_tampered(classifier.files(), change))
    assert _peak_mb() - before < 100  # 40,000 x 40,000 floats would be 6 GB


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            1e9,
            f"model.json's 'n_inputs' must be an integer from 1 to {MAX_INPUTS:,}. Got 1000000000.0 instead.",
        ),
        ("10", f"model.json's 'n_inputs' must be an integer from 1 to {MAX_INPUTS:,}. Got '10' instead."),
        (11, "model.json's 'n_inputs' is 11, but preprocessing.json makes 9 inputs."),
    ],
)
def test_a_tampered_input_count_is_refused(classifier, value, message) -> None:
    files = _tampered(classifier.files(), lambda info: info.update(n_inputs=value))
    full = f"model cannot be loaded: {message} Re-export it with `automl run`."
    with pytest.raises(ModelError, match=f"^{re.escape(full)}$"):
        TabularModel.from_files(files)


def test_a_tampered_class_list_is_refused(classifier) -> None:
    files = _tampered(classifier.files(), lambda info: info.update(classes=["x"] * 200_000))
    message = (
        "model cannot be loaded: model.json lists 200,000 classes, where a classifier has 2 to 100,000. "
        "Re-export it with `automl run`."
    )
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        TabularModel.from_files(files)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "it starts like a Python pickle"),
        (b"PK\x03\x04archive/data.pkl", "it is a zip archive, as torch.save writes"),
        (b"\xff" * 64, "its first 8 bytes do not give the length of the JSON header that follows them"),
    ],
)
def test_weights_that_are_not_safetensors_are_named(classifier, content: bytes, what: str) -> None:
    message = (
        f"model cannot be loaded (weights.safetensors: not a safetensors file, {what}; a pickle is never "
        "loaded). Re-export it with `automl run`."
    )
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        TabularModel.from_files(dict(classifier.files(), **{"weights.safetensors": content}))


def test_a_model_file_that_is_a_device_is_not_read(classifier, tmp_path: Path) -> None:
    directory = classifier.save(tmp_path / "model")
    (directory / "weights.safetensors").unlink()
    (directory / "weights.safetensors").symlink_to("/dev/zero")
    message = (
        f"{directory} cannot be loaded: weights.safetensors is a device (/dev/zero), which can be read without "
        "end, not a file."
    )
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        load_model(directory)


# --- image models ---------------------------------------------------------------------------------

IMAGE_CONFIG = {"backbone": "pixels_8", "transfer": "linear_probe", "head_depth": 1, "head_width": 16}


@pytest.fixture(scope="module")
def image_files() -> dict[str, bytes]:
    network = build_network(IMAGE_CONFIG, 3, pretrained=False).eval()
    info = {
        "modality": "image",
        "task": "classification",
        "classes": ["a", "b", "c"],
        "backbone": "pixels_8",
        "config": IMAGE_CONFIG,
        "image_size": 8,
        "input_size": int(network.normalize.size),
    }
    return ImageModel(network, info).files()


def test_an_image_model_loads_and_predicts(image_files) -> None:
    model = ImageModel.from_files(image_files)
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert model.predict_frame(images).shape == (2, 4)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda info: info["config"].update(head_width=40_000),
            " (model.json does not describe the saved network: it gives 'head.1.0.weight' the shape "
            "[40000, 192], the weights [16, 192])",
        ),
        (
            lambda info: info.update(image_size=100_000),
            ": model.json's 'image_size' must be an integer from 1 to 2,048. Got 100000 instead",
        ),
        (
            lambda info: info.update(classes=["a"]),
            ": model.json has 1 classes, where a classifier has 2 to 100,000",
        ),
        (
            lambda info: info["config"].update(head_width=10**9),
            ": model.json's 'head_width' must be an integer from 1 to 65,536. Got 1000000000 instead",
        ),
    ],
)
def test_a_tampered_image_model_is_refused_before_it_is_built(image_files, change, reason) -> None:
    message = f"model cannot be loaded{reason}. Re-export it with `automl run`."
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        ImageModel.from_files(_tampered(image_files, change))


# --- predictions that overflow ---------------------------------------------------------------------


def _small_spread_model(task: str, **network) -> TabularModel:
    """A model trained on a column that hardly varies: scaled as in training, a large value overflows."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"tiny": rng.normal(0, 0.01, 40), "size": rng.normal(10, 3, 40)})
    schema = {"tiny": "numeric", "size": "numeric"}
    y = frame["size"].to_numpy() if task == "regression" else (frame["size"] > 10).to_numpy().astype(np.int64)
    config = {"depth": 0, "lr": 0.01, "batch_size": 8, "scaler": "standard", "l2": 1e-3, **network}
    model, _ = fit_final(
        config,
        coerce_features(frame, schema),
        y,
        schema=schema,
        task=task,
        classes=["no", "yes"] if task == "classification" else None,
        epochs=3,
        seed=0,
        info={"target": "big", "schema": schema},
    )
    return model


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_values_that_overflow_once_scaled_are_refused_with_row_and_column(task: str, recwarn) -> None:
    model = _small_spread_model(task)
    new = pd.DataFrame({"tiny": [0.0, 3e38, 0.01], "size": [9.0, 10.0, 11.0]})
    message = (
        "Column 'tiny' holds 3e+38 in data row 2: scaled as in training, that is beyond the about 3.4e+38 "
        "that the model's 32-bit numbers reach, so it would give no prediction. Check the value, or leave the "
        "row out."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_frame(model, new)
    predictions, _ = predict_frame(model, new.drop(index=1))
    assert np.isfinite(predictions.select_dtypes("number").to_numpy()).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # one message, no numpy noise


def test_an_output_that_overflows_inside_the_network_is_refused_with_its_row() -> None:
    model = _small_spread_model("classification", depth=2, width=64, activation="relu")
    new = pd.DataFrame({"tiny": [0.0], "size": [3e38]})  # 1e38 once scaled; summed by 64 units: inf
    message = (
        "The model gives no finite prediction for data row 1: its values overflow the model's 32-bit numbers. "
        "Check that row's values, or leave it out."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        predict_frame(model, new)
