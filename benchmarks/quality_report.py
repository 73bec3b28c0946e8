"""The quality report: per task, the exported model's true score on the fresh sample (mean over seeds) for
every arm against every peer and the best peer, and the acceptance checks of issues 20 and 21 (computed,
never hand-written).

- issue 20: the budget-bound study >= the 20-trial study of the same seeds, and >= LogisticRegressionCV
  (RidgeCV) - 1 point, on every table;
- issue 21: the budget-bound study >= the best of LogisticRegressionCV, CatBoost, RealMLP_TD and TabM_D
  - 1 point on every table, and >= the best frozen-backbone probe - 1 point on every image task.

Points: 100 x the score difference (an error such as RMSE: percent of the other's). The shuffled-label
task is left out of the checks (its truth is chance for every method); the honesty report reads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.arms import labels
from benchmarks.peers import PEERS
from benchmarks.report import load_line, machine_line
from benchmarks.scoring import GREATER_IS_BETTER, points
from benchmarks.tasks import ALL_TASKS

TITLE = "## Quality: studies as users run them, against peers, on fresh samples"
TOLERANCE = 1.0  # points below a peer that the acceptance allows
BUDGET, FEW = "budget", "trials"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task and method (arm or peer): its true score by seed, mean, std, log loss, trials, seconds;
    the best peer; the acceptance checks; the failed records."""
    done = [r for r in records if "error" not in r]
    tasks: dict[str, Any] = {}
    for r in done:
        task = tasks.setdefault(r["task"], {"family": r["family"], "metric": r["metric"], "methods": {}})
        method = task["methods"].setdefault(
            r["name"], {"kind": r["kind"], "by_seed": {}, "log_loss": [], "trials": [], "wall_s": []}
        )
        method["by_seed"][int(r["seed"])] = r["true"]
        method["wall_s"].append(r["wall_s"])
        if "true_log_loss" in r:
            method["log_loss"].append(r["true_log_loss"])
        if r["kind"] == "arm":
            method["trials"].append(r["trials"])
    for name, task in tasks.items():
        for method in task["methods"].values():
            values = list(method["by_seed"].values())
            method.update(
                mean=_mean(values),
                std=_std(values),
                n=len(values),
                log_loss=_mean(method["log_loss"]),
                trials=_mean(method["trials"]),
                wall_s=_mean(method["wall_s"]),
            )
        sign = 1 if GREATER_IS_BETTER[task["metric"]] else -1
        peers = {m: v for m, v in task["methods"].items() if v["kind"] == "peer"}
        if peers:
            task["best_peer"] = max(peers, key=lambda m: sign * peers[m]["mean"])
        task["checks"] = [] if ALL_TASKS[name].shuffled else checks(task)
    return {
        "tasks": tasks,
        "failed": [
            f"{r['task']} seed {r['seed']} {r['name']}: {r['error'][:300]}" for r in records if "error" in r
        ],
    }


def _paired(task: dict[str, Any], mine: str, theirs: list[str]) -> tuple[float, float, list[int]] | None:
    """(my mean, the best of `theirs`'s means, the seeds) over the seeds every one of them ran."""
    methods = task["methods"]
    if mine not in methods or not all(t in methods for t in theirs):
        return None
    seeds = sorted(set(methods[mine]["by_seed"]).intersection(*(methods[t]["by_seed"] for t in theirs)))
    if not seeds:
        return None
    sign = 1 if GREATER_IS_BETTER[task["metric"]] else -1
    means = [_mean([methods[t]["by_seed"][s] for s in seeds]) for t in theirs]
    best = max(means, key=lambda m: sign * m)
    return _mean([methods[mine]["by_seed"][s] for s in seeds]), best, seeds


def checks(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The acceptance checks that the task's records allow, each with its margin and PASS / FAIL."""
    table = task["family"] == "table"
    wanted = [("issue 20", "budget-bound >= 20-trial study", [FEW], 0.0)]
    if table:
        wanted.append(("issue 20", "budget-bound >= LogisticRegressionCV - 1 pt", ["logreg_cv"], TOLERANCE))
        wanted.append(
            (
                "issue 21",
                "budget-bound >= best of LogisticRegressionCV, CatBoost, RealMLP_TD, TabM_D - 1 pt",
                [p for p in PEERS if PEERS[p].acceptance and PEERS[p].family == "table"],
                TOLERANCE,
            )
        )
    else:
        wanted.append(
            (
                "issue 21",
                "budget-bound >= best frozen-backbone probe - 1 pt",
                [p for p in PEERS if PEERS[p].family == "image"],
                TOLERANCE,
            )
        )
    out = []
    for issue, text, theirs, tolerance in wanted:
        present = [t for t in theirs if t in task["methods"]]
        paired = _paired(task, BUDGET, present) if present else None
        if paired is None:
            continue
        mine, best, seeds = paired
        margin = points(task["metric"], mine, best)
        out.append(
            {
                "issue": issue,
                "check": text,
                "against": present,
                "complete": present == theirs,
                "mine": mine,
                "theirs": best,
                "margin_points": margin,
                "seeds": seeds,
                "passed": bool(margin >= -tolerance - 1e-9),
            }
        )
    return out


def _f(value: float, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _label(name: str, kind: str, arms: dict[str, str]) -> str:
    if kind == "arm":
        return arms.get(name, f"**{name}**")
    return f"{name}: {PEERS[name].about}" if name in PEERS else name


def _family_table(summary: dict[str, Any], family: str, arms: dict[str, str], n_seeds: int) -> list[str]:
    names = [n for n, t in summary["tasks"].items() if t["family"] == family]
    if not names:
        return []
    tasks = summary["tasks"]
    methods: dict[str, str] = {}
    for n in names:
        for m, v in tasks[n]["methods"].items():
            methods.setdefault(m, v["kind"])
    order = [m for m in methods if methods[m] == "arm"] + [m for m in methods if methods[m] == "peer"]
    header = (
        "| method | "
        + " | ".join(
            f"{n} ({tasks[n]['metric']}{' ↑' if GREATER_IS_BETTER[tasks[n]['metric']] else ' ↓'})"
            for n in names
        )
        + " |"
    )
    lines = [header, "|---" * (len(names) + 1) + "|"]
    for m in order:
        cells = []
        for n in names:
            v = tasks[n]["methods"].get(m)
            cells.append(
                "–"
                if v is None
                else f"{_f(v['mean'])} ± {_f(v['std'])}" + ("" if v["n"] == n_seeds else f" ({v['n']} seeds)")
            )
        lines.append(f"| {_label(m, methods[m], arms)} | " + " | ".join(cells) + " |")
    best = []
    for n in names:
        peer = tasks[n].get("best_peer")
        best.append(f"{peer} {_f(tasks[n]['methods'][peer]['mean'])}" if peer else "–")
    lines.append("| best peer | " + " | ".join(best) + " |")
    return lines


def _side_table(summary: dict[str, Any]) -> list[str]:
    """Trials, seconds and fresh log loss per task and method."""
    lines = [
        "| task | method | trials (mean) | wall s (mean) | fresh log loss (mean) |",
        "|---|---|---|---|---|",
    ]
    for n, task in summary["tasks"].items():
        for m, v in task["methods"].items():
            trials = _f(v["trials"], 0) if v["kind"] == "arm" else ""
            lines.append(f"| {n} | {m} | {trials} | {_f(v['wall_s'], 0)} | {_f(v['log_loss'])} |")
    return lines


def _check_table(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| task | issue | check | budget-bound | against | margin (pt) | seeds | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, task in summary["tasks"].items():
        for c in task["checks"]:
            partial = "" if c["complete"] else " (not every peer ran)"
            lines.append(
                f"| {n} | {c['issue']} | {c['check']}{partial} | {_f(c['mine'])} | {_f(c['theirs'])} | "
                f"{c['margin_points']:+.1f} | {len(c['seeds'])} | {'PASS' if c['passed'] else '**FAIL**'} |"
            )
    return lines


def verdicts(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{check: {"passed": n, "failed": n}} over the tasks."""
    out: dict[str, dict[str, int]] = {}
    for task in summary["tasks"].values():
        for c in task["checks"]:
            entry = out.setdefault(f"{c['issue']}: {c['check']}", {"passed": 0, "failed": 0})
            entry["passed" if c["passed"] else "failed"] += 1
    return out


def markdown(result: dict[str, Any]) -> str:
    summary, setup = result["summary"], result["setup"]
    arms = labels(result["records"], setup["arms"])
    tasks = [ALL_TASKS[n] for n in setup["tasks"]]
    out = [
        TITLE,
        "",
        f"Command: `{result['command']}` ({result['run_seconds'] / 60:.1f} min in this process; "
        f"{result['records_seconds'] / 60:.0f} min of runs in the records).",
        "",
        "Each task's training rows are drawn from a public source with the seed; the rest of the source (at most "
        "3,000 rows or 1,000 images) is a fresh sample no study sees. Every arm is a study run as a user runs it "
        "(`run_study(StudyConfig(...))`), and its exported model is scored on the fresh sample through "
        "`automl predict`; every peer is trained on the same rows and scored on the same fresh rows. Cells: "
        "mean ± std of the true score over seeds (their number in brackets where some did not finish).",
        f"Seeds {', '.join(map(str, setup['seeds']))}; {setup['cpus']} CPUs for the studies' Ray and each peer; "
        "each arm's budget and trial cap are in its name.",
        "Tasks: "
        + "; ".join(
            f"{t.name} ({t.size}{' per class' if t.family == 'image' else ' rows'}: {t.about})" for t in tasks
        )
        + ".",
        "",
    ]
    for family, title in (("table", "### Tables"), ("image", "### Images")):
        lines = _family_table(summary, family, arms, len(setup["seeds"]))
        if lines:
            out += [title, "", *lines, ""]
    out += ["### Acceptance", "", *_check_table(summary), ""]
    for check, counts in verdicts(summary).items():
        out.append(f"- {check}: {counts['passed']} of {counts['passed'] + counts['failed']} tasks pass.")
    out += ["", "### Trials, time and fresh log loss", "", *_side_table(summary), ""]
    if summary["failed"]:
        out += [f"{len(summary['failed'])} run(s) failed:", "", *[f"- {f}" for f in summary["failed"]], ""]
    if len(result["commits"]) > 1:
        out += [f"Records from {len(result['commits'])} commits: {', '.join(result['commits'])}.", ""]
    out += [machine_line(result["machine"]), load_line(result["records"], result["machine"]["cpus"]), ""]
    return "\n".join(out)
