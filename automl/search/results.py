"""Trial results as the study stores them: a leaderboard row per trial and per-epoch curves.

Trials are named t01, t02 ... in the order Tune created them, so two runs of a seeded study
name the same configurations alike.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.metrics import Metric
from automl.search.selection import TrialSummary
from automl.train.trainable import PAYLOAD_FILE

CURVE_COLUMNS = ("epoch", "curve_train", "curve_val", "train_score", "val_score", "gap")


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


def _curve(payload: dict[str, np.ndarray] | None, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Every epoch's curve from the payload; else the epochs that were reported to Tune."""
    if payload is not None and "curve_epoch" in payload:
        return pd.DataFrame(
            {c: payload[c if c.startswith("curve_") else f"curve_{c}"] for c in CURVE_COLUMNS}
        )
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
        row = {
            "trial": name,
            "status": status,
            "val_score": metrics.get("val_score", np.nan),
            "val_std": metrics.get("val_score_std", np.nan),
            "train_score": metrics.get("train_score", np.nan),
            "gap": metrics.get("gap", np.nan),
            "n_folds": metrics.get("n_folds", 0),
            "n_params": metrics.get("n_params", 0),  # trained on this data
            "model_params": metrics.get("model_params", metrics.get("n_params", 0)),  # the exported network
            "epochs_run": metrics.get("epoch", 0),
            "best_epoch_mean": metrics.get("best_epoch_mean", np.nan),
            "n_synthetic_mean": metrics.get("n_synthetic_mean", 0.0),
            "synth_seconds": metrics.get("synth_seconds", 0.0),
            "synth_recon_loss": metrics.get("synth_recon_loss", np.nan),  # image VAE
            "feature_seconds": metrics.get("feature_seconds", np.nan),  # image linear probe: frozen features
            "setup_seconds": metrics.get("setup_seconds", np.nan),
            "seconds": metrics.get("time_total_s", np.nan),
            "time_capped": bool(metrics.get("time_capped", False)),  # ended at the per-trial time cap
            "node": metrics.get("node_id"),
            "error": None if result.error is None else str(result.error).strip().splitlines()[-1][:500],
        }
        row.update({f"param_{k}": v for k, v in (result.config or {}).items()})
        rows.append(row)
        payload = read_payload(result) if status != "failed" else None
        if payload is not None and "oof" in payload:
            oof[name] = payload["oof"]
        curve = _curve(payload, result.metrics_dataframe)
        if curve is not None:
            curve.insert(0, "trial", name)
            curves.append(curve)
    board = pd.DataFrame(rows)
    board["objective"] = metric.sign() * board["val_score"]
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
