"""What a study derives from its config and data before the search starts, for any modality.

`study.prepare` has the study's modality build it (`Modality.prepare`: `modalities/tabular/prepare.py`
for a table, `image/prepare.py` for images); the search, the finish and the store read it the same way
for every modality, and ask the modality named by its search data when the kind of data matters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from automl.data.images import ImageDataset
from automl.data.splits import Splits
from automl.data.tabular import TabularDataset
from automl.metrics import Metric
from automl.modalities import MODALITIES
from automl.search.space import SearchSpace


@dataclass
class Prepared:
    """Everything a study derives from its config and data before the search starts."""

    dataset: TabularDataset | ImageDataset
    metric: Metric
    space: SearchSpace
    splits: Splits
    features: pd.DataFrame | None  # all rows, coerced to the schema (None for images)
    data: Any  # SearchData or ImageSearchData: the search rows only, what the trials receive
    # Work on `data` that the search runs while Ray starts and waits for before shipping it (a table:
    # its folds encoded for every scaler of the space, `train.table_folds.encode_folds`).
    before_search: Callable[[], None] | None = None

    @property
    def sizes(self) -> dict[str, float]:
        return self.data.extra["sizes"]

    @property
    def modality(self) -> str:
        """The registered modality's name, as the search data carries it to the trials."""
        return getattr(self.data, "modality", "tabular")

    def summary(self) -> dict[str, Any]:
        """The manifest's `data` entry."""
        return self.dataset.summary()

    def describe(self) -> str:
        """One line for the log: the data, the task, the metric and what is held out."""
        kind = MODALITIES[self.modality]
        unit = kind.unit
        held = (
            f"{len(self.splits.test)} {unit} held out for a one-shot test"
            if len(self.splits.test)
            else f"nothing held out: every {unit[:-1]} trains and, out of fold, tests"
        )
        return f"{kind.describe(self.dataset)}, {self.dataset.task}, metric {self.metric.name}; {held}"
