"""'What helped': trials grouped by technique (synthesis, depth, regularization ...), binned for reading.

Continuous settings are binned so that a handful of trials still gives readable groups:
ratios and dropout by range, L1/L2 by power of ten. One table serves every modality: a technique
whose column a study's leaderboard lacks is left out (image studies have a backbone, tables a scaler).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd


def _ranges(edges: list[float], labels: list[str]) -> Callable[[float], str]:
    """Binning by upper edges: labels[i] for values below edges[i], the last label above them all."""

    def binning(value: float) -> str:
        return next((label for edge, label in zip(edges, labels, strict=False) if value < edge), labels[-1])

    return binning


_ratio = _ranges([0.01, 0.5, 1.0], ["0 (off)", "0.01-0.5", "0.5-1", "1-2+"])
_dropout = _ranges([0.01, 0.1, 0.25], ["0 (off)", "0.01-0.1", "0.1-0.25", "0.25-0.5"])


def _decade(value: float) -> str:
    if value <= 0:
        return "0"
    return f"1e{math.floor(math.log10(value) + 1e-9)}"


def _as_text(value: object) -> str:
    return str(value)


def _group(value: object, binning: Callable[[float], str] | None) -> str:
    """The group of one cell; a missing value (a parameter a trial did not use) is 'n/a'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return binning(value) if binning else _as_text(value)


# (leaderboard column, label, binning); a None binning keeps the values as they are
TECHNIQUES: list[tuple[str, str, Callable[[float], str] | None]] = [
    ("param_backbone", "backbone", None),
    ("param_transfer", "transfer policy", None),
    ("param_augment", "augmentation policy", None),
    ("param_synth_method", "synthetic data method", None),
    ("param_synth_ratio", "synthetic rows per real row", _ratio),
    ("param_depth", "network depth (0 = linear)", None),
    ("param_drop_stages", "backbone stages dropped", None),
    ("param_head_depth", "head depth (0 = linear head)", None),
    ("param_width", "width", None),
    ("param_dropout", "dropout", _dropout),
    ("param_l1", "L1 penalty", _decade),
    ("param_l2", "L2 penalty (weight decay)", _decade),
    ("param_scaler", "feature scaler", None),
    ("param_class_weight", "class weights", None),
    ("param_batch_norm", "batch norm", None),
    ("param_activation", "activation", None),
]
# labels that read differently for image studies
IMAGE_LABELS = {"param_synth_ratio": "synthetic images per real image"}


def technique_groups(board: pd.DataFrame, modality: str = "tabular") -> pd.DataFrame:
    """Long table: technique, group, trial, val_score, chosen - one row per scored trial and technique."""
    scored = board.dropna(subset=["val_score"])
    parts = []
    for column, label, binning in TECHNIQUES:
        if column not in scored:
            continue
        if modality == "image":
            label = IMAGE_LABELS.get(column, label)
        groups = scored[column].map(lambda v, binning=binning: _group(v, binning))
        parts.append(
            pd.DataFrame(
                {
                    "technique": label,
                    "group": groups.astype(str).to_numpy(),
                    "trial": scored["trial"].to_numpy(),
                    "val_score": scored["val_score"].astype(float).to_numpy(),
                    "chosen": scored.get("chosen", pd.Series(False, index=scored.index)).to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["technique", "group", "trial", "val_score", "chosen"])
    return pd.concat(parts, ignore_index=True)


def group_summary(groups: pd.DataFrame, greater_is_better: bool = True) -> pd.DataFrame:
    """Mean, best and count of the validation score per technique and group."""
    if groups.empty:
        return pd.DataFrame(columns=["technique", "group", "trials", "mean", "best"])
    summary = groups.groupby(["technique", "group"], sort=False)["val_score"].agg(
        trials="count", mean="mean", best="max" if greater_is_better else "min"
    )
    return summary.reset_index()
