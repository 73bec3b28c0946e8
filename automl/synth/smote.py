"""SMOTE: new minority rows interpolated between same-class neighbours (imbalanced-learn).

Works on the preprocessed numeric matrix and only for classification. ``sample(n)`` makes ``n``
rows in total and hands them to the classes by water-filling towards balance, so the smallest
classes are topped up first; see ``allocate_to_classes``.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from automl.synth.base import Synthesizer, check_int_setting
from automl.synth.registry import register_synthesizer


def allocate_to_classes(counts: dict[int, int], n: int) -> dict[int, int]:
    """Split ``n`` new rows over classes by water-filling towards balance.

    Rows go to the smallest classes first until they reach the next class's count; once all
    classes are level the rest is spread evenly. The result has every key of ``counts``, values
    >= 0 that add up to exactly ``n``. Where a level cannot be split evenly, the extra single rows
    go to the classes that were smallest to begin with (ties: the lower class code).

    >>> allocate_to_classes({0: 10, 1: 4, 2: 2}, 5)
    {0: 0, 1: 1, 2: 4}
    """
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}.")
    if any(c < 0 for c in counts.values()):
        raise ValueError(f"Class counts must be >= 0; got {counts}.")
    extra = dict.fromkeys(counts, 0)
    if n == 0:
        return extra
    if not counts:
        raise ValueError(f"Cannot allocate {n} rows to no classes.")

    order = sorted(counts, key=lambda c: (counts[c], c))  # smallest class first
    levels = [counts[c] for c in order]
    # The water level ends between levels[j-1] and levels[j]: find the largest j (classes
    # filled) for which raising the j smallest classes to levels[j-1] costs no more than n.
    filled, total = 1, levels[0]
    while filled < len(levels) and filled * levels[filled] - total <= n:
        total += levels[filled]
        filled += 1
    base, remainder = divmod(n + total, filled)
    for rank, cls in enumerate(order[:filled]):
        extra[cls] = base + (1 if rank < remainder else 0) - counts[cls]
    return extra


@register_synthesizer("smote")
class SMOTESynthesizer(Synthesizer):
    """imbalanced-learn's SMOTE as a synthesizer for classification folds.

    Each synthetic row lies on the segment between a training row and one of its ``k_neighbors``
    nearest same-class neighbours (fewer for classes with few rows). A class with a single row
    cannot be interpolated, so its share goes to the other classes; if no class has two rows,
    ``sample`` warns and returns no rows.
    """

    space: ClassVar[str] = "encoded"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    expensive: ClassVar[bool] = False

    def __init__(self, k_neighbors: int = 5) -> None:
        self.k_neighbors = check_int_setting(k_neighbors, "k_neighbors", "synthesizer 'smote'", minimum=1)

    def _fit(self, X: np.ndarray, y: np.ndarray, *, task: str, seed: int) -> None:
        # SMOTE has nothing to learn up front: keep the rows and interpolate at sampling time.
        self._X = X
        self._y = y
        codes, counts = np.unique(y, return_counts=True)
        self._counts = {int(c): int(k) for c, k in zip(codes, counts, strict=True)}

    def _sample(self, n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
        eligible = {c: k for c, k in self._counts.items() if k >= 2}
        if not eligible:
            warnings.warn(
                "SMOTE cannot make synthetic rows for this fold: no class has at least 2 training "
                "rows to interpolate between. Returning no synthetic rows.",
                UserWarning,
                stacklevel=3,
            )
            return self._empty_X.copy(), self._empty_y.copy()

        extra = allocate_to_classes(eligible, n)
        seeds = np.random.SeedSequence(seed).generate_state(len(eligible))
        parts_X: list[np.ndarray] = []
        parts_y: list[np.ndarray] = []
        for (code, count), class_seed in zip(sorted(eligible.items()), seeds, strict=True):
            if extra[code] == 0:
                continue
            new_rows = self._oversample(code, count, extra[code], int(class_seed))
            parts_X.append(new_rows)
            parts_y.append(np.full(len(new_rows), code, dtype=np.int64))
        return np.vstack(parts_X), np.concatenate(parts_y)

    def _oversample(self, code: int, count: int, extra: int, seed: int) -> np.ndarray:
        """``extra`` new rows for class ``code`` (which has ``count >= 2`` training rows)."""
        from imblearn.over_sampling import SMOTE

        X_class = self._X[self._y == code]
        # imbalanced-learn refuses a single-class target, and plain SMOTE only looks at the
        # class it oversamples, so one placeholder row of another label is all the rest it needs.
        X_fit = np.vstack([X_class, X_class[:1]])
        y_fit = np.append(np.full(count, code, dtype=np.int64), code + 1)
        smote = SMOTE(
            sampling_strategy={code: count + extra},
            k_neighbors=min(self.k_neighbors, count - 1),
            random_state=seed,
        )
        X_res, _ = smote.fit_resample(X_fit, y_fit)
        return np.asarray(X_res[len(X_fit) :], dtype=np.float64)  # imblearn appends new rows
