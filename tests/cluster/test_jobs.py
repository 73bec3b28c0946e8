"""`ray start --head` on loopback, then `automl submit` to its Jobs API: the job succeeds and the study is stored."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from automl.cli import main
from tests.helpers import fails_with

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray")]
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def head_node(tmp_path):
    """A head node of its own (`ray start --head --block` in a new session), stopped by killing that
    session only: `ray stop` would stop every Ray on the machine."""
    port, dashboard = _free_port(), _free_port()
    # As a user with the project's environment active: the job's `python` is this interpreter.
    env = dict(
        os.environ, RAY_ADDRESS="", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    head = subprocess.Popen(
        [
            RAY,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--disable-usage-stats",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{address}/api/version", timeout=2)
                break
            except urllib.error.HTTPError:  # it answers (401 without the token): it is up
                break
            except OSError:
                pass
            assert head.poll() is None and time.monotonic() < deadline, "the head node did not start"
            time.sleep(1)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)


def test_submit_wait_logs_and_the_study_lands_in_storage(head_node, penguins_csv, tmp_path, capsys):
    path, target = penguins_csv
    storage = tmp_path / "store"
    argv = [
        "submit",
        str(path),
        "--target",
        target,
        "--trials",
        "2",
        "--max-epochs",
        "5",
        "--folds",
        "3",
        "--budget",
        "3m",
        "--storage",
        str(storage),
        "--name",
        "from-job",
        "--address",
        head_node,
    ]
    assert main(argv) == 0
    job_id = capsys.readouterr().out.strip()
    assert job_id == "automl-from-job"
    assert main(["wait", job_id, "--address", head_node, "--timeout", "400"]) == 0, main(
        ["logs", job_id, "--address", head_node]
    )
    assert capsys.readouterr().out.strip() == "SUCCEEDED"
    assert main(["status", job_id, "--address", head_node]) == 0
    assert capsys.readouterr().out.strip() == "SUCCEEDED"
    assert main(["logs", job_id, "--address", head_node]) == 0
    assert "study from-job: completed" in capsys.readouterr().out
    manifest = json.loads((storage / "from-job" / "study.json").read_text())
    assert manifest["status"] == "completed" and manifest["trials"]["total"] == 2


def test_submit_errors_are_clear(penguins_csv, tmp_path, capsys):
    path, target = penguins_csv
    submit = ["submit", str(path), "--target", target, "--storage", str(tmp_path)]
    fails_with(
        [*submit, "--address", "http://10.1.2.3:8265"],
        capsys,
        "is a local directory, which the nodes of a remote cluster do not share",
    )
    fails_with(
        [*submit, "--address", f"http://127.0.0.1:{_free_port()}"],
        capsys,
        "Cannot reach the Ray Jobs API at http://127.0.0.1:",
    )
    fails_with([*submit, "--max-upload-mb", "0.001"], capsys, "over the 0 MB a job may carry")
