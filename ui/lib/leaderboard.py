"""The leaderboard as shown: main columns first, the chosen trial(s) with their ensemble weights, the
study's estimate on the chosen row (and the held-out test score when there is one), the 1-SE band.

`band_floor` is in objective units (objective = val_score when greater is better, else -val_score).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ui.lib import estimate as est

MAIN_PARAMS = (
    "depth",
    "width",
    "dropout",
    "l1",
    "l2",
    "scaler",
    "synth_method",
    "synth_ratio",
    "lr",
    "batch_size",
    "class_weight",
)
IMAGE_MAIN_PARAMS = (
    "backbone",
    "transfer",
    "augment",
    "synth_method",
    "synth_ratio",
    "head_depth",
    "dropout",
    "lr",
)
# `weight`, `estimate` and `test_score` are shown only when the study has them (a single chosen
# trial: no weights; an old study: no estimate; a study without a held-out test: no test score)
LEADING = [
    "chosen",
    "weight",
    "trial",
    "status",
    "val_score",
    "val_std",
    "train_score",
    "gap",
    "estimate",
    "test_score",
]
TRAILING = ["n_params", "epochs_run", "best_epoch_mean", "n_synthetic_mean", "seconds", "error"]
# image studies also show the VAE's reconstruction loss (NaN without a VAE) and where the time went
IMAGE_TRAILING = [
    "n_params",
    "epochs_run",
    "best_epoch_mean",
    "n_synthetic_mean",
    "synth_recon_loss",
    "seconds",
    "feature_seconds",
    "setup_seconds",
    "error",
]
CHOSEN_COLOR = "background-color: rgba(255, 196, 0, 0.28)"


def main_params(manifest: dict[str, Any]) -> tuple[str, ...]:
    """The parameters shown right after the scores, for the study's modality."""
    return IMAGE_MAIN_PARAMS if manifest.get("modality") == "image" else MAIN_PARAMS


def trailing(manifest: dict[str, Any]) -> list[str]:
    """The measurement columns shown after the main parameters, for the study's modality."""
    return IMAGE_TRAILING if manifest.get("modality") == "image" else TRAILING


def sign(manifest: dict[str, Any]) -> float:
    """+1 when the metric is better high, -1 when better low."""
    return 1.0 if (manifest.get("metric") or {}).get("greater_is_better", True) else -1.0


def band_bounds(manifest: dict[str, Any], board: pd.DataFrame) -> tuple[float, float] | None:
    """(low, high) validation scores of the one-standard-error band, in metric units; None if unknown."""
    floor = (manifest.get("selection") or {}).get("band_floor")
    objective = pd.to_numeric(board.get("objective"), errors="coerce") if "objective" in board else None
    if floor is None or objective is None or objective.dropna().empty:
        return None
    s = sign(manifest)
    best = float(objective.max())
    ends = sorted([s * float(floor), s * best])
    return ends[0], ends[1]


def in_band(manifest: dict[str, Any], board: pd.DataFrame) -> pd.Series:
    """Which trials are in the selection rule's band: its candidates when the manifest lists them (a
    band drawn on log loss is not a range of the user's metric), else those scoring above its floor."""
    selection = manifest.get("selection") or {}
    if selection.get("candidates") and "trial" in board:
        return board["trial"].isin(set(selection["candidates"]))
    floor = selection.get("band_floor")
    if floor is None or "objective" not in board:
        return pd.Series(False, index=board.index)
    return pd.to_numeric(board["objective"], errors="coerce") >= float(floor) - 1e-12


def display_frame(board: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Leaderboard columns in reading order, `param_` prefixes dropped, the out-of-fold estimate (and the
    held-out test score, when there is one) on the chosen row: the heaviest member of an ensemble."""
    frame = board.copy()
    if "chosen" not in frame:
        frame["chosen"] = False
    frame["chosen"] = frame["chosen"].fillna(False).astype(bool)
    members = est.members(manifest)
    weights = frame["trial"].map(members)
    if "ensemble_weight" in frame:
        weights = weights.fillna(frame["ensemble_weight"].where(frame["chosen"]))
    if len(members) > 1:  # a single chosen trial has weight 1: no column for it
        frame["weight"] = weights.where(frame["chosen"]).astype(float)
    heaviest = next(iter(members), (manifest.get("best") or {}).get("trial"))
    on_choice = frame["trial"] == heaviest
    if not est.is_legacy(manifest):
        value = (est.cv_estimate(manifest) or est.headline(manifest) or {}).get("value", np.nan)
        frame["estimate"] = np.where(on_choice, value if value is not None else np.nan, np.nan).astype(float)
    report = manifest.get("test_report") or {}
    if report:
        frame["test_score"] = np.where(on_choice, report.get("value", np.nan), np.nan).astype(float)
    frame["in_band"] = in_band(manifest, frame)
    params = [f"param_{p}" for p in main_params(manifest) if f"param_{p}" in frame]
    other_params = sorted(c for c in frame if c.startswith("param_") and c not in params)
    order = [c for c in LEADING if c in frame] + ["in_band", *params]
    order += [c for c in trailing(manifest) if c in frame] + other_params
    frame = frame[order]
    frame.columns = [c.removeprefix("param_") for c in order]
    return frame.reset_index(drop=True)


def estimate_caption(manifest: dict[str, Any]) -> str:
    """What the `estimate`, `weight` and `test_score` columns hold, for the caption under the table."""
    members = est.members(manifest)
    parts = []
    if len(members) > 1:
        parts.append(
            f"The choice is an ensemble of {len(members)} trials: `weight` is each member's share of its "
            "prediction, and the ensemble's estimate is on its heaviest member's row."
        )
    head = est.cv_estimate(manifest) or est.headline(manifest)
    if head and not est.is_legacy(manifest):
        parts.append(
            f"`estimate` is the chosen model's score on new data ({est.protocol_words(head)}), given on the "
            "chosen row only: the other trials' scores are not corrected for the choice."
        )
    if manifest.get("test_report"):
        parts.append(
            "`test_score` is the held-out test score, for the chosen model only (only it was tested)."
        )
    return " ".join(parts)


def filter_frame(frame: pd.DataFrame, statuses: list[str], band_only: bool) -> pd.DataFrame:
    """Rows whose status is in `statuses` (all when empty), optionally only those in the band."""
    keep = pd.Series(True, index=frame.index)
    if statuses:
        keep &= frame["status"].isin(statuses)
    if band_only:
        keep &= frame["in_band"]
    return frame.loc[keep]


def highlight_chosen(frame: pd.DataFrame) -> Any:
    """A pandas Styler that colours the chosen trial's row."""

    def rows(row: pd.Series) -> list[str]:
        return [CHOSEN_COLOR if row.get("chosen") else "" for _ in row]

    return frame.style.apply(rows, axis=1).format(precision=4, na_rep="")
