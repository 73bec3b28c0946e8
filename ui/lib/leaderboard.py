"""The leaderboard as shown: main columns first, the chosen trial(s) with their ensemble weights, the
study's estimate on the chosen row (and the held-out test score when there is one), the 1-SE band.

`band_floor` is in objective units (objective = val_score when greater is better, else -val_score).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.manifest import Manifest
from ui.lib import estimate as est
from ui.lib import formatting as fmt

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


def main_params(manifest: fmt.AnyManifest) -> tuple[str, ...]:
    """The parameters shown right after the scores, for the study's modality."""
    return IMAGE_MAIN_PARAMS if fmt.is_image(Manifest.of(manifest)) else MAIN_PARAMS


def trailing(manifest: fmt.AnyManifest) -> list[str]:
    """The measurement columns shown after the main parameters, for the study's modality."""
    return IMAGE_TRAILING if fmt.is_image(Manifest.of(manifest)) else TRAILING


def sign(manifest: fmt.AnyManifest) -> float:
    """+1 when the metric is better high, -1 when better low."""
    return 1.0 if fmt.greater_is_better(Manifest.of(manifest)) else -1.0


def band_bounds(manifest: fmt.AnyManifest, board: pd.DataFrame) -> tuple[float, float] | None:
    """(low, high) validation scores of the one-standard-error band, in metric units; None if unknown."""
    m = Manifest.of(manifest)
    floor = m.selection.band_floor if m.selection else None
    objective = pd.to_numeric(board.get("objective"), errors="coerce") if "objective" in board else None
    if floor is None or objective is None or objective.dropna().empty:
        return None
    s = sign(m)
    best = float(objective.max())
    ends = sorted([s * float(floor), s * best])
    return ends[0], ends[1]


def in_band(manifest: fmt.AnyManifest, board: pd.DataFrame) -> pd.Series:
    """Which trials are in the selection rule's band: its candidates when the manifest lists them (a
    band drawn on log loss is not a range of the user's metric), else those scoring above its floor."""
    selection = Manifest.of(manifest).selection
    if selection and selection.candidates and "trial" in board:
        return board["trial"].isin(set(selection.candidates))
    floor = selection.band_floor if selection else None
    if floor is None or "objective" not in board:
        return pd.Series(False, index=board.index)
    return pd.to_numeric(board["objective"], errors="coerce") >= float(floor) - 1e-12


def display_frame(board: pd.DataFrame, manifest: fmt.AnyManifest) -> pd.DataFrame:
    """Leaderboard columns in reading order, `param_` prefixes dropped, the out-of-fold estimate (and the
    held-out test score, when there is one) on the chosen row: the heaviest member of an ensemble."""
    m = Manifest.of(manifest)
    frame = board.copy()
    if "chosen" not in frame:
        frame["chosen"] = False
    frame["chosen"] = frame["chosen"].fillna(False).astype(bool)
    members = est.members(m)
    weights = frame["trial"].map(members)
    if "ensemble_weight" in frame:
        weights = weights.fillna(frame["ensemble_weight"].where(frame["chosen"]))
    if len(members) > 1:  # a single chosen trial has weight 1: no column for it
        frame["weight"] = weights.where(frame["chosen"]).astype(float)
    heaviest = next(iter(members), m.best.trial if m.best else None)
    on_choice = frame["trial"] == heaviest
    if not est.is_legacy(m):
        figure = est.cv_estimate(m) or est.headline(m)
        value = figure.value if figure else None
        frame["estimate"] = np.where(on_choice, value if value is not None else np.nan, np.nan).astype(float)
    report = m.test_report
    if report:
        value = report.value if report.value is not None else np.nan
        frame["test_score"] = np.where(on_choice, value, np.nan).astype(float)
    frame["in_band"] = in_band(m, frame)
    params = [f"param_{p}" for p in main_params(m) if f"param_{p}" in frame]
    other_params = sorted(c for c in frame if c.startswith("param_") and c not in params)
    order = [c for c in LEADING if c in frame] + ["in_band", *params]
    order += [c for c in trailing(m) if c in frame] + other_params
    frame = frame[order]
    frame.columns = [c.removeprefix("param_") for c in order]
    return frame.reset_index(drop=True)


def estimate_caption(manifest: fmt.AnyManifest) -> str:
    """What the `estimate`, `weight` and `test_score` columns hold, for the caption under the table."""
    m = Manifest.of(manifest)
    members = est.members(m)
    parts = []
    if len(members) > 1:
        parts.append(
            f"The choice is an ensemble of {len(members)} trials: `weight` is each member's share of its "
            "prediction, and the ensemble's estimate is on its heaviest member's row."
        )
    head = est.cv_estimate(m) or est.headline(m)
    if head and not est.is_legacy(m):
        parts.append(
            f"`estimate` is the chosen model's score on new data ({est.protocol_words(head)}), given on the "
            "chosen row only: the other trials' scores are not corrected for the choice."
        )
    if m.test_report:
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
