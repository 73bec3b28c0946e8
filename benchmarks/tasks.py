"""The tasks of the quality and honesty benchmarks: small training sets drawn from public sources that ship
inside packages, each with a large fresh sample of the same source that the study never sees.

A table task draws `size` rows with the seed (with `minority`, the rarer class makes that share of them);
every other row of the source, up to `fresh_cap`, is its fresh sample. A shuffled-label task permutes the
labels of the whole source first (with the seed), so no model can beat chance on its fresh rows. An image
task writes `size` images per class as a folder per class, and up to `fresh_cap` other images of the same
classes (equal numbers per class) as its fresh folder.

The sources are loaded here, not through the project, so that the benchmark judges the project on data the
project does not prepare: scikit-learn (breast cancer, wine, diabetes, iris), palmerpenguins, statsmodels
(the 1996 US election survey `anes96`, the extramarital affairs survey `fair`), and the project's few-shot
image sources (`automl.datasets.IMAGE_DATASETS`: scikit-image and scikit-learn photos and digits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FRESH_ROWS = 3000  # at most this many fresh rows per table task
FRESH_IMAGES = 1000  # at most this many fresh images per image task (equal numbers per class)


@dataclass(frozen=True)
class Task:
    """One task: `size` rows (tables) or images per class (images) to train on, scored with `metric`.

    The metric is fixed per task (a subsample's own class balance would flip the project's default
    between seeds) and passed to every study as `--metric` would be."""

    name: str
    family: str  # "table" | "image"
    source: str  # a key of TABLE_SOURCES, or of automl.datasets.IMAGE_DATASETS
    size: int
    metric: str  # accuracy | balanced_accuracy | r2 | rmse
    about: str
    minority: float | None = None  # tables: the share of the rarer class among the drawn rows
    shuffled: bool = False  # tables: labels permuted over the whole source (the truth is chance)
    pixels: int | None = None  # images: the side the images are written at
    fresh_cap: int | None = None  # None: FRESH_ROWS or FRESH_IMAGES

    @property
    def task(self) -> str:
        return "regression" if self.metric in ("r2", "rmse") else "classification"


# ---- table sources: (frame, target column), targets of classification tasks as words ------------------
def _sklearn(loader: str, target: str) -> Callable[[], tuple[pd.DataFrame, str]]:
    def load() -> tuple[pd.DataFrame, str]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        frame = bunch.frame.copy()
        if loader != "load_diabetes":
            frame["target"] = [str(bunch.target_names[i]) for i in bunch.target]
        return frame.rename(columns={"target": target}), target

    return load


def _penguins() -> tuple[pd.DataFrame, str]:
    from palmerpenguins import load_penguins

    return load_penguins(), "species"


def _anes96() -> tuple[pd.DataFrame, str]:
    """The 1996 American National Election Study (944 voters): predict the vote (Clinton or Dole) from
    ideology self-placements, party identification, news habits, age, education and income."""
    from statsmodels.datasets import anes96

    frame = anes96.load_pandas().data.copy()
    frame["vote"] = np.where(frame["vote"] > 0, "Dole", "Clinton")
    return frame, "vote"


def _fair() -> tuple[pd.DataFrame, str]:
    """Fair's extramarital affairs survey (6,366 women, Redbook 1974): whether any affair was reported
    (`affairs > 0`), from marriage rating, age, years married, children, religiousness, education and
    occupations."""
    from statsmodels.datasets import fair

    frame = fair.load_pandas().data.copy()
    frame["affair"] = np.where(frame.pop("affairs") > 0, "yes", "no")
    return frame, "affair"


TABLE_SOURCES: dict[str, Callable[[], tuple[pd.DataFrame, str]]] = {
    "breast_cancer": _sklearn("load_breast_cancer", "diagnosis"),
    "wine": _sklearn("load_wine", "cultivar"),
    "diabetes": _sklearn("load_diabetes", "progression"),
    "iris": _sklearn("load_iris", "species"),
    "penguins": _penguins,
    "anes96": _anes96,
    "fair": _fair,
}

TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("bc80", "table", "breast_cancer", 80, "balanced_accuracy", "breast cancer, 30 numeric features"),
        Task(
            "bc120_minority",
            "table",
            "breast_cancer",
            120,
            "balanced_accuracy",
            "breast cancer, 10% malignant",
            minority=0.1,
        ),
        Task("anes96", "table", "anes96", 100, "accuracy", "1996 US election survey, the vote"),
        Task("fair", "table", "fair", 120, "balanced_accuracy", "affairs survey, any affair (32% yes)"),
        Task("wine60", "table", "wine", 60, "accuracy", "wine, 3 cultivars, 13 numeric features"),
        Task("diabetes100", "table", "diabetes", 100, "r2", "diabetes progression, regression"),
        Task(
            "penguins120",
            "table",
            "penguins",
            120,
            "balanced_accuracy",
            "penguins, numeric + categorical, missing values",
        ),
        Task(
            "shuffled_labels",
            "table",
            "breast_cancer",
            100,
            "balanced_accuracy",
            "breast cancer with its labels permuted: the truth is chance (0.5)",
            shuffled=True,
        ),
        Task(
            "photos", "image", "photos", 6, "accuracy", "5 photo classes x 6 colour tiles, 64 px", pixels=64
        ),
        Task(
            "textures", "image", "textures", 8, "accuracy", "4 texture classes x 8 patches, 64 px", pixels=64
        ),
        Task(
            "digits", "image", "digits", 8, "accuracy", "10 digit classes x 8 handwritten, 32 px", pixels=32
        ),
        Task(
            "grey_lowres",
            "image",
            "grey_lowres",
            8,
            "accuracy",
            "5 grey photo classes x 8 tiles, 16 px",
            pixels=16,
        ),
    ]
}
QUICK_TASKS: dict[str, Task] = {
    t.name: t for t in [Task("iris_tiny", "table", "iris", 45, "accuracy", "iris, 3 classes, 4 numeric")]
}
ALL_TASKS: dict[str, Task] = {**TASKS, **QUICK_TASKS}


def chance_level(task: Task, classes: list[str]) -> float | None:
    """The score of a model that knows nothing, for a shuffled-label task's check (balanced accuracy:
    1 / classes; None where it depends on the class balance)."""
    if task.metric == "balanced_accuracy":
        return 1.0 / len(classes)
    return None


# ---- drawing ----------------------------------------------------------------------------------------
def draw_table(task: Task, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(the training rows for `seed`, the fresh rows: the rest of the source, at most the cap; the target)."""
    frame, target = TABLE_SOURCES[task.source]()
    frame = frame.loc[frame[target].notna()].reset_index(drop=True)
    if task.shuffled:
        frame[target] = np.random.default_rng(seed).permutation(frame[target].to_numpy())
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
    cap = task.fresh_cap or FRESH_ROWS
    if len(rest) > cap:
        rest = rest.sample(n=cap, random_state=seed)
    return drawn.reset_index(drop=True), rest.reset_index(drop=True), target


def write_images(task: Task, seed: int, folder: Path) -> Path:
    """The task's training images for `seed`, one subfolder per class, under `folder`."""
    from automl.datasets import write_images as write

    return write(task.source, folder, task.size, seed=seed, size=task.pixels)


def write_fresh_images(task: Task, seed: int, folder: Path, total: int | None = None) -> Path:
    """Up to `total` images of the task's classes that `write_images(task, seed, ...)` does not pick (the
    same draw, its complement; equal numbers per class), written the same way under `folder`."""
    from PIL import Image

    from automl.datasets import IMAGE_DATASETS

    rng = np.random.default_rng(seed)  # the draw of automl.datasets.write_images, class by class
    by_class = IMAGE_DATASETS[task.source]()
    per_class = max(1, (total or task.fresh_cap or FRESH_IMAGES) // len(by_class))
    for label, images in by_class.items():
        left = rng.permutation(len(images))[task.size :][:per_class]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in left:
            image = Image.fromarray(images[i]).resize((task.pixels, task.pixels), Image.Resampling.BICUBIC)
            image.save(folder / label / f"{label}_{i:03d}.png")
    return folder


def read_images(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(uint8 RGB images (N, H, W, 3), their labels (the subfolder names), the relative paths) of an
    image folder as `write_images` writes it."""
    from PIL import Image

    paths = sorted(p for p in folder.rglob("*.png"))
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    labels = np.array([p.parent.name for p in paths])
    return np.stack(images), labels, [str(p.relative_to(folder)) for p in paths]


@dataclass
class TaskData:
    """One task and seed on disk: what the study trains on, and the fresh sample it is scored on."""

    train: Path  # a CSV, or an image folder
    target: str | None  # the CSV's target column (None for images)
    fresh: Path  # a CSV with the target column, or an image folder
    y_train: np.ndarray  # labels as words, or regression targets
    y_fresh: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_fresh(self) -> int:
        return len(self.y_fresh)


def write_task(task: Task, seed: int, folder: Path) -> TaskData:
    """Write the task's training set and fresh sample for `seed` under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if task.family == "image":
        train = write_images(task, seed, folder / "train")
        fresh = write_fresh_images(task, seed, folder / "fresh")
        return TaskData(train, None, fresh, read_images(train)[1], read_images(fresh)[1])
    drawn, rest, target = draw_table(task, seed)
    train, fresh = folder / f"{task.name}-s{seed}.csv", folder / f"{task.name}-s{seed}-fresh.csv"
    drawn.to_csv(train, index=False)
    rest.to_csv(fresh, index=False)
    kind = float if task.task == "regression" else str
    return TaskData(
        train, target, fresh, drawn[target].to_numpy().astype(kind), rest[target].to_numpy().astype(kind)
    )
