"""Speed of the fold-batched engine against one NetworkFit per fold, on the tables a trial sees.

    python -m benchmarks.batched [--quick] [--repeats N] [--epochs N]

Per trial-equivalent: all 5 x 2 inner folds of a 100- or 200-row subset of sklearn's breast_cancer
table (scaled on each fold's training part), trained for a fixed number of epochs, with what run_trial
does after every epoch: the outputs on the real training rows and on the validation rows, the metric
on both, the validation loss and the early-stopping bookkeeping (best checkpoint per fold; patience
larger than the epochs, so both sides train every epoch).

  (a) loop:    one NetworkFit per fold, lockstep epochs, one EarlyStopping per fold (today's run_trial)
  (b) batched: one BatchedFit for all folds, outputs once per epoch, `keep` checkpoints improved folds

Also: one training step (forward, loss, backward) of the stacked network written with batched matmuls
(what BatchedFit does) against torch.func's stack_module_state + vmap + functional_call.

Torch uses one thread (as a trial does). The machine is shared and noisy: medians over repeats, (a)
and (b) interleaved within each repeat.
The full run writes results/batched.{json,md} and then RESULTS.md (benchmarks/report.py); --quick only prints.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from automl.metrics import get_metric
from automl.models import build_model
from automl.train.batched import BatchedFit, FoldArrays
from automl.train.loop import EarlyStopping, NetworkFit, validation_loss
from benchmarks.report import RESULTS_DIR, machine, machine_line, write_results

HEADING = "## Fold-batched training engine"
CONFIGS = {
    "depth 0": {"depth": 0},
    "depth 2 (width 64)": {"depth": 2, "width": 64},
    "depth 2, full batch": {"depth": 2, "width": 64, "batch_size": 1024},
}


def make_folds(n_rows: int, seed: int = 0) -> list[FoldArrays]:
    """A stratified `n_rows` subset of breast_cancer, 5-fold x 2 repeats, scaled per fold."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=n_rows, stratify=y, random_state=seed)
    folds = []
    for train, val in RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=seed).split(X, y):
        scaler = StandardScaler().fit(X[train])
        X_train, X_val = (
            scaler.transform(X[train]).astype(np.float32),
            scaler.transform(X[val]).astype(np.float32),
        )
        folds.append(FoldArrays(X_train, y[train], X_train, y[train], X_val, y[val]))
    return folds


def loop_trial(params: dict, folds: list[FoldArrays], epochs: int, seed: int = 0) -> float:
    """Today's run_trial inner loop; returns the mean best validation score."""
    metric = get_metric("accuracy")
    fits = [
        NetworkFit(params, f.X_fit, f.y_fit, task="classification", n_classes=2, seed=seed * 1000 + i)
        for i, f in enumerate(folds)
    ]
    stops = [EarlyStopping(patience=epochs + 1) for _ in folds]
    for _ in range(epochs):
        for fold, fit, stop in zip(folds, fits, stops, strict=True):
            fit.epoch()
            out_train, out_val = fit.output(fold.X_train), fit.output(fold.X_val)
            scores = (metric(fold.y_train, out_train, 2), metric(fold.y_val, out_val, 2))
            stop.update(fit, validation_loss(out_val, fold.y_val, "classification", fit.scale), scores)
    return float(np.mean([s.best_scores[1] for s in stops]))


def batched_trial(params: dict, folds: list[FoldArrays], epochs: int, seed: int = 0) -> float:
    """The same trial with BatchedFit; returns the mean best validation score."""
    metric = get_metric("accuracy")
    fit = BatchedFit(
        params, folds, task="classification", n_classes=2, seeds=[seed * 1000 + i for i in range(len(folds))]
    )
    best_loss = np.full(len(folds), np.inf)
    best_scores: list[tuple[float, float] | None] = [None] * len(folds)
    active = np.ones(len(folds), bool)
    for _ in range(epochs):
        fit.epoch(active)
        out_train, out_val = fit.outputs()
        losses = fit.val_losses(out_val)
        improved = losses < best_loss - 1e-7
        fit.keep(improved)  # the best checkpoint of every improved fold, in one copy
        for f in np.flatnonzero(improved):
            best_loss[f] = losses[f]
            fold = folds[f]
            best_scores[f] = (metric(fold.y_train, out_train[f], 2), metric(fold.y_val, out_val[f], 2))
    return float(np.mean([s[1] for s in best_scores if s is not None]))


def paired_medians(
    runs: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds of each run, the runs interleaved within every repeat so both see the same load."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}, results


def step_comparison(repeats: int, n_folds: int = 10, batch: int = 32, n_inputs: int = 30) -> dict[str, float]:
    """Median ms of one forward + loss + backward over all folds: batched matmuls against vmap."""
    from torch.func import functional_call, stack_module_state, vmap

    params = {"depth": 2, "width": 64}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch * 4, n_inputs)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    folds = [FoldArrays(X, y, X, y, X[:8], y[:8]) for _ in range(n_folds)]
    fit = BatchedFit(params, folds, task="classification", n_classes=2, seeds=list(range(n_folds)))
    xb = torch.as_tensor(np.stack([X[:batch]] * n_folds))
    yb = torch.as_tensor(np.stack([y[:batch]] * n_folds))
    rows = torch.ones(n_folds, batch)
    stepping = torch.ones(n_folds, dtype=torch.bool)

    def engine_step() -> None:
        loss = fit._loss(fit._forward(xb, rows, stepping), yb, rows)
        torch.autograd.grad(loss, fit._tensors)

    models = [build_model("mlp", n_inputs, 2, params) for _ in range(n_folds)]
    stacked, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def one(p: dict, b: dict, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(functional_call(base, (p, b), (x,)), target)

    batched_loss = vmap(one)

    def vmap_step() -> None:
        torch.autograd.grad(batched_loss(stacked, buffers, xb, yb).sum(), list(stacked.values()))

    out = {}
    for name, step in (("batched matmuls", engine_step), ("vmap + functional_call", vmap_step)):
        for _ in range(20):
            step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(50):
                step()
            times.append((time.perf_counter() - start) / 50 * 1e3)
        out[name] = float(np.median(times))
    return out


def run(quick: bool, repeats: int, epochs: int) -> dict[str, Any]:
    rows_list = (100,) if quick else (100, 200)
    configs = dict(list(CONFIGS.items())[:2]) if quick else CONFIGS
    cases = []
    for n_rows in rows_list:
        folds = make_folds(n_rows)
        for name, params in configs.items():
            loop_trial(params, folds, 2)  # warm-up: the first calls of each op
            batched_trial(params, folds, 2)
            seconds, scores = paired_medians(
                {
                    "loop": lambda p=params, f=folds: loop_trial(p, f, epochs),
                    "batched": lambda p=params, f=folds: batched_trial(p, f, epochs),
                },
                repeats,
            )
            (t_loop, t_batched), (score_loop, score_batched) = seconds.values(), scores.values()
            case = {
                "rows": n_rows,
                "config": name,
                "loop_s": t_loop,
                "batched_s": t_batched,
                "speedup": t_loop / t_batched,
                "val_accuracy_loop": score_loop,
                "val_accuracy_batched": score_batched,
            }
            cases.append(case)
            print(
                f"{n_rows:4d} rows  {name:22s} loop {t_loop:6.2f} s  batched {t_batched:6.3f} s  "
                f"x{case['speedup']:5.1f}  val acc {score_loop:.3f} / {score_batched:.3f}",
                flush=True,
            )
    step = step_comparison(repeats)
    print("one step, 10 folds x 32 rows, depth 2:", ", ".join(f"{k} {v:.2f} ms" for k, v in step.items()))
    return {"epochs": epochs, "repeats": repeats, "folds": 10, "cases": cases, "step_ms": step}


def section(results: dict[str, Any], command: str) -> str:
    lines = [
        HEADING,
        "",
        f"`{command}` (torch threads 1; medians over {results['repeats']} repeats)",
        "",
        machine_line(results["machine"])
        + " Load average (1 min) {} -> {} on the shared cores.".format(*results["load_average"]),
        "",
        f"One trial-equivalent: 5 x 2 folds of a breast_cancer subset, {results['epochs']} epochs, outputs,",
        "accuracy on train and validation rows, validation loss and best-checkpoint bookkeeping every epoch.",
        "(a) one NetworkFit per fold in lockstep (today's run_trial); (b) one BatchedFit for all folds.",
        "",
        "| rows | network | (a) loop (s) | (b) batched (s) | (a) / (b) | val accuracy (a) | (b) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in results["cases"]:
        lines.append(
            f"| {c['rows']} | {c['config']} | {c['loop_s']:.2f} | {c['batched_s']:.3f} | {c['speedup']:.1f}x "
            f"| {c['val_accuracy_loop']:.3f} | {c['val_accuracy_batched']:.3f} |"
        )
    step = results["step_ms"]
    lines += [
        "",
        "One training step (forward, loss, backward) of 10 stacked depth-2 networks on 32 rows each: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in step.items())
        + ". BatchedFit uses batched matmuls (torch.baddbmm), the faster here, and the one where per-fold "
        "masks, batch-norm statistics over a fold's real rows and the masked AdamW step are plain tensor ops.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Write results/batched.md, then RESULTS.md from every section (benchmarks/report.py)."""
    (RESULTS_DIR / "batched.md").write_text(text)
    write_results()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 rows, 10 epochs, 1 repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)
    repeats, epochs = (1, 10) if args.quick else (args.repeats, args.epochs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    try:
        results = run(args.quick, repeats, epochs)
    finally:
        torch.set_num_threads(threads)
    results["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    results["machine"] = machine()
    if not args.quick:
        command = " ".join(["python -m benchmarks.batched", *(sys.argv[1:] if argv is None else argv)])
        text = section(results, command)
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / "batched.json").write_text(json.dumps(results, indent=2))
        write_section(text)
    return results


if __name__ == "__main__":
    main()
