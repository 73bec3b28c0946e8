"""A real study end to end on local Ray: store layout, leaderboard, test report, export, predict."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from automl.artifact import TabularModel, load_model
from automl.data.tabular import coerce_features, read_frame
from automl.predict import predict_file, resolve_model
from automl.study import Study, run_study
from tests.helpers import small_config

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture(scope="module")
def penguin_study(ray_session, penguins_csv, fast_space, tmp_path_factory):
    path, target = penguins_csv
    storage = tmp_path_factory.mktemp("store")
    return run_study(small_config(path, target, storage, fast_space, trials=6), log=lambda m: None)


def test_study_completes_with_the_store_layout(penguin_study):
    root = penguin_study.store.local_path(penguin_study.study_id)
    for rel in [
        "study.json",
        "tune",
        "model/weights.safetensors",
        "model/model.json",
        "report/trials.parquet",
        "report/curves.parquet",
        "report/test_report.json",
        "report/oof.parquet",
        "report/fresh_oof.parquet",
        "report/baselines_oof.parquet",
    ]:
        assert (root / rel).exists(), rel
    manifest = json.loads((root / "study.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["selection"]["rule"] == "one_se_min_gap"
    assert manifest["selection"]["trial"] == manifest["best"]["trial"]
    assert manifest["data"]["fingerprint"] and manifest["data"]["n_rows"] == 120
    # Model and report hold no pickle (tune/ is Ray Tune's own restorable experiment state).
    for folder in ("model", "report"):
        for file in (root / folder).iterdir():
            assert file.suffix in {".json", ".safetensors", ".parquet"}, file
            assert not file.read_bytes().startswith(b"\x80"), file


def test_leaderboard_has_every_trial_and_one_chosen(penguin_study):
    board = penguin_study.leaderboard()
    assert len(board) == 6
    assert board["chosen"].sum() == 1
    assert set(board["status"]) <= {"completed", "stopped_early", "failed"}
    fresh = board[board["reevaluated"]]  # the re-evaluated candidates first, by their fresh score
    assert len(fresh) >= 1 and board["reevaluated"].iloc[: len(fresh)].all()
    assert list(fresh["fresh_val_score"]) == sorted(fresh["fresh_val_score"], reverse=True)
    rest = board[~board["reevaluated"]].dropna(subset=["objective"])  # then the others, by the search's
    assert list(rest["objective"]) == sorted(rest["objective"], reverse=True)
    assert board.loc[board["chosen"], "reevaluated"].all()
    curves = penguin_study.curves()
    assert set(curves["trial"]) == set(board["trial"])
    assert {"curve_train", "curve_val", "gap"} <= set(curves.columns)


def test_every_row_is_searched_and_the_estimate_is_out_of_fold(penguin_study):
    manifest = penguin_study.manifest
    assert manifest["splits"]["n_test"] == 0 and manifest["splits"]["protocol"] == "out_of_fold"
    assert penguin_study.test_report == {}
    estimate = penguin_study.estimate
    assert {"metric", "value", "ci_low", "ci_high", "protocol", "n_rows"} <= set(estimate)
    assert estimate["protocol"] == "out_of_fold" and estimate["n_rows"] == 120
    assert estimate["metric"] == manifest["metric"]["name"]
    assert estimate["ci_low"] <= estimate["value"] <= estimate["ci_high"]
    assert estimate["ci_high"] - estimate["ci_low"] > 0
    assert estimate["value"] <= estimate["apparent"] + 0.05  # the correction for choosing rarely adds
    assert manifest["best"]["refit"]["epochs"] >= 1 and manifest["best"]["refit"]["kind"] == "bag"
    assert manifest["model"]["kind"] == "bag" and manifest["best"]["refit"]["members"] == 3 * 2
    reevaluation = manifest["reevaluation"]
    assert (reevaluation["n_folds"], reevaluation["n_repeats"]) == (3, 2)
    assert reevaluation["candidates"][0]["simple"] and estimate["folds"] == "fresh"
    names = [b["name"] for b in manifest["baselines"]]
    assert names == ["majority", "logistic_regression"]
    assert all(b["ci_low"] <= b["value"] <= b["ci_high"] for b in manifest["baselines"])
    oof = penguin_study.store.read_table(penguin_study.study_id, "report/oof.parquet")
    board = penguin_study.leaderboard()
    assert set(oof["trial"]) == set(board.loc[board["has_oof"], "trial"])
    assert manifest["best"]["trial"] in set(oof["trial"])
    assert len(oof[oof["trial"] == manifest["best"]["trial"]]) == 120  # every row, one repeat
    timings = manifest["timings"]
    assert timings["estimate_s"] + timings["baselines_s"] < 0.2 * timings["search_s"]


def test_a_held_out_test_on_request(ray_session, penguins_csv, fast_space, tmp_path):
    path, target = penguins_csv
    study = run_study(
        small_config(path, target, tmp_path, fast_space, trials=2, test_size=0.2), log=lambda m: None
    )
    report = study.test_report
    assert report["n_test"] == 24 and study.manifest["data"]["n_rows"] == 120
    assert report["ci_low"] <= report["value"] <= report["ci_high"]
    matrix = np.array(report["confusion_matrix"]["rows_true_columns_predicted"])
    assert matrix.shape == (3, 3) and matrix.sum() == 24
    assert {c["class"] for c in report["per_class"]} == {"Adelie", "Chinstrap", "Gentoo"}
    assert set(report["all_metrics"]) == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"}
    estimate, cv = study.estimate, study.manifest["cv_estimate"]
    assert estimate["protocol"] == "held_out_test" and estimate["n_rows"] == 24
    assert estimate["value"] == report["value"]
    assert cv["protocol"] == "out_of_fold" and cv["n_rows"] == 96
    assert all("test" in b for b in study.manifest["baselines"])


def test_exported_model_predicts_like_the_in_memory_model(penguin_study, penguins_csv, tmp_path):
    path, target = penguins_csv
    frame = read_frame(path)
    in_memory = penguin_study._model
    assert in_memory is not None
    schema = in_memory.info["schema"]
    expected = in_memory.predict_frame(coerce_features(frame, schema))

    model_dir = penguin_study.store.local_path(penguin_study.study_id, "model")
    exported = load_model(model_dir)
    assert len(exported.members) == 6 and all(isinstance(m, TabularModel) for m in exported.members)
    pd.testing.assert_frame_equal(exported.predict_frame(coerce_features(frame, schema)), expected)

    # The same through every way of naming the model, and through the file-level API.
    study_dir = penguin_study.store.local_path(penguin_study.study_id)
    reloaded = Study.load(penguin_study.study_id, str(penguin_study.store.root)).best_model
    for model in (resolve_model(str(model_dir)), resolve_model(str(study_dir)), reloaded):
        out, notes = predict_file(model, str(path), str(tmp_path / "p.csv"))
        pd.testing.assert_frame_equal(out, expected)
        assert notes == [f"Ignored the target column {target!r}."]
    written = pd.read_csv(tmp_path / "p.csv")
    assert list(written.columns) == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert len(written) == len(frame)


def test_regression_study(ray_session, diabetes_csv, fast_space, tmp_path):
    path, target = diabetes_csv
    study = run_study(small_config(path, target, tmp_path, fast_space), log=lambda m: None)
    assert study.manifest["data"]["task"] == "regression"
    assert study.manifest["metric"]["name"] == "rmse"
    assert study.estimate["metric"] == "rmse" and study.estimate["value"] > 0
    assert "smote" not in study.manifest["space"]["parameters"]["synth_method"]["values"]
    assert [b["name"] for b in study.manifest["baselines"]] == ["mean", "ridge_regression"]
    out = study.best_model.predict_frame(coerce_features(read_frame(path), study.best_model.info["schema"]))
    assert list(out.columns) == ["prediction"] and np.isfinite(out["prediction"]).all()


def test_progress_reaches_a_print_log_from_python(ray_session, penguins_csv, fast_space, tmp_path, capsys):
    path, target = penguins_csv
    run_study(small_config(path, target, tmp_path, fast_space, trials=2), log=print)
    out = capsys.readouterr().out
    assert "trials 1/2 done" in out and "trials 2/2 done" in out


def test_a_finished_study_leaves_no_pool_actor_behind(ray_session, penguins_csv, fast_space, tmp_path):
    from ray._private import state  # the GCS's actor table (the state API needs Ray's dashboard)

    def alive_pools() -> int:
        return sum(
            a["ActorClassName"] == "SharedPool" and a["State"] == "ALIVE" for a in state.actors().values()
        )

    path, target = penguins_csv
    before = alive_pools()
    run_study(small_config(path, target, tmp_path, fast_space, trials=2), log=lambda m: None)
    deadline = time.monotonic() + 10  # ray.kill is asynchronous
    while alive_pools() > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive_pools() == before


def test_a_study_whose_search_finished_nothing_still_ends_with_the_linear_model(
    ray_session, penguins_csv, fast_space, tmp_path
):
    """A budget spent before any trial finished (here: one second, less than the search's start): the
    linear start point is still trained on the fresh folds, chosen and exported, and the study says so."""
    path, target = penguins_csv
    study = run_study(
        small_config(path, target, tmp_path, fast_space, trials=5, budget_s=1.0), log=lambda m: None
    )
    manifest = study.manifest
    assert study.status == "completed" and manifest["model"]["kind"] == "bag"
    candidates = manifest["reevaluation"]["candidates"]
    assert candidates[0]["why"].startswith("the linear start point") and candidates[0]["simple"]
    if manifest["trials"].get("completed", 0) == 0:  # nothing finished (the usual case at one second)
        assert [c["trial"] for c in candidates] == ["s01"] and manifest["best"]["trial"] == "s01"
        assert manifest["best"]["config"]["family"] == "linear"
    estimate = study.estimate
    assert estimate["ci_low"] <= estimate["value"] <= estimate["ci_high"] and estimate["folds"] == "fresh"
    rows = coerce_features(read_frame(path), study.best_model.info["schema"])
    assert np.isfinite(study.best_model.predict_output(rows)).all()
