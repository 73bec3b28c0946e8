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
import shlex
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.quality_report import PROJECT, REFERENCE, _jsonable, losses, markdown, summarize, ties
from benchmarks.quality_tasks import (
    ABLATIONS,
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
from benchmarks.report import RESULTS_DIR, machine, write_results

GRACE_PERIOD = 5  # the study default, lowered to max_epochs when that is smaller


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
        # Peers and ablations are scored on the study's own held-out rows (benchmarks/honesty.py
        # compares the default out-of-fold protocol on fresh samples instead).
        settings.setdefault("test_size", 0.2)
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
        """(peer, test output, seconds, error or None) for every peer of the task's family.

        The held-out test rows come from the study's modality, as the exported model takes them
        (`test_inputs`). Which peers run, and what each is fitted on, stays the benchmark's choice by
        family: the peers are outside models (LightGBM, FLAML, frozen features), not the modality's."""
        from automl.modalities import modality

        for name in PEERS[task.family]:
            start = time.perf_counter()
            try:
                test_inputs, _ = modality(prep.modality).test_inputs(prep)
                if task.family == "image":
                    fitted = next(image_peers(prep.data, test_inputs, seed=seed, only=(name,)))
                else:
                    fitted = next(
                        table_peers(
                            prep.data.features,
                            prep.data.y,
                            test_inputs,
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
    from automl.modalities import modality
    from automl.search.results import summaries, trial_config
    from automl.search.selection import select

    board = study.leaderboard()
    picked = select(summaries(board), "best_validation").trial_id
    row = board.loc[board["trial"] == picked].iloc[0]
    if bool(row["chosen"]):
        return float(study.manifest["test_report"]["value"]), {"trial": picked, "same_as_chosen": True}
    config = trial_config(row)
    epochs = max(1, int(round(row["best_epoch_mean"])))
    test = prep.splits.test
    kind = modality(prep.modality)
    model, _ = kind.refit(prep, config, epochs, seed, {})
    output = model.predict_output(kind.test_inputs(prep)[0])
    score = metric(prep.dataset.y[test], output, len(prep.dataset.classes or []))
    return score, {"trial": picked, "same_as_chosen": False}


# --- summary and report -------------------------------------------------------------------------------


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
