"""benchmarks/RESULTS.md is exactly what benchmarks/report.py assembles from benchmarks/results/*.md."""

from __future__ import annotations

from benchmarks.report import RESULTS_DIR, write_results


def test_results_md_is_assembled_from_the_sections(tmp_path):
    assembled = write_results(out=tmp_path / "RESULTS.md").read_text()
    committed = (RESULTS_DIR.parent / "RESULTS.md").read_text()
    assert assembled == committed, (
        "benchmarks/RESULTS.md differs from what `python -m benchmarks.report` assembles from "
        "benchmarks/results/*.md, so the next harness run would drop the difference. Do not edit RESULTS.md "
        "by hand: edit a hand-written section in benchmarks/results/notes_*.md (or add a new notes_<topic>.md "
        "and place it in report.ORDER), never a file a harness rewrites (quality.md, speed.md, ...), then run "
        "`python -m benchmarks.report`."
    )
