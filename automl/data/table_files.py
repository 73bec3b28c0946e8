"""Read a CSV or Parquet file into a frame, with the file-level checks: it exists, is not too big, is the
format its name says (not Excel, zip, JSON ... under a table's name), is UTF-8, and parses.

Every problem is a ``DataError`` that says what is wrong and how to fix it. The file is only read.
What the columns mean (the target, the features) is checked by ``tabular.load_table``.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.messages import MIB, listing, plural, size_text
from automl.data.special_files import TooLarge, read_limited, special_kind
from automl.errors import DataError

DEFAULT_MAX_FILE_BYTES = 200 * 1024 * 1024
CSV_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: guess from the header line
PARQUET_EXTENSIONS = (".parquet", ".pq")
SUPPORTED_EXTENSIONS = (*CSV_SEPARATORS, *PARQUET_EXTENSIONS)
EXTRA_NA_VALUES = ["", "NA", "N/A", "null", "?"]  # on top of pandas' default markers
_OTHER_SEPARATORS = ";\t|"  # tried, in this order, when a .csv header has no comma
_DECIMAL_COMMA = r"[+-]?(\d+,\d*|,\d+|\d+)([eE][+-]?\d+)?"  # 1,5  -0,25  ,5  3  1,5e-3
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


def read_frame(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> pd.DataFrame:
    """Read a CSV or Parquet file with the file-level checks only (no target, no schema)."""
    return read_checked(path, max_bytes)[0]


def check_table_file(path: str | os.PathLike, max_bytes: int) -> None:
    """The checks that need no reading: the file exists, is a regular file (not a FIFO, a device or under
    /proc) with a table's extension, and is not over `max_bytes`."""
    source = os.fspath(path)
    file = Path(source)
    if not file.exists():
        raise DataError(
            f"Data file {source} does not exist. Check the path (relative paths start from {os.getcwd()})."
        )
    if file.is_dir():
        raise DataError(f"Data file {source} is a directory. Give the path of a CSV or Parquet file.")
    special = special_kind(source)  # before anything opens it: a FIFO blocks, /dev/zero never ends
    if special:
        raise DataError(
            f"Data file {source} is {special}, not a regular file. Save the table to a regular CSV or "
            "Parquet file and give that file."
        )
    suffix = file.suffix.lower()
    if suffix == ".zip":
        raise DataError(
            f"Data file {source} is a zip archive, and a table (read because --target is given) must be a "
            f"CSV or Parquet file. Unzip it and give the table inside (e.g. `unzip {source}`); a .zip of "
            "images takes no --target."
        )
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"Data file {source} has {f'the unsupported extension {suffix!r}' if suffix else 'no extension'}. "
            f"Supported: {', '.join(SUPPORTED_EXTENSIONS)}. Save the table as CSV or Parquet."
        )
    size = os.path.getsize(source)  # before reading: a huge file must not be loaded at all
    if size > max_bytes:
        raise _too_large(source, size, max_bytes)


def _too_large(source: str, size: int, max_bytes: int) -> DataError:
    found = f"is {size_text(size)}, over" if size > max_bytes else "holds more than"
    return DataError(
        f"Data file {source} {found} the limit of {size_text(max_bytes)}. Raise the limit with "
        f"--max-file-mb {math.ceil(max(size, max_bytes + 1) / MIB)} (or more), or use a sample of the rows."
    )


def read_checked(
    path: str | os.PathLike, max_bytes: int, notes: list[str] | None = None
) -> tuple[pd.DataFrame, bytes]:
    """Check and read the file; return the frame (index 0..n-1) and the raw bytes."""
    source = os.fspath(path)
    check_table_file(source, max_bytes)
    suffix = Path(source).suffix.lower()
    try:
        raw = read_limited(source, max_bytes)  # the size a file reports is not always what it holds
    except TooLarge:
        raise _too_large(source, os.path.getsize(source), max_bytes) from None
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
            f"Data file {source} has duplicated column names: {listing(duplicated)}. "
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
        frame = pd.read_csv(io.StringIO(text), sep=sep, na_values=EXTRA_NA_VALUES, low_memory=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, ValueError) as exc:
        raise _parse_error(source, str(exc), sep, len(header)) from None
    if sep != ",":  # a ';' table from a locale that writes 1,5 for 1.5
        frame = _decimal_commas(frame, notes)
    return frame


def _parse_error(source: str, reason: str, sep: str, n_header: int) -> DataError:
    """The parser's complaint in the user's words: which line has how many fields."""
    fields = re.search(r"Expected (\d+) fields? in line (\d+), saw (\d+)", reason)
    if fields:
        expected, line, saw = (int(n) for n in fields.groups())
        what = (
            f"line {line} has {plural(saw, 'field')} where the header has {plural(expected, 'field')}"
            f" (separated by {sep!r})"
        )
    else:
        what = reason.strip().rstrip(".").removeprefix("Error tokenizing data. ")
    hint = (
        " Its first line holds no separator (',', ';', a tab or '|'), so it is not a table's header: give a "
        "table whose first line names the columns, separated by commas."
        if n_header <= 1
        else f" Check that every row has as many fields as the header, separated by {sep!r}, and that a "
        "field holding the separator is quoted."
    )
    return DataError(f"Data file {source} cannot be parsed as a table: {what}.{hint}")


def _decimal_commas(frame: pd.DataFrame, notes: list[str] | None) -> pd.DataFrame:
    """Text columns whose every value is a number written with a decimal comma ('1,5'), as numbers."""
    converted = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        text = column.dropna().astype(str).str.strip()
        if text.empty or not text.str.fullmatch(_DECIMAL_COMMA).all() or not text.str.contains(",").any():
            continue
        numbers = pd.to_numeric(text.str.replace(",", ".", regex=False))
        frame[name] = numbers.reindex(frame.index).astype(np.float64)  # missing cells stay NaN
        converted.append(repr(str(name)))
    if converted and notes is not None:
        notes.append(
            f"Read {plural(len(converted), 'column')} written with decimal commas ('1,5' for 1.5) as numbers: "
            f"{listing(converted)}."
        )
    return frame


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
