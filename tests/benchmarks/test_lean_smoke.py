"""The lean benchmark runs one tiny `automl run` study (`--quick`) end to end and writes every figure.

About 25 s on 2 idle cores, most of it the study's own Ray starting."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.lean import FIGURES, PHASES, main


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_run_writes_every_figure(tmp_path, capsys):
    main(["--quick", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "lean.json").read_text())
    markdown = (tmp_path / "lean.md").read_text()
    assert (tmp_path / "RESULTS.md").exists()
    assert "Machine:" in markdown and "python -m benchmarks.lean --quick" in markdown
    assert "Target:" in markdown and "outside_s" in capsys.readouterr().out
    assert results["quick"] and results["settings"]["repeats"] == 1 and results["settings"]["trials"] == 3
    assert results["target_s"] == 15.0 and isinstance(results["meets_target"], bool)

    (row,) = results["repeats"]
    for key in FIGURES:
        assert _finite(row[key]) and _finite(results["median"][key]), key
    assert row["wall_s"] > row["outside_s"] > 0 and row["trial_union_s"] > 0
    assert math.isclose(sum(row[p] for p in PHASES), row["outside_s"], abs_tol=0.01)  # rounded to ms each
    assert all(row[p] >= -0.05 for p in PHASES), row  # line stamps lag their writes by a few ms at most
    assert row["n_trials"] == 3 and results["median"]["n_trials"] == 3
    assert all(len(v) == 3 for v in row["load_average"].values())
