"""The dashboard's plain functions, on the real test store: uploads, launching, progress, charts' data, cards."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from automl.cli import build_parser
from automl.config import StudyConfig
from automl.dashboard import add_dashboard_parser, is_loopback, launch, streamlit_command
from automl.data.tabular import load_table
from automl.errors import ConfigError, DataError, StoreError, UploadTooLarge
from automl.service import uploads
from automl.service.queue import Queue
from automl.service.submission import submit_study
from automl.store import Store
from tests.ui.conftest import COMPLETED, RUNNING
from ui.lib import (
    catalog,
    importance,
    launcher,
    leaderboard,
    model_card,
    progress,
    synth_quality,
    techniques,
)
from ui.lib.auth import password_matches

TOKEN = "0123456789abcdef"
MB = 1024 * 1024


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.CSV", "evil.csv"),
        (".hidden.csv", "hidden.csv"),
        ("my data (v2).csv", "my_data_v2.csv"),
        ("", "upload"),
        ("/", "upload"),
        ("..", "upload"),
    ],
)
def test_sanitize_filename_keeps_names_inside_their_folder(given, safe):
    assert uploads.sanitize_filename(given) == safe


def test_peek_columns_reads_headers_in_memory():
    assert uploads.peek_columns("a.csv", b"\xef\xbb\xbfx;y;label\n1;2;a\n") == ["x", "y", "label"]
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1], "b": ["x"]}).to_parquet(buffer)
    assert uploads.peek_columns("t.parquet", buffer.getvalue()) == ["a", "b"]
    assert uploads.peek_columns("t.parquet", b"not parquet") == []
    assert uploads.peek_columns("latin.csv", "café,x\n".encode("latin-1")) == []


def test_uploads_land_inside_the_store_only(tmp_path):
    store = Store(tmp_path / "store")
    upload = uploads.receive(store, "../../outside.csv", io.BytesIO(b"x,y\n1,2\n"), MB, token=TOKEN)
    assert upload.path == (tmp_path / "store" / "_uploads" / TOKEN / "outside.csv")
    assert upload.path.read_bytes() == b"x,y\n1,2\n"
    assert store.list_studies() == [] and catalog.list_entries(store) == []  # not a study
    with pytest.raises(StoreError):
        uploads.receive(store, "a.csv", io.BytesIO(b"x"), MB, token="../escape")


def test_an_oversized_upload_is_refused_and_leaves_nothing(tmp_path):
    store = Store(tmp_path / "store")
    with pytest.raises(UploadTooLarge, match="over the limit"):
        uploads.receive(store, "big.csv", io.BytesIO(b"x" * 2000), 1000, token=TOKEN)
    assert not (tmp_path / "store" / "_uploads" / TOKEN).exists()


@pytest.mark.parametrize(
    ("name", "payload", "target"),
    [
        ("one class.csv", b"x,label\n" + b"".join(b"%d,a\n" % i for i in range(10)), "label"),
        ("no target.csv", b"x,y\n1,2\n3,4\n", "label"),
        ("latin.csv", "x,label\ncaf\xe9,a\n".encode("latin-1"), "label"),
        ("table.xlsx", b"PK\x03\x04", "label"),
    ],
)
def test_a_bad_upload_gives_the_cli_message_and_leaves_nothing(tmp_path, name, payload, target, monkeypatch):
    monkeypatch.setattr(uploads.secrets, "token_hex", lambda n=8: TOKEN)
    store = Store(tmp_path / "store")
    config = StudyConfig(data="", target=target, storage=str(tmp_path / "store"))
    with pytest.raises(DataError) as caught:  # the form's one way in: the service's submission
        submit_study(store, config, name, io.BytesIO(payload), max_bytes=50 * MB, source="dashboard")
    saved = tmp_path / "store" / "_uploads" / TOKEN / uploads.sanitize_filename(name)
    assert not saved.parent.exists(), "the rejected upload was removed"
    assert Queue(store).entries() == [], "nothing was queued"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(payload)
    with pytest.raises(DataError) as expected:  # what `automl run` on that same file says
        load_table(saved, target, max_bytes=50 * MB)
    assert str(caught.value) == str(expected.value)


def test_a_good_upload_is_queued_and_its_command_parses_like_the_cli(ui_store, tmp_path):
    store = Store(tmp_path / "store")
    config = StudyConfig(
        data="", target=ui_store.target, metric="f1_macro", trials=2, budget_s=90, n_folds=3, max_epochs=5,
        storage=str(tmp_path / "store"),
    )  # fmt: skip
    entry = launcher.submit(store, "penguins.csv", ui_store.data.read_bytes(), config)
    path = entry.config["data"]
    assert entry.study_id.startswith("penguins-") and Path(path).read_bytes() == ui_store.data.read_bytes()
    named = replace(config, name=entry.study_id)
    args = build_parser().parse_args(["run", *launcher.run_arguments(named, path)])
    assert (args.data, args.target, args.metric, args.trials) == (path, ui_store.target, "f1_macro", 2)
    assert (args.budget, args.folds, args.max_epochs, args.name) == ("90s", 3, 5, entry.study_id)
    assert args.storage == str(tmp_path / "store")

    bad_metric = StudyConfig(data="", target=ui_store.target, metric="rmse", storage=str(tmp_path / "store"))
    with pytest.raises(ConfigError, match="metric"):
        launcher.submit(store, "penguins.csv", ui_store.data.read_bytes(), bad_metric)


def test_a_process_that_died_before_its_study_is_reported_with_its_log(tmp_path):
    store = Store(tmp_path / "store")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.write_bytes("_uploads", f"{TOKEN}/run.log", b"error: Target column 'y' is not in data.csv.\n")
    store.write_json(
        "_uploads",
        f"{TOKEN}/job.json",
        {
            "study_id": "s1",
            "kind": "local",
            "pid": dead.pid,
            "log": f"_uploads/{TOKEN}/run.log",
            "started_at": time.time(),
        },
    )
    [job] = launcher.pending_jobs(store, known_ids=set())
    assert job["state"] == "exited" and "is not in data.csv" in job["log_tail"]
    assert launcher.pending_jobs(store, known_ids={"s1"}) == []  # once the study exists it is listed as such
    assert launcher.process_alive(0) is False


def test_progress_of_a_running_study_is_read_from_its_tune_experiment(ui_store):
    manifest = ui_store.store.read_manifest(RUNNING)
    state = progress.read_progress(ui_store.store, RUNNING, manifest)
    assert (state.planned, state.started, state.finished) == (3, 3, 3)
    assert all(t.epochs >= 1 for t in state.trials) and state.best_val is not None
    assert 0.0 < state.fraction <= 1.0 and "3/3 trials done" in state.text()
    bare = {"study_id": "nothing-here", "status": "running", "config": {"trials": 4, "budget_s": 60}}
    empty = progress.read_progress(ui_store.store, "nothing-here", bare)
    assert (empty.started, empty.finished, empty.best_val) == (0, 0, None)


def test_leaderboard_frame_band_and_techniques(ui_store):
    manifest = ui_store.store.read_manifest(COMPLETED)
    board = ui_store.store.read_table(COMPLETED, "report/trials.parquet")
    frame = leaderboard.display_frame(board, manifest)
    leading = [c for c in leaderboard.LEADING if c not in ("weight", "test_score")]  # one trial, no test
    assert list(frame.columns[: len(leading)]) == leading and "depth" in frame and "param_depth" not in frame
    assert frame["estimate"].notna().sum() == 1 and "test_score" not in frame
    assert frame.loc[frame["chosen"], "estimate"].iloc[0] == pytest.approx(manifest["estimate"]["value"])
    low, high = leaderboard.band_bounds(manifest, board)
    assert low <= manifest["best"]["val_score"] <= high
    assert frame.loc[frame["chosen"], "in_band"].all()
    groups = techniques.technique_groups(board)
    assert {"synthetic data method", "network depth (0 = linear)", "L2 penalty (weight decay)"} <= set(
        groups["technique"]
    )
    assert len(groups[groups["technique"] == "dropout"]) == 3
    summary = techniques.group_summary(groups)
    assert summary["trials"].sum() == len(groups)


def test_parameter_importance_over_the_stored_space(ui_store):
    manifest = ui_store.store.read_manifest(COMPLETED)
    board = ui_store.store.read_table(COMPLETED, "report/trials.parquet")
    space = manifest["space"]["parameters"]
    values, message = importance.param_importances(board, space, True)
    assert values is None and "at least 5 scored trials" in message
    values, message = importance.param_importances(board, space, True, min_trials=3)
    assert values and sum(values.values()) == pytest.approx(1.0) and set(values) <= set(space)
    assert "fANOVA over 3 scored trials" in message


def test_model_card_and_zip(ui_store):
    manifest = ui_store.store.read_manifest(COMPLETED)
    card = model_card.card_markdown(manifest)
    assert f"of `{ui_store.target}`" in card and manifest["best"]["trial"] in card and "Limitations" in card
    payload = model_card.model_zip(ui_store.store, COMPLETED, card)
    names = set(zipfile.ZipFile(io.BytesIO(payload)).namelist())
    assert names == {"model/weights.safetensors", "model/model.json", "model/MODEL_CARD.md"}  # a bag


def test_synthetic_quality_is_read_from_the_store_or_explained(ui_store, tmp_path):
    from automl.store import SYNTH_QUALITY
    from automl.synth.quality import study_quality

    manifest = ui_store.store.read_manifest(COMPLETED)
    if manifest["best"]["config"].get("synth_method", "none") == "none":
        assert "uses no synthetic rows" in synth_quality.stored_report(ui_store.store, manifest)[1]
    synthesizing = json.loads(json.dumps(manifest))
    synthesizing["best"]["config"].update(synth_method="gaussian_copula", synth_ratio=0.5)
    store = Store(tmp_path)
    store.write_manifest(COMPLETED, synthesizing)
    report, why = synth_quality.stored_report(store, synthesizing)
    assert report is None and "stored no synthetic data report" in why  # a study from before it was stored
    dataset = load_table(ui_store.data, ui_store.target)
    stored = study_quality(
        dataset.features.head(60), dataset.y[:60], synthesizing["best"]["config"],
        task=dataset.task, classes=dataset.classes, target=ui_store.target, seed=0,
    )  # fmt: skip
    store.write_json(COMPLETED, SYNTH_QUALITY, stored)
    report, why = synth_quality.stored_report(store, synthesizing)
    assert why == "" and 0.0 <= report["score"] <= 1.0
    properties, columns = synth_quality.tables(report)
    assert set(properties["Property"]) == {"Column Shapes", "Column Pair Trends"}
    assert set(columns["Column"]) <= set(dataset.features.columns) | {ui_store.target} and len(columns)


def test_launch_refuses_an_exposed_host_without_password(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOML_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="Refusing to serve the dashboard on 0.0.0.0 without a password"):
        launch(str(tmp_path), host="0.0.0.0")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("")
    command = streamlit_command(tmp_path / "app.py", "127.0.0.1", 8600)
    assert "enableXsrfProtection" not in " ".join(command)  # XSRF protection stays on
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"


def test_dashboard_subcommand_parses(tmp_path):
    import argparse

    parser = argparse.ArgumentParser(prog="automl")
    add_dashboard_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dashboard", "--storage", str(tmp_path), "--port", "8600"])
    assert (args.storage, args.host, args.port, args.password_file) == (
        str(tmp_path),
        "127.0.0.1",
        8600,
        None,
    )
    assert args.func.__name__ == "cmd_dashboard"


def test_password_comparison():
    assert password_matches("s3cret", "s3cret")
    assert not password_matches("s3cre", "s3cret") and not password_matches("", "s3cret")


def test_the_band_is_the_rule_s_candidates_when_the_manifest_lists_them():
    board = pd.DataFrame({"trial": ["t01", "t02", "t03"], "objective": [0.9, 0.95, 0.99]})
    study = {"study_id": "s", "status": "completed"}
    log_loss_band = {
        **study,
        "selection": {"rule": "one_se", "band_floor": 0.9, "candidates": ["t01", "t03"]},
    }
    assert leaderboard.in_band(log_loss_band, board).tolist() == [True, False, True]  # t02: worse log loss
    by_floor = {**study, "selection": {"rule": "one_se", "band_floor": 0.95}}  # older: no candidates stored
    assert leaderboard.in_band(by_floor, board).tolist() == [False, True, True]
