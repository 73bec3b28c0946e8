"""Tasks, ablation spaces and peers of the quality benchmark (`python -m benchmarks.quality`).

Every task is built offline from package-shipped data, subsampled with the seed so that seeds give
different data and different splits. Peers are trained on a study's search rows and scored on its
held-out test rows, with the study's own metric.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from automl.metrics import Metric
from automl.search.space import default_space_path


@dataclass(frozen=True)
class Task:
    """One small task: `size` rows (tables) or images per class (images).

    `metric` is the project's default metric for the task's class balance (automl.metrics.default_metric),
    fixed per task: a subsample's own balance would flip it between seeds (wine: 1.48 on the full data)."""

    name: str
    family: str  # "table" | "image"
    source: str  # a name in automl.datasets.DATASETS or IMAGE_DATASETS
    size: int
    metric: str
    description: str
    pixels: int = 0  # images: side of the written images
    minority: float | None = None  # tables: fraction of rows in the rarer class (an imbalanced task)


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            "penguins",
            "table",
            "penguins",
            120,
            "balanced_accuracy",
            "3 classes (2.2:1); numeric + categorical, missing values",
        ),
        Task("wine", "table", "wine", 100, "accuracy", "3 classes (1.5:1); 13 numeric features"),
        Task(
            "breast_cancer",
            "table",
            "breast_cancer",
            150,
            "balanced_accuracy",
            "2 classes (1.7:1); 30 numeric",
        ),
        Task("iris", "table", "iris", 60, "accuracy", "3 balanced classes; 4 numeric features"),
        Task(
            "breast_cancer_imbalanced",
            "table",
            "breast_cancer",
            150,
            "balanced_accuracy",
            "2 classes, 10% minority (malignant); 30 numeric",
            minority=0.1,
        ),
        Task("diabetes", "table", "diabetes", 150, "rmse", "regression; 10 numeric features"),
        Task(
            "digits", "image", "digits", 8, "accuracy", "10 classes x 8 handwritten digits, 32 px", pixels=32
        ),
        Task(
            "textures",
            "image",
            "textures",
            12,
            "accuracy",
            "4 classes x 12 texture patches, 64 px",
            pixels=64,
        ),
        Task(
            "photos",
            "image",
            "photos",
            8,
            "accuracy",
            "5 classes x 8 colour photo patches (40 px tiles of 5 photos), 64 px",
            pixels=64,
        ),
        Task(
            "grey_lowres",
            "image",
            "grey_lowres",
            8,
            "accuracy",
            "5 classes x 8 grey photo patches (24 px tiles of 5 photos, area-averaged), 16 px",
            pixels=16,
        ),
    ]
}
QUICK_TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("iris_tiny", "table", "iris", 45, "accuracy", "3 classes; 4 numeric features"),
        Task(
            "textures_tiny",
            "image",
            "textures",
            5,
            "accuracy",
            "4 classes x 5 texture patches, 32 px",
            pixels=32,
        ),
    ]
}


def write_task(task: Task, seed: int, folder: Path) -> tuple[Path, str | None]:
    """Write the task's data for `seed` under `folder`: (a CSV or an image folder, the target column)."""
    from automl.datasets import load, write_images

    folder.mkdir(parents=True, exist_ok=True)
    if task.family == "image":
        return write_images(task.source, folder / "images", task.size, seed=seed, size=task.pixels), None
    frame, target = load(task.source)
    if task.minority is None:
        frame = frame.sample(n=task.size, random_state=seed)
    else:
        rare = frame[target].value_counts().idxmin()
        n_rare = max(2, int(round(task.minority * task.size)))
        frame = pd.concat(
            [
                frame[frame[target] == rare].sample(n=n_rare, random_state=seed),
                frame[frame[target] != rare].sample(n=task.size - n_rare, random_state=seed),
            ]
        ).sample(frac=1.0, random_state=seed)
    path = folder / f"{task.name}.csv"
    frame.reset_index(drop=True).to_csv(path, index=False)
    return path, target


# Ablations: each switches one technique family off in a copy of the default space (a single-value
# choice fixes a parameter). Gap-aware selection is ablated apart: see `quality.reselect`.
def _fixed(value: Any) -> dict[str, Any]:
    return {"type": "choice", "values": [value]}


NO_EARLY_STOP = 1000  # patience beyond any max_epochs: early stopping never triggers
ABLATIONS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "table": {
        "no_synthetic": {"synth_method": _fixed("none"), "synth_ratio": _fixed(0.0)},
        "no_regularization_search": {
            "dropout": _fixed(0.0),
            "l1": _fixed(0.0),
            "l2": _fixed(0.0),
            "patience": _fixed(NO_EARLY_STOP),
        },
    },
    "image": {
        "no_augmentation": {"augment": _fixed("none")},
        "no_transfer": {"backbone": _fixed("small_cnn")},
        "no_synthetic": {"synth_method": _fixed("none"), "synth_ratio": _fixed(0.0)},
        "no_regularization_search": {
            "dropout": _fixed(0.0),
            "drop_path": _fixed(0.0),
            "l1": _fixed(0.0),
            "l2": _fixed(0.0),
            "label_smoothing": _fixed(0.0),
            "patience": _fixed(NO_EARLY_STOP),
        },
    },
}
RESELECT = "best_validation_selection"  # the same trials, chosen by plain best validation score
ABLATION_TEXT = {
    "no_synthetic": "synth_method fixed to none",
    "no_regularization_search": "dropout, L1, L2 (and drop-path, label smoothing) fixed to 0, no early stopping",
    "no_augmentation": "augment fixed to none",
    "no_transfer": "backbone fixed to small_cnn (trained from scratch)",
    RESELECT: "the same search's trials re-selected by best mean validation score, then refitted",
}


def _prune_conditions(parameters: dict[str, dict[str, Any]]) -> None:
    """Conditions (`when:`) on a parameter that an ablation fixed keep only the values it can still take;
    a parameter whose condition can no longer hold is fixed to its inactive value."""
    from automl.search.conditions import inactive_value

    changed = True
    while changed:
        changed = False
        for name, spec in parameters.items():
            when = spec.get("when")
            if not when:
                continue
            kept, never = {}, False
            for other, values in when.items():
                ref = parameters[other]
                allowed = values if isinstance(values, list) else [values]
                if ref["type"] == "choice":
                    allowed = [v for v in allowed if v in ref["values"]]
                never = never or not allowed
                kept[other] = allowed
            if never:
                parameters[name] = _fixed(inactive_value(spec))
                changed = True
            elif kept != when:
                parameters[name] = {**spec, "when": kept}


def ablation_space(family: str, ablation: str, folder: Path) -> Path:
    """A copy of the default space of `family` with the ablation's parameters fixed, written under `folder`."""
    modality = "image" if family == "image" else "tabular"
    doc = yaml.safe_load(default_space_path(modality).read_text())
    for name, spec in ABLATIONS[family][ablation].items():
        if name not in doc["parameters"]:
            raise KeyError(f"ablation {ablation!r} fixes {name!r}, which is not in the {modality} space")
        doc["parameters"][name] = spec
    _prune_conditions(doc["parameters"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{family}_{ablation}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# Peers: what a practitioner would try first, with library defaults.
PEER_TEXT = {
    "linear": "logistic regression (classification) or ridge (regression), defaults, on imputed, one-hot, "
    "standardized features",
    "lightgbm": "LightGBM with default settings (categoricals one-hot)",
    "flaml": "FLAML AutoML with the study's budget, optimizing the study's metric",
    "logreg_frozen": "logistic regression (defaults) on standardized frozen tf_efficientnet_lite0 features",
    "finetune": "tf_efficientnet_lite0 fully fine-tuned, fixed settings, no search",
}
PEERS = {"table": ("linear", "lightgbm", "flaml"), "image": ("logreg_frozen", "finetune")}
FINETUNE: dict[str, Any] = {
    "backbone": "tf_efficientnet_lite0",
    "transfer": "full",
    "backbone_lr_mult": 0.1,
    "drop_stages": 0,
    "head_depth": 0,
    "dropout": 0.0,
    "drop_path": 0.0,
    "l1": 0.0,
    "l2": 0.01,  # AdamW's default weight decay
    "label_smoothing": 0.0,
    "lr": 1e-3,
    "batch_size": 16,
    "augment": "light",
    "synth_method": "none",
}
FINETUNE_EPOCHS = 10


def _encoder(schema: dict[str, str], scale: bool):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c, kind in schema.items() if kind != "categorical"]
    categorical = [c for c, kind in schema.items() if kind == "categorical"]
    numeric_steps = (
        make_pipeline(SimpleImputer(strategy="median"), StandardScaler()) if scale else "passthrough"
    )
    onehot = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    )
    return ColumnTransformer([("num", numeric_steps, numeric), ("cat", onehot, categorical)])


def _output(model, X: Any, task: str, n_classes: int) -> np.ndarray:
    """Class probabilities with one column per class code (classification), or predictions."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


_FLAML_METRICS = {
    "accuracy": "accuracy",
    "roc_auc": "roc_auc",
    "log_loss": "log_loss",
    "f1_macro": "macro_f1",
    "rmse": "rmse",
    "mae": "mae",
    "r2": "r2",
}


def _flaml_metric(metric: Metric, n_classes: int):
    """FLAML's name for `metric`, or a custom function for one FLAML lacks (balanced accuracy)."""
    if metric.name in _FLAML_METRICS:
        return _FLAML_METRICS[metric.name]

    def custom(X_val, y_val, estimator, labels, X_train, y_train, *args, **kwargs):
        score = metric(np.asarray(y_val), _output(estimator, X_val, metric.task, n_classes), n_classes)
        return -metric.sign() * score, {metric.name: score}

    return custom


def table_peers(
    train: pd.DataFrame,
    y: np.ndarray,
    test: pd.DataFrame,
    *,
    schema: dict[str, str],
    task: str,
    metric: Metric,
    n_classes: int,
    budget_s: float,
    seed: int,
    only: tuple[str, ...] = PEERS["table"],
):
    """Yield (peer, test output, seconds) for each table peer in `only`."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    classify = task == "classification"
    builders = {
        "linear": lambda: make_pipeline(
            _encoder(schema, scale=True), LogisticRegression(max_iter=5000) if classify else Ridge()
        ),
        "lightgbm": lambda: make_pipeline(
            _encoder(schema, scale=False),
            (LGBMClassifier if classify else LGBMRegressor)(random_state=seed, verbose=-1),
        ),
    }
    for name in only:
        start = time.perf_counter()
        if name == "flaml":
            from flaml import AutoML

            model = AutoML()
            model.fit(
                X_train=train,
                y_train=y,
                task="classification" if classify else "regression",
                metric=_flaml_metric(metric, n_classes),
                time_budget=budget_s,
                seed=seed,
                verbose=0,
            )
        else:
            model = builders[name]().fit(train, y)
        yield name, _output(model, test, task, n_classes), time.perf_counter() - start


def image_peers(data, test_images: np.ndarray, *, seed: int, only: tuple[str, ...] = PEERS["image"]):
    """Yield (peer, test output, seconds) for each image peer in `only`; `data` is a study's ImageSearchData."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from automl.image.final import fit_final_image
    from automl.image.network import build_network, extract_features

    backbone = FINETUNE["backbone"]
    for name in only:
        start = time.perf_counter()
        torch.manual_seed(seed)
        if name == "logreg_frozen":
            network = build_network(
                {"backbone": backbone, "transfer": "linear_probe"},
                data.n_classes,
                image_size=data.image_size,
                weights=data.weights_for(backbone),
            )
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            model.fit(extract_features(network, data.images), data.y)
            output = _output(model, extract_features(network, test_images), "classification", data.n_classes)
        else:
            model, _ = fit_final_image(FINETUNE, data, epochs=FINETUNE_EPOCHS, seed=seed, info={})
            output = model.predict_output(test_images)
        yield name, output, time.perf_counter() - start


# Fresh samples (the honesty benchmark, `python -m benchmarks.honesty`): the rows a seed's task leaves out.
def draw_table(task: Task, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(the task's rows for `seed`, exactly as `write_task` draws them; every other row of the source; the
    target column). The other rows are a fresh sample of the same population that the study never sees."""
    from automl.datasets import load

    frame, target = load(task.source)
    if task.minority is None:
        drawn = frame.sample(n=task.size, random_state=seed)
    else:
        rare = frame[target].value_counts().idxmin()
        n_rare = max(2, int(round(task.minority * task.size)))
        drawn = pd.concat(
            [
                frame[frame[target] == rare].sample(n=n_rare, random_state=seed),
                frame[frame[target] != rare].sample(n=task.size - n_rare, random_state=seed),
            ]
        ).sample(frac=1.0, random_state=seed)
    rest = frame.drop(index=drawn.index)
    return drawn.reset_index(drop=True), rest.reset_index(drop=True), target


def write_fresh_images(task: Task, seed: int, folder: Path, total: int = 300) -> Path:
    """Write up to `total` images of the task's classes that `write_task(task, seed, ...)` does not pick
    (the same draw, its complement; equal numbers per class) as an ImageFolder tree under `folder`."""
    from PIL import Image

    from automl.datasets import IMAGE_DATASETS

    rng = np.random.default_rng(seed)  # the draw of automl.datasets.write_images, class by class
    by_class = IMAGE_DATASETS[task.source]()
    per_class = max(1, total // len(by_class))
    for label, images in by_class.items():
        left = rng.permutation(len(images))[task.size :][:per_class]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in left:
            image = Image.fromarray(images[i]).resize((task.pixels, task.pixels), Image.Resampling.BICUBIC)
            image.save(folder / label / f"{label}_{i:03d}.png")
    return folder
