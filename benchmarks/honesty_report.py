"""The honesty report: each study's reported estimate and 95% interval against the exported model's true
score on the fresh sample, per (task, seed) and arm; the share within 3 points and the coverage overall;
the shuffled-label task's estimate against chance; the studies' time against their budgets (computed,
never hand-written).

Issue 20's targets, read on the budget-bound studies: the estimate within 3 points of the truth on at least
90% of (task, seed) runs, the interval covering the truth on at least 90%, chance inside the interval of the
shuffled-label task, and every study within its budget + 5%.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.arms import labels
from benchmarks.report import load_line, machine_line
from benchmarks.scoring import binomial_half_width
from benchmarks.tasks import ALL_TASKS

TITLE = "## Honesty: the reported estimate against the truth on fresh samples"
WITHIN_POINTS, SHARE_TARGET, BUDGET_SLACK = 3.0, 0.90, 1.05
BUDGET = "budget"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _chance(record: dict[str, Any]) -> float | None:
    task = ALL_TASKS.get(record["task"])
    if not task or not task.shuffled:
        return None
    return record["estimate"].get("chance_level") or (0.5 if task.metric == "balanced_accuracy" else None)


def _budget_of(record: dict[str, Any]) -> float:
    return float(record["identity"]["budget_s"])


def arm_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    within = sum(r["error_points"] <= WITHIN_POINTS for r in records)
    covered = sum(bool(r["covered"]) for r in records)
    over = [r for r in records if r["duration_s"] > BUDGET_SLACK * _budget_of(r)]
    return {
        "runs": n,
        "trials": _mean([r["trials"] for r in records]),
        "within": within,
        "within_share": within / n if n else float("nan"),
        "covered": covered,
        "coverage": covered / n if n else float("nan"),
        "mean_error": _mean([r["error_points"] for r in records]),
        "mean_optimism": _mean([r["optimism_points"] for r in records]),
        "median_width": float(
            np.median([r["estimate"]["ci_high"] - r["estimate"]["ci_low"] for r in records])
        )
        if records
        else float("nan"),
        "over_budget": [
            f"{r['task']} seed {r['seed']}: {r['duration_s']:.0f} s of {_budget_of(r):.0f}" for r in over
        ],
        "max_duration_share": max((r["duration_s"] / _budget_of(r) for r in records), default=float("nan")),
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    studies = [r for r in records if r["kind"] == "arm" and "error" not in r]
    arms = list(dict.fromkeys(r["name"] for r in studies))
    summary: dict[str, Any] = {"arms": {a: arm_stats([r for r in studies if r["name"] == a]) for a in arms}}
    shuffled = [r for r in studies if _chance(r) is not None]
    summary["shuffled"] = [
        {
            "task": r["task"],
            "seed": r["seed"],
            "arm": r["name"],
            "estimate": r["estimate"],
            "true": r["true"],
            "chance": _chance(r),
            "chance_inside": bool(r["estimate"]["ci_low"] <= _chance(r) <= r["estimate"]["ci_high"]),
        }
        for r in shuffled
    ]
    summary["targets"] = targets(summary)
    summary["failed"] = [
        f"{r['task']} seed {r['seed']} {r['name']}: {r['error'][:300]}"
        for r in records
        if r["kind"] == "arm" and "error" in r
    ]
    return summary


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 20's honesty targets on the budget-bound studies (none when that arm did not run)."""
    stats = summary["arms"].get(BUDGET)
    if not stats:
        return []
    out = [
        {
            "target": f"estimate within {WITHIN_POINTS:.0f} points of the truth on >= 90% of runs",
            "value": f"{stats['within']} of {stats['runs']} ({100 * stats['within_share']:.0f}%)",
            "met": stats["within_share"] >= SHARE_TARGET,
        },
        {
            "target": "95% interval covers the truth on >= 90% of runs",
            "value": f"{stats['covered']} of {stats['runs']} ({100 * stats['coverage']:.0f}%)",
            "met": stats["coverage"] >= SHARE_TARGET,
        },
        {
            "target": "every study ends within its budget + 5%",
            "value": f"{stats['runs'] - len(stats['over_budget'])} of {stats['runs']} (longest "
            f"{100 * stats['max_duration_share']:.0f}% of its budget)",
            "met": not stats["over_budget"],
        },
    ]
    shuffled = [s for s in summary["shuffled"] if s["arm"] == BUDGET]
    if shuffled:
        inside = sum(s["chance_inside"] for s in shuffled)
        out.append(
            {
                "target": "the shuffled-label task reports chance inside its interval",
                "value": f"{inside} of {len(shuffled)}",
                "met": inside == len(shuffled),
            }
        )
    return out


def _f(value: float, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _per_run_table(records: list[dict[str, Any]], arm: str) -> list[str]:
    lines = [
        "| task (metric, rows, fresh) | seed | trials | estimate [95% CI] | true (± fresh) | error (pt) | "
        "covered | study s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if r["kind"] != "arm" or r["name"] != arm or "error" in r:
            continue
        e = r["estimate"]
        fresh = binomial_half_width(r["true"], r["n_fresh"]) if r["metric"] != "r2" else float("nan")
        noise = f" (± {fresh:.1f} pt)" if np.isfinite(fresh) else ""
        lines.append(
            f"| {r['task']} ({r['metric']}, {r['n_train']}, {r['n_fresh']}) | {r['seed']} | {r['trials']} | "
            f"{_f(e['value'])} [{_f(e['ci_low'])}, {_f(e['ci_high'])}] | {_f(r['true'])}{noise} | "
            f"{r['error_points']:.1f} | {'yes' if r['covered'] else '**no**'} | {r['duration_s']:.0f} |"
        )
    return lines


def _arms_table(summary: dict[str, Any], about: dict[str, str]) -> list[str]:
    lines = [
        "| arm | runs | trials (mean) | within 3 pt | coverage | mean error (pt) | mean optimism (pt) | "
        "median width |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, s in summary["arms"].items():
        lines.append(
            f"| {about.get(arm, arm)} | {s['runs']} | {_f(s['trials'], 0)} | {s['within']}/{s['runs']} "
            f"({100 * s['within_share']:.0f}%) | {s['covered']}/{s['runs']} ({100 * s['coverage']:.0f}%) | "
            f"{_f(s['mean_error'], 1)} | {s['mean_optimism']:+.1f} | {_f(s['median_width'])} |"
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    summary, setup = result["summary"], result["setup"]
    about = labels(result["records"], setup["arms"])
    out = [
        TITLE,
        "",
        f"Command: `{result['command']}` ({result['run_seconds'] / 60:.1f} min in this process). The same "
        "study runs feed the quality section.",
        "",
        "The true score is the exported model's score on the fresh sample (rows of the same source no study "
        "saw), through `automl predict`; the estimate and its 95% interval are the study's own "
        "(`study.estimate`). Error: |estimate - true| in points (100 x the score). Optimism: estimate - true. "
        "`± fresh`: the fresh sample's own binomial 95% half-width, which a coverage count over few runs cannot "
        "separate from the interval's miss. Each arm's budget and trial cap are in its name below.",
        "",
    ]
    if summary["targets"]:
        out += ["### Targets (budget-bound studies)", "", "| target | this run | met |", "|---|---|---|"]
        out += [
            f"| {t['target']} | {t['value']} | {'**yes**' if t['met'] else '**no**'} |"
            for t in summary["targets"]
        ]
        out.append("")
    out += ["### Estimate error against the number of trials", "", *_arms_table(summary, about), ""]
    late = [line for s in summary["arms"].values() for line in s["over_budget"]]
    if late:
        out += [*[f"- over budget + 5%: {line}" for line in late], ""]
    if summary["shuffled"]:
        out += [
            "### Shuffled labels (the truth is chance)",
            "",
            "| arm | seed | estimate [95% CI] | true | chance | chance inside |",
            "|---|---|---|---|---|---|",
        ]
        for s in summary["shuffled"]:
            e = s["estimate"]
            out.append(
                f"| {s['arm']} | {s['seed']} | {_f(e['value'])} [{_f(e['ci_low'])}, {_f(e['ci_high'])}] | "
                f"{_f(s['true'])} | {_f(s['chance'])} | {'yes' if s['chance_inside'] else '**no**'} |"
            )
        out.append("")
    for arm in summary["arms"]:
        out += [f"### Per run: {arm}", "", *_per_run_table(result["records"], arm), ""]
    if summary["failed"]:
        out += [
            f"{len(summary['failed'])} study run(s) failed:",
            "",
            *[f"- {f}" for f in summary["failed"]],
            "",
        ]
    if len(result["commits"]) > 1:
        out += [f"Records from {len(result['commits'])} commits: {', '.join(result['commits'])}.", ""]
    out += [machine_line(result["machine"]), load_line(result["records"], result["machine"]["cpus"]), ""]
    return "\n".join(out)
