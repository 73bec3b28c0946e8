"""Read a CSV or Parquet table for a supervised study and check that it can be used.

The file-level checks and parsing are ``table_files.py`` (its reading API is importable from here too);
this module checks the target and the features, and infers the task and each column's kind.

Every problem a user can fix (missing file, wrong target, too few rows of a class ...) is a
``DataError`` that says what is wrong and how to fix it, so the CLI never shows a traceback for
bad data. The input file is only ever read.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.data.messages import listing, plural
from automl.data.table_files import (
    DEFAULT_MAX_FILE_BYTES,
    PARQUET_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    check_table_file,
    read_checked,
    read_frame,
    sniff_format,
    sniff_separator,
)
from automl.errors import DataError, invalid_parameter

__all__ = [  # with the reading API of table_files.py, which the CLI, the dashboard and predict use from here
    "DEFAULT_MAX_FILE_BYTES",
    "MIN_ROWS_PER_CLASS",
    "PARQUET_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "TASKS",
    "TabularDataset",
    "check_table_file",
    "coerce_features",
    "infer_schema",
    "infer_task",
    "load_table",
    "no_target_error",
    "read_frame",
    "sniff_format",
    "sniff_separator",
]

TASKS = ("classification", "regression")
MIN_ROWS_PER_CLASS = 3  # 1 for the held-out test + 2 for 2-fold cross-validation on the rest
MAX_CLASSES_FOR_INTEGER_TARGET = 20  # an integer target with more distinct values is a regression
ID_MIN_DISTINCT = 20  # a categorical column with more distinct values than this ...
ID_MIN_DISTINCT_FRACTION = 0.5  # ... and distinct values in more than this share of rows is an ID

_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
_BOOLEAN_DIGITS = {"1": 1.0, "0": 0.0}
MOSTLY_NUMERIC = 0.8  # a text column whose values are at least this share numbers gets a note
MAX_FEATURE_VALUE = float(np.finfo(np.float32).max)  # the networks compute in float32: no inf, no 1e308


@dataclass
class TabularDataset:
    """A validated table: the features, the target and what was learned about them while reading."""

    features: pd.DataFrame  # feature columns only, rows with a missing target removed, index 0..n-1
    target: pd.Series  # the target values as read (no missing), same index as features
    target_name: str
    task: str  # "classification" | "regression"
    classes: list[str] | None  # classification: distinct labels as strings, in sorted order
    y: np.ndarray  # classification: int64 codes into `classes`; regression: float64
    schema: dict[str, str]  # feature column -> "numeric" | "categorical" | "boolean"
    source: str  # the path as given
    fingerprint: str  # sha256 hex of the file bytes, to tell whether a study's data changed
    notes: list[str]  # human-readable warnings (dropped rows/columns ...)

    @property
    def n_rows(self) -> int:
        """Number of rows kept (rows with a missing target are not counted)."""
        return len(self.features)

    @property
    def n_features(self) -> int:
        """Number of feature columns kept."""
        return self.features.shape[1]

    @property
    def class_counts(self) -> dict[str, int]:
        """Rows per class label, in `classes` order; empty for a regression."""
        if self.classes is None:
            return {}
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {label: int(n) for label, n in zip(self.classes, counts, strict=True)}

    def summary(self) -> dict[str, Any]:
        """The manifest's `data` entry of a tabular study."""
        return {
            "source": str(Path(self.source).resolve()),
            "fingerprint": self.fingerprint,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "target": self.target_name,
            "task": self.task,
            "classes": self.classes,
            "class_counts": self.class_counts,
            "schema": self.schema,
            "notes": self.notes,
        }


def _label_str(value: object) -> str:
    """A value as a label string; integral floats lose their '.0' so 1 and 1.0 give the same label."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def infer_task(target: pd.Series) -> str:
    """Guess the task: labels (text, bool, or few integer values) -> classification, else regression."""
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=np.float64)
    integral = bool(np.all(np.isfinite(values) & (np.mod(values, 1) == 0)))
    few = len(np.unique(values)) <= MAX_CLASSES_FOR_INTEGER_TARGET
    return "classification" if integral and few else "regression"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so that a message shows inf, not np.float64(inf))."""
    return value.item() if isinstance(value, np.generic) else value


def _is_boolean_text(column: pd.Series) -> bool:
    values = {str(v).strip().lower() for v in column.dropna().unique()}
    return bool(values) and (values <= _BOOLEAN_WORDS.keys() or values <= _BOOLEAN_DIGITS.keys())


def infer_schema(frame: pd.DataFrame) -> dict[str, str]:
    """Kind of every column: bool or yes/no/true/false/0/1 text -> boolean, numbers -> numeric, rest categorical."""
    schema: dict[str, str] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            schema[name] = "boolean"
        elif pd.api.types.is_numeric_dtype(column):
            schema[name] = "numeric"
        elif column.dtype == object and _is_boolean_text(column):
            schema[name] = "boolean"
        else:
            schema[name] = "categorical"
    return schema


def coerce_features(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """Give every schema column its model-ready type (same rules at train and predict time).

    numeric and boolean -> float64 (booleans as 0/1), categorical -> object strings; missing
    values stay NaN in all three, to be imputed later on training folds only.
    """
    absent = [name for name in schema if name not in frame.columns]
    if absent:
        raise DataError(
            f"The data lacks the feature column{'' if len(absent) == 1 else 's'} {listing([repr(n) for n in absent])}. "
            "Give the same feature columns as the data the model was trained on."
        )
    out = {}
    for name, kind in schema.items():
        column = frame[name]
        missing = column.isna().to_numpy()
        if kind == "numeric":
            values = pd.to_numeric(column, errors="coerce")
            expected = "numbers"
        elif kind == "boolean":
            text = column.astype(object).map(lambda v: _label_str(v).strip().lower(), na_action="ignore")
            values = text.map({**_BOOLEAN_WORDS, **_BOOLEAN_DIGITS})
            expected = "true/false, yes/no or 0/1"
        else:
            values = column.astype(object).map(_label_str, na_action="ignore")
            out[name] = values.where(~missing, np.nan).astype(object)
            continue
        bad = values.isna().to_numpy() & ~missing
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"Column {name!r} should hold {expected}, but data row {row + 1} holds {column.iloc[row]!r}. "
                "Fix or blank out such values (blank cells count as missing)."
            )
        numbers = values.to_numpy(dtype=np.float64)
        huge = ~(np.abs(numbers) <= MAX_FEATURE_VALUE) & ~np.isnan(numbers)  # inf, -inf, 1e308
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            raise DataError(
                f"Column {name!r} holds {_plain(column.iloc[row])!r} in data row {row + 1}: the model computes in 32-bit "
                f"numbers, which reach only about {MAX_FEATURE_VALUE:.1e}, so it cannot use "
                f"{'an infinite' if np.isinf(numbers[row]) else 'so large a'} value. Blank it out (blank cells "
                "count as missing) or replace it with a finite number in that range."
            )
        out[name] = pd.Series(numbers, index=frame.index)
    return pd.DataFrame(out, index=frame.index)


def no_target_error(source: str) -> DataError:
    """A table study was given no --target."""
    return DataError(
        f"{source} is read as a table: name the column to predict with --target COLUMN. "
        "(For images, give a folder with one subfolder per class, a .zip of one, or a CSV of path,label.)"
    )


def _missing_target_error(target: str, columns: list[str], source: str) -> DataError:
    lower = {c.lower(): c for c in columns}
    close = (
        [lower[target.lower()]] if target.lower() in lower else difflib.get_close_matches(target, columns, 1)
    )
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataError(f"Target column {target!r} is not in {source}.{hint} Columns: {listing(columns)}.")


def _encode_classes(target: pd.Series, name: str) -> tuple[list[str], np.ndarray]:
    """Labels as strings (numeric labels in numeric order), codes into them; check class sizes."""
    labels = target.map(_label_str)
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    classes = sorted(set(labels), key=float if numeric else str)
    if len(classes) < 2:
        raise DataError(
            f"Target column {name!r} has a single class ({classes[0]!r}) in all {len(labels)} rows; "
            "classification needs at least two. Check that this is the column to predict, or add rows of other classes."
        )
    y = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
    counts = np.bincount(y, minlength=len(classes))
    rare = [
        f"{label!r} ({plural(int(n), 'row')})"
        for label, n in zip(classes, counts, strict=True)
        if n < MIN_ROWS_PER_CLASS
    ]
    if rare:
        one = len(rare) == 1
        raise DataError(
            f"Target column {name!r} has too few rows of class{'' if one else 'es'} {listing(rare)}; every class needs "
            f"at least {MIN_ROWS_PER_CLASS} (1 for the held-out test and 2 for 2-fold cross-validation on the rest). "
            f"Add rows of {'that class' if one else 'those classes'}, or drop or merge "
            f"{'it' if one else 'them'} into a similar class."
        )
    return classes, y


def _regression_values(target: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        example = target.iloc[0]
        raise DataError(
            f"Target column {name!r} is not numeric (e.g. {example!r}), so it cannot be used for regression. "
            "Use task 'classification', or convert the column to numbers."
        )
    y = target.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise DataError(f"Target column {name!r} holds infinite values. Remove those rows or fix the values.")
    if np.abs(y).max() > MAX_FEATURE_VALUE:
        row = int(np.argmax(np.abs(y)))
        raise DataError(
            f"Target column {name!r} holds {_plain(y[row])!r} in data row {row + 1}, beyond the about "
            f"{MAX_FEATURE_VALUE:.1e} that the model's 32-bit numbers reach. Fix the value, or rescale the column "
            "(e.g. a logarithm, or other units)."
        )
    if len(y) < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"Target column {name!r} has only {len(y)} values; regression needs at least {MIN_ROWS_PER_CLASS} rows "
            "(1 for the held-out test and 2 for 2-fold cross-validation on the rest). Add rows."
        )
    return y


def _mostly_numeric_notes(
    features: pd.DataFrame, schema: dict[str, str], dropped: frozenset[str] = frozenset()
) -> list[str]:
    """A note for each categorical column whose values are mostly numbers: a few words among numbers
    (e.g. 'n/a', 'unknown') turn a numeric column into a categorical one, which is rarely meant; and with
    many distinct numbers such a column is then dropped as ID-like (those in `dropped`)."""
    notes = []
    for name, kind in schema.items():
        if kind != "categorical":
            continue
        values = features[name].dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        words = values[numbers.isna()]
        if len(values) and len(words) and numbers.notna().mean() >= MOSTLY_NUMERIC:
            examples = listing([repr(w) for w in pd.unique(words.astype(str))][:3])
            read = "was dropped as ID-like text" if name in dropped else "is read as categorical"
            notes.append(
                f"Column {name!r} {read} although {numbers.notna().mean():.0%} of its values are "
                f"numbers: {plural(len(words), 'value')} {'is' if len(words) == 1 else 'are'} not ({examples}). "
                "If it is numeric, blank out those values (blank cells count as missing)."
            )
    return notes


def _drop_useless(features: pd.DataFrame, schema: dict[str, str], notes: list[str]) -> list[str]:
    """Names of constant columns and ID-like categorical columns, with a note for each group."""
    constant = [c for c in features.columns if features[c].nunique(dropna=True) <= 1]
    distinct = {c: features[c].nunique(dropna=True) for c in features.columns if schema[c] == "categorical"}
    ids = [
        c
        for c, n in distinct.items()
        if c not in constant and n > ID_MIN_DISTINCT and n > ID_MIN_DISTINCT_FRACTION * len(features)
    ]
    if constant:
        notes.append(
            f"Dropped {plural(len(constant), 'constant column')} (one distinct value or all missing): "
            f"{listing([repr(c) for c in constant])}."
        )
    if ids:
        notes.append(
            f"Dropped {plural(len(ids), 'ID-like column')} (text with more than {ID_MIN_DISTINCT} distinct values, "
            f"in over {ID_MIN_DISTINCT_FRACTION:.0%} of rows): {listing([repr(c) for c in ids])}."
        )
    return constant + ids


def load_table(
    path: str | os.PathLike,
    target: str,
    task: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> TabularDataset:
    """Read and validate a table for a study: checks the file, the target and the features.

    ``task`` None infers it from the target (see ``infer_task``). Rows with a missing target
    are dropped (with a note and a UserWarning); constant and ID-like columns are dropped with
    a note; missing feature values are kept as NaN.
    """
    if task is not None and task not in TASKS:
        raise invalid_parameter("task", "load_table", f"one of {TASKS} or None (to infer it)", task)
    source = os.fspath(path)
    notes: list[str] = []
    frame, raw = read_checked(path, max_bytes, notes)
    columns = [str(c) for c in frame.columns]
    if target not in frame.columns:
        raise _missing_target_error(target, columns, source)

    missing = frame[target].isna()
    if missing.all():
        raise DataError(
            f"Target column {target!r} in {source} has no values: all {len(frame)} rows are missing. "
            "Choose the column that holds the value to predict, or fill it in."
        )
    if missing.any():
        note = f"Dropped {plural(int(missing.sum()), 'row')} whose target {target!r} is missing."
        notes.append(note)
        warnings.warn(note, UserWarning, stacklevel=2)
        frame = frame.loc[~missing].reset_index(drop=True)

    target_values = frame[target]
    task = task or infer_task(target_values)
    if task == "classification":
        classes, y = _encode_classes(target_values, target)
    else:
        classes, y = None, _regression_values(target_values, target)

    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(
            f"Data file {source} has no feature columns, only the target {target!r}. Add the columns to learn from."
        )
    schema = infer_schema(features)
    dropped = _drop_useless(features, schema, notes)
    ids = [c for c in dropped if features[c].nunique(dropna=True) > 1]  # not the constant ones
    notes += _mostly_numeric_notes(features[ids], {c: schema[c] for c in ids}, frozenset(ids))
    features = features.drop(columns=dropped)
    if features.shape[1] == 0:
        raise DataError(
            f"Data file {source} has no usable feature columns: {listing([repr(c) for c in dropped])} are "
            "constant or ID-like. Add columns that vary and carry information about the target."
        )
    schema = {c: schema[c] for c in features.columns}
    notes += _mostly_numeric_notes(features, schema)
    return TabularDataset(
        features=features,
        target=target_values,
        target_name=target,
        task=task,
        classes=classes,
        y=y,
        schema=schema,
        source=source,
        fingerprint=hashlib.sha256(raw).hexdigest(),
        notes=notes,
    )
