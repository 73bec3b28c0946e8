"""Quality of the chosen model against plain peers and against its own ablations, on small offline tasks.

    python -m benchmarks.quality [--seeds N] [--budget S] [--image-budget S] [--tasks a,b] [--no-ablations]
                                 [--ablation-tasks a,b] [--quick] [--out DIR]

For every task and seed, the task's data is written (a subsample drawn with the seed), a study runs on it,
and every other method is trained on the study's search rows and scored on its held-out test rows
(`manifest["splits"]["test_rows"]`) with the study's metric:
- peers: logistic / ridge regression and LightGBM with defaults, FLAML with the study's budget (tables);
  logistic regression on frozen pretrained features and a fine-tuned backbone without search (images);
- ablations: the study again with one technique family switched off in its search space, and the same
  study's trials re-selected by plain best validation score (see `quality_tasks.ABLATIONS`). They run on
  `--ablation-tasks` only, to keep the run affordable.

Writes `quality.json` (every score, with the machine's facts) and `quality.md` under `--out` (default
benchmarks/results, then benchmarks/RESULTS.md is refreshed). `--quick` is the smoke run of CI: one tiny
table and one tiny image task, one seed, short budgets (its default `--out` is a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.quality_tasks import (
    ABLATION_TEXT,
    ABLATIONS,
    PEER_TEXT,
    PEERS,
    QUICK_TASKS,
    RESELECT,
    TASKS,
    Task,
    ablation_space,
    image_peers,
    table_peers,
    write_task,
)
from benchmarks.report import RESULTS_DIR, machine, machine_line, write_results

PROJECT, REFERENCE = "project", "majority"
GRACE_PERIOD = 5  # the study default, lowered to max_epochs when that is smaller
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


@dataclass(frozen=True)
class Setup:
    """Sizes of one run (the default one, or the tiny `--quick` one)."""

    tasks: tuple[str, ...]
    ablation_tasks: tuple[str, ...]
    seeds: int
    budget_s: float  # table studies, and FLAML on the same tables
    image_budget_s: float
    trials: int
    image_trials: int
    max_epochs: int
    image_max_epochs: int
    image_size: int  # cap on the backbones' input size
    image_folds: int
    flaml_budget_s: float | None = None  # None: budget_s (the same budget as the study)
    table_ablations: tuple[str, ...] = tuple(ABLATIONS["table"])  # search-space ablations (+ RESELECT always)
    image_ablations: tuple[str, ...] = ("no_augmentation", "no_transfer", "no_synthetic")


# Sized for about 40 minutes on 2 CPU cores; iris and the balanced breast_cancer run with --tasks.
DEFAULT = Setup(
    tasks=("penguins", "wine", "breast_cancer_imbalanced", "diabetes", "digits", "textures"),
    ablation_tasks=("penguins", "breast_cancer_imbalanced", "digits"),
    seeds=3,
    budget_s=25,
    image_budget_s=45,
    trials=15,
    image_trials=10,
    max_epochs=50,
    image_max_epochs=15,
    image_size=64,
    image_folds=3,
)
QUICK = Setup(
    tasks=tuple(QUICK_TASKS),
    ablation_tasks=tuple(QUICK_TASKS),
    seeds=1,
    budget_s=15,
    image_budget_s=25,
    trials=3,
    image_trials=2,
    max_epochs=10,
    image_max_epochs=3,
    image_size=32,
    image_folds=2,
    flaml_budget_s=5,
    table_ablations=("no_synthetic",),
    image_ablations=("no_transfer",),
)


def _progress(line: str) -> None:
    print(f"[quality] {line}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    pass


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Run:
    """One benchmark run: studies go to a temporary storage folder, scores to `records`."""

    def __init__(self, setup: Setup, work: Path) -> None:
        self.setup, self.work = setup, work
        self.records: list[dict[str, Any]] = []

    def record(self, task: Task, seed: int, method: str, kind: str, metric, score, seconds, **detail) -> None:
        self.records.append(
            {
                "task": task.name,
                "family": task.family,
                "seed": seed,
                "method": method,
                "kind": kind,  # project | peer | ablation | reference
                "metric": metric.name if metric else None,
                "greater_is_better": metric.greater_is_better if metric else None,
                "score": float(score) if score is not None else float("nan"),
                "seconds": float(seconds),
                **detail,
            }
        )
        shown = f"{metric.name} {score:.4g}" if metric and score is not None else "FAILED"
        _progress(f"{task.name} seed {seed}: {method} {shown} ({seconds:.0f}s)")

    def study(self, task: Task, seed: int, data: Path, target: str | None, name: str, **settings):
        import automl

        s = self.setup
        image = task.family == "image"
        if image:
            settings.update(
                images=automl.ImageOptions(image_size=s.image_size, allow_hub=False), n_folds=s.image_folds
            )
        max_epochs = s.image_max_epochs if image else s.max_epochs
        return automl.run(
            str(data),
            target,
            budget=s.image_budget_s if image else s.budget_s,
            trials=s.image_trials if image else s.trials,
            max_epochs=max_epochs,
            grace_period=min(GRACE_PERIOD, max_epochs),
            metric=task.metric,
            seed=seed,
            storage=str(self.work / "studies"),
            name=f"{task.name}-s{seed}-{name}",
            log=_quiet,
            **settings,
        )

    def task_seed(self, task: Task, seed: int, ablations: bool) -> None:
        """The study, its peers and (when asked) its ablations on one task and seed."""
        from automl.config import StudyConfig
        from automl.metrics import get_metric
        from automl.study import prepare

        data, target = write_task(task, seed, self.work / "data" / f"{task.name}-s{seed}")
        start = time.perf_counter()
        try:
            study = self.study(task, seed, data, target, PROJECT)
        except Exception as exc:  # recorded and reported; the other tasks go on
            self.record(
                task, seed, PROJECT, "project", None, None, time.perf_counter() - start, error=repr(exc)
            )
            return
        manifest = study.manifest
        metric = get_metric(manifest["metric"]["name"])
        test_rows = manifest["splits"]["test_rows"]

        def note(method: str, kind: str, score, seconds: float, **detail) -> None:
            self.record(task, seed, method, kind, metric, score, seconds, n_test=len(test_rows), **detail)

        note(
            PROJECT,
            "project",
            manifest["test_report"]["value"],
            manifest["duration_s"],
            search_seconds=manifest["search_seconds"],
            trials=manifest["trials"],
            chosen=manifest["best"]["config"],
        )
        reference = next(b for b in manifest["baselines"] if b["name"] in ("majority", "mean"))
        note(REFERENCE, "reference", reference["value"], 0.0)

        prep = prepare(StudyConfig.from_dict(manifest["config"]), log=_quiet)
        if prep.splits.test.tolist() != test_rows:  # never expected: the peers would be scored on other rows
            for name in PEERS[task.family]:
                note(name, "peer", None, 0.0, error="the study's test rows could not be reproduced")
            return
        y_test = prep.dataset.y[prep.splits.test]
        n_classes = len(prep.dataset.classes or [])
        for name, output, seconds, error in self._peers(task, prep, metric, seed):
            if error:
                note(name, "peer", None, seconds, error=error)
            else:
                note(name, "peer", metric(y_test, output, n_classes), seconds)
        if not ablations:
            return
        start = time.perf_counter()
        try:
            score, detail = reselect(study, prep, metric, seed)
            note(RESELECT, "ablation", score, time.perf_counter() - start, **detail)
        except Exception as exc:
            note(RESELECT, "ablation", None, time.perf_counter() - start, error=repr(exc))
        for ablation in self.setup.image_ablations if task.family == "image" else self.setup.table_ablations:
            start = time.perf_counter()
            try:
                space = ablation_space(task.family, ablation, self.work / "spaces")
                other = self.study(task, seed, data, target, ablation, space=str(space)).manifest
                if other["splits"]["test_rows"] != test_rows:
                    raise RuntimeError("the ablation's study held out other test rows")
                note(
                    ablation,
                    "ablation",
                    other["test_report"]["value"],
                    other["duration_s"],
                    trials=other["trials"],
                    chosen=other["best"]["config"],
                )
            except Exception as exc:
                note(ablation, "ablation", None, time.perf_counter() - start, error=repr(exc))

    def _peers(self, task: Task, prep, metric, seed: int):
        """(peer, test output, seconds, error or None) for every peer of the task's family."""
        test = prep.splits.test
        for name in PEERS[task.family]:
            start = time.perf_counter()
            try:
                if task.family == "image":
                    fitted = next(image_peers(prep.data, prep.dataset.images[test], seed=seed, only=(name,)))
                else:
                    fitted = next(
                        table_peers(
                            prep.data.features,
                            prep.data.y,
                            prep.features.iloc[test].reset_index(drop=True),
                            schema=prep.dataset.schema,
                            task=prep.dataset.task,
                            metric=metric,
                            n_classes=len(prep.dataset.classes or []),
                            budget_s=self.setup.flaml_budget_s or self.setup.budget_s,
                            seed=seed,
                            only=(name,),
                        )
                    )
            except Exception as exc:
                yield name, None, time.perf_counter() - start, repr(exc)
            else:
                yield (*fitted, None)


def reselect(study, prep, metric, seed: int) -> tuple[float, dict[str, Any]]:
    """The study's trials re-selected by best mean validation score, refitted and tested the way the study
    refits its own choice (what a same-seed study with select="best_validation" ends with)."""
    from automl.search.results import summaries
    from automl.search.selection import select

    board = study.leaderboard()
    picked = select(summaries(board), "best_validation").trial_id
    row = board.loc[board["trial"] == picked].iloc[0]
    if bool(row["chosen"]):
        return float(study.manifest["test_report"]["value"]), {"trial": picked, "same_as_chosen": True}
    config = {k.removeprefix("param_"): _plain(v) for k, v in row.items() if k.startswith("param_")}
    epochs = max(1, int(round(row["best_epoch_mean"])))
    test = prep.splits.test
    if prep.modality == "image":
        from automl.image.final import fit_final_image

        model, _ = fit_final_image(config, prep.data, epochs=epochs, seed=seed, info={})
        output = model.predict_output(prep.dataset.images[test])
    else:
        from automl.train.final import fit_final

        dataset = prep.dataset
        model, _ = fit_final(
            config,
            prep.data.features,
            prep.data.y,
            schema=dataset.schema,
            task=dataset.task,
            classes=dataset.classes,
            epochs=epochs,
            seed=seed,
            info={},
        )
        output = model.predict_output(prep.features.iloc[test].reset_index(drop=True))
    score = metric(prep.dataset.y[test], output, len(prep.dataset.classes or []))
    return score, {"trial": picked, "same_as_chosen": False}


# --- summary and report -------------------------------------------------------------------------------


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


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in {**TASKS, **QUICK_TASKS}]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {', '.join(unknown)}; choose from {', '.join({**TASKS, **QUICK_TASKS})}"
        )
    return names


def parse(argv: list[str] | None) -> tuple[Setup, bool, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="the smoke run: tiny tasks, one seed, short budgets"
    )
    parser.add_argument("--seeds", type=int, help="seeds per task (default 3)")
    parser.add_argument(
        "--budget", type=float, help="seconds per table study, and FLAML's budget (default 25)"
    )
    parser.add_argument("--image-budget", type=float, help="seconds per image study (default 45)")
    parser.add_argument("--tasks", type=_names, help=f"comma-separated, from {', '.join(TASKS)}")
    parser.add_argument("--ablation-tasks", type=_names, help="tasks that also run the ablations")
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else DEFAULT
    changes: dict[str, Any] = {}
    if args.seeds is not None:
        changes["seeds"] = max(1, args.seeds)
    if args.budget is not None:
        changes["budget_s"] = args.budget
    if args.image_budget is not None:
        changes["image_budget_s"] = args.image_budget
    if args.tasks:
        changes["tasks"] = args.tasks
    if args.ablation_tasks:
        changes["ablation_tasks"] = args.ablation_tasks
    if args.no_ablations:
        changes["ablation_tasks"] = ()
    return replace(setup, **changes), args.quick, args.out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import ray

    setup, quick, out = parse(argv)
    out = out or (Path(tempfile.mkdtemp(prefix="automl-quality-")) if quick else RESULTS_DIR)
    command = " ".join(
        ["python -m benchmarks.quality", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
    )
    tasks = {**TASKS, **QUICK_TASKS}
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
        )
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="automl-quality-") as work, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Run(setup, Path(work))
            for name in setup.tasks:
                for seed in range(setup.seeds):
                    run.task_seed(tasks[name], seed, ablations=name in setup.ablation_tasks)
    finally:
        if started_ray:
            ray.shutdown()
    summary = summarize(run.records)
    result = {
        "command": command,
        "quick": quick,
        "machine": machine(),
        "run_seconds": time.perf_counter() - start,
        "setup": asdict(setup),
        "tasks": {n: asdict(tasks[n]) for n in setup.tasks},
        "records": run.records,
        "summary": summary,
        "losses": losses(summary),
        "ties": ties(summary),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(_jsonable(result), indent=1))
    text = markdown(result)
    (out / "quality.md").write_text(text)
    if out.resolve() == RESULTS_DIR.resolve():
        write_results()
    else:
        write_results(out, out / "RESULTS.md")
    print(text)
    _progress(f"wrote {out / 'quality.json'} and {out / 'quality.md'}")
    return result


if __name__ == "__main__":
    main()
