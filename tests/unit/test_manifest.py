"""The study manifest's contract (automl/manifest.py): what a finished study writes reads back typed, an
older schema upgrades, a newer one or a broken one is refused with a message naming the file, and keys the
schema does not know survive a read-modify-write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from automl.errors import StoreError
from automl.manifest import SCHEMA_VERSION, Manifest, ManifestError
from automl.store import MANIFEST, Store
from automl.summary import format_study

COMPLETED = {  # the shape finish.py writes, trimmed to a few trials
    "study_id": "penguins-1",
    "status": "completed",
    "modality": "tabular",
    "created_at": 1000.0,
    "finished_at": 1060.0,
    "duration_s": 60.0,
    "search_seconds": 50.0,
    "data": {
        "source": "penguins.csv",
        "n_rows": 120,
        "n_features": 6,
        "task": "classification",
        "target": "y",
    },
    "config": {"data": "penguins.csv", "target": "y", "seed": 0},
    "metric": {"name": "accuracy", "greater_is_better": True},
    "splits": {
        "n_search": 120,
        "n_test": 0,
        "n_folds": 5,
        "n_repeats": 2,
        "protocol": "out_of_fold",
        "test_rows": [],
    },
    "space": {"source": "default", "parameters": {}},
    "timings": {"search_s": 50.0, "estimate_s": 0.3},
    "selection": {
        "rule": "one_se_min_gap",
        "trial": "t03",
        "reason": "smallest gap in the band",
        "band_floor": 0.9,
        "band_log_loss": 0.31,
        "candidates": ["t03", "t05"],
        "members": {"t03": 1.0},
    },
    "best": {
        "trial": "t03",
        "config": {"depth": 0, "l2": 0.01},
        "val_score": 0.95,
        "val_std": 0.02,
        "gap": 0.01,
        "n_params": 21,
        "refit": {"epochs": 12},
        "members": {"t03": 1.0},
    },
    "trials": {"total": 8, "completed": 6, "stopped_early": 2},
    "estimate": {
        "metric": "accuracy",
        "value": 0.94,
        "ci_low": 0.89,
        "ci_high": 0.97,
        "level": 0.95,
        "protocol": "out_of_fold",
        "n_rows": 120,
        "apparent": 0.95,
        "bias": 0.01,
        "chance_level": 0.44,
        "notes": [],
    },
    "test_report": None,
    "baselines": [
        {
            "name": "majority",
            "description": "the commonest class",
            "value": 0.44,
            "ci_low": 0.35,
            "ci_high": 0.53,
        }
    ],
    "model": {"uri": "/studies/penguins-1/model", "kind": "single"},
    "error": None,
}


def test_a_completed_manifest_reads_typed():
    manifest = Manifest.parse(COMPLETED)
    assert manifest.schema_version == SCHEMA_VERSION
    assert manifest.best.config == {"depth": 0, "l2": 0.01} and manifest.selection.candidates == [
        "t03",
        "t05",
    ]
    assert manifest.headline().value == 0.94 and manifest.baselines[0].name == "majority"
    assert manifest.model.kind == "single" and manifest.unit == "rows" and manifest.finished


def test_the_headline_is_the_out_of_fold_estimate_even_beside_a_held_out_test():
    tested = {
        **COMPLETED,
        "estimate": {"metric": "accuracy", "value": 0.9, "protocol": "held_out_test", "n_rows": 20},
        "cv_estimate": COMPLETED["estimate"],
        "test_report": {"metric": "accuracy", "value": 0.9, "n_test": 20},
    }
    head = Manifest.parse(tested).headline()
    assert (head.protocol, head.value, head.n_rows) == ("out_of_fold", 0.94, 120)
    assert Manifest.parse(COMPLETED).headline().protocol == "out_of_fold"  # no cv_estimate: the estimate
    assert Manifest.parse({"study_id": "s", "status": "running"}).headline() is None


def test_the_written_object_is_what_was_given_plus_the_version():
    dumped = Manifest.parse(COMPLETED).dump()
    assert dumped == {**COMPLETED, "schema_version": SCHEMA_VERSION}
    assert json.loads(json.dumps(dumped)) == dumped  # plain JSON


def test_version_1_reads_and_is_written_back_as_the_current_version(tmp_path: Path):
    store = Store(tmp_path)
    Path(tmp_path, "old").mkdir()
    Path(tmp_path, "old", MANIFEST).write_text(json.dumps({**COMPLETED, "study_id": "old"}))  # no version key
    assert store.manifest("old").schema_version == SCHEMA_VERSION
    store.update_manifest("old", note="kept")
    written = json.loads(Path(tmp_path, "old", MANIFEST).read_text())
    assert written["schema_version"] == SCHEMA_VERSION and written["note"] == "kept"
    assert written["best"] == COMPLETED["best"]


def test_a_newer_schema_is_refused_with_the_way_out():
    with pytest.raises(ManifestError, match=re.escape("newer automl (manifest schema 99")):
        Manifest.parse({**COMPLETED, "schema_version": 99})


def test_unknown_keys_survive_anywhere():
    raw = {**COMPLETED, "future": {"x": 1}, "best": {**COMPLETED["best"], "future_field": [1, 2]}}
    dumped = Manifest.parse(raw).dump()
    assert dumped["future"] == {"x": 1} and dumped["best"]["future_field"] == [1, 2]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "done"}, "status: Input should be 'running', 'completed' or 'failed'"),
        ({"metric": {"name": "accuracy"}}, "metric.greater_is_better: Field required"),
        (
            {"best": {**COMPLETED["best"], "config": "depth=0"}},
            "best.config: Input should be a valid dictionary",
        ),
        ({"created_at": "yesterday"}, "created_at: Input should be a valid number"),
        ({"modality": "text"}, "modality: Value error, 'text' is not a modality this automl knows"),
    ],
)
def test_a_broken_field_is_named(tmp_path: Path, change, problem):
    store = Store(tmp_path)
    Path(tmp_path, "s1").mkdir()
    Path(tmp_path, "s1", MANIFEST).write_text(json.dumps({**COMPLETED, "study_id": "s1", **change}))
    with pytest.raises(StoreError, match=re.escape(problem)) as caught:
        store.read_manifest("s1")
    assert f"The file {tmp_path}/s1/study.json is damaged or from another program" in str(caught.value)


def test_nothing_invalid_is_written(tmp_path: Path):
    store = Store(tmp_path)
    store.write_manifest("s1", {**COMPLETED, "study_id": "s1"})
    before = Path(tmp_path, "s1", MANIFEST).read_bytes()
    with pytest.raises(ManifestError, match="status"):
        store.write_manifest("s1", {**COMPLETED, "study_id": "s1", "status": 3})
    assert Path(tmp_path, "s1", MANIFEST).read_bytes() == before


def test_the_summary_reads_the_typed_manifest():
    text = format_study(COMPLETED)
    assert text.startswith("study penguins-1: completed")
    assert "accuracy: 0.94  (95% CI 0.89 to 0.97)" in text and "baseline majority: 0.44" in text
    assert "trial t03" in text and "depth=0, l2=0.01" in text


def test_what_the_dashboard_reads_is_typed():
    raw = {
        **COMPLETED,
        "status": "failed",
        "traceback": "Traceback (most recent call last): ...",
        "cv_estimate": {**COMPLETED["estimate"], "n_bootstrap": 1000, "picked": {"t03": 0.7, "t05": 0.3}},
        "test_report": {
            "metric": "accuracy",
            "value": 0.9,
            "n_test": 20,
            "confusion_matrix": {"labels": ["a", "b"], "rows_true_columns_predicted": [[9, 1], [1, 9]]},
            "per_class": [{"class": "a", "precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10}],
            "residuals": {"mean": 0.1, "q50": None},
        },
    }
    manifest = Manifest.parse(raw)
    assert manifest.traceback.startswith("Traceback") and manifest.cv_estimate.n_bootstrap == 1000
    assert manifest.cv_estimate.picked == {"t03": 0.7, "t05": 0.3}
    report = manifest.test_report
    assert report.confusion_matrix.rows_true_columns_predicted == [[9, 1], [1, 9]]
    assert report.per_class[0]["class"] == "a" and report.residuals == {"mean": 0.1, "q50": None}
    assert manifest.dump() == {**raw, "schema_version": SCHEMA_VERSION}
    bare = Manifest.parse({"study_id": "s", "status": "running"})
    assert bare.traceback is None and bare.test_report is None and bare.estimate is None


def test_of_takes_a_manifest_or_a_decoded_study_json():
    manifest = Manifest.parse(COMPLETED)
    assert Manifest.of(manifest) is manifest
    assert Manifest.of(COMPLETED) == manifest
    with pytest.raises(ManifestError, match="status"):
        Manifest.of({**COMPLETED, "status": "done"})
