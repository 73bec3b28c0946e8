"""How the search behaves on real Ray: reproducible, robust to crashing trials, no state across reused actors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from automl.data.splits import make_splits
from automl.data.tabular import coerce_features, load_table
from automl.search.results import trial_config
from automl.study import run_study
from automl.train.trainable import SearchData, run_trial
from tests.helpers import small_config

pytestmark = pytest.mark.usefixtures("ray_session")

COMPARED = ["trial", "status", "val_score", "val_std", "gap", "n_params", "epochs_run"]
FRESH = ["reevaluated", "fresh_val_score", "fresh_val_std", "fresh_gap", "chosen"]


def test_same_seed_gives_the_same_leaderboard(penguins_csv, fast_space, tmp_path):
    """The same trials, the same fresh re-evaluation and choice, and the same exported predictions."""
    path, target = penguins_csv
    boards, predictions = [], []
    rows = load_table(path, target).features
    for run in range(2):
        config = small_config(path, target, tmp_path / f"run{run}", fast_space, trials=6, seed=3)
        study = run_study(config, log=lambda m: None)
        boards.append(study.leaderboard())
        model = study.best_model
        predictions.append(model.predict_output(coerce_features(rows, model.info["schema"])))
    params = [c for c in boards[0].columns if c.startswith("param_")]
    columns = COMPARED + FRESH + params
    pd.testing.assert_frame_equal(boards[0][columns], boards[1][columns])
    assert boards[0]["reevaluated"].sum() >= 2
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_a_crashing_trial_is_recorded_as_failed_and_the_study_goes_on(penguins_csv, fast_space, tmp_path):
    doc = yaml.safe_load(fast_space.read_text())
    doc["parameters"]["activation"]["values"] = ["relu", "no_such_activation"]
    doc["start"] = [
        {"family": "mlp", "activation": "no_such_activation"},
        {"family": "mlp", "activation": "relu"},
    ]
    space = tmp_path / "crashing.yaml"
    space.write_text(yaml.safe_dump(doc))
    path, target = penguins_csv
    study = run_study(small_config(path, target, tmp_path, space, trials=3), log=lambda m: None)
    board = study.leaderboard().set_index("trial")
    assert study.status == "completed"
    assert board.loc["t01", "status"] == "failed"
    assert "no_such_activation" in board.loc["t01", "error"]
    assert board.loc["t02", "status"] != "failed"
    assert study.manifest["selection"]["trial"] != "t01"


def test_reused_actors_carry_no_state_between_trials(penguins_csv, fast_space, tmp_path):
    """One actor runs every trial in turn; each result equals the same config run alone in a fresh process state."""
    path, target = penguins_csv
    config = small_config(path, target, tmp_path, fast_space, trials=3)
    config.resources.max_concurrent_trials = 1
    study = run_study(config, log=lambda m: None)
    tune_dir = study.store.local_path(study.study_id, "tune")
    results = [pd.read_json(p, lines=True).iloc[-1] for p in sorted(tune_dir.glob("*/result.json"))]
    assert len({r["pid"] for r in results}) == 1, "the trials should have shared one reused actor"

    dataset = load_table(path, target)
    splits = make_splits(
        dataset.y, dataset.task, test_size=0.0, n_folds=3, n_repeats=1, seed=0, classes=dataset.classes
    )
    features = coerce_features(dataset.features, dataset.schema).iloc[splits.search].reset_index(drop=True)
    data = SearchData(
        features,
        dataset.y[splits.search],
        dataset.schema,
        dataset.task,
        3,
        splits.folds,
        study.manifest["metric"]["name"],
        12,
        0,
    )
    board = study.leaderboard()
    stored = study.store.read_table(study.study_id, "report/oof.parquet")
    for _, row in board.iterrows():
        config = trial_config(row)
        if row["status"] == "stopped_early":
            continue
        reports = []
        run_trial(config, data, reports.append)
        assert reports[-1]["val_score"] == pytest.approx(row["val_score_best_epoch"], abs=1e-9)
        oof = stored[stored["trial"] == row["trial"]].sort_values(["repeat", "row"])
        expected = reports[-1]["payload"]["oof"].reshape(-1, 3)
        np.testing.assert_allclose(oof[["pred_0", "pred_1", "pred_2"]].to_numpy(), expected, atol=1e-7)
