"""How close synthetic rows come to the real ones: SDV's quality report on a GaussianCopula sample.

Computed once, at the end of a tabular study whose chosen configuration adds synthetic rows, on the
search rows only (never the held-out test rows), and stored as report/synth_quality.json for the
dashboard, which reads it and fits nothing. The synthesizer is the project's own `gaussian_copula`,
the cheap one: the report says how well the table's shape can be imitated, in a few seconds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from automl.synth.registry import create_synthesizer

MAX_ROWS = 5000  # above this the report stops being cheap
MAX_COLUMNS = 40  # its pair trends grow with the square of the columns: 780 pairs at 40


def adds_synthetic_rows(config: dict[str, Any]) -> bool:
    """Whether a trial configuration trains on synthetic rows."""
    return (
        config.get("synth_method", "none") not in (None, "none") and float(config.get("synth_ratio") or 0) > 0
    )


def quality_report(
    features: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    classes: list[Any] | None,
    target: str,
    seed: int = 0,
) -> dict[str, Any]:
    """SDV's report of a GaussianCopula sample (as many rows as `features`) against the real rows:
    {"score": 0-1, "properties": [...], "columns": [...]} (column shapes and pair trends, higher is closer)."""
    from sdv.metadata import Metadata

    try:
        from sdv.evaluation import evaluate_quality
    except ImportError:  # SDV 1.x
        from sdv.evaluation.single_table import evaluate_quality

    features = features.reset_index(drop=True)
    synthesizer = create_synthesizer("gaussian_copula").fit(features, y, task=task, seed=seed)
    sample, y_sample = synthesizer.sample(len(features), seed=seed)

    def frame(x: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
        out = x.reset_index(drop=True).copy()
        out[target] = [classes[int(i)] for i in labels] if classes else labels
        return out

    real = frame(features, y)
    synthetic = frame(pd.DataFrame(sample, columns=features.columns), y_sample)
    metadata = Metadata.detect_from_dataframes({"table": real})
    report = evaluate_quality(real, synthetic, metadata, verbose=False)
    columns = report.get_details("Column Shapes").drop(columns=["Table"], errors="ignore")
    return {
        "synthesizer": "gaussian_copula",
        "n_rows": len(features),
        "score": float(report.get_score()),
        "properties": _records(report.get_properties()),
        "columns": _records(columns),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def study_quality(
    features: pd.DataFrame,
    y: np.ndarray,
    chosen: dict[str, Any],
    *,
    task: str,
    classes,
    target: str,
    seed: int,
) -> dict[str, Any]:
    """What report/synth_quality.json holds for a finished study: the report, or why there is none."""
    if not adds_synthetic_rows(chosen):
        return {"shown": False, "reason": "The chosen configuration uses no synthetic rows."}
    if len(features) > MAX_ROWS:
        return {
            "shown": False,
            "reason": f"The data has more than {MAX_ROWS} rows; the report would not be quick.",
        }
    if features.shape[1] > MAX_COLUMNS:
        return {
            "shown": False,
            "reason": f"The data has more than {MAX_COLUMNS} columns; the report would not be quick.",
        }
    started = time.perf_counter()
    try:
        report = quality_report(features, y, task=task, classes=classes, target=target, seed=seed)
    except Exception as exc:  # SDV failing on odd data must not fail a finished study
        return {"shown": False, "reason": f"SDV could not score this table ({type(exc).__name__}: {exc})."}
    return {
        "shown": True,
        "method": chosen.get("synth_method"),
        "seconds": time.perf_counter() - started,
        **report,
    }
