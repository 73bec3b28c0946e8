"""Trial results as the study stores them: a leaderboard row per trial and per-epoch curves.

Trials are named t01, t02 ... in the order Tune created them, so two runs of a seeded study
name the same configurations alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.metrics import Metric
from automl.search.selection import TrialSummary
from automl.train.report import RUNG_CUTOFFS
from automl.train.trainable import CURVE_SO_FAR, PAYLOAD_FILE

CURVE_COLUMNS = ("epoch", "curve_train", "curve_val", "train_score", "val_score", "gap")


@dataclass(frozen=True)
class Column:
    """One leaderboard column: where it comes from in a trial's last report to Tune (train/trainable.py;
    None: set here), its value when the report lacks it, and what it means (the CLI and the dashboard
    show this text)."""

    name: str
    source: str | None
    default: Any
    help: str


NAN = float("nan")
COLUMNS: tuple[Column, ...] = (
    Column("trial", None, None, "t01, t02 ... in the order the trials were created"),
    Column(
        "status",
        None,
        None,
        "completed (early stopping or the last epoch), stopped_early (by ASHA or the budget) or failed",
    ),
    Column(
        "val_score",
        "val_score",
        NAN,
        "mean validation score over the folds (the study's metric); the "
        "leaderboard rescores it out of fold, at the epoch count the refit uses",
    ),
    Column("val_std", "val_score_std", NAN, "spread of the validation score over the folds"),
    Column("train_score", "train_score", NAN, "mean training score at each fold's best epoch"),
    Column("gap", "gap", NAN, "train score minus validation score (larger = more overfitting)"),
    Column("n_folds", "n_folds", 0, "folds x repeats the trial trained"),
    Column(
        "n_params", "n_params", 0, "parameters trained on this data (a frozen backbone's are not counted)"
    ),
    Column("model_params", None, 0, "parameters of the exported network, frozen ones included"),
    Column("epochs_run", "epoch", 0, "epochs trained"),
    Column(
        "best_epoch_mean",
        "best_epoch_mean",
        NAN,
        "mean best epoch over the folds (the refit trains this long)",
    ),
    Column("n_synthetic_mean", "n_synthetic_mean", 0.0, "synthetic training rows per fold"),
    Column(
        "synth_seconds", "synth_seconds", 0.0, "seconds of synthesizer fits (or fetches from the shared pool)"
    ),
    Column("synth_recon_loss", "synth_recon_loss", NAN, "image VAE: reconstruction loss"),
    Column(
        "feature_seconds", "feature_seconds", NAN, "image linear probe: seconds to get the frozen features"
    ),
    Column(
        "setup_seconds", "setup_seconds", NAN, "seconds before the first epoch (preprocessing, synthesis)"
    ),
    Column("seconds", "time_total_s", NAN, "the trial's wall time"),
    Column("time_capped", "time_capped", False, "ended at the per-trial time cap (a tenth of the budget)"),
    Column("node", "node_id", None, "the Ray node that ran it"),
    Column("error", None, None, "the last line of a failed trial's error"),
)
"""The leaderboard's columns before the `param_*` columns of the configuration (and those the finish adds:
objective, val_log_loss, chosen, ensemble_weight)."""


def trial_status(metrics: dict[str, Any], error: Any) -> str:
    """failed, completed (early stopping or the last epoch) or stopped_early (by ASHA or the budget)."""
    if error is not None or not metrics:
        return "failed"
    if metrics.get("done_early") or metrics.get("epoch", 0) >= metrics.get("max_epochs", np.inf):
        return "completed"
    return "stopped_early"


def _creation_number(result, fallback: int) -> int:
    """Tune numbers trials in creation order in their experiment tag ("3_depth=2,...") and folder name."""
    tag = (result.metrics or {}).get("experiment_tag") or ""
    match = re.match(r"(\d+)_", tag) or re.search(
        r"_[0-9a-f]{5,}_(\d+)_", os.path.basename(str(result.path or ""))
    )
    return int(match.group(1)) if match else fallback


def read_payload(result) -> dict[str, np.ndarray] | None:
    """The arrays a finished trial left in its final checkpoint (None for trials stopped early)."""
    checkpoint = getattr(result, "checkpoint", None)
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        path = Path(folder) / PAYLOAD_FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}


def _curve(
    payload: dict[str, np.ndarray] | None, frame: pd.DataFrame | None, metrics: dict[str, Any] | None = None
) -> pd.DataFrame | None:
    """Every epoch's curve from the payload (a finished trial) or from the curve so far of its last
    report (a trial stopped early: at a rung, or by the study's deadline); else the epochs that were
    reported to Tune."""
    if payload is not None and "curve_epoch" in payload:
        return pd.DataFrame(
            {c: payload[c if c.startswith("curve_") else f"curve_{c}"] for c in CURVE_COLUMNS}
        )
    so_far = (metrics or {}).get(CURVE_SO_FAR)
    if isinstance(so_far, str):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            curve = json.loads(so_far)
            return pd.DataFrame({c: curve[c] for c in CURVE_COLUMNS})
    if frame is not None and len(frame):
        return frame[[c for c in CURVE_COLUMNS if c in frame]].copy()
    return None


def collect_trials(grid, metric: Metric) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Leaderboard rows, per-epoch curves and out-of-fold predictions ({trial: (repeats, rows[, k])})
    from a Ray Tune ResultGrid (trials named t01, t02 ...)."""
    rows, curves, oof = [], [], {}
    for index, result in enumerate(grid):
        name = f"t{_creation_number(result, index + 1):02d}"
        metrics = result.metrics or {}
        status = trial_status(metrics, result.error)
        row = {c.name: metrics.get(c.source, c.default) if c.source else c.default for c in COLUMNS}
        row.update(
            trial=name,
            status=status,
            model_params=metrics.get("model_params", row["n_params"]),
            time_capped=bool(row["time_capped"]),
            error=None if result.error is None else str(result.error).strip().splitlines()[-1][:500],
        )
        row.update({f"param_{k}": v for k, v in (result.config or {}).items() if k != RUNG_CUTOFFS})
        rows.append(row)
        payload = read_payload(result) if status != "failed" else None
        if payload is not None and "oof" in payload:
            oof[name] = payload["oof"]
        curve = _curve(payload, result.metrics_dataframe, metrics)
        if curve is not None:
            curve.insert(0, "trial", name)
            curves.append(curve)
    board = pd.DataFrame(rows, columns=None if rows else [c.name for c in COLUMNS])  # no trial: the columns
    board["objective"] = metric.sign() * board["val_score"].astype(float)
    board = board.sort_values(["objective", "trial"], ascending=[False, True], na_position="last")
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["trial", "epoch"])
    return board.reset_index(drop=True), curve_frame, oof


def trial_config(row: pd.Series) -> dict[str, Any]:
    """A leaderboard row's configuration as plain values; blank cells (settings without effect) are left out."""
    return {
        k.removeprefix("param_"): v.item() if isinstance(v, np.generic) else v
        for k, v in row.items()
        if k.startswith("param_") and v is not None and v == v
    }


def summaries(board: pd.DataFrame) -> list[TrialSummary]:
    params = [c for c in board.columns if c.startswith("param_")]
    return [
        TrialSummary(
            trial_id=row["trial"],
            objective=float(row["objective"]) if pd.notna(row["objective"]) else float("nan"),
            val_score=float(row["val_score"]),
            val_std=float(row["val_std"]) if pd.notna(row["val_std"]) else 0.0,
            n_folds=int(row["n_folds"]),
            gap=float(row["gap"]) if pd.notna(row["gap"]) else float("inf"),
            n_params=int(row["n_params"]),
            status=row["status"],
            config={c.removeprefix("param_"): row[c] for c in params},
            val_log_loss=float(row.get("val_log_loss", np.nan)),  # the band's signal, where rescored
            val_log_loss_std=float(row.get("val_log_loss_std", np.nan)),
        )
        for _, row in board.iterrows()
    ]
