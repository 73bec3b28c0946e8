"""The contract of every table family (automl/models/families.py), run over the registry: a trial of
each trains on every fold and predicts every row out of fold, its fresh fold networks are the bag that
is exported (each predicts its fold's out-of-fold rows exactly, through the model's files), and its
parameters are in the default space, active only in its own trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from automl.artifact import model_from_files
from automl.data.splits import fresh_folds, make_splits
from automl.data.tabular import coerce_features, infer_schema
from automl.modalities import modality
from automl.models.families import FAMILIES, family_of, owned_params
from automl.search.space import default_space_path
from automl.train.fixed import run_fixed
from automl.train.table_folds import encode_folds
from automl.train.trainable import SearchData, run_trial

FAMILY_CONFIGS = {
    "linear": {"family": "linear", "linear_c": 1.0, "scaler": "standard"},
    "mlp": {"family": "mlp", "depth": 1, "width": 16, "lr": 0.02, "batch_size": 16, "patience": 3},
    "mlp_members": {
        "family": "mlp",
        "depth": 1,
        "width": 16,
        "lr": 0.02,
        "batch_size": 16,
        "patience": 3,
        "members": 3,
        "scaler": "robust_clip",
    },  # fmt: skip
    "gbdt": {"family": "gbdt", "gbdt_lr": 0.2, "gbdt_leaves": 4, "gbdt_min_leaf": 2, "patience": 3},
}


def _data(task: str, n: int = 60, n_classes: int = 3) -> SearchData:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "c": rng.choice(["a", "b"], size=n)}
    )
    frame.loc[0, "c"] = "rare"  # one fold's training part lacks it: a narrower encoding there
    signal = frame["x"] + 0.8 * (frame["c"] == "a")
    if task == "classification":
        y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])).astype(np.int64)
    else:
        y = (signal + 0.1 * rng.normal(size=n)).to_numpy()
    schema = infer_schema(frame)
    splits = make_splits(y, task, test_size=0.0, n_folds=3, n_repeats=1, seed=0)
    k = n_classes if task == "classification" else 0
    metric = "accuracy" if task == "classification" else "rmse"
    return SearchData(coerce_features(frame, schema), y, schema, task, k, splits.folds, metric, 20, 0)


def test_every_family_is_in_the_default_space_with_its_own_parameters():
    doc = yaml.safe_load(default_space_path("tabular").read_text())
    assert set(doc["parameters"]["family"]["values"]) == set(FAMILIES.names())
    for parameter, family in owned_params().items():
        spec = doc["parameters"][parameter]
        assert family in str(spec.get("when", {}).get("family")), parameter  # active in its trials only
    started = [point.get("family") for point in doc["start"]]
    assert started[0] == "linear" and set(started) == set(FAMILIES.names())


@pytest.mark.parametrize("name", FAMILIES.names())
@pytest.mark.parametrize(
    ("task", "n_classes"), [("classification", 3), ("classification", 2), ("regression", 0)]
)
def test_every_family_trains_predicts_out_of_fold_and_exports_its_bag(name, task, n_classes):
    data = _data(task, n_classes=n_classes or 3)
    config = {**FAMILY_CONFIGS[name], "synth_method": "none", "class_weight": "balanced"}
    family = family_of(config)
    reports: list[dict] = []
    run_trial(config, data, reports.append)
    final = reports[-1]
    oof = final["payload"]["oof"]
    assert np.isfinite(oof).all() and oof.shape[:2] == (1, len(data.y))
    assert final["max_epochs"] == (family.max_epochs or data.max_epochs) and final["n_params"] > 0
    if task == "classification":
        assert np.allclose(oof.sum(axis=-1), 1.0, atol=1e-5)
        assert (oof[0].argmax(-1) == data.y).mean() > 0.5  # it learned
    fresh = data.with_folds(fresh_folds(data.y, task, n_folds=3, n_repeats=1, seed=0))
    encode_folds(fresh, ["standard"])
    epochs = max(1, int(round(final["best_epoch_mean"])))
    run = run_fixed(config, fresh, epochs)
    info = {
        "target": "y",
        "metric": data.metric,
        "study_id": "s",
        "classes": ["a", "b", "c"][: data.n_classes],
    }
    if task == "regression":
        info["classes"] = None
    for f, (_, val) in enumerate(fresh.folds):
        member = modality("tabular").fold_model(fresh, f, config, run.networks[f], info, run.epochs)
        assert member.info["table_family"] == config["family"]
        reloaded = model_from_files(member.files(), "member")  # through the files: no pickle
        np.testing.assert_allclose(
            reloaded.predict_output(fresh.features.iloc[val]), run.oof[0, val], atol=1e-5
        )


def test_the_effective_configuration_keeps_a_familys_own_parameters():
    data = _data("classification")
    sampled = {
        "family": "gbdt", "gbdt_lr": 0.1, "depth": 2, "width": 64, "linear_c": 3.0, "scaler": "robust",
        "patience": 7, "class_weight": "none", "synth_method": "none",
    }  # fmt: skip
    assert data.effective_config(sampled) == {
        "family": "gbdt", "gbdt_lr": 0.1, "patience": 7, "class_weight": "none", "synth_method": "none"
    }  # fmt: skip
    linear = data.effective_config({**sampled, "family": "linear"})
    assert linear == {"family": "linear", "linear_c": 3.0, "scaler": "robust", "class_weight": "none",
                      "synth_method": "none"}  # fmt: skip
    assert modality("tabular").is_simple(linear) and not modality("tabular").is_simple(sampled)
    assert modality("tabular").is_simple({"depth": 0}) and not modality("tabular").is_simple({"depth": 1})
