"""The dashboard's launcher starts exactly the study its form describes: the local process's command
and the Ray Job's entrypoint both parse (with the `automl run` parser) back to the form's StudyConfig."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

import automl.jobs as jobs
from automl.cli import build_parser
from automl.config import ImageOptions, Resources, StudyConfig
from automl.run_args import study_config
from automl.store import Store
from ui.lib import launcher
from ui.lib.uploads import Upload

TOKEN = "0123456789abcdef"


@pytest.fixture
def form(tmp_path: Path) -> tuple[Store, Upload, StudyConfig]:
    """What the new-study form hands the launcher: a saved upload and a config with every kind of field set."""
    store = Store(tmp_path / "store")
    folder = tmp_path / "store" / "_uploads" / TOKEN
    folder.mkdir(parents=True)
    path = folder / "penguins.csv"
    path.write_text("a,b,species\n1,2,x\n3,4,y\n")
    config = StudyConfig(
        data=str(path), target="species", metric="f1_macro", trials=4, budget_s=95.5, seed=-2, test_size=0.0,
        n_folds=3, max_epochs=4, grace_period=4, select="best_validation", storage=str(tmp_path / "store"),
        name="penguins-1", resources=Resources(max_concurrent_trials=2),
        images=ImageOptions(image_size=96, skip_bad=True, allow_hub=False),
    )  # fmt: skip
    return store, Upload(token=TOKEN, path=path, dataset=None, study_id="penguins-1"), config


def parsed(arguments: list[str]) -> StudyConfig:
    return study_config(build_parser().parse_args(arguments))


def test_the_local_command_is_the_form_s_study(form, monkeypatch: pytest.MonkeyPatch) -> None:
    store, upload, config = form
    started: list[list[str]] = []

    class Process:
        pid = 12345

    def popen(command, **kwargs):
        started.append(command)
        return Process()

    monkeypatch.setattr(launcher.subprocess, "Popen", popen)
    record = launcher.start_local(store, upload, config)
    [command] = started
    assert command[1:4] == ["-m", "automl.cli", "run"]
    assert parsed(command[3:]) == config
    assert shlex.split(record["command"]) == command


def test_the_ray_job_is_the_form_s_study(form, monkeypatch: pytest.MonkeyPatch) -> None:
    store, upload, config = form
    requests: list[dict] = []

    class JobsAPI:
        def submit_job(self, **request):
            requests.append(request)
            return request["submission_id"]

    monkeypatch.setattr(jobs, "client", lambda address: JobsAPI())
    record = launcher.start_ray_job(store, upload, config, "http://127.0.0.1:8265")
    [request] = requests
    assert record["job_id"] == "automl-penguins-1"
    job = parsed(shlex.split(request["entrypoint"])[3:])
    assert job == replace(
        config, data="penguins.csv", space=jobs.JOB_SPACE, storage=str(Path(config.storage))
    )


def test_run_arguments_take_the_data_given(form) -> None:
    _, _, config = form
    assert parsed(["run", *launcher.run_arguments(config, "other.csv")]) == replace(config, data="other.csv")
    assert launcher.run_arguments(config, "x.csv")[:-2] == launcher.study_options(config)
