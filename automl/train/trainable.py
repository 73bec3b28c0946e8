"""The Ray Tune trainable: one configuration, trained on every inner fold in lockstep.

In each fold the preprocessor and the synthesizer are fitted on the fold's training part only;
the train metric is measured on the real training rows (never the synthetic ones). The folds of a
registered network family train as one batched network (train/batched.py); others (image
fine-tuning) fold by fold (train/engines.py). The search is steered by the trial's out-of-fold
signal (`objective`: the log loss for classification, the study's metric for regression, of each
fold's predictions at the other folds' mean best epoch). The trial also reports, over folds, the mean
and std of the validation and train scores of each fold's best epoch so far and the gap = train -
validation (larger is better, so a positive gap is overfitting): to Tune every few seconds (with the
curve so far) and at its end,
with every epoch's curve and the out-of-fold predictions of every row (a checkpoint file). It stops
itself at a successive-halving rung where it falls below the cutoff its proposal carried
(search/scheduler.py), so a short trial makes one round trip to the driver, not one per rung.
A table's folds are encoded once per study (train/table_folds.py).
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from automl.data.preprocess import Preprocessor
from automl.metrics import get_metric
from automl.models.families import family_of, owned_params
from automl.synth.base import setting_names
from automl.synth.pool import fit_and_sample
from automl.synth.registry import synthesizer_class
from automl.train.engines import engine_for, oof_signal, out_of_fold, out_of_fold_epochs
from automl.train.report import RUNG_CUTOFFS, RUNG_OBJECTIVES, TrialReport
from automl.train.table_folds import NO_SYNTHESIS, table_fold_setup

FINAL_FILE = "final.json"  # beside it: the trial's last reported metrics, for a resumed study
PAYLOAD_FILE = "trial.npz"  # in the trial's final checkpoint: out-of-fold predictions and curves (no pickle)
# In a report before the last and in the last of a trial stopped at a rung, as JSON text (a string,
# which Tune's loggers store as is): the curve so far. A checkpoint there instead would let a resumed
# study restore the trial from it and run it twice.
CURVE_SO_FAR = "curve_so_far"


@dataclass
class SearchData:
    """What every trial needs, put in the object store once per study (never the test rows)."""

    features: pd.DataFrame  # coerced feature frame of the search rows
    y: np.ndarray
    schema: dict[str, str]
    task: str
    n_classes: int
    folds: list[tuple[np.ndarray, np.ndarray]]
    metric: str
    max_epochs: int
    seed: int
    shared_pool: Any = None  # SharedPool actor handle, or None to fit in the trial
    extra: dict = field(default_factory=dict)
    modality: str = "tabular"
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # names this study's rows in caches
    # (fold, scaler): the fold's preprocessor and encoded rows, made once for the study (`encode_folds`)
    encoded: dict[tuple[int, str], tuple[Preprocessor, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def setup_fold(self, fold_index: int, config: dict[str, Any], device: str) -> dict[str, Any]:
        return table_fold_setup(self, fold_index, config, device)

    def with_folds(self, folds: list[tuple[np.ndarray, np.ndarray]]) -> SearchData:
        """The same rows on other folds (the fresh folds of the re-evaluation), with nothing made for the
        old ones: no encoded folds, no shared pool, a new token for the caches."""
        return replace(self, folds=folds, encoded={}, shared_pool=None, token=uuid.uuid4().hex)

    linear_description = "standardized, one-hot encoded features"

    def effective_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The sampled configuration without the settings that had no effect: the other families'
        (models/families.py), the scaler for trees and the patience of a convex fit, the hidden layers'
        at depth 0, and a synthesizer's when there is none (or when it does not take them)."""
        out = dict(config)
        if "family" in out:
            family = family_of(out)
            owners = owned_params()
            for key in [k for k in out if owners.get(k, family.name) != family.name]:
                out.pop(key)
            if not family.scaled:
                out.pop("scaler", None)
            if not family.stops_early:
                out.pop("patience", None)
        if int(out.get("depth", 0)) == 0:
            for key in ("width", "activation", "batch_norm", "dropout"):
                out.pop(key, None)
        method = out.get("synth_method", NO_SYNTHESIS)
        accepted = set() if method == NO_SYNTHESIS else setting_names(synthesizer_class(method))
        for key in [k for k in out if k.startswith("synth_") and k not in ("synth_method", "synth_ratio")]:
            if key[len("synth_") :] not in accepted:
                out.pop(key)
        if method == NO_SYNTHESIS:
            out.pop("synth_ratio", None)
        return out

    def rows(self, index: np.ndarray) -> pd.DataFrame:
        """Raw search rows, as a linear baseline's encoder takes them."""
        return self.features.iloc[index]

    def linear_encoder(self, train_rows: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
        """Standardize and one-hot encode, fitted on `train_rows` only (for the linear baseline)."""
        pre = Preprocessor(self.schema, "standard")
        pre.fit_transform(self.features.iloc[train_rows])
        return pre.transform

    def fit_fold_synthesizer(
        self, fold_index: int, method: str, settings: dict, max_ratio: float, seed: int
    ) -> tuple[pd.DataFrame, np.ndarray, float]:
        """For the shared pool: fit on the fold's training rows only, sample `max_ratio` of their count."""
        train_rows = self.folds[fold_index][0]
        frame = self.features.iloc[train_rows].reset_index(drop=True)
        n_rows = int(np.ceil(max_ratio * len(train_rows)))
        return fit_and_sample(
            method, settings, frame, self.y[train_rows], task=self.task, n_rows=n_rows, seed=seed
        )


REPORT_SECONDS = 2.0  # a slow trial (images) still reports this often, so a budget cut leaves it a score


def should_report(finished: bool, seconds_since: float = 0.0) -> bool:
    """Tune hears from a trial at its end and at least every REPORT_SECONDS (a slow trial's live
    progress); the curves of every epoch travel once, in the final payload. A report is a round trip
    to the driver (about 5 ms): on a table, where a whole trial can take 30 ms, a report at every rung
    was most of its fixed cost, so the rung decisions are taken in the trial (search/scheduler.py)."""
    return finished or seconds_since >= REPORT_SECONDS


def run_trial(
    config: dict[str, Any],
    data: Any,
    report: Callable[[dict[str, Any]], None],
    device: str = "cpu",
    fold_setup: Callable[..., dict[str, Any]] | None = None,
    cutoffs: Mapping[str, float] | None = None,
) -> None:
    """Train `config` on every fold, reporting fold-averaged metrics as the epochs go.

    `data.setup_fold(fold_index, config, device)` gives each fold's fit, early stopping and rows
    (`fold_setup(data, fold_index, config, device)` replaces it, for benchmarks). A fold's optional
    `n_params` and `extra` (numbers averaged over folds into the report) add to what is reported.
    The trial's `objective` (what the searcher and the successive halving compare) is the out-of-fold
    signal (train/engines.py `oof_signal`: each fold's validation outputs at the mean best epoch of
    the other folds, scored by the log loss for classification, the study's metric for regression),
    never a score at an epoch a fold chose on its own validation rows.
    The last report (`done`) carries `payload`: the out-of-fold predictions and every epoch's curve;
    the others carry the curve so far. At each rung (`data.extra["rungs"]`) the trial records its
    objective and stops, as ASHA would, where it is below `cutoffs[str(rung)]` (then its last report
    has the curve so far and no payload, like any trial stopped early).
    `data.extra["trial_cap_s"]` (set from the study's budget) ends a trial whose training outlasts
    it after the epoch in progress, as if every fold had stopped early there (`time_capped` in its
    report); shared synthesizer fits and features have their own cap (synth/pool.py)."""
    metric = get_metric(data.metric)
    start = time.perf_counter()
    folds = [
        fold_setup(data, i, config, device) if fold_setup else data.setup_fold(i, config, device)
        for i in range(len(data.folds))
    ]
    engine = engine_for(folds, data, device)
    max_epochs = min(data.max_epochs, int(folds[0].get("max_epochs") or data.max_epochs))  # a convex fit: 1
    setup_seconds = time.perf_counter() - start
    extra = {key: float(np.mean([f["extra"][key] for f in folds])) for key in folds[0].get("extra", {})}
    rungs = frozenset(data.extra.get("rungs", ()))
    cutoffs = {int(epoch): float(value) for epoch, value in (cutoffs or {}).items()}
    rung_objectives: list[float] = []
    sign = metric.sign()
    val_outputs: list[list[np.ndarray]] = [[] for _ in folds]
    y_val = [fold["y_val"] for fold in folds]
    last_report = time.perf_counter()
    curves: dict[str, list[float]] = {
        k: [] for k in ("epoch", "curve_train", "curve_val", "train_score", "val_score", "gap")
    }
    cap_s = data.extra.get("trial_cap_s")
    cap_s = np.inf if cap_s is None else float(cap_s)
    trained_from = time.perf_counter()  # the cap counts training only: shared fits have their own

    def signal() -> tuple[float, float, float]:
        best_epochs = [fold["stop"].best_epoch for fold in folds]
        return oof_signal(val_outputs, y_val, best_epochs, metric, data.n_classes)

    for epoch in range(1, max_epochs + 1):
        current = []
        stepped = engine.step(np.array([not fold["stop"].stopped for fold in folds]))
        for index, fold in enumerate(folds):
            stop = fold["stop"]
            if index not in stepped:
                current.append(stop.best_scores)
                continue
            out_train, out_val, val_loss, epochs_done = stepped[index]
            val_outputs[index].append(np.asarray(out_val, dtype=np.float32))
            scores = (
                metric(fold["y_train"], out_train, data.n_classes),
                metric(fold["y_val"], out_val, data.n_classes),
            )
            stop.observe(epochs_done, val_loss, scores)
            current.append(scores)
        best = np.array([fold["stop"].best_scores for fold in folds])  # (folds, [train, val])
        gaps = sign * (best[:, 0] - best[:, 1])
        capped = time.perf_counter() - trained_from >= cap_s  # the study's per-trial share of its budget
        completed = all(fold["stop"].stopped for fold in folds) or epoch == max_epochs
        steered = signal() if epoch in rungs else None
        if steered is not None:
            rung_objectives.append(steered[0])
        halted = (  # successive halving
            steered is not None and not (completed or capped) and steered[0] < cutoffs.get(epoch, -np.inf)
        )
        finished = completed or capped or halted
        row = {
            "epoch": epoch,
            "curve_train": float(np.mean([c[0] for c in current])),
            "curve_val": float(np.mean([c[1] for c in current])),
            "train_score": float(best[:, 0].mean()),
            "val_score": float(best[:, 1].mean()),
            "gap": float(gaps.mean()),
        }
        for key, value in row.items():
            curves[key].append(value)
        if not should_report(finished, time.perf_counter() - last_report):
            continue
        last_report = time.perf_counter()
        objective, objective_std, oof_score = steered or signal()
        metrics: dict[str, Any] = {
            **row,
            "val_score_std": float(best[:, 1].std(ddof=1)) if len(folds) > 1 else 0.0,
            "gap_std": float(gaps.std(ddof=1)) if len(folds) > 1 else 0.0,
            "objective": objective,
            "objective_std": objective_std,
            "oof_score": oof_score,
            "best_epoch_mean": float(np.mean([fold["stop"].best_epoch for fold in folds])),
            "folds_active": int(sum(not fold["stop"].stopped for fold in folds)),
            "n_folds": len(folds),
            "n_params": engine.n_params,
            "n_synthetic_mean": float(np.mean([fold["n_synthetic"] for fold in folds])),
            "synth_seconds": float(sum(fold["synth_seconds"] for fold in folds)),
            "setup_seconds": setup_seconds,
            "done_early": all(fold["stop"].stopped for fold in folds),
            "time_capped": bool(capped and not all(fold["stop"].stopped for fold in folds)),
            "max_epochs": max_epochs,
            RUNG_OBJECTIVES: list(rung_objectives),
            "done": finished,  # Tune stops a trial on its `done` report, without another round trip
            **extra,
        }
        metrics = TrialReport.checked(metrics)  # the contract its readers rely on (train/report.py)
        if finished and not halted:
            best_epochs = [fold["stop"].best_epoch for fold in folds]
            oof_epochs = out_of_fold_epochs(best_epochs, [len(v) for v in val_outputs])
            metrics["payload"] = {
                "oof": out_of_fold(val_outputs, data.folds, oof_epochs, len(data.y), data.n_classes),
                "oof_epochs": np.asarray(oof_epochs, dtype=np.int32),
                **{
                    f"curve_{k}" if not k.startswith("curve_") else k: np.asarray(v)
                    for k, v in curves.items()
                },
            }
        else:  # the last report if Tune stops the trial here (the study's deadline) or it halted
            metrics[CURVE_SO_FAR] = json.dumps({k: [float(x) for x in v] for k, v in curves.items()})
        report(metrics)
        if finished:
            break


def tune_trainable(config: dict[str, Any], data: SearchData) -> None:
    """Entry point for Ray Tune (wrapped with `tune.with_parameters` so `data` is shipped once)."""
    import ray
    from ray import tune

    started_at = time.time()  # with time_total_s: when the trial ran (benchmarks/lean.py's timeline)
    torch.set_num_threads(max(1, int(data.extra.get("cpus_per_trial", 1))))
    node_id = ray.get_runtime_context().get_node_id()
    device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"

    finished = tune.get_checkpoint()  # a resumed study: this trial had finished before the driver died
    if finished is not None:
        with finished.as_directory() as folder:
            final = Path(folder) / FINAL_FILE
            if final.exists():  # report its last result again instead of training it again
                tune.report(json.loads(final.read_text()), checkpoint=finished)
                return

    config = dict(config)
    cutoffs = config.pop(RUNG_CUTOFFS, None)  # set at the proposal (search/ordered.py), not a setting

    def report(metrics: dict[str, Any]) -> None:
        payload = metrics.pop("payload", None)
        metrics = {**metrics, "node_id": node_id, "device": device, "started_at": started_at}
        if payload is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:  # the trial's out-of-fold predictions and curves
            np.savez(Path(folder) / PAYLOAD_FILE, **payload)
            (Path(folder) / FINAL_FILE).write_text(json.dumps(metrics, default=float))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    run_trial(config, data, report, device, cutoffs=cutoffs)
