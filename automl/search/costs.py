"""What each technique cost a study: trial seconds per value of its technique parameters.

A technique is a value of one of the parameters that decide what a trial spends its time on: the
synthesizer, and for images the backbone, the transfer policy and the augmentation policy. Its
cost is the wall time of the trials that used it (their shared synthesizer fits and feature
extractions included, once), its share of all trial time, and whether its best trial reached the
selection rule's band: a technique may take a large share only when it earns it there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TECHNIQUE_PARAMS = ("family", "synth_method", "backbone", "transfer", "augment")
NO_EFFECT = "(no effect)"


def technique_costs(board: pd.DataFrame, band_floor: float | None = None) -> list[dict[str, Any]]:
    """One entry per (parameter, value): trials, seconds, share of all trial seconds, best objective,
    and `earned` (its best trial is in the band; None without a band). Largest share first."""
    seconds = board["seconds"].astype(float).fillna(0.0)
    total = float(seconds.sum())
    entries = []
    for param in TECHNIQUE_PARAMS:
        column = f"param_{param}"
        if column not in board.columns or board[column].nunique(dropna=True) < 2:
            continue
        values = board[column].astype(object).where(board[column].notna(), NO_EFFECT)
        for value, rows in board.groupby(values, sort=True).groups.items():
            spent = float(seconds.loc[rows].sum())
            objective = board.loc[rows, "objective"].astype(float) if "objective" in board else None
            best = float(np.nanmax(objective)) if objective is not None and objective.notna().any() else None
            entries.append(
                {
                    "parameter": param,
                    "value": str(value),
                    "trials": int(len(rows)),
                    "seconds": spent,
                    "share": spent / total if total > 0 else 0.0,
                    "best_objective": best,
                    "earned": None if band_floor is None or best is None else bool(best >= band_floor),
                }
            )
    return sorted(entries, key=lambda e: (e["parameter"], -e["share"]))


def format_costs(entries: list[dict[str, Any]], limit: int = 6) -> list[str]:
    """Lines for the study summary: per parameter, its costliest values."""
    if not entries:
        return []
    lines = [
        "",
        "time by technique (trial seconds, share of all trial time; * = its best trial is in the band):",
    ]
    for param in dict.fromkeys(e["parameter"] for e in entries):
        mine = [e for e in entries if e["parameter"] == param][:limit]
        shown = ", ".join(
            f"{e['value']} {e['seconds']:.0f} s ({e['share']:.0%}, {e['trials']} trials){'*' if e['earned'] else ''}"
            for e in mine
        )
        lines.append(f"  {param}: {shown}")
    return lines
