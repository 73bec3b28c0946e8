"""The leaderboard's columns are defined once (search/results.py COLUMNS): each comes from its key in a
trial's last report to Tune, in the declared order, with its default when the report lacks it."""

from __future__ import annotations

import math

from ray.tune import Result

from automl.metrics import METRICS
from automl.search.results import COLUMNS, collect_trials

REPORT = {
    "experiment_tag": "2_depth=1",
    "epoch": 12,
    "max_epochs": 12,
    "val_score": 0.9,
    "val_score_std": 0.05,
    "train_score": 0.95,
    "gap": 0.05,
    "n_folds": 10,
    "n_params": 99,
    "best_epoch_mean": 7.5,
    "n_synthetic_mean": 3.0,
    "synth_seconds": 0.25,
    "setup_seconds": 0.5,
    "time_total_s": 2.0,
    "time_capped": False,
    "node_id": "abc",
}


def test_every_column_comes_from_its_report_key_in_order():
    board, _, _ = collect_trials(
        [
            Result(metrics=REPORT, checkpoint=None, error=None, path="/x"),
            Result(
                metrics={"experiment_tag": "1_depth=0"},
                checkpoint=None,
                error=RuntimeError("boom\nlast"),
                path="/y",
            ),
        ],
        METRICS["accuracy"],
    )
    assert list(board.columns[: len(COLUMNS)]) == [c.name for c in COLUMNS]
    good = board.set_index("trial").loc["t02"]
    for column in COLUMNS:
        if column.source:
            assert good[column.name] == REPORT.get(column.source, column.default) or (
                isinstance(column.default, float) and math.isnan(good[column.name])
            ), column.name
    assert good["status"] == "completed" and good["model_params"] == 99 and good["error"] is None
    failed = board.set_index("trial").loc["t01"]
    assert failed["status"] == "failed" and failed["error"] == "last" and failed["n_params"] == 0
    assert all(c.help for c in COLUMNS)
