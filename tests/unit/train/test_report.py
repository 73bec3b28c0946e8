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


def _halving_run(cutoffs: dict[str, float] | None, patience: int = 50, lr: float = 0.01) -> list[dict]:
    data = _tiny_data()
    data.extra["rungs"] = [2, 4]
    reports: list[dict] = []
    run_trial(
        {"depth": 0, "lr": lr, "batch_size": 8, "patience": patience}, data, reports.append, cutoffs=cutoffs
    )
    return reports


def test_a_trial_below_a_rung_cutoff_stops_there_with_its_curve_so_far() -> None:
    from automl.search.results import _curve, trial_status
    from automl.train.report import RUNG_OBJECTIVES
    from automl.train.trainable import CURVE_SO_FAR

    free = _halving_run(None)
    assert len(free) == 1 and free[0]["epoch"] == 6 and free[0]["done"]  # one report: its end
    at_rungs = free[0][RUNG_OBJECTIVES]
    assert len(at_rungs) == 2  # its objective at epochs 2 and 4
    halted = _halving_run({"2": at_rungs[0] - 1e-9, "4": at_rungs[1] + 1e-9})  # passes 2, fails 4
    assert len(halted) == 1
    last = halted[0]
    assert last["epoch"] == 4 and last["done"] and last[RUNG_OBJECTIVES] == at_rungs
    assert trial_status(last, None) == "stopped_early"
    assert (
        "payload" not in last and CURVE_SO_FAR in last
    )  # no checkpoint: a resumed study could restore from it
    curve = _curve(None, None, last)
    assert curve["epoch"].tolist() == [1, 2, 3, 4] and curve["val_score"].iloc[-1] == last["curve_val"]
    assert _halving_run({"2": at_rungs[0] + 1e-9})[0]["epoch"] == 2  # below at the first rung
    assert _halving_run({"2": at_rungs[0], "4": at_rungs[1]})[0]["epoch"] == 6  # at the cutoff: goes on


def test_a_trial_that_finishes_at_a_rung_is_not_halted_there() -> None:
    from automl.search.results import trial_status

    done = _halving_run(None, patience=1, lr=3.0)  # diverges: every fold stops at epoch 2, a rung
    assert done[-1]["done_early"] and done[-1]["epoch"] == 2
    again = _halving_run({"2": 1e9}, patience=1, lr=3.0)
    assert again[-1]["epoch"] == 2 and "payload" in again[-1]
    assert trial_status(again[-1], None) == "completed"
