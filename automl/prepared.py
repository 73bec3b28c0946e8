"""What a study derives from its config and data before the search starts, for a table or for images.

`study.prepare` builds it for a table and `image/prepare.py` for images; the search, the finish
and the store read it the same way for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from automl.data.images import ImageDataset
from automl.data.splits import Splits
from automl.data.tabular import TabularDataset
from automl.metrics import Metric
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

    @property
    def sizes(self) -> dict[str, float]:
        return self.data.extra["sizes"]

    @property
    def modality(self) -> str:
        return getattr(self.data, "modality", "tabular")

    def summary(self) -> dict[str, Any]:
        """The manifest's `data` entry."""
        return self.dataset.summary()

    def describe(self) -> str:
        what = (
            f"{self.dataset.n_rows} images of {len(self.dataset.classes)} classes"
            if self.modality == "image"
            else f"{self.dataset.n_rows} rows, {self.dataset.n_features} features"
        )
        unit = "images" if self.modality == "image" else "rows"
        held = (
            f"{len(self.splits.test)} {unit} held out for a one-shot test"
            if len(self.splits.test)
            else f"nothing held out: every {unit[:-1]} trains and, out of fold, tests"
        )
        return f"{what}, {self.dataset.task}, metric {self.metric.name}; {held}"
