"""`automl submit` forwards EVERY option of `automl run` to the job it submits (the options are read
from the `run` parser itself, so a new option that is not forwarded fails here), and what the
job's entrypoint parses to is the submitted StudyConfig. No cluster: the Jobs API client is a fake
that keeps the request."""

from __future__ import annotations

import argparse
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import automl.jobs as jobs
from automl.cli import build_parser, main
from automl.config import parse_duration
from automl.run_args import study_config
from automl.search.space import default_space_path

ADDRESS = "http://127.0.0.1:8265"
# options whose value must be valid for `automl submit` to accept it; the others get a value from their type
VALID = {
    "target": "species",
    "metric": "f1_macro",
    "budget": "7m",
    "select": "best_validation",
    "name": "forwarded-1",
    "image_size": "128",
    "test_size": "0.3",
    "grace_period": "3",
}

READ = {"budget": parse_duration}  # the job gets the budget in seconds ("7m" -> "420s")


class FakeJobsAPI:
    """Takes one job and keeps its request (and its working_dir's files, which `submit` removes after)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.files: dict[str, bytes] = {}

    def submit_job(self, **request) -> str:
        self.requests.append(request)
        folder = Path(request["runtime_env"]["working_dir"])
        self.files = {p.name: p.read_bytes() for p in folder.iterdir()}
        return request["submission_id"]


@pytest.fixture
def jobs_api(monkeypatch: pytest.MonkeyPatch) -> FakeJobsAPI:
    api = FakeJobsAPI()
    monkeypatch.setattr(jobs, "client", lambda address: api)
    return api


def run_parser() -> argparse.ArgumentParser:
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices["run"]


def run_options() -> list[argparse.Action]:
    return [a for a in run_parser()._actions if a.option_strings and a.dest != "help"]


def non_default(action: argparse.Action) -> list[str]:
    """The option with a value other than its default (a flag: given)."""
    flag = action.option_strings[-1]
    if action.nargs == 0:
        return [flag]
    if action.dest in VALID:
        value = VALID[action.dest]
    elif action.choices:
        value = next(str(c) for c in action.choices if c != action.default)
    elif action.type is int:
        value = str(action.default + 1 if action.default is not None else 3)
    elif action.type is float:
        value = str(action.default + 0.5 if action.default is not None else 0.3)
    else:
        value = f"value-of-{action.dest}"
    return [flag, value]


def job_argv(request: dict) -> list[str]:
    """The `automl run` arguments of a job's entrypoint."""
    words = shlex.split(request["entrypoint"])
    assert words[:4] == ["python", "-m", "automl.cli", "run"], request["entrypoint"]
    return words[3:]


def test_every_run_option_reaches_the_job(jobs_api: FakeJobsAPI, tmp_path: Path, capsys) -> None:
    data = tmp_path / "penguins.csv"
    data.write_text(
        "a,b,species\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(6))
    )  # checked here
    space = tmp_path / "my_space.yaml"
    shutil.copy(default_space_path("tabular"), space)
    storage = tmp_path / "store"
    special = {"space": [str(space)], "storage": [str(storage)]}
    argv = [str(data)]
    for action in run_options():
        argv += (
            [action.option_strings[-1], *special[action.dest]]
            if action.dest in special
            else non_default(action)
        )
    assert main(["submit", *argv, "--address", ADDRESS]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == "automl-forwarded-1"

    [request] = jobs_api.requests
    given = run_parser().parse_args([*argv])
    job = build_parser().parse_args(job_argv(request))
    rewritten = {  # what must change on the cluster: files in the working_dir, the store's absolute path
        "data": "penguins.csv",
        "space": jobs.JOB_SPACE,
        "storage": str(storage.resolve()),
        "name": "forwarded-1",
    }
    for action in [*run_options(), *(a for a in run_parser()._actions if not a.option_strings)]:
        dest = action.dest
        if dest == "help":
            continue
        if dest in rewritten:
            assert getattr(job, dest) == rewritten[dest], dest
            continue
        read = READ.get(dest, lambda value: value)
        assert read(getattr(given, dest)) != read(action.default), f"the test gives {dest} its default"
        assert read(getattr(job, dest)) == read(getattr(given, dest)), (
            f"{action.option_strings} did not reach the job"
        )
    assert study_config(job) == replace(study_config(given), **rewritten)
    assert jobs_api.files[jobs.JOB_SPACE] == space.read_bytes()
    assert jobs_api.files["penguins.csv"] == data.read_bytes()
    assert request["metadata"] == {"study_id": "forwarded-1", "storage": str(storage.resolve())}


def test_image_options_reach_the_job_of_an_image_folder(jobs_api: FakeJobsAPI, tmp_path: Path) -> None:
    """The options of docs/images.md (--weights-dir, --no-hub, --skip-bad, ...) on a folder of images."""
    photos = tmp_path / "photos"
    for label in ("cat", "dog"):
        (photos / label).mkdir(parents=True)
        for name in ("a", "b", "c"):  # the layout is checked before the job goes (3 images a class)
            (photos / label / f"{name}.png").write_bytes(b"not decoded here")
    argv = [
        "submit", str(photos), "--storage", "s3://bucket/studies", "--name", "pics", "--address", ADDRESS,
        "--weights-dir", "/opt/weights", "--no-hub", "--skip-bad", "--image-size", "96",
        "--max-pixels", "1000000", "--max-archive-mb", "10", "--gpus-per-trial", "0.5",
    ]  # fmt: skip
    assert main(argv) == 0
    [request] = jobs_api.requests
    job = study_config(build_parser().parse_args(job_argv(request)))
    assert job.data == "photos.zip" and job.storage == "s3://bucket/studies" and job.name == "pics"
    assert (job.images.weights_dir, job.images.allow_hub, job.images.skip_bad) == (
        "/opt/weights",
        False,
        True,
    )
    assert (job.images.image_size, job.images.max_pixels, job.images.max_archive_mb) == (96, 1_000_000, 10.0)
    assert job.resources.gpus_per_trial == 0.5
    assert "photos.zip" in jobs_api.files


def test_the_request_is_built_without_a_cluster(tmp_path: Path) -> None:
    data = tmp_path / "-odd name.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    args = run_parser().parse_args([str(data), "--target", "y", "--seed=-3", "--storage", "gs://b/s"])
    config = study_config(args)
    staging = tmp_path / "staging"
    staging.mkdir()
    request = jobs.job_request("http://10.0.0.1:8265", config, study_id="s-1", staging=staging)
    job = study_config(build_parser().parse_args(job_argv(request)))
    assert job == replace(config, data="-odd name.csv", space=jobs.JOB_SPACE, name="s-1")
    assert request["submission_id"] == "automl-s-1"
    assert sorted(p.name for p in staging.iterdir()) == ["-odd name.csv", jobs.JOB_SPACE]
