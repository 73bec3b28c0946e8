"""The trial report contract (train/report.py): what run_trial sends and what the leaderboard reads."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from automl.search.results import COLUMNS
from automl.train.report import TrialReport
from automl.train.trainable import SearchData, run_trial

# What Tune adds to every report, and what the trainable's Tune wrapper adds (node, device).
TUNE_FIELDS = {"time_total_s", "node_id", "device", "started_at"}
# Numbers a modality adds per fold (image/trainable.py's `extra`), absent from a table's reports.
MODALITY_EXTRAS = {"synth_recon_loss", "feature_seconds"}


def _tiny_data() -> SearchData:
    import pandas as pd

    rng = np.random.default_rng(0)
    features = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    y = (features["a"] > 0).to_numpy().astype(np.int64)
    folds = [(np.arange(20, 40), np.arange(0, 20)), (np.arange(0, 20), np.arange(20, 40))]
    schema = {"a": "numeric", "b": "numeric"}
    return SearchData(features, y, schema, "classification", 2, folds, "accuracy", 6, 0)


def test_every_leaderboard_column_reads_a_reported_field() -> None:
    reported = set(TrialReport.model_fields) | TUNE_FIELDS | MODALITY_EXTRAS
    sources = {c.source for c in COLUMNS if c.source}
    assert sources <= reported, f"columns read fields no trial reports: {sorted(sources - reported)}"


def test_run_trial_reports_follow_the_contract() -> None:
    reports: list[dict] = []
    run_trial(
        {"depth": 1, "width": 8, "lr": 0.01, "batch_size": 8, "patience": 3}, _tiny_data(), reports.append
    )
    assert reports, "a trial reports at least at its end"
    for metrics in reports:
        payload = metrics.pop("payload", None)
        TrialReport.model_validate(metrics)
    assert payload is not None and "oof" in payload  # the last report carries the out-of-fold predictions


@pytest.mark.parametrize(
    ("field", "value"), [("epoch", 0), ("val_score_std", -0.1), ("done_early", "yes"), ("n_folds", 2.5)]
)
def test_a_broken_report_names_its_field(field: str, value: object) -> None:
    reports: list[dict] = []
    run_trial({"depth": 0, "lr": 0.01, "batch_size": 8, "patience": 3}, _tiny_data(), reports.append)
    metrics = {k: v for k, v in reports[-1].items() if k != "payload"}
    with pytest.raises(ValidationError, match=field):
        TrialReport.checked({**metrics, field: value})


def test_a_rung_report_carries_the_curve_so_far_for_a_trial_asha_stops_there() -> None:
    from automl.search.results import _curve
    from automl.train.trainable import RUNG_CURVE

    data = _tiny_data()
    data.extra["report_epochs"] = [2]
    reports: list[dict] = []
    run_trial({"depth": 0, "lr": 0.01, "batch_size": 8, "patience": 50}, data, reports.append)
    rung = next(r for r in reports if r["epoch"] == 2)
    assert (
        "payload" not in rung and RUNG_CURVE in rung
    )  # no checkpoint: a resumed study could restore from it
    curve = _curve(None, None, rung)
    assert curve["epoch"].tolist() == [1, 2] and curve["val_score"].iloc[-1] == rung["curve_val"]
