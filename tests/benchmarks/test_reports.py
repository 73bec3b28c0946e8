"""The quality and honesty reports compute their verdicts from the records: each acceptance check and target
passes or fails by its rule, and the shuffled-label task is judged against chance, not against peers."""

from __future__ import annotations

import pytest

from benchmarks import honesty_report, quality_report


def _record(task, seed, kind, name, true, metric="balanced_accuracy", **more):
    base = {"task": task, "family": "table", "seed": seed, "kind": kind, "name": name, "metric": metric}
    return {**base, "true": true, "wall_s": 1.0, **({"trials": 50} if kind == "arm" else {}), **more}


def _study(task, seed, name, true, value, low, high, duration=100.0, budget=300.0):
    return _record(
        task,
        seed,
        "arm",
        name,
        true,
        trials=50,
        estimate={"value": value, "ci_low": low, "ci_high": high},
        covered=low <= true <= high,
        error_points=100 * abs(value - true),
        optimism_points=100 * (value - true),
        duration_s=duration,
        identity={"budget_s": budget, "trials": 1000},
        n_train=80,
        n_fresh=400,
    )


def test_quality_checks_pass_and_fail_by_their_rules():
    records = []
    for seed in range(3):
        records += [
            _record("bc80", seed, "arm", "budget", 0.90),
            _record("bc80", seed, "arm", "trials", 0.92),  # better than the budget-bound study: FAIL
            _record("bc80", seed, "peer", "logreg_cv", 0.905),  # within 1 point: PASS
            _record("bc80", seed, "peer", "catboost", 0.89),
            _record("bc80", seed, "peer", "realmlp", 0.92),  # 2 points better: FAIL
            _record("bc80", seed, "peer", "tabm", 0.85),
            _record("shuffled_labels", seed, "arm", "budget", 0.45),
            _record("shuffled_labels", seed, "arm", "trials", 0.55),
        ]
    records.append({**_record("bc80", 3, "peer", "lightgbm", 0.0), "error": "RuntimeError('boom')"})
    summary = quality_report.summarize(records)
    checks = {c["check"]: c for c in summary["tasks"]["bc80"]["checks"]}
    assert [c["passed"] for c in checks.values()] == [False, True, False]
    assert [round(c["margin_points"], 6) for c in checks.values()] == [-2.0, -0.5, -2.0]
    assert all(c["complete"] and c["seeds"] == [0, 1, 2] for c in checks.values())
    assert summary["tasks"]["bc80"]["best_peer"] == "realmlp"
    assert summary["tasks"]["shuffled_labels"]["checks"] == []  # its truth is chance for every method
    assert summary["failed"] == ["bc80 seed 3 lightgbm: RuntimeError('boom')"]
    assert quality_report.verdicts(summary)["issue 20: budget-bound >= 20-trial study"] == {
        "passed": 0,
        "failed": 1,
    }


def test_a_check_pairs_the_seeds_both_sides_ran():
    records = [
        _record("bc80", 0, "arm", "budget", 0.90),
        _record("bc80", 1, "arm", "budget", 0.80),
        _record("bc80", 0, "arm", "trials", 0.90),
    ]
    (check,) = quality_report.summarize(records)["tasks"]["bc80"]["checks"]
    assert check["seeds"] == [0] and check["passed"] and check["margin_points"] == pytest.approx(0.0)


def test_honesty_targets_and_the_shuffled_labels():
    records = [
        _study("bc80", 0, "budget", 0.95, 0.96, 0.90, 0.99),  # within 3 points, covered
        _study(
            "bc80", 1, "budget", 0.90, 0.965, 0.92, 0.99, duration=320.0
        ),  # 6.5 points off, not covered, late
        _study("shuffled_labels", 0, "budget", 0.51, 0.50, 0.40, 0.60),  # chance inside
        _study("shuffled_labels", 1, "budget", 0.49, 0.62, 0.52, 0.70),  # chance outside
        _study("bc80", 0, "trials", 0.95, 0.95, 0.90, 0.99, budget=600.0),
    ]
    summary = honesty_report.summarize(records)
    budget = summary["arms"]["budget"]
    assert (budget["runs"], budget["within"], budget["covered"]) == (4, 2, 2)
    assert budget["over_budget"] == ["bc80 seed 1: 320 s of 300"]
    assert summary["arms"]["trials"]["runs"] == 1
    assert [s["chance_inside"] for s in summary["shuffled"]] == [True, False]
    assert [t["met"] for t in summary["targets"]] == [False, False, False, False]
    ok = honesty_report.summarize([records[0], records[2], records[4]])
    assert [t["met"] for t in ok["targets"]] == [True, True, True, True]
