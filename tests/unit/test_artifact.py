"""Tests of automl.artifact (export and reload without pickle) and automl.train.loop."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from sklearn.utils.class_weight import compute_class_weight

from automl.artifact import ARCH_KEYS, FORMAT_VERSION, TabularModel
from automl.data.tabular import coerce_features, infer_schema
from automl.errors import ModelError
from automl.train.final import fit_final
from automl.train.loop import (
    EarlyStopping,
    NetworkFit,
    TargetScale,
    class_weights,
    fit_fixed_epochs,
    model_output,
    validation_loss,
)

CONFIG = {
    "depth": 2,
    "width": 8,
    "activation": "gelu",
    "batch_norm": True,
    "dropout": 0.2,
    "l1": 1e-5,
    "l2": 1e-3,
    "lr": 0.01,
    "batch_size": 8,
    "scaler": "robust",
    "class_weight": "balanced",
    "synth_method": "none",
    "synth_ratio": 0.0,
}
MODEL_FILES = ["model.json", "preprocessing.json", "weights.safetensors"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny networks: one thread is fastest (several spin-wait on a busy machine), as in a trial."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def raw_frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "count": rng.integers(0, 5, n).astype(float),
            "color": rng.choice(["red", "green", "blue"], n).astype(object),
            "member": rng.choice(["yes", "no"], n).astype(object),
        }
    )
    frame.loc[frame.index.isin([1, 7, 12]), "size"] = np.nan
    frame.loc[frame.index.isin([3, 9]), "color"] = None
    frame.loc[frame.index.isin([4]), "member"] = None
    return frame


def features_and_schema(n: int = 30, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    raw = raw_frame(n, seed)
    schema = infer_schema(raw)
    assert schema == {"size": "numeric", "count": "numeric", "color": "categorical", "member": "boolean"}
    return coerce_features(raw, schema), schema


def classification_model() -> tuple[TabularModel, pd.DataFrame]:
    features, schema = features_and_schema()
    y = (features["size"].fillna(10) > 10).to_numpy().astype(np.int64) + (
        features["color"] == "red"
    ).to_numpy()
    model, details = fit_final(
        CONFIG,
        features,
        y,
        schema=schema,
        task="classification",
        classes=["low", "mid", "high"],
        epochs=5,
        seed=0,
        info={"target": "level", "metric": "accuracy", "study_id": "s1"},
    )
    assert details == {"epochs": 5, "n_synthetic": 0, "synth_seconds": 0.0}
    return model, features


def regression_model() -> tuple[TabularModel, pd.DataFrame]:
    features, schema = features_and_schema()
    y = 100.0 + 5 * features["size"].fillna(10).to_numpy() + features["count"].to_numpy()
    config = dict(CONFIG, class_weight="none", scaler="standard", batch_norm=False)
    model, _ = fit_final(
        config,
        features,
        y,
        schema=schema,
        task="regression",
        classes=None,
        epochs=5,
        seed=1,
        info={"target": "price", "metric": "rmse", "study_id": "s2"},
    )
    return model, features


@pytest.fixture(scope="module")
def classifier() -> tuple[TabularModel, pd.DataFrame]:
    return classification_model()


@pytest.fixture(scope="module")
def regressor() -> tuple[TabularModel, pd.DataFrame]:
    return regression_model()


def new_rows() -> pd.DataFrame:
    """Rows the model never saw: an unseen category, gaps everywhere, an extreme value."""
    raw = raw_frame(8, seed=5)
    raw.loc[0, "color"] = "purple"
    raw.loc[1, ["size", "count", "color", "member"]] = [np.nan, np.nan, None, None]
    raw.loc[2, "size"] = 1e6
    return coerce_features(
        raw, {"size": "numeric", "count": "numeric", "color": "categorical", "member": "boolean"}
    )


# --- the exported model --------------------------------------------------------------------


def test_classifier_predict_frame(classifier: tuple[TabularModel, pd.DataFrame]) -> None:
    model, features = classifier
    frame = model.predict_frame(features)
    assert list(frame.columns) == ["prediction", "proba_low", "proba_mid", "proba_high"]
    assert len(frame) == len(features)
    assert set(frame["prediction"]) <= {"low", "mid", "high"}
    proba = frame[["proba_low", "proba_mid", "proba_high"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert frame["prediction"].tolist() == [["low", "mid", "high"][i] for i in proba.argmax(axis=1)]
    assert model.task == "classification" and model.classes == ["low", "mid", "high"]


def test_model_is_in_eval_mode_and_predictions_are_repeatable(
    classifier: tuple[TabularModel, pd.DataFrame],
) -> None:
    model, features = classifier
    first = model.predict_output(features)
    assert not model.network.training
    np.testing.assert_array_equal(model.predict_output(features), first)  # dropout off


def save_and_load(model: TabularModel, directory: Path) -> TabularModel:
    assert model.save(directory) == directory
    assert sorted(p.name for p in directory.iterdir()) == MODEL_FILES
    return TabularModel.load(directory)


@pytest.mark.parametrize("which", ["classifier", "regressor"])
def test_save_and_load_give_identical_predictions(
    which: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model, features = request.getfixturevalue(which)
    loaded = save_and_load(model, tmp_path / "model")
    for rows in (features, new_rows()):
        pd.testing.assert_frame_equal(loaded.predict_frame(rows), model.predict_frame(rows))
        np.testing.assert_array_equal(loaded.predict_output(rows), model.predict_output(rows))
    assert loaded.info == json.loads(json.dumps(model.info))
    assert loaded.scale == model.scale
    assert loaded.preprocessor.feature_names == model.preprocessor.feature_names
    for (name, a), (name_b, b) in zip(
        model.network.state_dict().items(), loaded.network.state_dict().items(), strict=True
    ):
        assert name == name_b
        assert torch.equal(a, b)


def test_regressor_predictions_are_in_target_units(regressor: tuple[TabularModel, pd.DataFrame]) -> None:
    model, features = regressor
    frame = model.predict_frame(features)
    assert list(frame.columns) == ["prediction"]
    assert frame["prediction"].dtype == np.float64
    assert model.scale.mean > 100  # the target was standardized for training and scaled back here
    assert abs(frame["prediction"].mean() - model.scale.mean) < 3 * model.scale.std
    assert model.classes is None


def test_from_files_equals_load(classifier: tuple[TabularModel, pd.DataFrame], tmp_path: Path) -> None:
    model, features = classifier
    files = model.files()
    assert sorted(files) == MODEL_FILES
    from_bytes = TabularModel.from_files(files)
    from_disk = save_and_load(model, tmp_path / "m")
    pd.testing.assert_frame_equal(from_bytes.predict_frame(features), from_disk.predict_frame(features))


def test_files_are_json_and_safetensors_only(
    classifier: tuple[TabularModel, pd.DataFrame], regressor: tuple[TabularModel, pd.DataFrame]
) -> None:
    for model, _ in (classifier, regressor):
        files = model.files()
        for name, data in files.items():
            assert b"torch._utils" not in data and b"numpy.core" not in data, name
            assert not data.startswith(b"PK\x03\x04"), f"{name} is a zip (torch.save) archive"
        for name in ("model.json", "preprocessing.json"):
            assert files[name][:1] == b"{", f"{name} does not start as a JSON object"
            assert files[name][:1] != b"\x80"
        model_json = json.loads(files["model.json"])
        preprocessing = json.loads(files["preprocessing.json"])
        assert model_json["format_version"] == FORMAT_VERSION
        assert model_json["task"] == model.task
        assert model_json["family"] == "mlp"
        assert model_json["schema"] == {
            "size": "numeric",
            "count": "numeric",
            "color": "categorical",
            "member": "boolean",
        }
        assert model_json["target_scale"] == {"mean": model.scale.mean, "std": model.scale.std}
        assert set(model_json["architecture"]) == set(ARCH_KEYS) - {"members"}  # one network per model
        assert model_json["n_inputs"] == len(model.preprocessor.feature_names)
        assert preprocessing == json.loads(json.dumps(model.preprocessor.to_dict()))
        # safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes and
        # nothing else. (Its first byte is the low byte of the header length, so it may well be 0x80:
        # the file is checked for its structure instead of for the pickle protocol byte.)
        weights = files["weights.safetensors"]
        (header_len,) = struct.unpack("<Q", weights[:8])
        assert weights[8:9] == b"{"
        header = json.loads(weights[8 : 8 + header_len])
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        assert set(tensors) == set(model.network.state_dict())
        ends = [v["data_offsets"][1] for v in tensors.values()]
        assert 8 + header_len + max(ends) == len(weights)


def test_classifier_model_json(classifier: tuple[TabularModel, pd.DataFrame]) -> None:
    model, _ = classifier
    info = json.loads(model.files()["model.json"])
    assert info["classes"] == ["low", "mid", "high"]
    assert (info["target"], info["metric"], info["study_id"], info["epochs"]) == (
        "level",
        "accuracy",
        "s1",
        5,
    )
    assert info["config"] == CONFIG
    assert info["architecture"] == {k: CONFIG[k] for k in ARCH_KEYS if k in CONFIG}


# --- loading errors ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", MODEL_FILES)
def test_load_with_a_missing_file(
    classifier: tuple[TabularModel, pd.DataFrame], tmp_path: Path, missing: str
) -> None:
    model, _ = classifier
    directory = model.save(tmp_path / "model")
    (directory / missing).unlink()
    with pytest.raises(
        ModelError, match=re.escape(f"{directory} is not a model directory: {missing} missing.")
    ):
        TabularModel.load(directory)


def test_load_an_empty_or_absent_directory(tmp_path: Path) -> None:
    for directory in (tmp_path, tmp_path / "absent"):
        with pytest.raises(
            ModelError,
            match=re.escape(
                f"{directory} is not a model directory: weights.safetensors, model.json, preprocessing.json missing."
            ),
        ):
            TabularModel.load(directory)


def test_from_files_names_the_source() -> None:
    with pytest.raises(
        ModelError, match=re.escape("model of study s1 is not a model directory: model.json missing.")
    ):
        TabularModel.from_files(
            {"weights.safetensors": b"", "preprocessing.json": b"{}"}, "model of study s1"
        )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("model.json", b"{not json"),
        ("preprocessing.json", b"[1, 2"),
        ("weights.safetensors", b"\x80\x04pickle"),
    ],
)
def test_load_corrupt_files(classifier: tuple[TabularModel, pd.DataFrame], name: str, content: bytes) -> None:
    model, _ = classifier
    files = dict(model.files(), **{name: content})
    with pytest.raises(
        ModelError, match=r"^model cannot be loaded \(.+\)\. Re-export it with `automl run`\.$"
    ):
        TabularModel.from_files(files)


def test_load_another_format_version(classifier: tuple[TabularModel, pd.DataFrame]) -> None:
    model, _ = classifier
    files = model.files()
    info = json.loads(files["model.json"])
    info["format_version"] = 2
    files["model.json"] = json.dumps(info).encode()
    with pytest.raises(ModelError, match=re.escape("model has format version 2; this automl reads 1.")):
        TabularModel.from_files(files)


# --- train/loop.py ---------------------------------------------------------------------------


class FakeFit:
    """What EarlyStopping reads: a model and the number of epochs done."""

    def __init__(self) -> None:
        self.model = nn.Linear(2, 1)
        self.epochs_done = 0

    def step(self) -> None:
        self.epochs_done += 1
        with torch.no_grad():
            self.model.weight.fill_(float(self.epochs_done))


def test_early_stopping_keeps_the_best_weights_and_stops_after_patience() -> None:
    fit, stop = FakeFit(), EarlyStopping(patience=3)
    losses = [1.0, 0.8, 0.9, 0.8 - 1e-8, 0.85]  # epoch 4 is not better by more than 1e-7
    for loss in losses:
        fit.step()
        stop.update(fit, loss, (float(fit.epochs_done), -loss))  # type: ignore[arg-type]
        assert stop.stopped == (fit.epochs_done == 5)
    assert (stop.best_epoch, stop.best_loss, stop.best_scores) == (2, 0.8, (2.0, -0.8))
    assert fit.model.weight.flatten().tolist() == [5.0, 5.0]
    stop.restore(fit)  # type: ignore[arg-type]
    assert fit.model.weight.flatten().tolist() == [2.0, 2.0]


def test_early_stopping_resets_its_count_on_improvement() -> None:
    fit, stop = FakeFit(), EarlyStopping(patience=2)
    for loss in [1.0, 1.1, 0.9, 1.0, 0.5, 0.6]:
        fit.step()
        stop.update(fit, loss, (0.0, 0.0))  # type: ignore[arg-type]
        assert not stop.stopped
    fit.step()
    stop.update(fit, 0.7, (0.0, 0.0))  # type: ignore[arg-type]
    assert stop.stopped and stop.best_epoch == 5


def test_early_stopping_best_state_is_a_copy() -> None:
    fit, stop = FakeFit(), EarlyStopping(patience=5)
    fit.step()
    stop.update(fit, 1.0, (0.0, 0.0))  # type: ignore[arg-type]
    fit.step()  # changes the weights in place
    assert stop.best_state is not None
    assert stop.best_state["weight"].flatten().tolist() == [1.0, 1.0]


def test_restore_without_a_best_state_keeps_the_weights() -> None:
    fit, stop = FakeFit(), EarlyStopping(patience=1)
    fit.step()
    stop.restore(fit)  # type: ignore[arg-type]
    assert fit.model.weight.flatten().tolist() == [1.0, 1.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_balanced_class_weights_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 2 + seed
    y = rng.choice(k, size=50 + 10 * seed, p=np.linspace(1, 3, k) / np.linspace(1, 3, k).sum())
    y[:k] = np.arange(k)
    weights = class_weights(y, k, "balanced")
    assert weights is not None and weights.dtype == torch.float32
    expected = compute_class_weight("balanced", classes=np.arange(k), y=y)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)


def test_class_weights_none_and_absent_classes() -> None:
    assert class_weights(np.array([0, 1, 1]), 2, "none") is None
    assert class_weights(np.array([0.5, 1.5]), 0, "balanced") is None
    # a class absent from y counts as one row instead of dividing by zero
    np.testing.assert_allclose(
        class_weights(np.array([0, 0, 0, 1]), 3, "balanced").numpy(), [4 / 9, 4 / 3, 4 / 3]
    )


def small_xy(task: str, n: int = 23, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) if task == "classification" else 50 + 10 * X[:, 0].astype(np.float64)
    return X, y


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_network_fit_is_deterministic_for_the_same_seed(task: str) -> None:
    X, y = small_xy(task)
    n_classes = 2 if task == "classification" else 0

    def train(seed: int) -> tuple[list[float], np.ndarray, dict[str, torch.Tensor]]:
        fit = NetworkFit(CONFIG, X, y, task=task, n_classes=n_classes, seed=seed)
        losses = [fit.epoch() for _ in range(3)]
        assert fit.epochs_done == 3
        return losses, fit.output(X), fit.model.state_dict()

    losses, out, state = train(7)
    losses_again, out_again, state_again = train(7)
    assert losses == losses_again
    np.testing.assert_array_equal(out, out_again)
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    losses_other, out_other, _ = train(8)
    assert losses_other != losses
    assert not np.array_equal(out_other, out)


def test_network_fit_learns_and_clips_the_batch_size() -> None:
    X, y = small_xy("classification", n=40)
    fit = NetworkFit(
        dict(CONFIG, batch_size=1000, dropout=0.0), X, y, task="classification", n_classes=2, seed=0
    )
    assert fit.batch_size == 40
    first = fit.epoch()
    for _ in range(20):
        last = fit.epoch()
    assert last < first


def test_network_fit_skips_a_last_batch_of_one_row_with_batch_norm() -> None:
    X, y = small_xy("classification", n=9)  # batches of 4, 4 and 1
    fit = NetworkFit(dict(CONFIG, batch_size=4), X, y, task="classification", n_classes=2, seed=0)
    assert np.isfinite(fit.epoch())


def test_target_scale() -> None:
    assert TargetScale.fit(np.array([0, 1, 1]), "classification") == TargetScale(0.0, 1.0)
    scale = TargetScale.fit(np.array([2.0, 4.0, 6.0]), "regression")
    assert scale.mean == 4.0 and scale.std == pytest.approx(np.std([2.0, 4.0, 6.0]))
    assert TargetScale.fit(np.array([3.0, 3.0]), "regression") == TargetScale(3.0, 1.0)


def test_model_output_and_validation_loss() -> None:
    model = nn.Linear(2, 3)
    X = np.array([[0.0, 1.0], [1.0, -1.0]], dtype=np.float32)
    proba = model_output(model, X, "classification", TargetScale())
    assert proba.dtype == np.float64 and proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    y = np.array([2, 0])
    assert validation_loss(proba, y, "classification", TargetScale()) == pytest.approx(
        -np.mean(np.log([proba[0, 2], proba[1, 0]]))
    )
    regressor = nn.Linear(2, 1)
    scale = TargetScale(10.0, 2.0)
    pred = model_output(regressor, X, "regression", scale)
    with torch.no_grad():
        raw = regressor(torch.as_tensor(X))[:, 0].numpy()
    np.testing.assert_allclose(pred, raw * 2.0 + 10.0, rtol=1e-6)
    assert validation_loss(np.array([12.0, 10.0]), np.array([10.0, 10.0]), "regression", scale) == 0.5


def test_fit_fixed_epochs_runs_at_least_one_epoch() -> None:
    X, y = small_xy("regression")
    assert fit_fixed_epochs(CONFIG, X, y, task="regression", n_classes=0, epochs=3, seed=0).epochs_done == 3
    assert fit_fixed_epochs(CONFIG, X, y, task="regression", n_classes=0, epochs=0, seed=0).epochs_done == 1


def test_early_stopping_stops_a_diverged_fit_and_keeps_its_scores() -> None:
    X = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    fit = NetworkFit({"depth": 0}, X, (X[:, 0] > 0).astype(int), task="classification", n_classes=2, seed=0)
    fit.epoch()
    stop = EarlyStopping(patience=5)
    stop.update(fit, float("nan"), (0.5, 0.4))
    assert stop.stopped and stop.best_scores == (0.5, 0.4) and stop.best_epoch == 1
