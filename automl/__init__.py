"""AutoML for small datasets: search the techniques that help small data, keep the model that generalizes.

import automl
study = automl.run("data.csv", target="label", trials=20, budget="5m")
study = automl.run("photos/", trials=12, images=automl.ImageOptions(image_size=128))  # one folder per class
study.leaderboard(); study.test_report; study.best_model
"""

from __future__ import annotations

from typing import Any

from automl.config import ImageOptions
from automl.errors import AutoMLError, ConfigError, DataError, ModelError, StoreError

__version__ = "0.1.0"


def run(data: str, target: str | None = None, *, budget: str | float = "10m", **settings: Any):
    """Run a study (see `StudyConfig` for the settings) and return the stored `Study`.

    `data` is a table (CSV, Parquet; `target` names the column to predict) or images (a folder with
    one subfolder per class, a .zip of one, or a CSV of path,label)."""
    from automl.config import Resources, StudyConfig, parse_duration
    from automl.study import run_study

    log = settings.pop("log", print)
    resources = settings.pop("resources", None) or Resources()
    config = StudyConfig(
        data=str(data), target=target, budget_s=parse_duration(budget), resources=resources, **settings
    )
    return run_study(config, log=log)


def load_study(study_id: str, storage: str = "studies"):
    from automl.study import Study

    return Study.load(study_id, storage)


__all__ = [
    "AutoMLError",
    "ConfigError",
    "DataError",
    "ImageOptions",
    "ModelError",
    "StoreError",
    "load_study",
    "run",
]
