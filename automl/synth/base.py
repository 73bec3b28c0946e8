"""The contract every synthetic-data generator follows.

A synthesizer makes extra labelled training rows for one cross-validation fold. It is fitted on
the training part of that fold only (never on validation rows, or the score would leak), and
``sample`` is deterministic for a given fitted synthesizer and seed, so trials can be repeated.

The public ``fit``/``sample`` methods do all the input checking once, here, and then call the
subclass hooks ``_fit``/``_sample`` with clean inputs: subclasses only implement the generation.
"""

from __future__ import annotations

import inspect
import numbers
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl.errors import ConfigError, DataError, invalid_parameter

XLike = np.ndarray | pd.DataFrame
"""Features: a float matrix in the "encoded" space, a raw DataFrame in the "raw" space."""

TASKS: tuple[str, ...] = ("classification", "regression")
SPACES: tuple[str, ...] = ("encoded", "raw")
_MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit


class SynthesizerNotFittedError(RuntimeError):
    """``sample`` was called before ``fit``: a bug in the calling code, not a user mistake."""


class Synthesizer(ABC):
    """Makes synthetic labelled training rows. Fitted on the training part of ONE fold only.

    Class attributes (set by each subclass):

    * ``name``: the registry name (set by ``@register_synthesizer``).
    * ``space``: ``"encoded"`` to fit/sample on the numeric matrix after preprocessing (float
      ``np.ndarray``, no NaN), ``"raw"`` to fit/sample on the raw feature DataFrame (mixed dtypes,
      NaN allowed).
    * ``tasks``: the tasks it supports, a subset of ``("classification", "regression")``.
    * ``expensive``: True when fitting is costly; the study then fits it once per (fold, settings)
      and shares it across trials.

    Labels ``y`` are int64 class codes for classification and float64 for regression.
    Settings are the keyword arguments of ``__init__``; they are stored as attributes of the
    same name so ``get_settings`` can report them (as scikit-learn's ``get_params`` does).
    """

    name: ClassVar[str]
    space: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    expensive: ClassVar[bool]

    _fitted: bool = False

    # ----------------------------------------------------------------- public API
    def fit(self, X: XLike, y: np.ndarray, *, task: str, seed: int) -> Synthesizer:
        """Check the fold's training rows, remember their shape, and learn to imitate them.

        Raises ``ConfigError`` when this synthesizer does not support ``task`` and ``DataError``
        when the rows cannot be used (wrong type, length mismatch, fewer than 2 rows, NaN labels).
        """
        self._fitted = False
        owner = f"{type(self).__name__}.fit"
        if task not in TASKS:
            raise invalid_parameter("task", owner, "'classification' or 'regression'", task)
        if task not in self.tasks:
            raise ConfigError(
                f"The {self.name!r} synthesizer does not support {task} tasks; it supports "
                f"{', '.join(self.tasks)} only. Choose another synthesizer for this study, "
                "or turn synthesis off with 'none'."
            )
        seed = _check_seed(seed, owner)
        X = self._check_X(X)
        y = _check_y(y, task, n_rows=len(X))

        self.task_ = task
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.unique(y) if task == "classification" else None
        self._empty_X: XLike = X.iloc[:0].copy() if isinstance(X, pd.DataFrame) else X[:0].copy()
        self._empty_y = y[:0].copy()
        self._fit(X, y, task=task, seed=seed)
        self._fitted = True
        return self

    def sample(self, n: int, *, seed: int) -> tuple[XLike, np.ndarray]:
        """Return ``n`` new synthetic rows and their labels, deterministically for ``seed``.

        The features have the fitted data's type, columns and dtypes; ``n == 0`` gives an empty
        result of that shape. A synthesizer that cannot make any row for this fold (SMOTE when no
        class has two rows) warns and returns fewer rows.
        """
        owner = f"{type(self).__name__}.sample"
        if not self._fitted:
            raise SynthesizerNotFittedError(
                f"This {self.name!r} synthesizer is not fitted yet. "
                "Call fit(X, y, task=..., seed=...) on the fold's training rows before sample()."
            )
        if not _is_int(n) or n < 0:
            raise invalid_parameter("n", owner, "an int >= 0", n)
        seed = _check_seed(seed, owner)
        if n == 0:
            return self._empty_X.copy(), self._empty_y.copy()
        return self._sample(int(n), seed=seed)

    def get_settings(self) -> dict[str, Any]:
        """The settings this synthesizer was created with (the ``__init__`` keyword arguments)."""
        return {key: getattr(self, key) for key in setting_names(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_settings().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _fit(self, X: XLike, y: np.ndarray, *, task: str, seed: int) -> None:
        """Learn from checked rows: ``X`` as ``space`` says, ``y`` int64 codes or float64."""

    @abstractmethod
    def _sample(self, n: int, *, seed: int) -> tuple[XLike, np.ndarray]:
        """Make ``n >= 1`` rows deterministically for ``seed`` (called only once fitted)."""

    # ----------------------------------------------------------------- input checks
    def _check_X(self, X: XLike) -> XLike:
        """Return ``X`` in the form this synthesizer's ``space`` expects, or raise DataError."""
        where = f"The {self.name!r} synthesizer"
        if self.space == "raw":
            if not isinstance(X, pd.DataFrame):
                raise DataError(
                    f"{where} works on the raw feature table and needs a pandas DataFrame; "
                    f"got {type(X).__name__}. Pass the fold's training rows before preprocessing."
                )
            if X.shape[1] == 0:
                raise DataError(f"{where} needs at least one feature column; the DataFrame has none.")
            if X.columns.has_duplicates:
                dupes = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
                raise DataError(f"{where} needs unique column names; duplicated: {', '.join(dupes)}.")
            return X.reset_index(drop=True)
        try:
            matrix = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{where} works on the preprocessed numeric matrix, but X could not be converted "
                f"to float ({exc}). Pass the fold's training rows after preprocessing."
            ) from exc
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise DataError(f"{where} needs a 2-D matrix with at least one column; got shape {matrix.shape}.")
        if not np.isfinite(matrix).all():
            raise DataError(
                f"{where} needs a matrix without NaN or infinite values. "
                "Impute missing values in preprocessing before synthesis."
            )
        return matrix


def setting_names(cls: type[Synthesizer]) -> list[str]:
    """The names of the settings ``cls`` accepts: the keyword arguments of its ``__init__``."""
    params = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.name != "self" and p.kind in kinds]


def check_int_setting(value: object, name: str, owner: str, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``, else raise ConfigError.

    Integral floats (``100.0``, as search spaces sometimes produce) are accepted; bools are not.
    """
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise invalid_parameter(name, owner, f"an int >= {minimum}", value)
    return int(value)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_seed(seed: object, owner: str) -> int:
    if not _is_int(seed) or not 0 <= seed <= _MAX_SEED:
        raise invalid_parameter("seed", owner, f"an int in [0, {_MAX_SEED}]", seed)
    return int(seed)


def _check_y(y: object, task: str, n_rows: int) -> np.ndarray:
    """Return labels as int64 codes (classification) or float64 (regression), or raise DataError."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DataError(f"The labels y must be 1-D, one per row; got shape {arr.shape}.")
    if len(arr) != n_rows:
        raise DataError(f"X has {n_rows} rows but y has {len(arr)} labels; pass exactly one label per row.")
    if n_rows < 2:
        raise DataError(
            f"A synthesizer needs at least 2 training rows to learn from; got {n_rows}. "
            "Use fewer folds or turn synthesis off with 'none'."
        )
    if task == "classification":
        if arr.dtype.kind not in "iu":
            raise DataError(
                f"Classification labels must be integer class codes; got dtype {arr.dtype}. "
                "Encode the target before synthesis."
            )
        return arr.astype(np.int64)
    try:
        values = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Regression labels must be numeric; got dtype {arr.dtype}.") from exc
    if not np.isfinite(values).all():
        raise DataError("The labels y contain NaN or infinite values; drop those rows first.")
    return values
