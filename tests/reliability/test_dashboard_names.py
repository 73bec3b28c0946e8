"""The dashboard's new-study form: a study name outside the rule is refused with the CLI's message,
and the upload it came with is not kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from automl.names import RULE
from ui.lib.auth import SESSION_KEY

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def test_the_form_refuses_a_name_that_would_leave_the_store(tmp_path: Path, monkeypatch) -> None:
    storage = tmp_path / "store"
    monkeypatch.setenv("AUTOML_STORAGE", str(storage))
    monkeypatch.setenv("AUTOML_DASHBOARD_PASSWORD", "pw")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[SESSION_KEY] = True
    at.run().switch_page("views/new_study.py")
    at.run()
    table = pd.DataFrame({"x": range(12), "label": ["a", "b"] * 6}).to_csv(index=False).encode()
    at.get("file_uploader")[0].upload("good.csv", table, "text/csv")
    at.run()
    at.text_input(key="name").input("../../etc")
    at.button[0].click().run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert errors == [
        f"error: The 'name' parameter of the new-study form must be {RULE}. Got '../../etc' instead."
    ]
    uploads = storage / "_uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert not (tmp_path / "etc").exists()
