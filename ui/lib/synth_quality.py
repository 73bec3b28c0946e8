"""Synthetic data quality of a tabular study, as the study stored it (report/synth_quality.json):
SDV's quality report on a GaussianCopula sample of the search rows, computed at the end of a study
whose chosen configuration adds synthetic rows (automl/synth/quality.py). The page fits nothing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from automl.manifest import Manifest
from automl.store import SYNTH_QUALITY, Store


def stored_report(store: Store, manifest: Manifest | dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the stored report, '') or (None, why the quality report is not shown)."""
    manifest = Manifest.of(manifest)
    if manifest.modality != "tabular":
        return None, "The synthetic data report exists for tabular studies only."
    if manifest.status != "completed":
        return None, "The synthetic data report is shown once the study has completed."
    config = manifest.best.config if manifest.best else {}
    if config.get("synth_method", "none") in (None, "none") or not (config.get("synth_ratio") or 0) > 0:
        return (
            None,
            "The chosen configuration uses no synthetic rows, so there is no synthetic data to assess.",
        )
    if not store.exists(manifest.study_id, SYNTH_QUALITY):
        return (
            None,
            "The study stored no synthetic data report (a study from before it was stored at its end).",
        )
    report = store.read_json(manifest.study_id, SYNTH_QUALITY)
    if not report.get("shown"):
        return None, str(report.get("reason", "The study computed no synthetic data report."))
    return report, ""


def tables(report: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(score per property, score per column) of a stored report."""
    return pd.DataFrame(report.get("properties", [])), pd.DataFrame(report.get("columns", []))
