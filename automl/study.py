"""One study, end to end: validate -> hold out the test set -> search -> select -> refit -> test -> export.

`run_study` writes everything to the store as it goes; a study that crashes ends with status
"failed" and its error in the manifest, and nothing stored before is removed.
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.artifact import TabularModel
from automl.config import StudyConfig
from automl.data.splits import make_splits
from automl.data.tabular import TabularDataset, coerce_features, load_table
from automl.errors import StoreError
from automl.metrics import Metric, default_metric, get_metric
from automl.report import chance_level, scored, test_report
from automl.search.selection import TrialSummary, select
from automl.search.space import SearchSpace
from automl.store import Store
from automl.train.final import PLAIN_EPOCHS, PLAIN_NETWORK, fit_final, majority_output
from automl.train.trainable import SearchData

MB = 1024 * 1024


@dataclass
class Study:
    """A stored study: its manifest, leaderboard, test report and exported model."""

    study_id: str
    store: Store
    manifest: dict[str, Any]
    _model: TabularModel | None = field(default=None, repr=False)

    @classmethod
    def load(cls, study_id: str, storage: str = "studies") -> Study:
        store = Store(storage)
        return cls(study_id, store, store.read_manifest(study_id))

    @property
    def status(self) -> str:
        return self.manifest.get("status", "unknown")

    def leaderboard(self) -> pd.DataFrame:
        """One row per trial, best validation score first; `chosen` marks the selected trial."""
        if not self.store.exists(self.study_id, "report/trials.parquet"):
            raise StoreError(f"Study {self.study_id!r} has no leaderboard yet (status: {self.status}).")
        return self.store.read_table(self.study_id, "report/trials.parquet")

    def curves(self) -> pd.DataFrame:
        return self.store.read_table(self.study_id, "report/curves.parquet")

    @property
    def test_report(self) -> dict[str, Any]:
        return self.manifest.get("test_report") or {}

    @property
    def best_model(self) -> TabularModel:
        if self._model is None:
            if self.status != "completed":
                raise StoreError(f"Study {self.study_id!r} has no model (status: {self.status}).")
            files = {
                name: self.store.read_bytes(self.study_id, f"model/{name}")
                for name in ("weights.safetensors", "model.json", "preprocessing.json")
            }
            self._model = TabularModel.from_files(files, f"model of study {self.study_id}")
        return self._model

    @property
    def model_uri(self) -> str:
        return f"{self.store.study_uri(self.study_id)}/model"


def _objective(metric: Metric, value: float) -> float:
    return metric.sign() * value


def _trial_status(metrics: dict[str, Any], error: Any) -> str:
    if error is not None or not metrics:
        return "failed"
    if metrics.get("done_early") or metrics.get("epoch", 0) >= metrics.get("max_epochs", np.inf):
        return "completed"
    return "stopped_early"


def collect_trials(grid, metric: Metric) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaderboard rows and per-epoch curves from a Ray Tune ResultGrid (trials named t01, t02 ...)."""
    rows, curves = [], []
    for index, result in enumerate(grid):
        name = f"t{index + 1:02d}"
        metrics = result.metrics or {}
        status = _trial_status(metrics, result.error)
        row = {
            "trial": name,
            "status": status,
            "val_score": metrics.get("val_score", np.nan),
            "val_std": metrics.get("val_score_std", np.nan),
            "train_score": metrics.get("train_score", np.nan),
            "gap": metrics.get("gap", np.nan),
            "n_folds": metrics.get("n_folds", 0),
            "n_params": metrics.get("n_params", 0),
            "epochs_run": metrics.get("epoch", 0),
            "best_epoch_mean": metrics.get("best_epoch_mean", np.nan),
            "n_synthetic_mean": metrics.get("n_synthetic_mean", 0.0),
            "synth_seconds": metrics.get("synth_seconds", 0.0),
            "seconds": metrics.get("time_total_s", np.nan),
            "error": None if result.error is None else str(result.error).strip().splitlines()[-1][:500],
        }
        row.update({f"param_{k}": v for k, v in (result.config or {}).items()})
        rows.append(row)
        frame = result.metrics_dataframe
        if frame is not None and len(frame):
            cols = [
                c
                for c in ("epoch", "curve_train", "curve_val", "train_score", "val_score", "gap")
                if c in frame
            ]
            curve = frame[cols].copy()
            curve.insert(0, "trial", name)
            curves.append(curve)
    board = pd.DataFrame(rows)
    board["objective"] = metric.sign() * board["val_score"]
    board = board.sort_values(["objective", "trial"], ascending=[False, True], na_position="last")
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["trial", "epoch"])
    return board.reset_index(drop=True), curve_frame


def _summaries(board: pd.DataFrame) -> list[TrialSummary]:
    params = [c for c in board.columns if c.startswith("param_")]
    return [
        TrialSummary(
            trial_id=row["trial"],
            objective=float(row["objective"]) if pd.notna(row["objective"]) else float("nan"),
            val_score=float(row["val_score"]),
            val_std=float(row["val_std"]) if pd.notna(row["val_std"]) else 0.0,
            n_folds=int(row["n_folds"]),
            gap=float(row["gap"]) if pd.notna(row["gap"]) else float("inf"),
            n_params=int(row["n_params"]),
            status=row["status"],
            config={c.removeprefix("param_"): row[c] for c in params},
        )
        for _, row in board.iterrows()
    ]


def _data_summary(dataset: TabularDataset) -> dict[str, Any]:
    return {
        "source": str(Path(dataset.source).resolve()),
        "fingerprint": dataset.fingerprint,
        "n_rows": dataset.n_rows,
        "n_features": dataset.n_features,
        "target": dataset.target_name,
        "task": dataset.task,
        "classes": dataset.classes,
        "class_counts": dataset.class_counts,
        "schema": dataset.schema,
        "notes": dataset.notes,
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def run_study(config: StudyConfig, log=print) -> Study:
    """Run one study and return it; raises AutoMLError for anything the user can fix."""
    config.validate()
    dataset = load_table(config.data, config.target, config.task, max_bytes=int(config.max_file_mb * MB))
    for note in dataset.notes:
        log(f"note: {note}")
    metric = get_metric(config.metric or default_metric(dataset.task, dataset.class_counts), dataset.task)
    space = SearchSpace.load(config.space, "tabular")
    splits = make_splits(
        dataset.y,
        dataset.task,
        test_size=config.test_size,
        n_folds=config.n_folds,
        n_repeats=config.n_repeats,
        seed=config.seed,
        classes=dataset.classes,
    )
    for note in splits.notes:
        log(f"note: {note}")

    store = Store(config.storage)
    study_id = config.name or store.new_study_id(Path(config.data).stem)
    if store.exists(study_id):
        raise StoreError(f"Study {study_id!r} already exists in {store.uri}. Choose another --name.")
    started = time.time()
    manifest: dict[str, Any] = {
        "study_id": study_id,
        "status": "running",
        "modality": "tabular",
        "created_at": started,
        "data": _data_summary(dataset),
        "config": config.to_dict(),
        "metric": {"name": metric.name, "greater_is_better": metric.greater_is_better},
        "splits": splits.to_dict(),
        "selection": {"rule": config.select},
        "error": None,
    }
    store.write_manifest(study_id, manifest)
    log(
        f"study {study_id}: {dataset.n_rows} rows, {dataset.n_features} features, {dataset.task}, "
        f"metric {metric.name}; {len(splits.test)} rows held out for the test report"
    )
    try:
        model = _search_and_report(config, dataset, metric, space, splits, store, study_id, manifest, log)
    except BaseException as exc:
        manifest.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-4000:],
            finished_at=time.time(),
            duration_s=time.time() - started,
        )
        store.write_manifest(study_id, manifest)
        raise
    return Study(study_id, store, manifest, _model=model)


def _search_and_report(
    config, dataset, metric, space, splits, store, study_id, manifest, log
) -> TabularModel:
    import ray

    from automl.search.tuner import ProgressLine, build_tuner, ensure_ray
    from automl.synth.pool import SynthesizerPool

    features = coerce_features(dataset.features, dataset.schema)
    search_features = features.iloc[splits.search].reset_index(drop=True)
    y_search = dataset.y[splits.search]
    n_classes = len(dataset.classes) if dataset.classes else 0
    fold_rows = min(len(train) for train, _ in splits.folds)
    sizes = {"n_rows": fold_rows, "n_features": dataset.n_features, "n_classes": n_classes}
    max_ratio = space.max_value("synth_ratio", 2.0)
    manifest["space"] = {"source": space.source, "parameters": space.resolved(dataset.task, sizes)}

    data = SearchData(
        features=search_features,
        y=y_search,
        schema=dataset.schema,
        task=dataset.task,
        n_classes=n_classes,
        folds=splits.folds,
        metric=metric.name,
        max_epochs=config.max_epochs,
        seed=config.seed,
        extra={"max_synth_ratio": max_ratio, "cpus_per_trial": config.resources.cpus_per_trial},
    )
    shutdown = ensure_ray()
    try:
        data.synth_pool = SynthesizerPool.remote([ray.put(data)], max_ratio)
        tuner = build_tuner(
            config,
            data,
            space.to_tune(dataset.task, sizes),
            space.start_points(dataset.task, sizes),
            store.tune_storage(study_id),
            callbacks=[ProgressLine(config.trials, config.budget_s, metric.name, metric.sign(), log)],
        )
        search_started = time.time()
        with contextlib.redirect_stdout(io.StringIO()):  # Tune's own banner; progress goes to `log`
            grid = tuner.fit()
        search_seconds = time.time() - search_started
        log(f"search finished: {len(grid)} trials in {search_seconds:.0f}s")
    finally:
        shutdown()

    board, curves = collect_trials(grid, metric)
    selection = select(_summaries(board), config.select)
    board["chosen"] = board["trial"] == selection.trial_id
    store.write_table(study_id, "report/trials.parquet", board)
    store.write_table(study_id, "report/curves.parquet", curves)
    chosen = board.loc[board["chosen"]].iloc[0]
    chosen_config = {k.removeprefix("param_"): _plain(v) for k, v in chosen.items() if k.startswith("param_")}
    log(f"chosen trial {selection.trial_id}: {selection.reason}")

    # Refit on every non-test row, then touch the test rows exactly once.
    epochs = max(1, int(round(chosen["best_epoch_mean"])))
    info = {"target": dataset.target_name, "metric": metric.name, "study_id": study_id}
    model, refit = fit_final(
        chosen_config,
        search_features,
        y_search,
        schema=dataset.schema,
        task=dataset.task,
        classes=dataset.classes,
        epochs=epochs,
        seed=config.seed,
        info=info,
    )
    test_features = features.iloc[splits.test].reset_index(drop=True)
    y_test = dataset.y[splits.test]
    report = test_report(
        metric,
        y_test,
        model.predict_output(test_features),
        task=dataset.task,
        classes=dataset.classes,
        seed=config.seed,
    )
    report["chance_level"] = chance_level(metric, y_search, n_classes)
    plain, _ = fit_final(
        PLAIN_NETWORK,
        search_features,
        y_search,
        schema=dataset.schema,
        task=dataset.task,
        classes=dataset.classes,
        epochs=PLAIN_EPOCHS,
        seed=config.seed,
        info=info,
    )
    baselines = [
        {
            "name": "majority" if dataset.task == "classification" else "mean",
            "description": "predicts the training class frequencies"
            if dataset.task == "classification"
            else "predicts the training mean",
            **scored(
                metric,
                y_test,
                majority_output(y_search, len(y_test), dataset.task, n_classes),
                n_classes,
                config.seed,
            ),
        },
        {
            "name": "plain_network",
            "description": "2x64 ReLU network, no dropout, L1/L2, synthetic data or early stopping, 100 epochs",
            **scored(metric, y_test, plain.predict_output(test_features), n_classes, config.seed),
        },
    ]
    for name, payload in model.files().items():
        store.write_bytes(study_id, f"model/{name}", payload)
    store.write_json(study_id, "report/test_report.json", {"model": report, "baselines": baselines})

    counts = board["status"].value_counts().to_dict()
    manifest.update(
        status="completed",
        finished_at=time.time(),
        duration_s=time.time() - manifest["created_at"],
        search_seconds=search_seconds,
        selection={
            "rule": selection.rule,
            "trial": selection.trial_id,
            "reason": selection.reason,
            "band_floor": selection.band_floor,
            "candidates": selection.candidates,
        },
        best={
            "trial": selection.trial_id,
            "config": chosen_config,
            "val_score": float(chosen["val_score"]),
            "val_std": float(chosen["val_std"]),
            "gap": float(chosen["gap"]),
            "n_params": int(chosen["n_params"]),
            "refit": refit,
        },
        trials={"total": len(board), **{k: int(v) for k, v in counts.items()}},
        test_report=report,
        baselines=baselines,
        model={"uri": f"{store.study_uri(study_id)}/model"},
    )
    store.write_manifest(study_id, manifest)
    return model
