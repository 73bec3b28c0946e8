"""Honest splits: a held-out test set taken before any search, and seeded inner folds.

The outer test rows never reach a trial: the trainable only receives the non-test rows and the
fold indices into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, train_test_split

from automl.errors import DataError

TINY_ROWS = 150  # below this many non-test rows the inner folds are repeated twice


@dataclass
class Splits:
    """Indices into the full dataset (`search`, `test`) and into the search rows (`folds`)."""

    search: np.ndarray
    test: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    n_folds: int
    n_repeats: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "n_search": int(len(self.search)),
            "n_test": int(len(self.test)),
            "n_folds": self.n_folds,
            "n_repeats": self.n_repeats,
            "test_rows": self.test.tolist(),
        }


def _strata(y: np.ndarray, task: str, n_bins: int = 5) -> np.ndarray:
    """Class codes, or quantile bins of a regression target so that both sides see its range."""
    if task == "classification":
        return y
    edges = np.quantile(y, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")


def make_splits(
    y: np.ndarray,
    task: str,
    *,
    test_size: float = 0.2,
    n_folds: int = 5,
    n_repeats: int | None = None,
    seed: int = 0,
    classes: list[str] | None = None,
) -> Splits:
    """Stratified outer test split, then (repeated) stratified k-fold over the remaining rows."""
    n = len(y)
    rows = np.arange(n)
    strata = _strata(y, task)
    n_test = int(np.ceil(test_size * n))
    n_strata = len(np.unique(strata))
    if n_test < n_strata:
        raise DataError(
            f"The held-out test split ({n_test} of {n} rows at test_size={test_size}) is smaller than the "
            f"{n_strata} classes it must be stratified over. Add rows, or raise --test-size."
        )
    search, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=strata)
    search, test = np.sort(search), np.sort(test)

    notes = []
    folds_wanted = n_folds
    if task == "classification":
        counts = np.bincount(y[search], minlength=int(y.max()) + 1)
        smallest = int(counts[counts > 0].min())
        if smallest < n_folds:
            n_folds = max(2, smallest)
            code = int(np.flatnonzero(counts == smallest)[0])
            label = classes[code] if classes else code
            notes.append(
                f"Using {n_folds}-fold instead of {folds_wanted}-fold cross-validation: class {label!r} has "
                f"only {smallest} rows outside the test set."
            )
    if n_repeats is None:
        n_repeats = 2 if len(search) < TINY_ROWS else 1
    inner_strata = _strata(y[search], task)
    if task == "classification":
        splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
        pairs = splitter.split(np.zeros(len(search)), inner_strata)
    else:
        splitter = RepeatedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
        pairs = splitter.split(np.zeros(len(search)))
    folds = [(np.sort(train), np.sort(val)) for train, val in pairs]
    return Splits(search=search, test=test, folds=folds, n_folds=n_folds, n_repeats=n_repeats, notes=notes)
