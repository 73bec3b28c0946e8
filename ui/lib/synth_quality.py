"""Synthetic data quality of a tabular study: SDV's quality report on a GaussianCopula sample.

Shown only when it is cheap and meaningful: the chosen configuration uses synthetic rows, and the
study's data file is still where the study read it, unchanged (same sha256). The synthesizer is
the project's own `gaussian_copula`, fitted on the non-test rows only, as in the search.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.manifest import Manifest

MAX_ROWS = 5000  # above this the report stops being cheap


def reason_not_shown(manifest: Manifest | dict[str, Any]) -> str | None:
    """Why the quality report cannot be shown for this study, or None when it can."""
    manifest = Manifest.of(manifest)
    if manifest.modality != "tabular":
        return "The synthetic data report exists for tabular studies only."
    if manifest.status != "completed":
        return "The synthetic data report is shown once the study has completed."
    config = manifest.best.config if manifest.best else {}
    method = config.get("synth_method", "none")
    if method in (None, "none") or not (config.get("synth_ratio") or 0) > 0:
        return "The chosen configuration uses no synthetic rows, so there is no synthetic data to assess."
    data = manifest.data
    source = data.get("source")
    if not source or not Path(source).is_file():
        return f"The study's data file ({source or 'unknown'}) is no longer on this machine."
    if (data.get("n_rows") or 0) > MAX_ROWS:
        return f"The data has more than {MAX_ROWS} rows; the report would not be quick."
    fingerprint = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    if data.get("fingerprint") and fingerprint != data["fingerprint"]:
        return f"The data file {source} changed since the study read it (its sha256 differs)."
    return None


def quality_report(
    manifest: Manifest | dict[str, Any], seed: int = 0
) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """(overall score 0-1, score per property, score per column) of a GaussianCopula sample vs the real rows."""
    from sdv.metadata import Metadata

    from automl.data.tabular import load_table
    from automl.synth.registry import create_synthesizer

    try:
        from sdv.evaluation import evaluate_quality
    except ImportError:  # SDV 1.x
        from sdv.evaluation.single_table import evaluate_quality

    manifest = Manifest.of(manifest)
    data = manifest.data
    dataset = load_table(data["source"], data["target"], data.get("task"))
    test_rows = set(manifest.splits.test_rows)
    keep = np.array([i not in test_rows for i in range(dataset.n_rows)])
    features = dataset.features.loc[keep].reset_index(drop=True)
    y = dataset.y[keep]
    synthesizer = create_synthesizer("gaussian_copula").fit(features, y, task=dataset.task, seed=seed)
    sample, y_sample = synthesizer.sample(len(features), seed=seed)

    def frame(x: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
        out = x.reset_index(drop=True).copy()
        out[dataset.target_name] = [dataset.classes[i] for i in labels] if dataset.classes else labels
        return out

    real, synthetic = frame(features, y), frame(pd.DataFrame(sample, columns=features.columns), y_sample)
    metadata = Metadata.detect_from_dataframes({"table": real})
    report = evaluate_quality(real, synthetic, metadata, verbose=False)
    properties = report.get_properties()
    columns = report.get_details("Column Shapes")
    return float(report.get_score()), properties, columns
