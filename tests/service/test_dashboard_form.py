"""The dashboard's "new study" form starts a study the one way the API does: the upload is kept in the
store, checked, queued (`_queue/`), and a runner starts it; its settings are the form's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from automl.config import StudyConfig
from automl.service.launch import pid_runs
from automl.service.queue import Queue
from automl.store import Store
from ui.lib import launcher
from ui.lib.auth import SESSION_KEY

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
pytestmark = pytest.mark.slow  # a runner starts (and is cancelled) in the background
NAME = "from-the-form"


@pytest.fixture
def form_env(tmp_path: Path, monkeypatch) -> Path:
    storage = tmp_path / "store"
    monkeypatch.setenv("AUTOML_STORAGE", str(storage))
    monkeypatch.setenv("AUTOML_DASHBOARD_PASSWORD", "pw")
    monkeypatch.delenv("AUTOML_RAY_ADDRESS", raising=False)
    root = str(Path(__file__).resolve().parents[2])  # the runner imports this checkout
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return storage


def test_the_form_queues_and_starts_its_study_like_the_api(form_env: Path, penguins_upload) -> None:
    path, target = penguins_upload
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[SESSION_KEY] = True
    at.run().switch_page("views/new_study.py")
    at.run()
    at.get("file_uploader")[0].upload("my penguins.csv", path.read_bytes(), "text/csv")
    at.run()
    at.selectbox(key="target").select(target)
    at.number_input(key="trials").set_value(2)
    at.number_input(key="folds").set_value(2)
    at.number_input(key="max_epochs").set_value(4)
    at.text_input(key="name").input(NAME)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert f"Started study **{NAME}**" in " ".join(s.value for s in at.success)

    store = Store(form_env)
    entry = Queue(store).get(NAME)
    try:
        assert entry.source == "dashboard" and entry.attempts == 1 and entry.runner.kind == "local"
        assert entry.state == "running" and pid_runs(entry.runner.pid, NAME)
        assert entry.upload.startswith("_uploads/") and entry.upload.endswith("/my_penguins.csv")
        config = StudyConfig.from_dict(entry.config)
        assert (config.data, config.target, config.trials, config.n_folds, config.max_epochs) == (
            str(form_env / entry.upload),
            target,
            2,
            2,
            4,
        )
        assert config.storage == str(form_env) and config.name == NAME
        [pending] = launcher.pending_jobs(store, known_ids=set())
        assert pending["study_id"] == NAME and pending["state"] in ("starting", "exited")
    finally:
        cancelled = launcher.dispatcher(store).cancel(NAME, "stopped by the test")
    assert cancelled.state == "cancelled" and not pid_runs(entry.runner.pid, NAME)
    assert json.loads((form_env / "_queue" / f"{NAME}.json").read_text())["state"] == "cancelled"
    assert launcher.pending_jobs(store, known_ids=set()) == []
