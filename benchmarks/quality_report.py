"""The quality benchmark's summary and report: mean ± std per task and method, the project against
each peer, what each technique contributes, and where the project loses (computed, never hand-written)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.quality_tasks import ABLATION_TEXT, ABLATIONS, PEER_TEXT, PEERS, RESELECT, TASKS
from benchmarks.report import machine_line

PROJECT, REFERENCE = "project", "majority"
LABELS = {
    PROJECT: "**automl (this project)**",
    "linear": "logistic / ridge regression",
    "lightgbm": "LightGBM, defaults",
    "flaml": "FLAML, same budget",
    "logreg_frozen": "logistic regression on frozen features",
    "finetune": "fine-tuned backbone, no search",
    REFERENCE: "reference: majority class / mean",
}
TECHNIQUES = {
    "no_synthetic": "synthetic data",
    "no_regularization_search": "the regularization search",
    "no_augmentation": "augmentation",
    "no_transfer": "transfer",
}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    if not len(finite):
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
    return {"mean": float(finite.mean()), "std": std, "n": int(len(finite))}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task: each method's scores by seed and their mean and std; the project against each method."""
    tasks: dict[str, Any] = {}
    for r in records:
        entry = tasks.setdefault(
            r["task"],
            {"family": r["family"], "metric": None, "greater_is_better": None, "n_test": None, "methods": {}},
        )
        if r["metric"]:
            entry["metric"], entry["greater_is_better"] = r["metric"], r["greater_is_better"]
        if r["method"] == PROJECT and "n_test" in r:
            entry["n_test"] = r["n_test"]
        method = entry["methods"].setdefault(r["method"], {"kind": r["kind"], "by_seed": {}, "seconds": []})
        method["by_seed"][str(r["seed"])] = r["score"]
        method["seconds"].append(r["seconds"])
    for entry in tasks.values():
        sign = 1.0 if entry["greater_is_better"] is not False else -1.0
        project = entry["methods"].get(PROJECT, {"by_seed": {}})["by_seed"]
        for name, method in entry["methods"].items():
            method.update(_stats(list(method["by_seed"].values())))
            method["mean_seconds"] = float(np.mean(method.pop("seconds")))
            if name == PROJECT:
                continue
            diffs = [
                sign * (project[s] - v)
                for s, v in method["by_seed"].items()
                if s in project and math.isfinite(project[s]) and math.isfinite(v)
            ]
            method["project_minus"] = {
                **_stats(diffs),  # sign-adjusted: > 0 means the project did better
                "won": sum(d > 1e-9 for d in diffs),
                "tied": sum(abs(d) <= 1e-9 for d in diffs),
                "lost": sum(d < -1e-9 for d in diffs),
            }
    return tasks


def losses(summary: dict[str, Any]) -> list[str]:
    """Plain lines for every task where a peer or an ablation has a better mean score than the project."""
    lines = []
    for task, entry in summary.items():
        project = entry["methods"].get(PROJECT)
        if not project or not project["n"]:
            lines.append(f"{task}: the project's study failed (see quality.json)")
            continue
        for name, method in entry["methods"].items():
            diff = method.get("project_minus")
            if name in (PROJECT, REFERENCE) or not diff or not diff["n"] or diff["mean"] >= 0:
                continue
            if name == RESELECT:
                what = "plain best-validation selection scored better"
            elif method["kind"] == "ablation":
                what = f"switching off {TECHNIQUES.get(name, name)} scored better"
            else:
                what = f"{LABELS.get(name, name)} beats it"
            lines.append(
                f"{task} ({entry['metric']}): {what}: {_cell(method)} against {_cell(project)} "
                f"(by {-diff['mean']:.3g} on average; project lost on {diff['lost']} of {diff['n']} seeds, "
                f"tied {diff['tied']})"
            )
    return lines


def ties(summary: dict[str, Any]) -> list[str]:
    """Plain lines for every task where a peer's mean equals the project's (the search bought nothing)."""
    lines = []
    for task, entry in summary.items():
        tied = [
            LABELS.get(name, name)
            for name, method in entry["methods"].items()
            if method["kind"] == "peer"
            and method.get("project_minus", {}).get("n")
            and abs(method["project_minus"]["mean"]) <= 1e-9
        ]
        if tied:
            lines.append(f"{task} ({entry['metric']}): the same mean score as {', '.join(tied)}")
    return lines


def _trials_line(records: list[dict[str, Any]]) -> str:
    parts = []
    for family in ("table", "image"):
        done = [
            sum(v for k, v in r["trials"].items() if k not in ("total", "failed"))
            for r in records
            if r["family"] == family and r["method"] == PROJECT and r.get("trials")
        ]
        if done:
            parts.append(f"{family} studies {np.mean(done):.1f} (from {min(done)} to {max(done)})")
    return "Trials scored per project study, mean: " + "; ".join(parts) + "." if parts else ""


def _jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become null, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _cell(stats: dict[str, Any]) -> str:
    if not stats.get("n"):
        return "failed"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f}"


def _method_order(summary: dict[str, Any], family: str) -> list[str]:
    seen: dict[str, str] = {}
    for entry in summary.values():
        if entry["family"] == family:
            for name, method in entry["methods"].items():
                seen.setdefault(name, method["kind"])
    rank = {"project": 0, "peer": 1, "ablation": 2, "reference": 3}
    peers = list(PEERS[family])
    ablations = [*ABLATIONS[family], RESELECT]
    order = {name: i for i, name in enumerate([PROJECT, *peers, *ablations, REFERENCE])}
    return sorted(seen, key=lambda n: (rank[seen[n]], order.get(n, 99), n))


def _label(name: str, kind: str) -> str:
    return f"ablation: {name}" if kind == "ablation" else LABELS.get(name, name)


def _family_table(summary: dict[str, Any], family: str) -> list[str]:
    tasks = [t for t, e in summary.items() if e["family"] == family]
    head = ["method"]
    for t in tasks:
        e = summary[t]
        arrow = "↑" if e["greater_is_better"] else "↓"
        head.append(f"{t} ({e['metric']} {arrow}, {e['n_test']} test)")
    lines = ["| " + " | ".join([*head, "mean seconds"]) + " |", "|" + "---|" * (len(head) + 1)]
    for name in _method_order(summary, family):
        kind = next(e["methods"][name]["kind"] for e in summary.values() if name in e["methods"])
        cells = [_cell(summary[t]["methods"][name]) if name in summary[t]["methods"] else "–" for t in tasks]
        seconds = [
            summary[t]["methods"][name]["mean_seconds"] for t in tasks if name in summary[t]["methods"]
        ]
        lines.append(f"| {_label(name, kind)} | " + " | ".join(cells) + f" | {np.mean(seconds):.0f} |")
    return lines


def _versus_table(summary: dict[str, Any]) -> list[str]:
    totals: dict[str, dict[str, Any]] = {}
    for entry in summary.values():
        for name, method in entry["methods"].items():
            diff = method.get("project_minus")
            if name == PROJECT or not diff or not diff["n"]:
                continue
            t = totals.setdefault(
                name, {"kind": method["kind"], "better": 0, "worse": 0, "won": 0, "tied": 0, "lost": 0}
            )
            t["better"] += diff["mean"] > 1e-9
            t["worse"] += diff["mean"] < -1e-9
            for key in ("won", "tied", "lost"):
                t[key] += diff[key]
    lines = [
        "| project against | tasks where the project's mean is better / worse | seeds won / tied / lost |",
        "|---|---|---|",
    ]
    for name, t in totals.items():
        lines.append(
            f"| {_label(name, t['kind'])} | {t['better']} / {t['worse']} | {t['won']} / {t['tied']} / {t['lost']} |"
        )
    return lines


def _contribution_table(summary: dict[str, Any]) -> list[str]:
    tasks = [t for t, e in summary.items() if any(m["kind"] == "ablation" for m in e["methods"].values())]
    if not tasks:
        return ["No ablations in this run."]
    names = sorted({n for t in tasks for n, m in summary[t]["methods"].items() if m["kind"] == "ablation"})
    lines = ["| technique switched off | " + " | ".join(tasks) + " |", "|" + "---|" * (len(tasks) + 1)]
    for name in names:
        cells = []
        for t in tasks:
            diff = summary[t]["methods"].get(name, {}).get("project_minus")
            cells.append(f"{diff['mean']:+.3f} ± {diff['std']:.3f}" if diff and diff["n"] else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _same_choice(records: list[dict[str, Any]]) -> list[str]:
    reselected = [r for r in records if r["method"] == RESELECT and "same_as_chosen" in r]
    if not reselected:
        return []
    same = sum(bool(r["same_as_chosen"]) for r in reselected)
    return [
        f"Plain best-validation selection picked the gap-aware rule's trial in {same} of {len(reselected)} "
        "studies (equal scores by construction there).",
        "",
    ]


def markdown(result: dict[str, Any]) -> str:
    summary, setup = result["summary"], result["setup"]
    quick = " (quick smoke run: tiny tasks, not figures to quote)" if result["quick"] else ""
    ablated = ", ".join(t for t in setup["ablation_tasks"] if t in summary) or "none"
    flaml = setup["flaml_budget_s"] or setup["budget_s"]
    skipped = [] if result["quick"] else [t for t in TASKS if t not in summary]
    out = [
        f"## Quality: the chosen model against plain peers and its own ablations{quick}",
        "",
        f"Command: `{result['command']}` ({result['run_seconds'] / 60:.1f} min).",
        "",
        f"{len(summary)} small tasks built offline from package-shipped data, {setup['seeds']} seed(s) each: "
        "each seed draws another subsample and another held-out test split (the study's own stratified "
        "20%). Every method is trained on the study's search rows and scored once on its test rows with "
        "the study's metric; cells are mean ± std over seeds.",
        f"Studies: tables {setup['budget_s']:.0f} s budget / {setup['trials']} trials / {setup['max_epochs']} "
        f"max epochs; images {setup['image_budget_s']:.0f} s / {setup['image_trials']} trials / "
        f"{setup['image_max_epochs']} max epochs, image_size {setup['image_size']}, {setup['image_folds']} folds, "
        f"pretrained weights offline only. FLAML gets {flaml:.0f} s. Seconds are wall-clock per fit "
        "(a study: search, refit, test and baselines).",
        "Tasks: "
        + "; ".join(
            f"{n} ({t['size']} {'rows' if t['family'] == 'table' else 'images per class'}: {t['description']})"
            for n, t in result["tasks"].items()
        )
        + ".",
        f"Ablations run on {ablated} only, to keep the run affordable."
        + (f" Not run here (pass `--tasks`): {', '.join(skipped)}." if skipped else ""),
        _trials_line(result["records"]),
        "",
    ]
    for family, title in (("table", "Tables"), ("image", "Images")):
        if any(e["family"] == family for e in summary.values()):
            out += [f"### {title}", "", *_family_table(summary, family), ""]
    out += ["### The project against each method, over tasks and seeds", "", *_versus_table(summary), ""]
    out += [
        "### What each technique contributes",
        "",
        "Full project minus the ablation, sign-adjusted (> 0: the technique helped), mean ± std over seeds.",
        "",
        *_contribution_table(summary),
        "",
        *_same_choice(result["records"]),
        "### Where the project loses",
        "",
    ]
    out += [f"- {line}" for line in result["losses"]] or [
        "- Nowhere in this run: no method has a better mean."
    ]
    if result["ties"]:
        out += ["", "Where it is no better than a peer (equal means):", ""]
        out += [f"- {line}" for line in result["ties"]]
    out += ["", "Peers and ablations:", ""]
    out += [f"- {LABELS[n]}: {PEER_TEXT[n]}" for fam in PEERS.values() for n in fam]
    out += [f"- ablation {n}: {ABLATION_TEXT[n]}" for n in ABLATION_TEXT]
    failed = [r for r in result["records"] if "error" in r]
    if failed:
        out += [
            "",
            f"{len(failed)} fit(s) failed: "
            + "; ".join(f"{r['task']} s{r['seed']} {r['method']}" for r in failed),
        ]
    out += ["", machine_line(result["machine"]), ""]
    return "\n".join(out)


# --- command line -------------------------------------------------------------------------------------
