"""The honesty benchmark runs end to end at its tiny `--quick` size: both protocols of one table task get an
estimate, a true score on rows the study never saw and the linear model's, and the report checks every target
and replaces only its own section of RESULTS.md."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from benchmarks.honesty import QUICK, main
from benchmarks.honesty_report import PROTOCOLS, TITLE, replace_section
from benchmarks.quality_tasks import QUICK_TASKS, TASKS, draw_table, write_fresh_images, write_task


def test_the_fresh_rows_are_the_rest_of_the_source(tmp_path):
    task = TASKS["breast_cancer_imbalanced"]
    path, target = write_task(task, 1, tmp_path)
    drawn, rest, same_target = draw_table(task, 1)
    drawn.to_csv(tmp_path / "drawn.csv", index=False)
    assert same_target == target
    assert pd.read_csv(path).equals(pd.read_csv(tmp_path / "drawn.csv"))  # the rows write_task writes
    assert len(drawn) + len(rest) == 569
    assert not set(map(tuple, drawn.to_numpy())) & set(map(tuple, rest.to_numpy()))


def test_the_fresh_images_are_not_the_study_images(tmp_path):
    task = TASKS["textures"]
    studied = write_task(task, 0, tmp_path / "study")[0]
    fresh = write_fresh_images(task, 0, tmp_path / "fresh", total=40)
    studied_names = {p.relative_to(studied) for p in studied.rglob("*.png")}
    fresh_names = {p.relative_to(fresh) for p in fresh.rglob("*.png")}
    assert len(fresh_names) == 40 and not studied_names & fresh_names


def test_replace_section_keeps_the_other_sections(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmark results\n\n## Quality\n\nq\n\n{TITLE}\n\nold\n\n## Faults\n\nf\n")
    replace_section(path, f"{TITLE}\n\nnew\n")
    text = path.read_text()
    assert "old" not in text and "new" in text and "## Quality\n\nq" in text and "## Faults\n\nf" in text
    assert text.index("## Quality") < text.index(TITLE) < text.index("## Faults")
    replace_section(path, f"{TITLE} (quick)\n\nnewer\n")
    assert path.read_text().count(TITLE) == 1 and "newer" in path.read_text()


@pytest.mark.slow
def test_quick_run_records_both_protocols_against_the_fresh_sample(tmp_path, ray_session):
    result = main(["--quick", "--out", str(tmp_path)])
    assert ray_session.is_initialized()  # the session's Ray is reused, not shut down
    saved = json.loads((tmp_path / "honesty.json").read_text())
    assert saved["finished"] and saved["setup"]["tasks"] == list(QUICK.tasks)

    records = {(r["task"], r["protocol_run"]): r for r in saved["records"]}
    assert set(records) == {(name, p) for name in QUICK.tasks for p in PROTOCOLS}
    for (name, protocol), record in records.items():
        assert "error" not in record, (name, protocol, record.get("error"))
        assert record["metric"] == QUICK_TASKS[name].metric
        estimate = record["estimate"]
        assert estimate["protocol"] == ("out_of_fold" if protocol == "new" else "held_out_test")
        for value in (estimate["value"], estimate["ci_low"], estimate["ci_high"], record["true"]):
            assert math.isfinite(value)
        assert record["linear_true"] is not None and math.isfinite(record["linear_true"])
        assert record["covered"] == (estimate["ci_low"] <= record["true"] <= estimate["ci_high"])
        assert record["width"] == pytest.approx(estimate["ci_high"] - estimate["ci_low"])
        assert record["n_fresh"] == 150 - QUICK_TASKS[name].size
        assert {"search_s", "estimate_s", "baselines_s", "export_s"} <= set(record["timings"])
    new, old = records[(QUICK.tasks[0], "new")], records[(QUICK.tasks[0], "old")]
    assert new["n_test"] == 0 and new["estimate"]["n_rows"] == new["n_search"]
    assert old["n_test"] == old["estimate"]["n_rows"] > 0 and old["cv_estimate"]["protocol"] == "out_of_fold"

    assert [t["met"] for t in result["summary"]["targets"]].count(None) == 0
    markdown = (tmp_path / "honesty.md").read_text()
    assert markdown.startswith(TITLE) and "### Targets" in markdown and "### Per task" in markdown
    assert f"commit {saved['machine']['commit']}" in markdown
    assert TITLE in (tmp_path / "RESULTS.md").read_text()
