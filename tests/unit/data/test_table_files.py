"""Tests of automl.data.table_files: reading a CSV or Parquet file, with the file-level checks and format
sniffing (one rule for the CLI and the dashboard), through `load_table` as a study reads it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automl.data import table_files
from automl.data.table_files import read_frame, sniff_separator
from automl.data.tabular import load_table
from automl.errors import DataError
from tests.unit.data.tables import small_frame, write


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test inside its own tmp_path so file names in messages are short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- formats --------------------------------------------------------------------------------


def test_extra_na_markers_count_as_missing() -> None:
    write("data.csv", "a,b,label\n1,N/A,x\nnull,2,y\n?,3,x\n,NA,y\n5,5,x\n6,6,y\n")
    ds = load_table("data.csv", "label")
    assert ds.schema == {"a": "numeric", "b": "numeric"}
    assert ds.features["a"].isna().tolist() == [False, True, True, True, False, False]
    assert ds.features["b"].isna().tolist() == [True, False, False, True, False, False]


def test_csv_and_parquet_give_the_same_dataset() -> None:
    small_frame().to_csv("data.csv", index=False)
    small_frame().to_parquet("data.parquet", index=False)
    from_csv = load_table("data.csv", "label")
    from_parquet = load_table("data.parquet", "label")
    pd.testing.assert_frame_equal(from_csv.features, from_parquet.features)
    pd.testing.assert_series_equal(from_csv.target, from_parquet.target)
    assert from_csv.schema == from_parquet.schema
    assert from_csv.classes == from_parquet.classes
    assert from_csv.y.tolist() == from_parquet.y.tolist()
    assert from_csv.task == from_parquet.task
    assert from_parquet.source == "data.parquet"


def test_pq_tsv_and_txt_extensions() -> None:
    small_frame().to_parquet("data.pq")
    small_frame().to_csv("data.tsv", sep="\t", index=False)
    small_frame().to_csv("data.txt", sep=";", index=False)
    small_frame().to_csv("DATA.CSV", index=False)
    expected = read_frame("data.pq")
    for name in ("data.tsv", "data.txt", "DATA.CSV"):
        pd.testing.assert_frame_equal(read_frame(name), expected)


def test_windows_line_endings() -> None:
    Path("data.csv").write_bytes(b"a,label\r\n1,x\r\n2,y\r\n")
    frame = read_frame("data.csv")
    assert list(frame.columns) == ["a", "label"]
    assert frame["label"].tolist() == ["x", "y"]


def test_utf8_bom_is_allowed() -> None:
    Path("data.csv").write_bytes(b"\xef\xbb\xbfname,label\ncaf\xc3\xa9,a\n")
    frame = read_frame("data.csv")
    assert list(frame.columns) == ["name", "label"]
    assert frame["name"].tolist() == ["café"]


# --- errors: the file -----------------------------------------------------------------------


def test_missing_file(in_tmp: Path) -> None:
    with pytest.raises(
        DataError,
        match=re.escape(
            f"Data file nope.csv does not exist. Check the path (relative paths start from {os.getcwd()})."
        ),
    ):
        load_table("nope.csv", "label")


def test_directory_is_not_a_file() -> None:
    Path("folder.csv").mkdir()
    with pytest.raises(
        DataError,
        match=re.escape("Data file folder.csv is a directory. Give the path of a CSV or Parquet file."),
    ):
        read_frame("folder.csv")


def test_permission_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    small_frame().to_csv("data.csv", index=False)

    def denied(path: str, max_bytes: int) -> bytes:  # the tests run as root: chmod would not deny
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(table_files, "read_limited", denied)
    with pytest.raises(
        DataError,
        match=re.escape(
            "Cannot read data file data.csv: Permission denied. "
            "Check that it exists and that you may read it."
        ),
    ):
        load_table("data.csv", "label")


def test_corrupt_parquet() -> None:
    Path("data.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(
        DataError,
        match=r"Data file data\.parquet cannot be read as Parquet: .+\. Check that it is a complete "
        r"Parquet file, or export the table again \(or as CSV\)\.",
    ):
        load_table("data.parquet", "label")


@pytest.mark.parametrize(
    ("name", "what"), [("data.xlsx", "the unsupported extension '.xlsx'"), ("data", "no extension")]
)
def test_unsupported_extension(name: str, what: str) -> None:
    write(name, "a,label\n1,x\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            f"Data file {name} has {what}. Supported: .csv, .tsv, .txt, .parquet, .pq. "
            "Save the table as CSV or Parquet."
        ),
    ):
        read_frame(name)


EMPTY = (
    "Data file data.{ext} has no data rows (it is empty or has only a header). "
    "Give a table with a header line and one row per example."
)


@pytest.mark.parametrize("text", ["", "a,label\n", "\n\n"])
def test_empty_csv(text: str) -> None:
    write("data.csv", text)
    with pytest.raises(DataError, match=re.escape(EMPTY.format(ext="csv"))):
        load_table("data.csv", "label")


def test_empty_parquet() -> None:
    pd.DataFrame({"a": pd.Series([], dtype=float), "label": pd.Series([], dtype=object)}).to_parquet(
        "data.parquet"
    )
    with pytest.raises(DataError, match=re.escape(EMPTY.format(ext="parquet"))):
        load_table("data.parquet", "label")


def test_non_utf8_csv() -> None:
    Path("data.csv").write_bytes("name,label\ncafé,a\n".encode("latin-1"))
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv is not UTF-8 text: byte 0xe9 at offset 14 (line 2) is not valid UTF-8. "
            "Re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 data.csv > data-utf8.csv` "
            "(or choose 'CSV UTF-8' when saving from a spreadsheet)."
        ),
    ):
        read_frame("data.csv")


def test_duplicated_columns_csv() -> None:
    write("data.csv", 'a,b,"a",label,b,a\n1,2,3,x,4,5\n')
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv has duplicated column names: 'a' (3 times), 'b' (2 times). "
            "Rename the columns so that every name is unique."
        ),
    ):
        load_table("data.csv", "label")


def test_duplicated_columns_parquet() -> None:
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    pq.write_table(table, "data.parquet")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.parquet has duplicated column names: 'a' (2 times). "
            "Rename the columns so that every name is unique."
        ),
    ):
        read_frame("data.parquet")


def test_file_over_size_limit_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    write("data.csv", "a,label\n" + "1,x\n" * 50)  # 208 bytes

    def must_not_read(self: Path) -> bytes:
        raise AssertionError("the file was read before its size was checked")

    monkeypatch.setattr(Path, "read_bytes", must_not_read)
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv is 208 bytes, over the limit of 100 bytes. "
            "Raise the limit with --max-file-mb 1 (or more), or use a sample of the rows."
        ),
    ):
        load_table("data.csv", "label", max_bytes=100)


def test_size_limit_in_megabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    write("data.csv", "a,label\n1,x\n")
    monkeypatch.setattr(os.path, "getsize", lambda _path: 250 * 1024 * 1024 + 1)
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv is 250.0 MB, over the limit of 200.0 MB. "
            "Raise the limit with --max-file-mb 251 (or more), or use a sample of the rows."
        ),
    ):
        read_frame("data.csv")


def test_ragged_csv() -> None:
    write("data.csv", "a,label\n1,x\n2,y,extra,more\n")
    message = (
        "Data file data.csv cannot be parsed as a table: line 3 has 4 fields where the header has 2 fields "
        "(separated by ','). Check that every row has as many fields as the header, separated by ',', and "
        "that a field holding the separator is quoted."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        read_frame("data.csv")


def test_a_file_that_is_no_table_says_so_not_the_parser(tmp_path: Path) -> None:
    # /etc/passwd given as a CSV: ':'-separated, with a comma in a few lines
    write(
        "passwd.csv",
        "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/bin/sh\npg:x:101:104:PostgreSQL,,,:/var:/bin/sh\n",
    )
    message = (
        "Data file passwd.csv cannot be parsed as a table: line 3 has 4 fields where the header has 1 field "
        "(separated by ','). Its first line holds no separator (',', ';', a tab or '|'), so it is not a "
        "table's header: give a table whose first line names the columns, separated by commas."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        read_frame("passwd.csv")


# --- format sniffing (one rule for the CLI and the dashboard) ---------------------------------


def test_a_semicolon_csv_is_read_with_a_note() -> None:
    write("semi.csv", "a;b;label\n" + "".join(f"{i};{i % 3};{'xy'[i % 2]}\n" for i in range(12)))
    data = load_table("semi.csv", "label")
    assert list(data.features.columns) == ["a", "b"]
    assert data.notes[0] == "The header has no commas: read with the separator ';'."
    assert sniff_separator("a;b;c", ".csv") == (";", "The header has no commas: read with the separator ';'.")
    assert sniff_separator("a|b", ".csv")[0] == "|" and sniff_separator("a\tb", ".csv")[0] == "\t"
    assert sniff_separator("a,b;c", ".csv") == (",", None)
    assert sniff_separator("single", ".csv") == (",", None)
    assert sniff_separator("a;b;c", ".tsv") == ("\t", None)


def test_a_semicolon_csv_with_a_misspelt_target_lists_the_real_columns() -> None:
    write("semi.csv", "a;b;label\n1;2;x\n")
    with pytest.raises(DataError, match=re.escape("Did you mean 'label'? Columns: a, b, label.")):
        load_table("semi.csv", "lable")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"a": 1, "label": "x"}]', "holds JSON (it starts with '['), not CSV text."),
        (b'  {"a": [1, 2]}', "holds JSON (it starts with '{'), not CSV text."),
        (b"PAR1\x00\x00", "is a Parquet file, not CSV text. Rename it to .parquet."),
        (b"PK\x03\x04rest", "is a zip archive (an Excel .xlsx workbook is one), not CSV text."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "is an old Excel .xls workbook, not CSV text."),
        (b"\x1f\x8b\x08\x00", "is gzip-compressed, not CSV text. Unpack it first (`gunzip`)."),
    ],
)
def test_another_format_under_a_csv_name_is_named(content: bytes, message: str) -> None:
    Path("data.csv").write_bytes(content)
    with pytest.raises(DataError, match=f"^{re.escape('Data file data.csv ' + message)}"):
        load_table("data.csv", "label")


def test_a_bracket_that_is_not_json_is_still_csv() -> None:
    write("data.csv", "[a],label\n1,x\n2,y\n3,x\n4,y\n5,x\n6,y\n")
    assert list(read_frame("data.csv").columns) == ["[a]", "label"]


def test_a_carriage_return_inside_the_header_is_a_data_error() -> None:
    """Found by tests/unit/test_fuzz_readers.py: csv.Error used to escape as a traceback."""
    Path("data.csv").write_bytes(b"a\rb,label\n1,x\n")
    with pytest.raises(
        DataError, match=r"^Data file data\.csv cannot be parsed as a table: its header line is malformed"
    ):
        read_frame("data.csv")
