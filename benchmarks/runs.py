"""The runs that feed the quality and honesty reports: every arm's study and every peer, per task and seed,
each cached in the records file as it finishes, so that a killed run goes on where it stopped.

`Setup` is a run's selection and sizes; `Records` the records file (`fresh_runs.json` under `--out`),
rewritten whole after every record; `execute` runs what the records file lacks under one Ray;
`parser` / `setup_from` are the options `benchmarks.quality` and `benchmarks.honesty` share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.arms import ARMS, DEFAULT_ARMS, DEFAULT_TRIALS, Arm, parse_arm, resolve
from benchmarks.peers import PEERS, peers_for
from benchmarks.report import machine
from benchmarks.studies import run_arm, run_peer
from benchmarks.tasks import ALL_TASKS, QUICK_TASKS, TASKS, write_task

RECORDS_FILE = "fresh_runs.json"
FORMAT = 1


@dataclass(frozen=True)
class Setup:
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    arms: tuple[Arm, ...]
    peers: tuple[str, ...]
    budget_s: float = 300.0  # the budget-bound study's budget (`--budget 5m`)
    trials: int = DEFAULT_TRIALS  # the budget-bound study's trial cap (`--trials 1000`)
    flaml_budget_s: float | None = None  # None: budget_s
    cpus: int = 2

    def planned(self) -> list[tuple[str, int, str, str]]:
        """(task, seed, kind, name) of every record this setup asks for, in the order they run."""
        keys = []
        for name in self.tasks:
            family = ALL_TASKS[name].family
            for seed in self.seeds:
                keys += [(name, seed, "arm", a.name) for a in self.arms if a.applies_to(family)]
                keys += [(name, seed, "peer", p.name) for p in peers_for(family, self.peers)]
        return keys

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "arms": [asdict(a) for a in self.arms]}


DEFAULT = Setup(
    tasks=tuple(TASKS), seeds=(0, 1, 2), arms=tuple(ARMS[a] for a in DEFAULT_ARMS), peers=tuple(PEERS)
)
# The smoke run: one tiny table, one seed, studies that their trial counts end (the budget only holds
# on a loaded machine), the cheap peers (tests/benchmarks/test_peers.py fits every peer).
QUICK = Setup(
    tasks=tuple(QUICK_TASKS),
    seeds=(0,),
    arms=(ARMS["budget"], replace(ARMS["trials"], trials=2, budget_s=240.0)),
    peers=("logreg_cv", "catboost"),
    budget_s=240.0,
    trials=3,
)


def progress(prefix: str, line: str) -> None:
    print(f"[{prefix}] {line}", file=sys.stderr, flush=True)


class Records:
    """The records file: one record per (task, seed, kind, name), the latest kept."""

    def __init__(self, path: Path, restart: bool = False) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        if path.exists() and not restart:
            self.records = json.loads(path.read_text()).get("records", [])

    @staticmethod
    def key(record: dict[str, Any]) -> tuple[str, int, str, str]:
        return (record["task"], int(record["seed"]), record["kind"], record["name"])

    def done(self, key: tuple, identity: dict[str, Any]) -> dict[str, Any] | None:
        """The finished record of `key` run with `identity`, or None (missing, failed or run otherwise)."""
        for record in self.records:
            if self.key(record) == key and record.get("identity") == identity and "error" not in record:
                return record
        return None

    def put(self, record: dict[str, Any]) -> None:
        self.records = [r for r in self.records if self.key(r) != self.key(record)] + [record]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "records": self.records}, indent=1, default=str))
        tmp.replace(self.path)  # a kill never leaves half a file

    def selected(self, setup: Setup) -> list[dict[str, Any]]:
        """The records of what `setup` asks for (whatever their settings), in its order."""
        by_key = {self.key(r): r for r in self.records}
        return [by_key[k] for k in setup.planned() if k in by_key]


def _identity(setup: Setup, kind: str, item: Any) -> dict[str, Any]:
    """What a cached record must have been run with to be reused: an arm's settings; FLAML's budget."""
    if kind == "arm":
        return item.identity()
    return {"budget_s": (setup.flaml_budget_s or setup.budget_s) if item.name == "flaml" else None}


def _shown(record: dict[str, Any]) -> str:
    if "error" in record:
        return f"FAILED {record['error'][:300]}"
    text = f"true {record['true']:.4g}"
    if "true_log_loss" in record:
        text += f" (log loss {record['true_log_loss']:.3g})"
    if record["kind"] == "arm":
        e = record["estimate"]
        text = (
            f"{record['trials']} trials, {text}, estimate {e['value']:.4g} [{e['ci_low']:.4g}, "
            f"{e['ci_high']:.4g}] {'covered' if record['covered'] else 'NOT covered'}"
        )
    return f"{text}, {record['wall_s']:.0f} s"


def _start_ray(cpus: int):
    import ray

    if ray.is_initialized():
        return lambda: None
    ray.init(
        address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
    )
    return ray.shutdown


def _pending(setup: Setup, records: Records, name: str, seed: int, work: Path) -> list[tuple]:
    """(kind, arm or peer, key, identity) of what the records lack for one task and seed, in order."""
    task = ALL_TASKS[name]
    items: list[tuple[str, Any]] = [
        ("arm", resolve(a, task.family, setup.budget_s, setup.trials, work / "spaces"))
        for a in setup.arms
        if a.applies_to(task.family)
    ]
    items += [("peer", p) for p in peers_for(task.family, setup.peers)]
    pending = []
    for kind, item in items:
        key, identity = (name, seed, kind, item.name), _identity(setup, kind, item)
        if records.done(key, identity) is None:
            pending.append((kind, item, key, identity))
    return pending


def _run_one(setup: Setup, kind: str, item: Any, task, seed: int, data, work: Path, keep: bool) -> dict:
    start = time.perf_counter()
    try:
        if kind == "arm":
            return run_arm(task, seed, item, data, work, keep=keep)
        budget = setup.flaml_budget_s or setup.budget_s
        return run_peer(task, seed, item.name, data, budget_s=budget, cpus=setup.cpus)
    except Exception as exc:  # recorded and reported; the other runs go on
        return {"error": repr(exc)[:2000], "wall_s": time.perf_counter() - start}


def execute(setup: Setup, records: Records, prefix: str, keep_studies: Path | None = None) -> None:
    """Run every arm and peer of `setup` that `records` lacks, recording each as it finishes. The studies
    share one Ray, started at the first one (none when every study is in the records)."""
    commit, planned = machine()["commit"], setup.planned()
    started, ran, stop_ray = time.perf_counter(), 0, None
    try:
        with tempfile.TemporaryDirectory(prefix="automl-bench-") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            work = keep_studies or Path(tmp)
            for name in setup.tasks:
                task = ALL_TASKS[name]
                for seed in setup.seeds:
                    pending = _pending(setup, records, name, seed, work)
                    if not pending:
                        continue
                    data = write_task(task, seed, Path(tmp) / "data" / f"{name}-s{seed}")
                    for kind, item, key, identity in pending:
                        if kind == "arm" and stop_ray is None:
                            stop_ray = _start_ray(setup.cpus)
                        base = {
                            "task": name,
                            "family": task.family,
                            "seed": seed,
                            "kind": kind,
                            "name": item.name,
                            "metric": task.metric,
                            "identity": identity,
                            "n_train": data.n_train,
                            "n_fresh": data.n_fresh,
                            "commit": commit,
                            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        }
                        body = _run_one(setup, kind, item, task, seed, data, work, keep_studies is not None)
                        records.put({**base, **body, "load_average": round(os.getloadavg()[0], 2)})
                        ran += 1
                        progress(
                            prefix,
                            f"{planned.index(key) + 1}/{len(planned)} {name} seed {seed} {item.name}: "
                            f"{_shown(records.records[-1])} | {ran} run here, "
                            f"{(time.perf_counter() - started) / 60:.0f} min",
                        )
    finally:
        if stop_ray is not None:
            stop_ray()


# ---- options shared by benchmarks.quality and benchmarks.honesty ------------------------------------
def _tasks(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_TASKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(ALL_TASKS)}"
        )
    return names


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s.strip())


def _peers(text: str) -> tuple[str, ...]:
    if text.strip() == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}"
        )
    return names


def _arms(text: str) -> tuple[Arm, ...]:
    try:
        return tuple(parse_arm(n.strip()) for n in text.split(",") if n.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _arm(text: str) -> Arm:
    try:
        return parse_arm(text)
    except Exception as exc:  # a StudyConfig rule's message, or a bad key=value
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(text: str) -> float:
    from automl.config import parse_duration

    return parse_duration(text)


def parser(prog: str, doc: str, peers_help: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="the smoke run: one tiny table, one seed, short studies"
    )
    p.add_argument(
        "--tasks",
        type=_tasks,
        help=f"comma-separated, from {', '.join(ALL_TASKS)} (default: all but iris_tiny)",
    )
    p.add_argument("--seeds", type=_seeds, help="comma-separated seeds (default 0,1,2)")
    p.add_argument(
        "--budget", type=_duration, help="the budget-bound study's budget: seconds or 5m (default 300 s)"
    )
    p.add_argument(
        "--budget-trials", type=int, help=f"the budget-bound study's trial cap (default {DEFAULT_TRIALS})"
    )
    p.add_argument(
        "--arms",
        type=_arms,
        help=f"comma-separated, from {', '.join(ARMS)} (default {','.join(DEFAULT_ARMS)})",
    )
    p.add_argument(
        "--arm",
        type=_arm,
        action="append",
        default=[],
        metavar="NAME:key=value,...",
        help="one more arm: the budget-bound study with trials=, budget=, space=FILE.yaml or a StudyConfig field",
    )
    p.add_argument("--peers", type=_peers, help=peers_help)
    p.add_argument("--flaml-budget", type=_duration, help="FLAML's budget (default: --budget)")
    p.add_argument("--cpus", type=int, help="CPUs for Ray and for each peer (default 2)")
    p.add_argument(
        "--out", type=Path, help="results folder (default benchmarks/results; --quick: a temporary one)"
    )
    p.add_argument(
        "--restart", action="store_true", help=f"ignore the records already in --out/{RECORDS_FILE}"
    )
    p.add_argument("--keep-studies", type=Path, help="keep every study (and its model) under this folder")
    p.add_argument("--render", action="store_true", help="only write the report again from the records file")
    return p


def setup_from(args: argparse.Namespace, default_peers: tuple[str, ...] | None = None) -> Setup:
    setup = QUICK if args.quick else DEFAULT
    if default_peers is not None:
        setup = replace(setup, peers=default_peers)
    changes: dict[str, Any] = {}
    for option, name in (
        ("tasks", "tasks"),
        ("seeds", "seeds"),
        ("peers", "peers"),
        ("arms", "arms"),
        ("budget", "budget_s"),
        ("budget_trials", "trials"),
        ("flaml_budget", "flaml_budget_s"),
        ("cpus", "cpus"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[name] = value
    setup = replace(setup, **changes)
    if args.arm:
        setup = replace(setup, arms=setup.arms + tuple(args.arm))
    names = [a.name for a in setup.arms]
    if len(set(names)) != len(names):
        raise SystemExit(f"error: two arms share a name: {', '.join(names)}")
    return setup
