"""The quality benchmark runs end to end at its tiny `--quick` size (one table, one seed, studies their trial
counts end): every arm's exported model and every peer get a true score on the same fresh rows, the report
checks the acceptance rules, and a rerun finds every record cached (a killed run resumes)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.quality import main
from benchmarks.quality_report import TITLE
from benchmarks.runs import QUICK, RECORDS_FILE
from benchmarks.tasks import QUICK_TASKS, draw_table

pytestmark = pytest.mark.slow


def _records(out) -> dict[tuple, dict]:
    saved = json.loads((out / RECORDS_FILE).read_text())
    return {(r["task"], r["seed"], r["kind"], r["name"]): r for r in saved["records"]}


def test_every_arm_and_peer_is_scored_on_the_same_fresh_rows(quick_quality, ray_session):
    out, _ = quick_quality
    assert ray_session.is_initialized()  # the session's Ray is reused, not shut down
    records = _records(out)
    assert set(records) == {(k[0], k[1], k[2], k[3]) for k in QUICK.planned()}
    (name,) = QUICK.tasks
    drawn, rest, _ = draw_table(QUICK_TASKS[name], 0)
    for key, r in records.items():
        assert "error" not in r, (key, r.get("error"))
        assert (r["n_train"], r["n_fresh"]) == (len(drawn), len(rest)) == (45, 105)
        assert 0.5 < r["true"] <= 1.0 and 0 < r["true_log_loss"] < 1.5, key  # iris: far above chance (1/3)
        assert r["identity"] and r["commit"]
    for arm in ("budget", "trials"):
        r = records[(name, 0, "arm", arm)]
        trials = r["identity"]["trials"]
        assert r["trials"] == trials == (QUICK.trials if arm == "budget" else 2)  # the trial count ended it
        e = r["estimate"]
        assert 0 < e["ci_low"] <= e["value"] <= e["ci_high"] <= 1
        assert r["covered"] == (e["ci_low"] <= r["true"] <= e["ci_high"])
        assert r["error_points"] == pytest.approx(100 * abs(e["value"] - r["true"]))
        assert 0 < r["duration_s"] < r["identity"]["budget_s"]


def test_the_report_checks_the_acceptance_rules(quick_quality):
    out, results = quick_quality
    quality = results["quality"]
    checks = quality["summary"]["tasks"][QUICK.tasks[0]]["checks"]
    assert [c["issue"] for c in checks] == ["issue 20", "issue 20", "issue 21"]
    for c in checks:
        assert c["passed"] == (
            c["margin_points"] >= -1.0 - 1e-9 if "1 pt" in c["check"] else c["margin_points"] >= 0
        )
        assert math.isclose(c["margin_points"], 100 * (c["mine"] - c["theirs"]))
    assert not checks[2]["complete"]  # RealMLP and TabM are not among the quick peers
    markdown = (out / "quality.md").read_text()
    assert markdown.startswith(TITLE) and "### Acceptance" in markdown and "best peer" in markdown
    assert f"commit {quality['machine']['commit']}" in markdown and ("PASS" in markdown or "FAIL" in markdown)
    assert TITLE in (out / "RESULTS.md").read_text()
    saved = json.loads((out / "quality.json").read_text())
    assert "records" not in saved and saved["summary"]["tasks"][QUICK.tasks[0]]["methods"]["budget"]["n"] == 1


def test_a_rerun_resumes_from_the_records(quick_quality, tmp_path):
    out, _ = quick_quality
    before = _records(out)
    dropped = (QUICK.tasks[0], 0, "peer", "logreg_cv")  # as if the run had been killed before it finished
    saved = json.loads((out / RECORDS_FILE).read_text())
    saved["records"] = [
        r for r in saved["records"] if (r["task"], r["seed"], r["kind"], r["name"]) != dropped
    ]
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    (resumed / RECORDS_FILE).write_text(json.dumps(saved))
    main(["--quick", "--out", str(resumed)])
    after = _records(resumed)
    assert set(after) == set(before)
    for key, record in after.items():
        assert (record == before[key]) == (key != dropped), key  # only the missing record ran again
    assert after[dropped]["true"] == pytest.approx(before[dropped]["true"])  # and gave the same score
