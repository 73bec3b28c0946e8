"""An exported ensemble is one model directory, no pickle, and predicts what its members average to."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from automl.artifact import load_model, model_files_for, model_from_files
from automl.data.tabular import coerce_features, infer_schema
from automl.ensemble import EnsembleModel
from automl.errors import ModelError
from automl.train.final import fit_final


@pytest.fixture(scope="module")
def members():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "colour": rng.choice(["red", "blue"], size=60)})
    y = ((frame["x"] > 0) ^ (frame["colour"] == "red")).astype(np.int64).to_numpy()
    schema = infer_schema(frame)
    features = coerce_features(frame, schema)
    common = dict(schema=schema, task="classification", classes=["no", "yes"], seed=0, info={"target": "y"})
    linear, _ = fit_final({"depth": 0, "lr": 0.05}, features, y, epochs=5, **common)
    network, _ = fit_final(
        {"depth": 2, "width": 8, "lr": 0.02, "scaler": "minmax"}, features, y, epochs=5, **common
    )
    return features, [linear, network]


def test_ensemble_averages_its_members_with_their_weights(members):
    features, models = members
    ensemble = EnsembleModel.of(models, [3, 1])
    expected = 0.75 * models[0].predict_output(features) + 0.25 * models[1].predict_output(features)
    np.testing.assert_allclose(ensemble.predict_output(features), expected)
    frame = ensemble.predict_frame(features)
    assert list(frame.columns) == ["prediction", "proba_no", "proba_yes"]


def test_export_round_trip(members, tmp_path):
    features, models = members
    ensemble = EnsembleModel.of(models, [0.6, 0.4], study_id="s1")
    files = ensemble.files()
    assert set(files) == {"weights.safetensors", "model.json"} == set(model_files_for(files["model.json"]))
    info = json.loads(files["model.json"])
    assert info["kind"] == "ensemble" and [m["weight"] for m in info["members"]] == [0.6, 0.4]
    ensemble.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, EnsembleModel) and loaded.info["schema"] == models[0].info["schema"]
    np.testing.assert_allclose(loaded.predict_output(features), ensemble.predict_output(features), atol=1e-6)


def test_a_broken_member_list_names_the_file(members):
    _, models = members
    files = EnsembleModel.of(models, [1, 1]).files()
    info = json.loads(files["model.json"])
    info["members"] = []
    files["model.json"] = json.dumps(info).encode()
    with pytest.raises(ModelError, match="describes an ensemble without members"):
        model_from_files(files, "somewhere/model")
