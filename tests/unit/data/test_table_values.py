"""Values a careless user's table holds (issue 24): decimal commas in a ';' table, a numeric column with a
few words, infinite and float32-overflowing numbers. Each is read as meant with a note, or refused with
its row and column; never NaN further down."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.data.tabular import MAX_FEATURE_VALUE, coerce_features, load_table
from automl.errors import DataError
from tests.unit.data.tables import write


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_decimal_commas_in_a_semicolon_table_are_numbers_with_a_note() -> None:
    rows = "".join(f"{i},5;{i * 2},25;-0,{i + 1};{'xy'[i % 2]}\n" for i in range(12))
    write("eu.csv", "length;width;offset;label\n" + rows)
    data = load_table("eu.csv", "label")
    assert data.schema == {"length": "numeric", "width": "numeric", "offset": "numeric"}
    assert data.features.loc[1].tolist() == [1.5, 2.25, -0.2]
    assert data.notes == [
        "The header has no commas: read with the separator ';'.",
        "Read 3 columns written with decimal commas ('1,5' for 1.5) as numbers: 'length', 'width', 'offset'.",
    ]


def test_a_semicolon_table_keeps_text_that_is_not_a_decimal_number() -> None:
    rows = "".join(f"{i},5;{i}.{i}.2020;{'xy'[i % 2]}\n" for i in range(12))
    write("eu.csv", "length;date;label\n" + rows + ";;x\n")
    data = load_table("eu.csv", "label")
    assert data.features["length"].tolist()[:2] == [0.5, 1.5] and np.isnan(data.features["length"].iloc[-1])
    assert data.schema["date"] == "categorical"


def test_a_numeric_column_dropped_as_id_like_gets_the_mostly_numeric_note() -> None:
    rng = np.random.default_rng(0)
    values = [f"{v:.3f}" for v in rng.normal(size=57)] + ["unknown", "n.a.", "x"]
    pd.DataFrame({"reading": values, "a": rng.normal(size=60), "y": [0, 1] * 30}).to_csv(
        "mostly.csv", index=False
    )
    data = load_table("mostly.csv", "y")
    assert "reading" not in data.features
    assert data.notes == [
        "Dropped 1 ID-like column (text with more than 20 distinct values, in over 50% of rows): 'reading'.",
        "Column 'reading' was dropped as ID-like text although 95% of its values are numbers: 3 values are not "
        "('unknown', 'n.a.', 'x'). If it is numeric, blank out those values (blank cells count as missing).",
    ]


@pytest.mark.parametrize(
    ("cell", "shown", "what"),
    [("inf", "inf", "an infinite"), ("-inf", "-inf", "an infinite"), ("1e308", "1e+308", "so large a")],
)
def test_a_non_finite_feature_is_refused_with_row_and_column(cell: str, shown: str, what: str) -> None:
    write("t.csv", "a,b,y\n1,2,0\n2,3,1\n3," + cell + ",0\n4,5,1\n5,6,0\n6,7,1\n")
    data = load_table("t.csv", "y")
    message = (
        f"Column 'b' holds {shown} in data row 3: the model computes in 32-bit numbers, which reach only about "
        f"{MAX_FEATURE_VALUE:.1e}, so it cannot use {what} value. Blank it out (blank cells count as missing) "
        "or replace it with a finite number in that range."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        coerce_features(data.features, data.schema)


def test_values_within_float32_pass() -> None:
    frame = pd.DataFrame({"b": [1e38, -3e38, np.nan]})
    out = coerce_features(frame, {"b": "numeric"})
    assert out["b"].iloc[0] == 1e38 and np.isnan(out["b"].iloc[2])


def test_a_target_beyond_float32_is_refused() -> None:
    write("r.csv", "a,y\n1,1.5\n2,2.5\n3,1e300\n4,3.5\n")
    message = (
        "Target column 'y' holds 1e+300 in data row 3, beyond the about 3.4e+38 that the model's 32-bit numbers "
        "reach. Fix the value, or rescale the column (e.g. a logarithm, or other units)."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        load_table("r.csv", "y", "regression")
