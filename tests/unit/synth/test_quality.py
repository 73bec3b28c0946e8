"""The synthetic-data quality a tabular study stores at its end (automl/synth/quality.py), with real SDV."""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl.synth.quality import MAX_COLUMNS, MAX_ROWS, adds_synthetic_rows, study_quality


def _table(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.gamma(2.0, size=n), "c": rng.choice(["x", "y"], n)}
    )
    return features, (features["a"] > 0).to_numpy().astype(int)


def test_a_report_only_for_configurations_that_add_synthetic_rows():
    assert not adds_synthetic_rows({"synth_method": "none", "synth_ratio": 1.0})
    assert not adds_synthetic_rows({"synth_method": "smote", "synth_ratio": 0.0})
    assert adds_synthetic_rows({"synth_method": "smote", "synth_ratio": 0.5})
    features, y = _table()
    plain = study_quality(features, y, {"synth_method": "none"}, task="classification", classes=["n", "p"],
                          target="y", seed=0)  # fmt: skip
    assert plain == {"shown": False, "reason": "The chosen configuration uses no synthetic rows."}


def test_the_report_scores_a_gaussian_copula_sample_of_the_rows():
    features, y = _table()
    chosen = {"synth_method": "ctgan", "synth_ratio": 1.0}
    report = study_quality(features, y, chosen, task="classification", classes=["n", "p"], target="y", seed=0)
    assert report["shown"] and report["method"] == "ctgan" and report["synthesizer"] == "gaussian_copula"
    assert 0.0 <= report["score"] <= 1.0 and report["n_rows"] == 60
    assert {p["Property"] for p in report["properties"]} == {"Column Shapes", "Column Pair Trends"}
    assert {c["Column"] for c in report["columns"]} == {"a", "b", "c", "y"}
    again = study_quality(features, y, chosen, task="classification", classes=["n", "p"], target="y", seed=0)
    assert again["score"] == report["score"]  # seeded


def test_large_or_unscorable_tables_are_explained_not_raised():
    features, y = _table(MAX_ROWS + 1)
    big = study_quality(features, y, {"synth_method": "smote", "synth_ratio": 1.0}, task="classification",
                        classes=["n", "p"], target="y", seed=0)  # fmt: skip
    assert not big["shown"] and f"more than {MAX_ROWS} rows" in big["reason"]
    wide = pd.DataFrame(np.zeros((10, MAX_COLUMNS + 1)))
    chosen = {"synth_method": "smote", "synth_ratio": 1.0}
    too_wide = study_quality(
        wide, np.zeros(10), chosen, task="classification", classes=["n", "p"], target="y", seed=0
    )
    assert not too_wide["shown"] and f"more than {MAX_COLUMNS} columns" in too_wide["reason"]
    empty = pd.DataFrame({"a": []})
    odd = study_quality(empty, np.array([]), {"synth_method": "smote", "synth_ratio": 1.0}, task="classification",
                        classes=["n", "p"], target="y", seed=0)  # fmt: skip
    assert not odd["shown"] and "SDV could not score" in odd["reason"]
