"""A study whose driver is killed (SIGKILL) mid-search is completed by `automl resume`, without rerunning
the trials that had finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from automl.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]


def _finished(tune_dir) -> dict[str, bytes]:
    """Trials whose results show they trained to the end (early stopping, or the last epoch)."""
    done = {}
    for result in tune_dir.glob("tune_trainable_*/result.json"):
        content = result.read_bytes()
        lines = content.splitlines()
        if not lines:
            continue
        try:
            last = json.loads(lines[-1])
        except json.JSONDecodeError:  # a line being written
            continue
        if last.get("done_early") or last.get("epoch") == last.get("max_epochs"):
            done[result.parent.name] = content
    return done


def _recorded(tune_dir) -> set[str]:
    """The trial folders Tune's newest saved experiment state knows (what a resumed run restores)."""
    states = sorted(tune_dir.glob("experiment_state-*.json"))
    try:
        trials = json.loads(states[-1].read_text())["trial_data"] if states else []
    except (OSError, ValueError, KeyError):  # being replaced at the kill: count every folder as unknown
        return set()
    return {json.loads(state)["relative_logdir"] for state, _ in trials}


def test_resume_after_sigkill(penguins_csv, fast_space, tmp_path, capsys):
    path, target = penguins_csv
    storage = tmp_path / "store"
    argv = [
        sys.executable,
        "-m",
        "automl.cli",
        "run",
        str(path),
        "--target",
        target,
        "--trials",
        "6",
        "--max-concurrent",
        "1",
        "--max-epochs",
        "15",
        "--folds",
        "3",
        "--budget",
        "5m",
        "--space",
        str(fast_space),
        "--storage",
        str(storage),
        "--name",
        "killed",
    ]
    proc = subprocess.Popen(
        argv,
        env=dict(os.environ, RAY_ADDRESS=""),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tune_dir = storage / "killed" / "tune"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_finished(tune_dir)) < 2:
        assert proc.poll() is None, "the study ended before it could be killed"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait(timeout=60)
    unknown_at_kill = {d.name for d in tune_dir.glob("tune_trainable_*")} - _recorded(tune_dir)
    finished = _finished(tune_dir)
    assert len(finished) >= 2
    assert json.loads((storage / "killed" / "study.json").read_text())["status"] == "running"

    assert main(["resume", "killed", "--storage", str(storage)]) == 0
    assert "study killed: completed" in capsys.readouterr().out
    after = sorted(tune_dir.glob("tune_trainable_*"))
    ran = [d.name for d in after if (d / "result.json").exists() and (d / "result.json").read_bytes()]
    # Tune saves its experiment state every 10 s or so, and after each finished trial's checkpoint: a
    # trial the dead driver had started (or even finished) since the last save is unknown to the resumed
    # run, which proposes one more under a new id, and the first one's folder stays behind. Tune also
    # writes the trials before the searcher's state: killed between the two, the resumed run restores
    # a pending trial and proposes it again under a new id, and the restored one never runs (its folder
    # stays empty). Only such folders may be extra.
    assert 6 <= len(ran) <= 6 + len(unknown_at_kill), ([d.name for d in after], unknown_at_kill)
    for name, content in finished.items():  # finished trials were not run again
        after_resume = (tune_dir / name / "result.json").read_bytes()
        assert after_resume.startswith(content), name
        # A trial whose end the dead driver had not yet recorded reports its final result again
        # from its checkpoint: the same last epoch, never a retraining from epoch 1.
        last_epoch = json.loads(content.splitlines()[-1])["epoch"]
        for line in after_resume[len(content) :].splitlines():
            assert json.loads(line)["epoch"] == last_epoch, name
    manifest = json.loads((storage / "killed" / "study.json").read_text())
    assert manifest["status"] == "completed" and manifest["trials"]["total"] == 6
    assert "resumed_at" in manifest


def test_resume_refuses_a_changed_data_file_or_a_completed_study(penguins_csv, fast_space, tmp_path, capsys):
    from automl.study import run_study
    from tests.helpers import small_config

    path, target = penguins_csv
    copy = tmp_path / "data.csv"
    copy.write_bytes(path.read_bytes())
    run_study(small_config(copy, target, tmp_path, fast_space, trials=1, name="done"), log=lambda m: None)
    assert main(["resume", "done", "--storage", str(tmp_path)]) == 2
    assert "Study 'done' is already completed; nothing to resume." in capsys.readouterr().err
    manifest = json.loads((tmp_path / "done" / "study.json").read_text())
    manifest["status"] = "failed"
    (tmp_path / "done" / "study.json").write_text(json.dumps(manifest))
    copy.write_text(copy.read_text() + copy.read_text().splitlines()[1] + "\n")
    assert main(["resume", "done", "--storage", str(tmp_path)]) == 2
    assert f"The data file {copy} changed since study 'done' started" in capsys.readouterr().err
