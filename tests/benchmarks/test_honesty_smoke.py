"""The honesty benchmark reads the same study runs as the quality benchmark: at its `--quick` size it finds
them in the records file and runs nothing again, and its report checks issue 20's targets."""

from __future__ import annotations

import json

import pytest

from benchmarks.honesty import main
from benchmarks.honesty_report import TITLE
from benchmarks.runs import QUICK, RECORDS_FILE


@pytest.mark.slow
def test_quick_run_reports_the_estimates_of_the_quality_runs(quick_quality):
    out, _ = quick_quality
    before = (out / RECORDS_FILE).read_text()
    results = main(["--quick", "--out", str(out)])
    assert (out / RECORDS_FILE).read_text() == before  # every study was found, none ran again
    honesty = results["honesty"]
    assert honesty["run_seconds"] < 30

    summary = honesty["summary"]
    assert set(summary["arms"]) == {"budget", "trials"} and not summary["failed"]
    budget = summary["arms"]["budget"]
    assert budget["runs"] == len(QUICK.seeds) * len(QUICK.tasks)
    assert budget["trials"] == QUICK.trials and 0 <= budget["mean_error"] < 20
    assert [t["target"].split()[0] for t in summary["targets"]] == ["estimate", "95%", "every"]
    assert all(isinstance(t["met"], bool) for t in summary["targets"])

    markdown = (out / "honesty.md").read_text()
    assert (
        markdown.startswith(TITLE) and "### Per run: budget" in markdown and "### Per run: trials" in markdown
    )
    assert "Load average" in markdown and f"commit {honesty['machine']['commit']}" in markdown
    assert TITLE in (out / "RESULTS.md").read_text()
    assert "records" not in json.loads((out / "honesty.json").read_text())
