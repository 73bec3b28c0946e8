"""A real (tiny) study whose trial worker is SIGKILLed mid-epoch: Tune retries the trial, the study
completes, and its model loads. The driver-kill/resume and lost-node cases are tests/cluster/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from automl.predict import resolve_model

pytestmark = pytest.mark.slow


def _trial_workers(session: int) -> list[int]:
    """Trial actors (`ray::ImplicitFunc.train`) of the study's own local Ray (the driver's session)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True, check=True).stdout
    pids = []
    for line in out.splitlines():
        pid, sid, args = line.split(None, 2)
        if int(sid) == session and args.startswith("ray::ImplicitFunc.train"):
            pids.append(int(pid))
    return pids


def _slow_space(tmp_path) -> str:
    """One fixed, deliberately slow configuration (deep, wide, small batches, no early stop), so that
    a trial lasts seconds even on a fast machine and the kill lands inside its training."""
    fixed = {"depth": 4, "width": 256, "batch_size": 16, "patience": 500, "lr": 1.0e-4, "dropout": 0.1}
    parameters = {name: {"type": "choice", "values": [value]} for name, value in fixed.items()}
    parameters["synth_method"] = {"type": "choice", "values": ["none"]}
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return str(path)


def test_a_trial_worker_killed_mid_epoch_is_retried_and_the_study_completes(penguins_csv, tmp_path):
    path, target = penguins_csv
    storage = tmp_path / "store"
    argv = [sys.executable, "-m", "automl.cli", "run", str(path), "--target", target, "--trials", "2"]
    argv += ["--max-concurrent", "1", "--max-epochs", "150", "--folds", "3", "--budget", "5m"]
    argv += ["--space", _slow_space(tmp_path), "--storage", str(storage), "--name", "worker-killed"]
    proc = subprocess.Popen(
        argv,
        env=dict(os.environ, RAY_ADDRESS=""),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed: list[int] = []
    deadline = time.monotonic() + 240
    try:
        while not killed and time.monotonic() < deadline and proc.poll() is None:
            workers = _trial_workers(proc.pid)
            if workers:  # the actor is inside a trial's training (the trial's folds run as its tasks)
                time.sleep(0.3)
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.1)
        output, _ = proc.communicate(timeout=420)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert killed, "no trial worker was found to kill"
    assert proc.returncode == 0, output[-3000:]
    manifest = json.loads((storage / "worker-killed" / "study.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["trials"]["total"] == 2
    print(f"\nkilled trial worker {killed[0]}; trials: {manifest['trials']}")
    model = resolve_model(str(storage / "worker-killed"))
    assert model.info["target"] == target
