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
    ENSEMBLE,
    FAILED,
    FAILED_ERROR,
    INCOMPLETE,
    LEGACY,
    PASSWORD,
    REGRESSION,
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


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


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
    assert "95% CI" in table.loc[COMPLETED, "estimate"]
    assert table.loc[COMPLETED, "estimated by"] == "out of fold (BBC-CV), 80 rows"
    assert table.loc[ENSEMBLE, "estimated by"] == "out of fold (BBC-CV), 60 rows; held-out test, 20 rows"
    assert table.loc[ENSEMBLE, "note"].startswith("ensemble of ")
    assert (
        table.loc[LEGACY, "estimated by"] == "held-out test, 20 rows"
        and "95% CI" in table.loc[LEGACY, "estimate"]
    )
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


def test_study_page_shows_leaderboard_choice_and_the_estimate(app_env):
    manifest = app_env.store.read_manifest(COMPLETED)
    estimate = manifest["estimate"]
    assert estimate["protocol"] == "out_of_fold" and manifest["test_report"] is None
    at = _app("views/study.py", COMPLETED)
    assert not at.exception
    board = at.dataframe[0].value
    assert len(board) == manifest["trials"]["total"] == 3
    chosen = manifest["selection"]["trial"]
    assert list(board.loc[board["chosen"], "trial"]) == [chosen]
    assert board.loc[board["chosen"], "estimate"].iloc[0] == pytest.approx(estimate["value"])
    assert "weight" not in board and "test_score" not in board  # one trial chosen, nothing held out
    success = _texts(at, "success")
    assert f"Chosen: trial {chosen}" in success and manifest["selection"]["reason"] in success
    assert "one_se_min_gap" in success

    markdown = _texts(at, "markdown")
    assert "Estimated balanced_accuracy on new data" in markdown
    assert (
        "out of fold on fresh folds the search never saw, bias-corrected "
        "for the choice among the candidates (BBC-CV), over 80 rows" in markdown
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["estimate"] == metrics["out-of-fold estimate"] == f"{estimate['value']:.4g}"
    assert metrics["before the correction"] == f"{estimate['apparent']:.4g}"
    assert "chance level" in metrics and metrics["beats the baselines"] in ("yes", "no")
    assert "test balanced_accuracy" not in metrics  # no held-out test, so no test report
    models = _table(at, "model")
    assert list(models["model"]) == [
        f"chosen: trial {chosen}",
        "baseline: majority",
        "baseline: logistic_regression",
    ]
    assert "held-out test" not in models
    assert models["out of fold"].iloc[1] == pytest.approx(manifest["baselines"][0]["value"])
    verdict = _texts(at, "success", "warning")
    assert (
        "The search beats every baseline out of fold" in verdict
        or "does not beat the plain answer" in verdict
    )
    assert all(f"Note: {note}" in _texts(at, "warning") for note in estimate["notes"])
    captions = _texts(at, "caption")
    assert "the predicted class's probability, binned" in captions and "No held-out test" in captions
    assert not [d for d in at.dataframe if "class" in d.value.columns]  # per-class scores need a test

    info = _texts(at, "info")
    assert "needs at least 5 scored trials; this study has 3" in info  # importance: too few trials
    assert "Synthetic data quality is not shown." in info
    assert at.get("download_button"), "the model zip download is offered"
    assert "Model card: study penguins-ui" in markdown and "Limitations" in markdown
    assert "**Estimate on new data:**" in markdown and "**Held-out test score:**" not in markdown


def test_an_ensemble_with_a_held_out_test_shows_both(app_env):
    manifest = app_env.store.read_manifest(ENSEMBLE)
    members = manifest["selection"]["members"]
    assert manifest["model"]["kind"] == "ensemble" and len(members) > 1
    at = _app("views/study.py", ENSEMBLE)
    assert not at.exception
    board = at.dataframe[0].value
    chosen = board.loc[board["chosen"]].set_index("trial")
    assert chosen["weight"].to_dict() == pytest.approx(members)
    heaviest = manifest["selection"]["trial"]
    assert chosen.loc[heaviest, "estimate"] == pytest.approx(manifest["cv_estimate"]["value"])
    assert chosen.loc[heaviest, "test_score"] == pytest.approx(manifest["test_report"]["value"])
    assert board["estimate"].notna().sum() == 1
    assert f"Chosen: an ensemble of {len(members)} trials" in _texts(at, "success")

    assert manifest["estimate"]["protocol"] == "held_out_test"
    headline = {m.label: m.value for m in at.metric}["estimate"]
    assert headline == f"{manifest['cv_estimate']['value']:.4g}"  # the out-of-fold estimate leads
    metrics = [m.label for m in at.metric]
    assert "test balanced_accuracy" in metrics and "before the correction" in metrics  # side by side
    models = _table(at, "model")
    assert models["model"].iloc[0] == f"chosen: ensemble of {len(members)} trials"
    assert models["held-out test"].iloc[0] == pytest.approx(manifest["test_report"]["value"])
    assert models["held-out test"].iloc[1] == pytest.approx(manifest["baselines"][0]["test"]["value"])
    per_class = _table(at, "class")
    assert set(per_class["class"]) == set(manifest["data"]["classes"])
    markdown = _texts(at, "markdown")
    assert "Held-out test, over 20 rows" in markdown and "one-shot held-out test, over 20 rows" in markdown
    assert f"**Model:** ensemble of {len(members)} trials" in markdown
    assert "**Held-out test score:**" in markdown and "**Estimate on new data:**" in markdown


def test_a_regression_shows_predicted_against_true_beside_its_baselines(app_env):
    manifest = app_env.store.read_manifest(REGRESSION)
    at = _app("views/study.py", REGRESSION)
    assert not at.exception
    models = _table(at, "model")
    assert list(models["model"])[1:] == ["baseline: mean", "baseline: ridge_regression"]
    assert "Predicted against true, out of fold" in _texts(at, "markdown")
    assert "One point per row" in _texts(at, "caption")
    assert "chance level" not in [m.label for m in at.metric]  # none for a regression
    verdict = _texts(at, "success", "warning")
    lower = manifest["estimate"]["value"] < min(b["value"] for b in manifest["baselines"])
    assert ("beats every baseline out of fold" in verdict) == lower


def test_a_study_stored_before_out_of_fold_estimation_still_displays(app_env):
    manifest = app_env.store.read_manifest(LEGACY)
    assert "estimate" not in manifest and manifest["test_report"]
    at = _app("views/study.py", LEGACY)
    assert not at.exception
    board = at.dataframe[0].value
    assert "estimate" not in board and board["test_score"].notna().sum() == 1
    assert board.loc[board["chosen"], "trial"].tolist() == [manifest["best"]["trial"]]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["estimate"] == f"{manifest['test_report']['value']:.4g}"
    assert "test balanced_accuracy" in metrics and "before the correction" not in metrics
    models = _table(at, "model")
    assert list(models["model"])[-1] == "baseline: plain_network" and "out of fold" not in models
    assert "stored before out-of-fold estimation" in _texts(at, "caption")
    markdown = _texts(at, "markdown")
    assert "one-shot held-out test, over 20 rows" in markdown and "**Held-out test score:**" in markdown


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
    assert (
        at.selectbox(key="test_size").value == "by size"
        and "0 (none)" in at.selectbox(key="test_size").options
    )
    assert "ensemble" in at.selectbox(key="select").options
    at.selectbox(key="target").select("label")
    at.button[0].click().run()  # the form's submit button

    (tmp_path / "one_class.csv").write_bytes(bad)
    with pytest.raises(DataError) as expected:
        load_table(tmp_path / "one_class.csv", "label")
    assert _texts(at, "error") == f"error: {expected.value}"
    uploads = app_env.root / "_uploads"
    assert not uploads.exists() or not any(uploads.iterdir()), "a rejected upload is removed"
