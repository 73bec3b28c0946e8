"""Studies through the service, end to end, on one store:

- submit -> queued -> running; a second study waits in the queue (one at once), a third is cancelled there;
- the service is killed (SIGKILL) with the running study's runner (as when the machine goes down); a new
  service on the same store resumes the running study from its Ray Tune experiment and runs the queued
  one: both complete, and the cancelled one never ran;
- the completed studies' estimate, leaderboard and model; predictions equal to `automl predict` on the
  same rows (CSV and JSON records); the served model scales to zero when idle and comes back.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from automl.artifact import load_model
from automl.cli import main
from tests.service.conftest import TINY_STUDY, Service, start_service, wait_for

pytestmark = pytest.mark.slow


def _submit(client, path, options: dict):
    files = {"file": (path.name, path.read_bytes(), "text/csv")}
    return client.post("/v1/studies", files=files, data={"options": json.dumps(options)})


def _some_trials_saved(tune_dir) -> bool:
    """Tune has saved its experiment state, and at least one trial has reported."""
    return any(tune_dir.glob("experiment_state-*.json")) and any(
        p.stat().st_size > 0 for p in tune_dir.glob("*/result.json")
    )


@dataclass
class Outcome:
    service: Service  # the second service, still running
    at_kill: dict  # what the store said when the first service was killed
    answers: dict  # the first service's answers along the way


@pytest.fixture(scope="module")
def studies(tmp_path_factory, penguins_upload):
    path, target = penguins_upload
    folder = tmp_path_factory.mktemp("lifecycle")
    storage = folder / "store"
    first = start_service(storage, folder / "first")
    second = None
    try:
        client, answers = first.client(), {}
        slow = {**TINY_STUDY, "trials": 4, "max_concurrent": 1, "max_epochs": 6}
        answers["created"] = _submit(client, path, {"target": target, **slow, "name": "interrupted"}).json()
        answers["running"] = wait_for(client, "interrupted", ("running", "completed", "failed"), timeout_s=60)
        for name in ("waiting", "cancelled"):
            assert _submit(client, path, {"target": target, **TINY_STUDY, "name": name}).status_code == 201
        answers["queued"] = client.get("/v1/studies/waiting").json()
        answers["cancel"] = client.delete("/v1/studies/cancelled")
        answers["cancel_again"] = client.delete("/v1/studies/cancelled")
        tune_dir = storage / "interrupted" / "tune"
        deadline = time.monotonic() + 240
        while not _some_trials_saved(tune_dir):
            assert time.monotonic() < deadline, "the first study never got going"
            time.sleep(0.5)
        runner = json.loads((storage / "_queue" / "interrupted.json").read_text())["runner"]
        first.kill()
        os.killpg(runner["pid"], signal.SIGKILL)  # its runner and the Ray it started
        at_kill = {
            "interrupted": json.loads((storage / "interrupted" / "study.json").read_text())["status"],
            "waiting": json.loads((storage / "_queue" / "waiting.json").read_text())["state"],
        }
        second = start_service(storage, folder / "second", "--max-running", "2", "--idle", "3s")
        for study_id in ("interrupted", "waiting"):
            wait_for(second.client(), study_id, ("completed", "failed"), timeout_s=400)
        yield Outcome(second, at_kill, answers)
    finally:
        for service in (first, second):
            if service is not None:
                service.kill()
                service.stop_runners()


def test_the_first_service_queues_one_study_at_a_time_and_cancels_in_the_queue(studies) -> None:
    answers = studies.answers
    assert answers["created"] == {"study_id": "interrupted", "status": "queued", "notes": []}
    assert answers["running"]["status"] in ("running", "completed")
    assert answers["running"]["progress"]["trials_planned"] == 4
    assert answers["queued"]["status"] == "queued" and answers["queued"]["progress"]["queue_position"] == 1
    assert answers["cancel"].status_code == 200 and answers["cancel"].json()["status"] == "cancelled"
    assert answers["cancel_again"].status_code == 409
    assert (
        answers["cancel_again"].json()["detail"]
        == "Study 'cancelled' has already ended (cancelled); nothing to cancel."
    )


def test_running_and_queued_studies_complete_after_the_service_is_killed(studies) -> None:
    assert studies.at_kill == {"interrupted": "running", "waiting": "queued"}
    client, storage = studies.service.client(), studies.service.storage
    assert {s: client.get(f"/v1/studies/{s}").json()["status"] for s in ("interrupted", "waiting", "cancelled")} == {
        "interrupted": "completed", "waiting": "completed", "cancelled": "cancelled",
    }  # fmt: skip
    manifest = json.loads((storage / "interrupted" / "study.json").read_text())
    assert "resumed_at" in manifest and manifest["trials"]["total"] == 4  # resumed, not started again
    attempts = {s: json.loads((storage / "_queue" / f"{s}.json").read_text())["attempts"] for s in
                ("interrupted", "waiting", "cancelled")}  # fmt: skip
    assert attempts == {"interrupted": 2, "waiting": 1, "cancelled": 0}
    assert not (storage / "cancelled").exists(), "a study cancelled in the queue never ran"
    assert "its runner stopped without finishing; queued again" in studies.service.log_text()
    assert client.post("/v1/studies/cancelled/predict", json=[{"x": 1}]).status_code == 409


def test_a_completed_study_shows_its_estimate_leaderboard_and_model(
    studies, penguins_upload, tmp_path
) -> None:
    client, storage = studies.service.client(), studies.service.storage
    view = client.get("/v1/studies/waiting").json()
    assert view["progress"]["trials_done"] == 3 and view["progress"]["elapsed_s"] > 0
    estimate = view["estimate"]
    assert (
        estimate["ci_low"] <= estimate["value"] <= estimate["ci_high"]
        and estimate["protocol"] == "out_of_fold"
    )
    assert [b["name"] for b in view["baselines"]] == ["majority", "logistic_regression"]
    assert (
        view["chosen"]["reason"] and view["chosen"]["config"] and view["chosen"]["rule"] == "one_se_min_gap"
    )
    listed = {s["study_id"]: s["status"] for s in client.get("/v1/studies").json()["studies"]}
    assert listed == {"interrupted": "completed", "waiting": "completed", "cancelled": "cancelled"}

    board = client.get("/v1/studies/waiting/leaderboard").json()
    stored = pd.read_parquet(storage / "waiting" / "report" / "trials.parquet")
    assert [r["trial"] for r in board["rows"]] == stored["trial"].tolist() and len(stored) == 3
    assert board["columns"] == list(stored.columns)

    answer = client.get("/v1/studies/waiting/model")
    assert answer.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(answer.content)).extractall(tmp_path)
    path, target = penguins_upload
    assert load_model(tmp_path / "model").classes == sorted(pd.read_csv(path)[target].dropna().unique())

    taken = _submit(client, path, {"target": target, **TINY_STUDY, "name": "waiting"})
    assert taken.status_code == 409
    assert (
        taken.json()["detail"]
        == "Study 'waiting' already exists in the service's store. Choose another --name."
    )


def test_predictions_are_those_of_automl_predict(
    studies, penguins_upload, tmp_path, capsys, monkeypatch
) -> None:
    client, storage = studies.service.client(), studies.service.storage
    path, target = penguins_upload
    rows = pd.read_csv(path).drop(columns=[target]).head(25)
    rows_csv = tmp_path / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    out = tmp_path / "cli.csv"
    assert main(["predict", "waiting", str(rows_csv), "--storage", str(storage), "-o", str(out)]) == 0
    expected = pd.read_csv(out)
    by_csv = client.post("/v1/studies/waiting/predict", content=rows_csv.read_bytes(),
                         headers={"Content-Type": "text/csv"})  # fmt: skip
    assert by_csv.status_code == 200, by_csv.text
    by_json = client.post("/v1/studies/waiting/predict", json=json.loads(rows.to_json(orient="records")))
    classes = [c.removeprefix("proba_") for c in expected.columns if c.startswith("proba_")]
    for answer in (by_csv.json(), by_json.json()):
        assert answer["predictions"] == expected["prediction"].tolist()
        got = np.array([[p[c] for c in classes] for p in answer["probabilities"]])
        np.testing.assert_allclose(got, expected[[f"proba_{c}" for c in classes]].to_numpy(), rtol=1e-9)

    bad = client.post("/v1/studies/waiting/predict", json={"island": "Biscoe"})
    assert bad.status_code == 400 and "must be a non-empty JSON list of records" in bad.json()["detail"]
    odd = client.post("/v1/studies/waiting/predict", content=b"x", headers={"Content-Type": "image/gif"})
    assert odd.status_code == 400 and "Send text/csv, application/json" in odd.json()["detail"]
    missing = tmp_path / "rows.csv"  # the name the service gives rows sent as text/csv
    missing.write_text(rows.drop(columns=[rows.columns[0]]).to_csv(index=False))
    refused = client.post("/v1/studies/waiting/predict", content=missing.read_bytes(),
                          headers={"Content-Type": "text/csv"})  # fmt: skip
    assert refused.status_code == 400
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "waiting", "rows.csv", "--storage", str(storage)]) == 2
    assert refused.json()["detail"] == capsys.readouterr().err.strip().splitlines()[-1].removeprefix(
        "error: "
    )


def test_the_served_model_scales_to_zero_when_idle_and_comes_back(studies, penguins_upload) -> None:
    client = studies.service.client()
    path, target = penguins_upload
    records = json.loads(pd.read_csv(path).drop(columns=[target]).head(3).to_json(orient="records"))
    first = client.post("/v1/studies/waiting/predict", json=records)
    assert first.status_code == 200, first.text
    assert client.get("/v1/studies/waiting").json()["serving"] == {"RUNNING": 1}
    deadline = time.monotonic() + 90
    while client.get("/v1/studies/waiting").json()["serving"] and time.monotonic() < deadline:
        time.sleep(1)
    assert client.get("/v1/studies/waiting").json()["serving"] == {}, "not scaled to zero (--idle 3s)"
    again = client.post("/v1/studies/waiting/predict", json=records)
    assert again.status_code == 200 and again.json()["predictions"] == first.json()["predictions"]
