"""The quality benchmark runs end to end at its tiny `--quick` size: the project, every peer and every
ablation it runs get a finite score on the same held-out rows, and the report names the machine and commit."""

from __future__ import annotations

import json
import math

import pytest

from automl.search.space import SearchSpace
from benchmarks.quality import PROJECT, QUICK, REFERENCE, main
from benchmarks.quality_tasks import ABLATIONS, PEERS, QUICK_TASKS, RESELECT, ablation_space


def test_every_ablation_space_is_a_valid_copy_of_the_default(tmp_path):
    for family, ablations in ABLATIONS.items():
        for name, fixed in ablations.items():
            space = SearchSpace.load(
                ablation_space(family, name, tmp_path), "image" if family == "image" else "tabular"
            )
            for parameter, spec in fixed.items():
                assert space.choices(parameter) == spec["values"], (family, name, parameter)


@pytest.mark.slow
def test_quick_run_scores_every_method_on_the_same_rows(tmp_path, ray_session):
    main(["--quick", "--out", str(tmp_path)])
    assert ray_session.is_initialized()  # the session's Ray is reused, not shut down
    result = json.loads((tmp_path / "quality.json").read_text())

    expected = set()
    for name, task in QUICK_TASKS.items():
        ablations = QUICK.image_ablations if task.family == "image" else QUICK.table_ablations
        methods = {PROJECT, REFERENCE, RESELECT, *PEERS[task.family], *ablations}
        expected |= {(name, method) for method in methods}
    records = {(r["task"], r["method"]): r for r in result["records"]}
    assert set(records) == expected
    for key, record in records.items():
        assert "error" not in record, (key, record.get("error"))
        assert isinstance(record["score"], float) and math.isfinite(record["score"]), key
    for name, task in QUICK_TASKS.items():
        same_task = [r for k, r in records.items() if k[0] == name]
        assert len({r["n_test"] for r in same_task}) == 1  # one held-out split per task and seed
        assert {r["metric"] for r in same_task} == {task.metric}

    markdown = (tmp_path / "quality.md").read_text()
    assert "Machine:" in markdown and f"commit {result['machine']['commit']}" in markdown
    assert "Where the project loses" in markdown
    assert "Where the project loses" in (tmp_path / "RESULTS.md").read_text()
