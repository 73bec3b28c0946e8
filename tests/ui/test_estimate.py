"""The estimate as the dashboard reads it, on the real test store: headline, protocol, baselines,
ensembles, old manifests, the out-of-fold figure's data, and the form's --test-size."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest

from automl.cli import build_parser
from automl.config import StudyConfig
from automl.data.tabular import load_table
from automl.manifest import Manifest
from automl.store import Store
from tests.ui.conftest import COMPLETED, ENSEMBLE, LEGACY
from ui.lib import charts, estimate, launcher, model_card, oof_view

BARE = {"study_id": "s", "status": "completed"}  # the least a manifest holds


def _manifest(ui_store, study: str) -> dict:
    return ui_store.store.read_manifest(study)


def test_headline_protocol_and_catalog_cells_of_each_kind_of_study(ui_store):
    plain, tested, legacy = (_manifest(ui_store, s) for s in (COMPLETED, ENSEMBLE, LEGACY))
    assert (
        estimate.headline(plain).model_dump(exclude_unset=True) == plain["estimate"]
        and estimate.cv_estimate(plain).apparent
    )
    assert estimate.held_out_test(plain) is None and not estimate.is_legacy(plain)
    assert estimate.catalog_cells(plain)["estimated by"] == "out of fold (BBC-CV), 80 rows"

    # one rule, automl show's (Manifest.headline): the out-of-fold estimate leads, the held-out test beside it
    assert tested["estimate"]["protocol"] == "held_out_test"
    assert estimate.headline(tested) == estimate.cv_estimate(tested) == Manifest.parse(tested).headline()
    assert estimate.cv_estimate(tested).protocol == "out_of_fold"
    assert estimate.cv_estimate(tested).n_rows == 60 and estimate.held_out_test(tested).n_test == 20
    assert (
        estimate.catalog_cells(tested)["estimated by"]
        == "out of fold (BBC-CV), 60 rows; held-out test, 20 rows"
    )
    told = estimate.sentence(tested)
    assert (
        "out of fold on fresh folds the search never saw, bias-corrected "
        "for the choice among the candidates (BBC-CV), over 60 rows." in told
    )
    assert "Beside it, the one-shot held-out test, over 20 rows: **" in told

    assert estimate.is_legacy(legacy) and estimate.cv_estimate(legacy) is None
    head = estimate.headline(legacy)
    assert (head.protocol, head.n_rows, head.value) == (
        "held_out_test",
        20,
        legacy["test_report"]["value"],
    )
    assert estimate.protocol_words(head) == "one-shot held-out test"
    assert estimate.sentence(legacy).endswith("one-shot held-out test, over 20 rows.")
    assert estimate.catalog_cells(BARE) == {"estimate": "-", "estimated by": "-"}


def test_comparison_rows_put_the_baselines_beside_the_choice(ui_store):
    plain, tested, legacy = (_manifest(ui_store, s) for s in (COMPLETED, ENSEMBLE, LEGACY))
    rows = estimate.comparison_rows(plain)
    assert [r["model"] for r in rows][1:] == ["baseline: majority", "baseline: logistic_regression"]
    assert set(rows[0]) == {"model", "out of fold", "out-of-fold 95% CI", "what"}
    assert rows[0]["out of fold"] == plain["cv_estimate"]["value"]

    rows = estimate.comparison_rows(tested)
    assert rows[0]["held-out test"] == tested["test_report"]["value"]
    assert rows[2]["held-out test"] == tested["baselines"][1]["test"]["value"]
    assert rows[2]["out of fold"] == tested["baselines"][1]["value"]

    rows = estimate.comparison_rows(legacy)
    assert "out of fold" not in rows[0] and rows[-1]["model"] == "baseline: plain_network"
    assert rows[-1]["held-out test"] == 0.5  # an old study's baselines were scored on its test


def test_the_verdict_says_whether_the_search_beat_the_plain_answer(ui_store):
    manifest = copy.deepcopy(_manifest(ui_store, COMPLETED))
    manifest["cv_estimate"].update(value=0.9, ci_low=0.85, ci_high=0.95)  # the headline
    manifest["baselines"] = [
        {"name": "majority", "value": 0.33, "ci_low": 0.25, "ci_high": 0.4},
        {"name": "logistic_regression", "value": 0.8, "ci_low": 0.7, "ci_high": 0.84},
    ]
    beats, text = estimate.verdict(manifest)
    assert beats and "beats every baseline out of fold" in text and "(logistic_regression)" in text
    assert "may be noise" not in text
    manifest["baselines"][1].update(value=0.95, ci_high=0.99)
    beats, text = estimate.verdict(manifest)
    assert not beats and "baseline logistic_regression scores 0.95" in text

    lower = {
        **BARE,
        "metric": {"name": "rmse", "greater_is_better": False},
        "estimate": {
            "metric": "rmse",
            "value": 10.0,
            "ci_low": 8.0,
            "ci_high": 12.0,
            "protocol": "out_of_fold",
        },
        "baselines": [{"name": "mean", "value": 11.0, "ci_low": 9.0, "ci_high": 13.0}],
    }
    beats, text = estimate.verdict(lower)
    assert beats and "may be noise" in text  # the intervals overlap
    assert estimate.verdict({**lower, "baselines": []}) is None


def test_members_and_notes(ui_store):
    tested, plain = _manifest(ui_store, ENSEMBLE), _manifest(ui_store, COMPLETED)
    members = estimate.members(tested)
    assert estimate.is_ensemble(tested) and list(members.values()) == sorted(members.values(), reverse=True)
    assert sum(members.values()) == pytest.approx(1.0)
    assert estimate.members(plain) == {plain["best"]["trial"]: 1.0} and not estimate.is_ensemble(plain)
    legacy = _manifest(ui_store, LEGACY)
    assert estimate.members(legacy) == {legacy["best"]["trial"]: 1.0}  # no members recorded then
    note = "every one of the 12 rows was predicted right out of fold"
    manifest = {**BARE, "estimate": {"notes": [note]}, "cv_estimate": {"notes": [note, "another"]}}
    assert estimate.notes(manifest) == [note, "another"]


def test_the_chosen_models_out_of_fold_predictions(ui_store):
    manifest = _manifest(ui_store, ENSEMBLE)
    frame = oof_view.read_oof(ui_store.store, ENSEMBLE)
    members = estimate.members(manifest)
    predictions = oof_view.chosen_predictions(frame, members)
    n_search = manifest["splits"]["n_search"]
    assert len(predictions) == n_search and list(predictions.columns) == ["pred_0", "pred_1", "pred_2"]
    by_hand = sum(
        w * frame[frame["trial"] == t].groupby("row")[["pred_0"]].mean() for t, w in members.items()
    )
    assert predictions["pred_0"].to_numpy() == pytest.approx(by_hand["pred_0"].to_numpy(), rel=1e-5)
    assert predictions.sum(axis=1).to_numpy() == pytest.approx(1.0, rel=1e-4)
    assert oof_view.chosen_predictions(frame, {"no-such-trial": 1.0}) is None
    assert oof_view.read_oof(ui_store.store, LEGACY) is None

    y, why = oof_view.true_labels(ui_store.store, ENSEMBLE)  # stored by the study: the data file is not read
    test_rows = set(manifest["splits"]["test_rows"])
    dataset = load_table(ui_store.data, ui_store.target)
    search_rows = [i for i in range(dataset.n_rows) if i not in test_rows]
    assert why == "" and len(y) == n_search  # the held-out test rows are not among them
    assert (y == dataset.y[search_rows]).all()
    predictions, y = oof_view.aligned(predictions, y)
    probabilities = predictions.to_numpy()
    reliability = oof_view.reliability_frame(probabilities, y)
    assert reliability["rows"].sum() == n_search and reliability["accuracy"].between(0, 1).all()
    assert 0.0 <= oof_view.expected_calibration_error(reliability) <= 1.0
    matrix = np.array(oof_view.confusion(probabilities, y, 3))
    assert matrix.sum() == n_search and (matrix.sum(axis=1) == np.bincount(y, minlength=3)).all()
    assert charts.reliability_chart(reliability).to_dict()["layer"]


def test_the_figure_reads_the_stored_labels_only(ui_store, tmp_path):
    shutil.copytree(ui_store.root / ENSEMBLE, tmp_path / ENSEMBLE)
    store = Store(tmp_path)
    manifest = store.read_manifest(ENSEMBLE)
    manifest["data"]["source"] = str(tmp_path / "gone.csv")  # the user's file moved: the figure does not care
    store.write_manifest(ENSEMBLE, manifest)
    y, why = oof_view.true_labels(store, ENSEMBLE)
    assert why == "" and len(y) == manifest["splits"]["n_search"]
    y, why = oof_view.true_labels(ui_store.store, LEGACY)  # stored before the labels were
    assert y is None and "stored no labels" in why


def test_predicted_against_true_for_regression():
    frame = oof_view.regression_frame(np.array([1.0, 2.5, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert list(frame.columns) == ["true", "predicted"]
    spec = charts.predicted_vs_true_chart(frame, "price").to_dict()
    assert len(spec["layer"]) == 2
    oof = pd.DataFrame(
        {"trial": ["a"] * 4, "repeat": [0, 0, 1, 1], "row": [0, 1, 0, 1], "prediction": [1.0, 2.0, 3.0, 4.0]}
    )
    assert oof_view.chosen_predictions(oof, {"a": 1.0})["prediction"].tolist() == [2.0, 3.0]


def test_model_cards_say_what_was_chosen_and_how_it_was_scored(ui_store):
    tested = _manifest(ui_store, ENSEMBLE)
    card = model_card.card_markdown(tested)
    n = len(estimate.members(tested))
    assert f"**Model:** ensemble of {n} trials" in card and f"An **ensemble of {n} trials**" in card
    assert "**Estimate on new data:**" in card and "**Before the correction:**" in card
    assert "on the held-out test" in card and "20 held out for a one-shot test" in card
    assert (
        "The estimate is out of fold over 60 rows" in card and "20 rows were held out and scored once" in card
    )
    legacy = model_card.card_markdown(_manifest(ui_store, LEGACY))
    assert "**Estimate on new data:**" not in legacy and "**Held-out test score:**" in legacy
    assert "**Baseline plain_network:** 0.5 (95% CI 0.3 to 0.7) on the held-out test" in legacy
    assert "The headline score comes from 20 held-out rows" in legacy


@pytest.mark.parametrize(("test_size", "passed"), [(None, None), (0.0, 0.0), (0.25, 0.25)])
def test_the_form_passes_test_size_only_when_set(test_size, passed, tmp_path):
    config = StudyConfig(data="", target="y", test_size=test_size, storage=str(tmp_path), name="s")
    options = launcher.study_options(config)
    assert ("--test-size" in options) == (test_size is not None)
    args = build_parser().parse_args(["run", "data.csv", *options])
    assert args.test_size == passed
