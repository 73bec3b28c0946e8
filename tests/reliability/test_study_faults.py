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


def test_a_trial_worker_killed_mid_epoch_is_retried_and_the_study_completes(
    penguins_csv, fast_space, tmp_path
):
    path, target = penguins_csv
    storage = tmp_path / "store"
    argv = [sys.executable, "-m", "automl.cli", "run", str(path), "--target", target, "--trials", "2"]
    argv += ["--max-concurrent", "1", "--max-epochs", "20", "--folds", "3", "--budget", "5m"]
    argv += ["--space", str(fast_space), "--storage", str(storage), "--name", "worker-killed"]
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
                time.sleep(0.5)
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.2)
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
