"""One study as a user runs it, and its record: `run_study(StudyConfig(...))`, then `automl predict` with the
exported model on the fresh sample, scored here.

Only the public surface is read, so that the benchmark keeps measuring whatever tree is on PYTHONPATH when
the export format changes: the study's `estimate` (value, 95% interval), its manifest's trial counts,
duration and timings (each read with a default), and the predictions file `automl predict` writes.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.arms import ArmRun
from benchmarks.scoring import from_predictions, points, score
from benchmarks.tasks import Task, TaskData

LOG_TAIL = 30  # lines of a failed study's log kept in its record


def _estimate(study) -> dict[str, Any]:
    keys = ("value", "ci_low", "ci_high", "protocol", "n_rows", "chance_level")
    return {k: study.estimate[k] for k in keys if k in study.estimate}


def _trials(manifest: dict[str, Any]) -> dict[str, int]:
    counts = manifest.get("trials") or {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int | float)}


def predict_fresh(study_id: str, storage: str, data: TaskData, folder: Path) -> Path:
    """`automl predict STUDY FRESH -o predictions.csv --storage S`, in this process (its Ray unused)."""
    from automl.cli import main

    out = folder / f"{study_id}-predictions.csv"
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        code = main(["predict", study_id, str(data.fresh), "-o", str(out), "--storage", storage])
    if code != 0 or not out.is_file():
        raise RuntimeError(f"automl predict exited {code}: {said.getvalue().strip()[-500:]}")
    return out


def _fresh_labels(predictions: Path, data: TaskData):
    """The fresh sample's labels in the order of the predictions: a table's rows come back in order; an
    image's class is the folder its `path` names."""
    if data.target is not None:
        return data.y_fresh
    import numpy as np
    import pandas as pd

    labels = np.array([Path(p).parent.name for p in pd.read_csv(predictions)["path"]])
    if sorted(labels) != sorted(data.y_fresh):
        raise RuntimeError("automl predict did not return one prediction per fresh image")
    return labels


def run_arm(
    task: Task, seed: int, arm: ArmRun, data: TaskData, work: Path, keep: bool = False
) -> dict[str, Any]:
    """The record of one arm's study on one task and seed (raises on failure; the caller records it)."""
    from automl.config import ImageOptions, StudyConfig
    from automl.study import run_study

    storage = str(work / "studies")
    config = StudyConfig(
        data=str(data.train),
        target=data.target,
        metric=task.metric,
        trials=arm.trials,
        budget_s=arm.budget_s,
        seed=seed,
        space=arm.space,
        storage=storage,
        images=ImageOptions(allow_hub=False),  # `--no-hub`: pretrained weights come from packages here
        **arm.settings,
    )
    lines: list[str] = []
    start = time.perf_counter()
    try:
        study = run_study(config, log=lines.append)
    except Exception as exc:
        raise RuntimeError(f"{exc!r}; log tail: {' | '.join(lines[-LOG_TAIL:])}") from exc
    wall = time.perf_counter() - start
    started = time.perf_counter()
    predictions = predict_fresh(study.study_id, storage, data, work)
    output = from_predictions(predictions, task.task)
    predict_s = time.perf_counter() - started
    truth = score(task.metric, _fresh_labels(predictions, data), output)
    manifest = study.manifest
    estimate = _estimate(study)
    record = {
        "trials": _trials(manifest).get("total", 0),
        "trial_counts": _trials(manifest),
        "true": truth["true"],
        **({"true_log_loss": truth["log_loss"]} if "log_loss" in truth else {}),
        "estimate": estimate,
        "covered": bool(estimate["ci_low"] <= truth["true"] <= estimate["ci_high"]),
        "error_points": abs(points(task.metric, estimate["value"], truth["true"])),
        "optimism_points": points(task.metric, estimate["value"], truth["true"]),
        "wall_s": wall,
        "duration_s": float(manifest.get("duration_s", wall)),
        "predict_s": predict_s,
        "timings": {k: v for k, v in (manifest.get("timings") or {}).items() if isinstance(v, int | float)},
        "chosen": (manifest.get("best") or {}).get("config"),
        "selection": {k: v for k, v in (manifest.get("selection") or {}).items() if k in ("rule", "reason")},
        "model_kind": (manifest.get("model") or {}).get("kind"),
        "study_log_tail": lines[-12:],
    }
    if not keep:
        shutil.rmtree(Path(storage) / study.study_id, ignore_errors=True)
        predictions.unlink(missing_ok=True)
    return record


PEER_TIMEOUT_S = 1800.0  # a peer still running after this (plus FLAML's budget) is recorded as failed


def _peer_child(
    conn, task: Task, seed: int, peer_name: str, data: TaskData, budget_s: float, cpus: int
) -> None:
    import os
    import warnings

    # The libraries' deprecation notes, here and in the worker processes a peer starts (FLAML's joblib).
    os.environ["PYTHONWARNINGS"] = "ignore"
    warnings.simplefilter("ignore")
    try:
        conn.send(_run_peer(task, seed, peer_name, data, budget_s=budget_s, cpus=cpus))
    except Exception as exc:
        conn.send({"error": repr(exc)[:2000]})
    conn.close()


def run_peer(
    task: Task, seed: int, peer_name: str, data: TaskData, *, budget_s: float, cpus: int
) -> dict[str, Any]:
    """The record of one peer on one task and seed, run in a process of its own, as a user's script would
    run it: libraries that share this process (torch, Ray, OpenMP pools) cannot slow it down or change it.
    (FLAML's CatBoost trials ran 100x slower after pytabkit had trained in the same process.)"""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_peer_child, args=(send, task, seed, peer_name, data, budget_s, cpus))
    start = time.perf_counter()
    child.start()
    send.close()
    timeout = PEER_TIMEOUT_S + budget_s
    record = receive.recv() if receive.poll(timeout) else {"error": f"still running after {timeout:.0f} s"}
    child.join(timeout=10)
    if child.is_alive():
        child.kill()
        child.join()
    record.setdefault("wall_s", time.perf_counter() - start)
    return record


def _run_peer(
    task: Task, seed: int, peer_name: str, data: TaskData, *, budget_s: float, cpus: int
) -> dict[str, Any]:
    """The record of one peer on one task and seed: trained on the training rows, scored on the fresh ones."""
    import numpy as np
    import pandas as pd

    from benchmarks.peers import PEERS, TableFit
    from benchmarks.tasks import read_images

    peer = PEERS[peer_name]
    start = time.perf_counter()
    if task.family == "image":
        train, y, _ = read_images(data.train)
        fresh, y_fresh, _ = read_images(data.fresh)
        if not np.array_equal(y_fresh, data.y_fresh):
            raise RuntimeError("the fresh images were read back in another order")
        output = peer.fit(train, y, fresh, seed=seed)
    else:
        train, fresh = pd.read_csv(data.train), pd.read_csv(data.fresh)
        fit = TableFit(
            train=train.drop(columns=[data.target]),
            y=data.y_train,
            fresh=fresh.drop(columns=[data.target]),
            task=task.task,
            metric=task.metric,
            budget_s=budget_s,
            seed=seed,
            cpus=cpus,
        )
        output = peer.fit(fit)
    truth = score(task.metric, data.y_fresh, output)
    return {
        "true": truth["true"],
        **({"true_log_loss": truth["log_loss"]} if "log_loss" in truth else {}),
        "wall_s": time.perf_counter() - start,
    }
