"""Honest estimates: the study's reported score and interval against the true score on rows it never saw.

    python -m benchmarks.honesty [--seeds N] [--tasks a,b] [--quick] [--out DIR]
                                 [--select RULE] [--protocols new,old] [--rules RULE,RULE] [--budget S]

For every task and seed, the task's rows are drawn from the larger source with the seed
(`quality_tasks.draw_table`; images: `write_task`), and the rest of the source is the fresh sample
(`quality_tasks.write_fresh_images` for images). A study runs twice on the drawn rows: with the new
protocol (the default: no held-out test below 2,000 rows, a bias-corrected out-of-fold estimate) and
with the old one (`test_size=0.2`: a one-shot held-out test). For each run the true score is the exported
model's score on the fresh sample with the study's metric, next to logistic / ridge regression trained on
the same rows the exported model was refitted on (the study's search rows).

Writes `honesty.json` (every record, with the machine's facts) and `honesty.md` under `--out` (default
benchmarks/results, and then benchmarks/RESULTS.md is rebuilt from every section). `--quick` is the smoke run:
one tiny table task, one seed, short budgets (its default `--out` is a temporary folder).

`--select` runs the studies with another selection rule; `--protocols` runs one protocol only.
`--rules` compares selection rules on the same trials: after each new-protocol study, every listed
rule re-chooses among the study's trials on its stored out-of-fold predictions (as the study's
finish does, evaluation/bbc.py `choose`), its choice is refitted on every search row the way the
study refits its own (the study's model is reused where the choice is the same), and scored on
the fresh sample with the study's metric (and, for classification, with the log loss). Paired by
study, the comparison is free of the search's own run-to-run noise.

This module is the command line; the studies and their scoring are `benchmarks.honesty_studies`, the
summary and the report `benchmarks.honesty_report`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from benchmarks.honesty_report import PROTOCOLS, markdown, replace_section, summarize
from benchmarks.honesty_studies import DEFAULT, QUICK, Run, Setup, progress
from benchmarks.quality_report import _jsonable
from benchmarks.quality_tasks import QUICK_TASKS, TASKS
from benchmarks.report import RESULTS_DIR, machine, write_results


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    known = {**TASKS, **QUICK_TASKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return names


def _rules(text: str) -> tuple[str, ...]:
    from automl.search.selection import available_rules

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in available_rules()]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(available_rules())}"
        )
    return names


def parse(argv: list[str] | None) -> tuple[Setup, bool, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.honesty", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smoke run: one tiny table task, one seed")
    parser.add_argument("--seeds", type=int, help="seeds per task (default 3)")
    parser.add_argument("--tasks", type=_names, help=f"comma-separated, from {', '.join(TASKS)}")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    parser.add_argument(
        "--render", action="store_true", help="only summarize the records of --out's honesty.json again"
    )
    parser.add_argument(
        "--select", help="the studies' selection rule, e.g. ensemble (default: the default rule)"
    )
    parser.add_argument(
        "--protocols",
        type=lambda text: tuple(p for p in (x.strip() for x in text.split(",")) if p in PROTOCOLS),
        help=f"comma-separated, from {', '.join(PROTOCOLS)} (default: both)",
    )
    parser.add_argument("--budget", type=float, help="seconds per study, tables and images (default 25 / 45)")
    parser.add_argument("--image-trials", type=int, help="trials per image study (default 10)")
    parser.add_argument("--image-epochs", type=int, help="max epochs per image trial (default 15)")
    parser.add_argument("--image-folds", type=int, help="folds of image studies (default 3)")
    parser.add_argument(
        "--image-size", type=int, help="cap on the backbones' input size (default 64; 0: the study's default)"
    )
    parser.add_argument(
        "--rules",
        type=_rules,
        help="comma-separated selection rules to compare on each new-protocol study's own trials",
    )
    args = parser.parse_args(argv)
    if args.render:
        render(args.out or RESULTS_DIR)
        sys.exit(0)
    setup = QUICK if args.quick else DEFAULT
    changes: dict[str, Any] = {}
    if args.seeds is not None:
        changes["seeds"] = max(1, args.seeds)
    if args.tasks:
        changes["tasks"] = args.tasks
    if args.select:
        changes["select"] = args.select
    if args.protocols:
        changes["protocols"] = args.protocols
    if args.rules:
        changes["rules"] = args.rules
    if args.budget:
        changes.update(budget_s=args.budget, image_budget_s=args.budget)
    for option, field in (
        ("image_trials", "image_trials"),
        ("image_epochs", "image_max_epochs"),
        ("image_folds", "image_folds"),
        ("image_size", "image_size"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[field] = (value or None) if field == "image_size" else value
    return replace(setup, **changes), args.quick, args.out


def _write(out: Path, result: dict[str, Any]) -> str:
    """honesty.json, honesty.md, and the section of RESULTS.md (benchmarks/ for the default --out)."""
    (out / "honesty.json").write_text(json.dumps(_jsonable(result), indent=1))
    text = markdown(result)
    (out / "honesty.md").write_text(text)
    if out.resolve() == RESULTS_DIR.resolve():
        write_results()  # RESULTS.md from every harness's section (benchmarks/report.py)
    else:
        replace_section(out / "RESULTS.md", text)
    return text


def render(out: Path) -> None:
    """The summary and report of an earlier (or still running) run, from its records."""
    result = json.loads((out / "honesty.json").read_text())
    result["summary"] = summarize(result["records"])
    print(_write(out, result))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import ray

    setup, quick, out = parse(argv)
    out = out or (Path(tempfile.mkdtemp(prefix="automl-honesty-")) if quick else RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(
        ["python -m benchmarks.honesty", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
    )
    tasks = {**TASKS, **QUICK_TASKS}
    facts = machine()
    start = time.perf_counter()

    def write(records: list[dict[str, Any]], finished: bool = False) -> dict[str, Any]:
        """Every record so far, summarized and written (a partial run leaves its figures too)."""
        result = {
            "command": command,
            "quick": quick,
            "finished": finished,
            "machine": facts,
            "run_seconds": time.perf_counter() - start,
            "setup": asdict(setup),
            "tasks": {n: asdict(tasks[n]) for n in setup.tasks},
            "records": records,
            "summary": summarize(records),
        }
        result["markdown"] = _write(out, result)
        return result

    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
        )
    try:
        with tempfile.TemporaryDirectory(prefix="automl-honesty-") as work, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Run(setup, Path(work), on_record=write)
            for name in setup.tasks:
                for seed in range(setup.seeds):
                    run.task_seed(tasks[name], seed)
    finally:
        if started_ray:
            ray.shutdown()
    result = write(run.records, finished=True)
    print(result.pop("markdown"))
    progress(f"wrote {out / 'honesty.json'} and {out / 'honesty.md'}")
    return result


if __name__ == "__main__":
    main()
