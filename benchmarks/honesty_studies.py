"""The honesty benchmark's studies and their scoring: the sizes of a run, one study per task, seed and
protocol, and its record against the fresh sample.

Part of the honesty benchmark (`python -m benchmarks.honesty`, whose docstring describes the run): `Setup`
holds a run's sizes (the default or the tiny `--quick` one), `Run` runs each task and seed's studies and
scores them (`Run.score`: the estimate, the true score on the fresh sample and the linear model's), and
`rule_choices` scores what other selection rules would have chosen among a study's own trials (`--rules`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.honesty_report import PROTOCOLS
from benchmarks.quality_tasks import Task, draw_table, image_peers, write_fresh_images, write_task

GRACE_PERIOD = 5  # the study default, lowered to max_epochs when that is smaller
FRESH_IMAGES = 300  # at most this many fresh images per image task


@dataclass(frozen=True)
class Setup:
    """Sizes of one run; the defaults are the quality benchmark's (benchmarks/quality.py)."""

    tasks: tuple[str, ...]
    seeds: int
    budget_s: float
    image_budget_s: float
    trials: int
    image_trials: int
    max_epochs: int
    image_max_epochs: int
    image_size: int | None  # None: each backbone's own input size, as a study without a cap
    image_folds: int
    max_concurrent_trials: int = 2
    select: str | None = None  # the studies' selection rule (None: the default)
    protocols: tuple[str, ...] = tuple(PROTOCOLS)
    rules: tuple[str, ...] = ()  # rules re-choosing on each new-protocol study's trials (--rules)


DEFAULT = Setup(
    tasks=("penguins", "wine", "breast_cancer_imbalanced", "diabetes", "digits", "textures"),
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
    tasks=("iris_tiny",),
    seeds=1,
    budget_s=40,  # a ceiling on a loaded machine: the 2 trials end the study first
    image_budget_s=40,
    trials=2,
    image_trials=2,
    max_epochs=6,
    image_max_epochs=3,
    image_size=32,
    image_folds=2,
)


def progress(line: str) -> None:
    print(f"[honesty] {line}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    pass


@dataclass
class Fresh:
    """The fresh sample of one task and seed, as the exported model takes it."""

    inputs: Any  # coerced feature frame (tables) or uint8 images
    y: np.ndarray  # codes into the study's classes, or regression targets

    def __len__(self) -> int:
        return len(self.y)


def _fresh_table(frame: pd.DataFrame, target: str, model, study_classes: list[str] | None, folder: Path):
    """The fresh rows read back the way a study reads a table, coerced to the exported model's schema."""
    from automl.data.tabular import coerce_features, load_table

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fresh.csv"
    frame.to_csv(path, index=False)
    raw = pd.read_csv(path)
    raw = raw.loc[raw[target].notna()].reset_index(drop=True)
    inputs = coerce_features(raw, model.info["schema"])
    labels = load_table(path, target, model.info["task"])
    if study_classes is None:
        return Fresh(inputs, labels.y.astype(float))
    code = {label: i for i, label in enumerate(study_classes)}
    return Fresh(inputs, np.array([code[labels.classes[c]] for c in labels.y]))


def _fresh_images(folder: Path, model, study_classes: list[str]) -> Fresh:
    from automl.data.images import load_images

    dataset = load_images(folder, size=model.image_size)
    code = {label: i for i, label in enumerate(study_classes)}
    return Fresh(dataset.images, np.array([code[dataset.classes[c]] for c in dataset.y]))


def linear_on_fresh(prep, fresh: Fresh) -> np.ndarray:
    """LogisticRegression(C=1) / Ridge(alpha=1) on the study's linear inputs (the study's own baseline,
    automl.evaluation.baselines), fitted on every search row, its output on the fresh sample."""
    from automl.evaluation.baselines import baselines_for

    data = prep.data
    rows = np.arange(len(data.y))
    encode = data.linear_encoder(rows)
    linear = baselines_for(data.task, data.linear_description)[1]
    return linear.fit(encode(data.rows(rows)), data.y, data.task, data.n_classes)(encode(fresh.inputs))


def _interval(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry:
        return None
    keys = ("value", "ci_low", "ci_high", "protocol", "n_rows", "apparent", "bias")
    return {k: entry.get(k) for k in keys if k in entry}


class Run:
    """One benchmark run: studies go to a temporary storage folder, one record per study."""

    def __init__(self, setup: Setup, work: Path, on_record=None) -> None:
        self.setup, self.work, self.on_record = setup, work, on_record
        self.records: list[dict[str, Any]] = []

    def study(self, task: Task, seed: int, data: Path, target: str | None, protocol: str):
        import automl
        from automl.config import Resources

        s = self.setup
        image = task.family == "image"
        settings: dict[str, Any] = {"test_size": PROTOCOLS[protocol]}
        if s.select:
            settings["select"] = s.select
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
            name=f"{task.name}-s{seed}-{protocol}",
            resources=Resources(max_concurrent_trials=s.max_concurrent_trials),
            log=_quiet,
            **settings,
        )

    def task_seed(self, task: Task, seed: int) -> None:
        folder = self.work / "data" / f"{task.name}-s{seed}"
        if task.family == "image":
            data, target = write_task(task, seed, folder)
            fresh_folder = write_fresh_images(task, seed, folder / "fresh", FRESH_IMAGES)
            rest = None
        else:
            drawn, rest, target = draw_table(task, seed)
            folder.mkdir(parents=True, exist_ok=True)
            data = folder / f"{task.name}.csv"
            drawn.to_csv(data, index=False)
        for protocol in self.setup.protocols:
            start = time.perf_counter()
            base = {"task": task.name, "family": task.family, "seed": seed, "protocol_run": protocol}
            try:
                study = self.study(task, seed, data, target, protocol)
                wall = time.perf_counter() - start
                record = self.score(task, study, rest, target, fresh_folder if rest is None else None, seed)
                record.update(base, wall_s=wall)
            except Exception as exc:  # recorded and reported; the other runs go on
                record = {**base, "wall_s": time.perf_counter() - start, "error": repr(exc)}
                progress(f"{task.name} seed {seed} {protocol}: FAILED {exc!r}")
            else:
                progress(
                    f"{task.name} seed {seed} {protocol}: estimate {record['estimate']['value']:.4g} "
                    f"[{record['estimate']['ci_low']:.4g}, {record['estimate']['ci_high']:.4g}], true "
                    f"{record['true']:.4g}, linear {record['linear_true']:.4g} ({wall:.0f}s)"
                )
            self.records.append(record)
            if self.on_record:
                self.on_record(self.records)

    def score(self, task: Task, study, rest, target, fresh_folder: Path | None, seed: int) -> dict[str, Any]:
        """The record of one finished study: its estimate, the true score and the linear model's (images:
        logistic regression on downsampled pixels, and on frozen tf_efficientnet_lite0 features)."""
        from automl.config import StudyConfig
        from automl.metrics import get_metric
        from automl.study import prepare

        manifest = study.manifest
        metric = get_metric(manifest["metric"]["name"])
        prep = prepare(StudyConfig.from_dict(manifest["config"]), log=_quiet)
        if prep.splits.test.tolist() != manifest["splits"]["test_rows"]:
            raise RuntimeError("the study's search rows could not be reproduced for the linear model")
        model = study.best_model
        classes = getattr(prep.dataset, "classes", None)
        if fresh_folder is not None:
            fresh = _fresh_images(fresh_folder, model, classes)
        else:
            fresh = _fresh_table(rest, target, model, classes, self.work / "fresh" / study.study_id)
        n_classes = len(classes or [])
        output = model.predict_output(fresh.inputs)
        true = metric(fresh.y, output, n_classes)
        linear = metric(fresh.y, linear_on_fresh(prep, fresh), n_classes)
        peers = {}
        if fresh_folder is not None:  # images: logistic regression on frozen pretrained features too
            _, probe, _ = next(image_peers(prep.data, fresh.inputs, seed=seed, only=("logreg_frozen",)))
            peers["probe_true"] = float(metric(fresh.y, probe, n_classes))
        estimate = _interval(manifest["estimate"])
        timings = dict(manifest.get("timings") or {})
        rules = {}
        if self.setup.rules and not len(prep.splits.test):
            rules = rule_choices(study, prep, self.setup.rules, fresh, output)
        return {
            **({"rules": rules} if rules else {}),
            "metric": metric.name,
            "greater_is_better": metric.greater_is_better,
            "estimate": estimate,
            "cv_estimate": _interval(manifest.get("cv_estimate")),
            "true": float(true),
            "covered": bool(estimate["ci_low"] <= true <= estimate["ci_high"]),
            "width": float(estimate["ci_high"] - estimate["ci_low"]),
            "linear_true": float(linear),
            **peers,
            "n_search": int(len(prep.splits.search)),
            "n_test": int(len(prep.splits.test)),
            "n_fresh": len(fresh),
            "duration_s": float(manifest["duration_s"]),
            "timings": timings,
            "trials": manifest["trials"],
            "model_kind": manifest["model"]["kind"],
            "chosen": manifest["best"]["config"],
        }


def _fresh_scores(metric, fresh: Fresh, output: np.ndarray, n_classes: int) -> dict[str, float]:
    from automl.metrics import get_metric

    scores = {"true": float(metric(fresh.y, output, n_classes))}
    if n_classes:
        scores["true_log_loss"] = float(get_metric("log_loss")(fresh.y, output, n_classes))
    return scores


def rule_choices(
    study, prep, rules: tuple[str, ...], fresh: Fresh, study_output: np.ndarray
) -> dict[str, Any]:
    """{rule: its choice among the study's trials, that choice's scores on the fresh sample}: each rule
    chooses on the study's stored out-of-fold predictions as the study's finish does, and its choice is
    refitted as the finish refits (automl/finish.py), or is the study's own model when it is the same."""
    from automl.ensemble import EnsembleModel
    from automl.evaluation.bbc import choose
    from automl.evaluation.oof import OutOfFold
    from automl.metrics import get_metric
    from automl.modalities import modality
    from automl.search.results import summaries, trial_config
    from automl.search.selection import eligible

    manifest, data = study.manifest, prep.data
    metric = get_metric(manifest["metric"]["name"])
    n_classes = data.n_classes if data.task == "classification" else 0
    board = study.leaderboard()
    frame = study.store.read_table(study.study_id, "report/oof.parquet")
    oof = OutOfFold.from_frame(frame, data.y, data.folds, metric, n_classes)
    base = [t for t in eligible(summaries(board)) if t.trial_id in oof]
    if not base:
        return {}
    study_members = {t: float(w) for t, w in manifest["selection"]["members"].items()}
    seed = int(manifest["config"].get("seed", 0))
    refits: dict[str, Any] = {}

    def refit(trial: str):
        if trial not in refits:
            row = board.loc[board["trial"] == trial].iloc[0]
            epochs = max(1, int(round(row["best_epoch_mean"])))
            refits[trial] = modality(prep.modality).refit(
                prep, trial_config(row), epochs, seed, {"metric": metric.name}
            )[0]
        return refits[trial]

    out = {}
    for rule in rules:
        selection = choose(oof, base, rule)
        members = selection.weights
        same = set(members) == set(study_members) and all(
            abs(members[t] - study_members[t]) < 1e-9 for t in members
        )
        if same:
            output = study_output
        else:
            ordered = sorted(members, key=lambda t: (-members[t], t))
            models = [refit(t) for t in ordered]
            model = models[0] if len(models) == 1 else EnsembleModel.of(models, [members[t] for t in ordered])
            output = model.predict_output(fresh.inputs)
        out[rule] = {
            "trial": selection.trial_id,
            "members": members,
            "same_as_chosen": same,
            **_fresh_scores(metric, fresh, output, n_classes),
        }
    return out
