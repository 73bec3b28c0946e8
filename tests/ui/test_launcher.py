"""The dashboard's launcher starts exactly the study its form describes, the way the HTTP API does: the
form's StudyConfig is what the queue keeps for the runner (with the upload's path and the store), and
with AUTOML_RAY_ADDRESS the runner goes to the Ray Jobs API with the store in its environment. (The
local start, a real runner process, is tests/service/test_dashboard_form.py.)"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

import automl
import automl.jobs as jobs
from automl.cli import build_parser
from automl.config import ImageOptions, Resources, StudyConfig
from automl.run_args import study_config
from automl.service.queue import Queue
from automl.store import Store
from ui.lib import launcher


@pytest.fixture
def form(tmp_path: Path, penguins_csv) -> tuple[Store, bytes, StudyConfig]:
    """What the new-study form hands the launcher: the uploaded bytes and a config with every kind of field set."""
    path, target = penguins_csv
    config = StudyConfig(
        data="", target=target, metric="f1_macro", trials=4, budget_s=95.5, seed=2, test_size=0.0,
        n_folds=3, max_epochs=4, grace_period=4, select="best_validation", storage=str(tmp_path / "store"),
        name="penguins-1", resources=Resources(max_concurrent_trials=2),
        images=ImageOptions(image_size=96, skip_bad=True, allow_hub=False),
    )  # fmt: skip
    return Store(tmp_path / "store"), path.read_bytes(), config


def parsed(arguments: list[str]) -> StudyConfig:
    return study_config(build_parser().parse_args(arguments))


def test_the_queued_study_is_the_form_s_study(form) -> None:
    store, data, config = form
    entry = launcher.submit(store, "penguins.csv", data, config)
    assert entry.source == "dashboard" and entry.state == "queued"
    assert Queue(store).get("penguins-1") == entry
    upload = str(Path(store.root) / entry.upload)
    assert StudyConfig.from_dict(entry.config) == replace(config, data=upload, storage=store.uri)


def test_the_ray_job_runs_the_form_s_study(form, monkeypatch: pytest.MonkeyPatch) -> None:
    store, data, config = form
    requests: list[dict] = []

    class JobsAPI:
        def submit_job(self, **request):
            requests.append(request)
            return request["submission_id"]

    monkeypatch.setattr(jobs, "client", lambda address: JobsAPI())
    monkeypatch.setenv("AUTOML_RAY_ADDRESS", "http://127.0.0.1:8265")
    record = launcher.start(store, launcher.submit(store, "penguins.csv", data, config))
    [request] = requests
    assert record["kind"] == "ray" and record["job_id"] == "automl-penguins-1-1"
    assert shlex.split(request["entrypoint"]) == ["python", "-m", "automl.service.runner", "penguins-1"]
    assert request["runtime_env"]["env_vars"] == {"AUTOML_STORAGE": store.uri}
    assert request["runtime_env"]["py_modules"] == [str(Path(automl.__file__).parent)]
    entry = Queue(store).get("penguins-1")
    assert entry.state == "running" and entry.runner.job_id == "automl-penguins-1-1"


def test_run_arguments_take_the_data_given(form) -> None:
    _, _, config = form
    assert parsed(["run", *launcher.run_arguments(config, "other.csv")]) == replace(config, data="other.csv")
    assert launcher.run_arguments(config, "x.csv")[:-2] == launcher.study_options(config)
