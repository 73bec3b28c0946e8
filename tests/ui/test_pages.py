"""Every dashboard page run in-process with Streamlit's AppTest against the real test store."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from automl.data.tabular import load_table
from automl.errors import DataError
from tests.ui.conftest import (
    APP,
    COMPLETED,
    FAILED,
    FAILED_ERROR,
    INCOMPLETE,
    PASSWORD,
    RUNNING,
    UNREADABLE,
)
from ui.lib.auth import SESSION_KEY

TIMEOUT = 60


def _app(page: str | None = None, study: str | None = None) -> AppTest:
    """The dashboard, logged in, on `page` (a path under ui/), run once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[SESSION_KEY] = True
    if page:  # st.navigation registers the pages during the first run
        at.run().switch_page(page)
    if study:
        at.query_params["study"] = study
    return at.run()


def _texts(at: AppTest, *kinds: str) -> str:
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))


def test_an_exposed_dashboard_without_password_refuses_to_open(ui_store, monkeypatch):
    monkeypatch.setenv("AUTOML_STORAGE", ui_store.location)
    monkeypatch.delenv("AUTOML_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()  # server.address unset: all interfaces
    assert not at.exception
    assert "has no password" in _texts(at, "error")
    assert not at.dataframe  # nothing of the store is shown


def test_the_password_gate_lets_in_only_the_right_password(app_env):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.dataframe and len(at.text_input) == 1
    at.text_input[0].input("wrong")
    at.button[0].click().run()  # the form's submit button
    assert "Wrong password." in _texts(at, "error")
    assert not at.dataframe
    at.text_input[0].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Studies"
    assert COMPLETED in set(at.dataframe[0].value["study"])


def test_studies_page_lists_every_study_with_its_state(app_env):
    at = _app()
    assert not at.exception
    table = at.dataframe[0].value.set_index("study")
    assert table.loc[COMPLETED, "status"] == "completed"
    assert table.loc[COMPLETED, "rows/images"] == 80 and table.loc[COMPLETED, "modality"] == "tabular"
    assert table.loc[COMPLETED, "metric"] == "balanced_accuracy"
    assert "95% CI" in table.loc[COMPLETED, "test score"]
    assert "±" in table.loc[COMPLETED, "best validation"]
    assert table.loc[FAILED, "status"] == "failed" and FAILED_ERROR in table.loc[FAILED, "note"]
    assert (
        table.loc[UNREADABLE, "status"] == "unreadable" and "not valid JSON" in table.loc[UNREADABLE, "note"]
    )
    assert (
        table.loc[INCOMPLETE, "status"] == "incomplete" and "no study.json" in table.loc[INCOMPLETE, "note"]
    )
    assert table.loc[RUNNING, "status"] == "running"
    assert "3/3 trials done" in table.loc[RUNNING, "note"] and "so far" in table.loc[RUNNING, "duration"]
    assert "refresh every" in _texts(at, "caption")


def test_an_empty_store_says_how_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOML_STORAGE", str(tmp_path / "nothing-yet"))
    monkeypatch.setenv("AUTOML_DASHBOARD_PASSWORD", PASSWORD)
    for page in (None, "views/study.py"):
        at = _app(page)
        assert not at.exception
        assert "No studies in" in _texts(at, "info")


def test_study_page_shows_leaderboard_choice_and_test_report(app_env):
    manifest = app_env.store.read_manifest(COMPLETED)
    at = _app("views/study.py", COMPLETED)
    assert not at.exception
    board = at.dataframe[0].value
    assert len(board) == manifest["trials"]["total"] == 3
    chosen = manifest["selection"]["trial"]
    assert list(board.loc[board["chosen"], "trial"]) == [chosen]
    assert board.loc[board["chosen"], "test_score"].iloc[0] == pytest.approx(manifest["test_report"]["value"])
    success = _texts(at, "success")
    assert f"Chosen: trial {chosen}" in success and manifest["selection"]["reason"] in success
    assert "one_se_min_gap" in success

    labels = [m.label for m in at.metric]
    assert "test balanced_accuracy" in labels and "95% interval" in labels and "chance level" in labels
    models = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert list(models["model"]) == [f"chosen ({chosen})", "baseline: majority", "baseline: plain_network"]
    per_class = next(d.value for d in at.dataframe if "class" in d.value.columns)
    assert set(per_class["class"]) == set(manifest["data"]["classes"])

    info = _texts(at, "info")
    assert "needs at least 5 scored trials; this study has 3" in info  # importance: too few trials
    assert "Synthetic data quality is not shown." in info
    assert at.get("download_button"), "the model zip download is offered"
    markdown = _texts(at, "markdown")
    assert "Model card: study penguins-ui" in markdown and "Limitations" in markdown


def test_leaderboard_filters(app_env):
    at = _app("views/study.py", COMPLETED)
    assert len(at.dataframe[0].value) == 3
    at.checkbox(key="lb_band").check().run()
    band = at.dataframe[0].value
    assert not at.exception and band["in_band"].all() and band["chosen"].any() and len(band) < 3
    statuses = at.multiselect(key="lb_status")
    assert statuses.options == ["completed"]
    statuses.select("completed").run()
    assert len(at.dataframe[0].value) == len(band)


@pytest.mark.parametrize(
    ("study", "kind", "text"),
    [
        (FAILED, "error", FAILED_ERROR),
        (UNREADABLE, "error", "not valid JSON"),
        (INCOMPLETE, "error", "has no study.json"),
    ],
)
def test_study_page_explains_broken_studies(app_env, study, kind, text):
    at = _app("views/study.py", study)
    assert not at.exception
    assert text in _texts(at, kind)


def test_failed_study_still_shows_what_it_stored(app_env):
    at = _app("views/study.py", FAILED)
    assert "show what the study stored before it failed" in _texts(at, "caption")
    assert len(at.dataframe[0].value) == 3


def test_running_study_shows_live_progress(app_env):
    at = _app("views/study.py", RUNNING)
    assert not at.exception
    assert "The search is running" in _texts(at, "info")
    live = at.dataframe[0].value
    assert len(live) == 3 and set(live["status"]) == {"terminated"}
    assert "Best validation balanced_accuracy so far" in _texts(at, "caption")


def test_new_study_page_has_its_form_and_rejects_a_bad_upload_like_the_cli(app_env, tmp_path):
    at = _app("views/new_study.py")
    assert not at.exception
    assert at.title[0].value == "New study" and len(at.get("file_uploader")) == 1
    bad = pd.DataFrame({"x": range(12), "label": ["only"] * 12}).to_csv(index=False).encode()
    at.get("file_uploader")[0].upload("one class.csv", bad, "text/csv")
    at.run()
    assert not at.exception
    assert at.selectbox(key="target").options == ["x", "label"]
    for key in (
        "task",
        "metric",
        "budget",
        "trials",
        "folds",
        "max_epochs",
        "test_size",
        "seed",
        "select",
        "name",
    ):
        at.get_by_key(key)  # raises KeyError when the widget is missing
    at.selectbox(key="target").select("label")
    at.button[0].click().run()  # the form's submit button

    (tmp_path / "one_class.csv").write_bytes(bad)
    with pytest.raises(DataError) as expected:
        load_table(tmp_path / "one_class.csv", "label")
    assert _texts(at, "error") == f"error: {expected.value}"
    uploads = app_env.root / "_uploads"
    assert not uploads.exists() or not any(uploads.iterdir()), "a rejected upload is removed"
