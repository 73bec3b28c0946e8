"""Honest splits: seeded inner folds over the search rows, and a held-out test set only where it pays.

Below HOLDOUT_ROWS rows nothing is held out by default: every row is searched on, and the study
reports the bias-corrected out-of-fold estimate (evaluation/bbc.py). A held-out 20% of a few
hundred rows is a handful of rows the model never learns from and an interval 15-57 points wide.
From HOLDOUT_ROWS rows on, a 20% test set has 400+ rows, a binomial interval of about +-4 points
and costs the model little, so it is the default there. With a test set, its rows never reach a
trial: the trainable only receives the search rows and the fold indices into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, train_test_split

from automl.errors import DataError

TINY_ROWS = 150  # below this many non-test rows the inner folds are repeated twice
HOLDOUT_ROWS = 2000  # from this many rows on, a study holds out a test set by default
DEFAULT_TEST_SIZE = 0.2


def resolve_test_size(test_size: float | None, n_rows: int) -> float:
    """The test fraction a study uses: as asked, or by size (0 below HOLDOUT_ROWS rows, else 0.2)."""
    if test_size is not None:
        return float(test_size)
    return 0.0 if n_rows < HOLDOUT_ROWS else DEFAULT_TEST_SIZE


def protocol_of(n_test: int) -> str:
    """`out_of_fold` (nothing held out) or `held_out_test`."""
    return "held_out_test" if n_test else "out_of_fold"


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
            "protocol": protocol_of(len(self.test)),
            "test_rows": self.test.tolist(),
        }


def _strata(y: np.ndarray, task: str, n_bins: int = 5) -> np.ndarray | None:
    """Class codes, or quantile bins of a regression target so that both sides see its range.

    Bins are merged (fewer quantiles) until each holds at least two rows; None means the target
    cannot be stratified at all.
    """
    if task == "classification":
        return y
    for bins in range(n_bins, 1, -1):
        edges = np.unique(np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1]))
        strata = np.searchsorted(edges, y, side="right")
        if np.bincount(strata).min(initial=len(y)) >= 2 and len(np.unique(strata)) > 1:
            return strata
    return None


def _keep_two_for_search(
    y: np.ndarray, search: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move test rows back to the search side until every class has two search rows (one per 2-fold side)."""
    search, test = list(search), list(test)
    for code in np.unique(y):
        while sum(y[i] == code for i in search) < 2:
            row = next((i for i in test if y[i] == code), None)
            if row is None:
                break
            test.remove(row)
            search.append(row)
    return np.array(search), np.array(test)


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
    """Stratified outer test split (none when `test_size` is 0), then (repeated) stratified k-fold
    over the remaining rows."""
    n = len(y)
    rows = np.arange(n)
    strata = _strata(y, task)
    n_test = int(np.ceil(test_size * n))
    if n_test == 0:
        return _inner_folds(y, task, rows, np.zeros(0, dtype=int), n_folds, n_repeats, seed, classes)
    n_strata = 0 if strata is None else len(np.unique(strata))
    if task == "classification" and n_test < n_strata:
        raise DataError(
            f"The held-out test split ({n_test} of {n} rows at test_size={test_size}) is smaller than the "
            f"{n_strata} classes it must be stratified over. Add rows, or raise --test-size."
        )
    if task == "regression" and n_test < n_strata:
        strata = None  # too few test rows to cover every quantile bin: a plain random split
    search, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=strata)
    if task == "classification":
        search, test = _keep_two_for_search(y, search, test)
    return _inner_folds(y, task, np.sort(search), np.sort(test), n_folds, n_repeats, seed, classes)


def _inner_folds(y, task, search, test, n_folds, n_repeats, seed, classes) -> Splits:
    outside = "outside the test set" if len(test) else "in the data"
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
                f"only {smallest} rows {outside}."
            )
    if n_repeats is None:
        n_repeats = 2 if len(search) < TINY_ROWS else 1
    if task == "regression" and len(search) < n_folds:
        notes.append(
            f"Using {len(search)}-fold instead of {n_folds}-fold cross-validation: only {len(search)} rows {outside}."
        )
        n_folds = max(2, len(search))
    if task == "classification":
        splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
        pairs = splitter.split(np.zeros(len(search)), y[search])
    else:
        splitter = RepeatedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
        pairs = splitter.split(np.zeros(len(search)))
    folds = [(np.sort(train), np.sort(val)) for train, val in pairs]
    return Splits(search=search, test=test, folds=folds, n_folds=n_folds, n_repeats=n_repeats, notes=notes)


FRESH_SPLITS = 1  # the key that separates the fresh folds' seed from the search's


def fresh_folds(
    y: np.ndarray,
    task: str,
    *,
    n_folds: int,
    n_repeats: int,
    seed: int,
    classes: list[str] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(Repeated) stratified k-fold over the same search rows with a split seed the search never used:
    the folds on which the best candidates of a search are re-run, selected and estimated (Nagler et
    al., NeurIPS 2024: reshuffled splits). Hundreds of trials steered by one split find configurations
    that are lucky on its folds; new folds do not share that luck."""
    fresh_seed = int(np.random.SeedSequence([int(seed), FRESH_SPLITS]).generate_state(1)[0] % (2**31))
    rows = np.arange(len(y))
    return _inner_folds(y, task, rows, np.zeros(0, dtype=int), n_folds, n_repeats, fresh_seed, classes).folds
