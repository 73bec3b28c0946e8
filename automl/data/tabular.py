"""Read a CSV or Parquet table for a supervised study and check that it can be used.

Every problem a user can fix (missing file, wrong target, too few rows of a class ...) is a
``DataError`` that says what is wrong and how to fix it, so the CLI never shows a traceback for
bad data. The input file is only ever read.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.errors import DataError, invalid_parameter

TASKS = ("classification", "regression")
DEFAULT_MAX_FILE_BYTES = 200 * 1024 * 1024
MIN_ROWS_PER_CLASS = 3  # 1 for the held-out test + 2 for 2-fold cross-validation on the rest
MAX_CLASSES_FOR_INTEGER_TARGET = 20  # an integer target with more distinct values is a regression
ID_MIN_DISTINCT = 20  # a categorical column with more distinct values than this ...
ID_MIN_DISTINCT_FRACTION = 0.5  # ... and distinct values in more than this share of rows is an ID

CSV_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: guess from the header line
PARQUET_EXTENSIONS = (".parquet", ".pq")
SUPPORTED_EXTENSIONS = (*CSV_SEPARATORS, *PARQUET_EXTENSIONS)
EXTRA_NA_VALUES = ["", "NA", "N/A", "null", "?"]  # on top of pandas' default markers
_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
_BOOLEAN_DIGITS = {"1": 1.0, "0": 0.0}
_MIB = 1024 * 1024
_MAX_LISTED = 10  # longest list of names or classes spelled out in a message
_OTHER_SEPARATORS = ";\t|"  # tried, in this order, when a .csv header has no comma
MOSTLY_NUMERIC = 0.8  # a text column whose values are at least this share numbers gets a note
# What other formats start with, so that a table saved under the wrong name is told apart from bad CSV.
_SIGNATURES = (
    (b"PAR1", "a Parquet file", "Rename it to .parquet."),
    (
        b"PK\x03\x04",
        "a zip archive (an Excel .xlsx workbook is one)",
        "Save the sheet as 'CSV UTF-8', or as Parquet.",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel .xls workbook",
        "Save the sheet as 'CSV UTF-8', or as Parquet.",
    ),
    (b"\x1f\x8b", "gzip-compressed", "Unpack it first (`gunzip`)."),
    (b"SQLite format 3\x00", "an SQLite database", "Export the table as CSV."),
)


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


def _listing(items: list[str]) -> str:
    """Join names for a message, cutting long lists so that messages stay readable."""
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown} ... ({len(items) - _MAX_LISTED} more)"


def _count(n: int, word: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _size(n_bytes: float) -> str:
    return f"{n_bytes / _MIB:.1f} MB" if n_bytes >= _MIB else f"{int(n_bytes)} bytes"


def _label_str(value: object) -> str:
    """A value as a label string; integral floats lose their '.0' so 1 and 1.0 give the same label."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def read_frame(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> pd.DataFrame:
    """Read a CSV or Parquet file with the file-level checks only (no target, no schema)."""
    return _read(path, max_bytes)[0]


def _read(
    path: str | os.PathLike, max_bytes: int, notes: list[str] | None = None
) -> tuple[pd.DataFrame, bytes]:
    """Check and read the file; return the frame (index 0..n-1) and the raw bytes."""
    source = os.fspath(path)
    file = Path(source)
    if not file.exists():
        raise DataError(
            f"Data file {source} does not exist. Check the path (relative paths start from {os.getcwd()})."
        )
    if file.is_dir():
        raise DataError(f"Data file {source} is a directory. Give the path of a CSV or Parquet file.")
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"Data file {source} has {f'the unsupported extension {suffix!r}' if suffix else 'no extension'}. "
            f"Supported: {', '.join(SUPPORTED_EXTENSIONS)}. Save the table as CSV or Parquet."
        )
    size = os.path.getsize(source)  # before reading: a huge file must not be loaded at all
    if size > max_bytes:
        raise DataError(
            f"Data file {source} is {_size(size)}, over the limit of {_size(max_bytes)}. "
            f"Raise the limit with --max-file-mb {math.ceil(size / _MIB)} (or more), or use a sample of the rows."
        )
    try:
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataError(
            f"Cannot read data file {source}: {reason}. Check that it exists and that you may read it."
        ) from exc
    frame = (
        _parse_parquet(raw, source)
        if suffix in PARQUET_EXTENSIONS
        else _parse_csv(raw, source, suffix, notes)
    )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(
            f"Data file {source} has no data rows (it is empty or has only a header). "
            "Give a table with a header line and one row per example."
        )
    return frame.reset_index(drop=True), raw


def _check_unique_names(names: list[str], source: str) -> None:
    duplicated = [f"{name!r} ({n} times)" for name, n in Counter(names).items() if n > 1]
    if duplicated:
        raise DataError(
            f"Data file {source} has duplicated column names: {_listing(duplicated)}. "
            "Rename the columns so that every name is unique."
        )


def sniff_format(raw: bytes, source: str) -> None:
    """Refuse, naming what was found, a file with a table's name whose content is another format
    (Parquet, Excel, zip, gzip, SQLite or JSON): the same rule for the CLI and the dashboard."""
    for magic, what, fix in _SIGNATURES:
        if raw.startswith(magic):
            raise DataError(f"Data file {source} is {what}, not CSV text. {fix}")
    head = raw.removeprefix(codecs.BOM_UTF8)[:64].lstrip()
    if head[:1] in (b"{", b"[") and _is_json(raw):
        raise DataError(
            f"Data file {source} holds JSON (it starts with {head[:1].decode()!r}), not CSV text. Save the table "
            "as CSV (a header line, then one row per example), e.g. `pandas.read_json(path).to_csv(out, index=False)`."
        )


def _is_json(raw: bytes) -> bool:
    import json

    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def _header_fields(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:  # a stray carriage return or NUL: count plainly, the parser reports the problem
        return line.split(sep)


def sniff_separator(first_line: str, suffix: str) -> tuple[str, str | None]:
    """The separator of a text table, and a note when it is not the one its name implies.

    .tsv: a tab. .csv: a comma, unless the header has none and has ';', a tab or '|' (spreadsheets in
    many locales write ';'). .txt: whichever of those the header holds most.
    """
    fields_by = {sep: len(_header_fields(first_line, sep)) for sep in ",;\t|"}
    named = CSV_SEPARATORS.get(suffix, ",")
    if named == "\t" or (named == "," and fields_by[","] > 1):
        return named, None
    if named is None:
        return max(",\t;|", key=lambda sep: fields_by[sep]), None
    other = next((sep for sep in _OTHER_SEPARATORS if fields_by[sep] > 1), None)
    if other is None:
        return ",", None
    return other, f"The header has no commas: read with the separator {other!r}."


def _parse_csv(raw: bytes, source: str, suffix: str, notes: list[str] | None = None) -> pd.DataFrame:
    sniff_format(raw, source)
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[start:].decode("utf-8")  # strict: a wrong encoding must not turn into mojibake
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = raw.count(b"\n", 0, offset) + 1
        fixed = Path(source).with_name(f"{Path(source).stem}-utf8{Path(source).suffix}")
        raise DataError(
            f"Data file {source} is not UTF-8 text: byte 0x{raw[offset]:02x} at offset {offset} (line {line}) "
            f"is not valid UTF-8. Re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 {source} > {fixed}` "
            "(or choose 'CSV UTF-8' when saving from a spreadsheet)."
        ) from exc
    first_line = text.split("\n", 1)[0].rstrip("\r")
    sep, note = sniff_separator(first_line, suffix)
    if note and notes is not None:
        notes.append(note)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    except csv.Error as exc:  # e.g. a lone carriage return inside an unquoted header
        raise DataError(
            f"Data file {source} cannot be parsed as a table: its header line is malformed ({exc}). "
            f"Check that the first line holds the column names, separated by {sep!r}."
        ) from None
    _check_unique_names(header, source)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, na_values=EXTRA_NA_VALUES, low_memory=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(
            f"Data file {source} cannot be parsed as a table: {str(exc).strip().rstrip('.')}. "
            f"Check that every row has as many fields as the header, separated by {sep!r}."
        ) from exc


def _parse_parquet(raw: bytes, source: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(raw))
        _check_unique_names(parquet.schema_arrow.names, source)
        return parquet.read().to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"Data file {source} cannot be read as Parquet: {str(exc).rstrip('.')}. "
            "Check that it is a complete Parquet file, or export the table again (or as CSV)."
        ) from exc


def infer_task(target: pd.Series) -> str:
    """Guess the task: labels (text, bool, or few integer values) -> classification, else regression."""
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=np.float64)
    integral = bool(np.all(np.isfinite(values) & (np.mod(values, 1) == 0)))
    few = len(np.unique(values)) <= MAX_CLASSES_FOR_INTEGER_TARGET
    return "classification" if integral and few else "regression"


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
            f"The data lacks the feature column{'' if len(absent) == 1 else 's'} {_listing([repr(n) for n in absent])}. "
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
        out[name] = values.astype(np.float64)
    return pd.DataFrame(out, index=frame.index)


def _missing_target_error(target: str, columns: list[str], source: str) -> DataError:
    lower = {c.lower(): c for c in columns}
    close = (
        [lower[target.lower()]] if target.lower() in lower else difflib.get_close_matches(target, columns, 1)
    )
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataError(f"Target column {target!r} is not in {source}.{hint} Columns: {_listing(columns)}.")


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
        f"{label!r} ({_count(int(n), 'row')})"
        for label, n in zip(classes, counts, strict=True)
        if n < MIN_ROWS_PER_CLASS
    ]
    if rare:
        one = len(rare) == 1
        raise DataError(
            f"Target column {name!r} has too few rows of class{'' if one else 'es'} {_listing(rare)}; every class needs "
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
    if len(y) < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"Target column {name!r} has only {len(y)} values; regression needs at least {MIN_ROWS_PER_CLASS} rows "
            "(1 for the held-out test and 2 for 2-fold cross-validation on the rest). Add rows."
        )
    return y


def _mostly_numeric_notes(features: pd.DataFrame, schema: dict[str, str]) -> list[str]:
    """A note for each categorical column whose values are mostly numbers: a few words among numbers
    (e.g. 'n/a', 'unknown') turn a numeric column into a categorical one, which is rarely meant."""
    notes = []
    for name, kind in schema.items():
        if kind != "categorical":
            continue
        values = features[name].dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        words = values[numbers.isna()]
        if len(values) and len(words) and numbers.notna().mean() >= MOSTLY_NUMERIC:
            examples = _listing([repr(w) for w in pd.unique(words.astype(str))][:3])
            notes.append(
                f"Column {name!r} is read as categorical although {numbers.notna().mean():.0%} of its values are "
                f"numbers: {_count(len(words), 'value')} {'is' if len(words) == 1 else 'are'} not ({examples}). "
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
            f"Dropped {_count(len(constant), 'constant column')} (one distinct value or all missing): "
            f"{_listing([repr(c) for c in constant])}."
        )
    if ids:
        notes.append(
            f"Dropped {_count(len(ids), 'ID-like column')} (text with more than {ID_MIN_DISTINCT} distinct values, "
            f"in over {ID_MIN_DISTINCT_FRACTION:.0%} of rows): {_listing([repr(c) for c in ids])}."
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
    frame, raw = _read(path, max_bytes, notes)
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
        note = f"Dropped {_count(int(missing.sum()), 'row')} whose target {target!r} is missing."
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
    features = features.drop(columns=dropped)
    if features.shape[1] == 0:
        raise DataError(
            f"Data file {source} has no usable feature columns: {_listing([repr(c) for c in dropped])} are "
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
