"""Tests of automl.data.tabular: validating and typing a table for a study (the file-level checks and
parsing: test_table_files.py)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.data.tabular import (
    DEFAULT_MAX_FILE_BYTES,
    MIN_ROWS_PER_CLASS,
    TASKS,
    coerce_features,
    infer_schema,
    infer_task,
    load_table,
)
from automl.errors import ConfigError, DataError
from tests.unit.data.tables import small_frame, write


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test inside its own tmp_path so file names in messages are short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- constants ------------------------------------------------------------------------------


def test_constants() -> None:
    assert TASKS == ("classification", "regression")
    assert DEFAULT_MAX_FILE_BYTES == 200 * 1024 * 1024
    assert MIN_ROWS_PER_CLASS == 3


# --- happy paths ----------------------------------------------------------------------------


def test_load_csv_classification_with_all_column_kinds() -> None:
    small_frame().to_csv("data.csv", index=False)
    ds = load_table("data.csv", "label")
    assert ds.task == "classification"
    assert ds.classes == ["cat", "dog"]
    assert ds.y.dtype == np.int64
    assert ds.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert ds.schema == {"x": "numeric", "color": "categorical", "flag": "boolean"}
    assert list(ds.features.columns) == ["x", "color", "flag"]
    assert ds.target_name == "label"
    assert ds.target.tolist() == ["cat", "dog", "cat", "dog", "cat", "dog"]
    assert ds.features.index.equals(ds.target.index)
    assert (ds.n_rows, ds.n_features) == (6, 3)
    assert ds.class_counts == {"cat": 3, "dog": 3}
    assert ds.source == "data.csv"
    assert ds.notes == []
    # missing feature values stay missing (imputation is fitted later, on training folds)
    assert ds.features["x"].isna().tolist() == [False, False, True, False, False, False]
    assert ds.features["color"].isna().sum() == 1


def test_fingerprint_is_sha256_and_file_is_untouched() -> None:
    small_frame().to_csv("data.csv", index=False)
    before, mtime = Path("data.csv").read_bytes(), os.path.getmtime("data.csv")
    ds = load_table(Path("data.csv"), "label")
    assert ds.fingerprint == hashlib.sha256(before).hexdigest()
    assert ds.source == "data.csv"
    assert Path("data.csv").read_bytes() == before
    assert os.path.getmtime("data.csv") == mtime


def test_regression_is_inferred_for_a_continuous_target() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4, 5], "price": [1.5, 2.25, 3.0, 10.75, 8.0]})
    frame.to_csv("data.csv", index=False)
    ds = load_table("data.csv", "price")
    assert ds.task == "regression"
    assert ds.classes is None
    assert ds.class_counts == {}
    assert ds.y.dtype == np.float64
    assert ds.y.tolist() == [1.5, 2.25, 3.0, 10.75, 8.0]


def test_numeric_labels_are_classes_in_numeric_order() -> None:
    frame = pd.DataFrame({"a": range(9), "grade": [10, 2, 1, 2, 10, 1, 1, 2, 10]})
    frame.to_csv("data.csv", index=False)
    ds = load_table("data.csv", "grade")
    assert ds.task == "classification"
    assert ds.classes == ["1", "2", "10"]
    assert ds.y.tolist() == [2, 1, 0, 1, 2, 0, 0, 1, 2]


def test_explicit_task_overrides_inference() -> None:
    frame = pd.DataFrame({"a": range(9), "grade": [10, 2, 1, 2, 10, 1, 1, 2, 10]})
    frame.to_csv("data.csv", index=False)
    ds = load_table("data.csv", "grade", task="regression")
    assert ds.task == "regression"
    assert ds.y.tolist() == [10.0, 2.0, 1.0, 2.0, 10.0, 1.0, 1.0, 2.0, 10.0]


def test_missing_target_rows_are_dropped_with_note_and_warning() -> None:
    write("data.csv", "a,label\n1,x\n2,\n3,y\n4,NA\n5,x\n6,?\n7,y\n8,x\n9,y\n")
    with pytest.warns(UserWarning, match=re.escape("Dropped 3 rows whose target 'label' is missing.")):
        ds = load_table("data.csv", "label")
    assert ds.notes == ["Dropped 3 rows whose target 'label' is missing."]
    assert ds.n_rows == 6
    assert ds.features.index.tolist() == list(range(6))
    assert ds.target.index.tolist() == list(range(6))
    assert ds.features["a"].tolist() == [1, 3, 5, 7, 8, 9]


def test_missing_integer_target_keeps_integer_labels() -> None:
    write("data.csv", "a,label\n1,0\n2,\n3,1\n4,0\n5,1\n6,0\n7,1\n")
    with pytest.warns(UserWarning, match=re.escape("Dropped 1 row whose target 'label' is missing.")):
        ds = load_table("data.csv", "label")
    assert ds.classes == ["0", "1"]


def test_constant_and_id_columns_are_dropped_with_notes() -> None:
    n = 30
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "same": ["k"] * n,
            "empty": [np.nan] * n,
            "x": np.arange(n, dtype=float),
            "city": ["a", "b", "c"] * 10,
            "label": ["p", "q"] * 15,
        }
    )
    frame.to_csv("data.csv", index=False)
    ds = load_table("data.csv", "label")
    assert list(ds.features.columns) == ["x", "city"]
    assert ds.schema == {"x": "numeric", "city": "categorical"}
    assert ds.notes == [
        "Dropped 2 constant columns (one distinct value or all missing): 'same', 'empty'.",
        "Dropped 1 ID-like column (text with more than 20 distinct values, in over 50% of rows): 'user_id'.",
    ]


# --- inference helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        (pd.Series(["a", "b"], dtype="category"), "classification"),
        (pd.Series(["a", "b"], dtype="string"), "classification"),
        ([0, 1, 2, 1], "classification"),
        ([1.0, 2.0, np.nan, 3.0], "classification"),
        (list(range(20)), "classification"),
        (list(range(21)), "regression"),
        ([0.5, 1.0, 2.0], "regression"),
    ],
)
def test_infer_task(values: object, task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def test_infer_schema() -> None:
    frame = pd.DataFrame(
        {
            "b": [True, False, True],
            "yn": ["Yes", "no", None],
            "tf": ["TRUE", "false", "true"],
            "digits": pd.Series(["0", "1", None], dtype=object),
            "mixed": ["yes", "1", "no"],
            "n": [1, 2, 3],
            "f": [0.5, np.nan, 1.0],
            "text": ["a", "b", "c"],
            "none": pd.Series([None, None, None], dtype=object),
        }
    )
    assert infer_schema(frame) == {
        "b": "boolean",
        "yn": "boolean",
        "tf": "boolean",
        "digits": "boolean",
        "mixed": "categorical",
        "n": "numeric",
        "f": "numeric",
        "text": "categorical",
        "none": "categorical",
    }


# --- coerce_features ------------------------------------------------------------------------


def test_coerce_features_types_and_missing() -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2, None],
            "flag": ["yes", None, "No"],
            "b": [True, False, True],
            "c": ["x", None, 3],
            "extra": [1, 2, 3],
        },
        index=[5, 6, 7],
    )
    schema = {"n": "numeric", "flag": "boolean", "b": "boolean", "c": "categorical"}
    out = coerce_features(frame, schema)
    assert list(out.columns) == ["n", "flag", "b", "c"]
    assert out.index.tolist() == [5, 6, 7]
    assert out.dtypes.to_dict() == {
        "n": np.float64,
        "flag": np.float64,
        "b": np.float64,
        "c": np.dtype(object),
    }
    assert out["n"].tolist()[:2] == [1.0, 2.0] and np.isnan(out["n"].iloc[2])
    assert out["flag"].iloc[0] == 1.0 and np.isnan(out["flag"].iloc[1]) and out["flag"].iloc[2] == 0.0
    assert out["b"].tolist() == [1.0, 0.0, 1.0]
    assert out["c"].iloc[0] == "x" and out["c"].iloc[2] == "3"
    missing = out["c"].iloc[1]
    assert isinstance(missing, float) and np.isnan(missing)


def test_coerce_features_predict_time_values_match_training() -> None:
    # a 0/1 text column at training time may be read as numbers at predict time, and an
    # integer-like categorical may come back as floats when the new file has blanks
    frame = pd.DataFrame({"flag": [1.0, 0.0, np.nan], "code": [1.0, 2.0, np.nan]})
    out = coerce_features(frame, {"flag": "boolean", "code": "categorical"})
    assert out["flag"].iloc[:2].tolist() == [1.0, 0.0]
    assert out["code"].iloc[:2].tolist() == ["1", "2"]
    assert pd.isna(out["code"].iloc[2])


def test_coerce_features_missing_column() -> None:
    frame = pd.DataFrame({"a": [1.0]})
    with pytest.raises(
        DataError,
        match=re.escape(
            "The data lacks the feature columns 'b', 'c'. "
            "Give the same feature columns as the data the model was trained on."
        ),
    ):
        coerce_features(frame, {"a": "numeric", "b": "numeric", "c": "boolean"})


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("numeric", "numbers"), ("boolean", "true/false, yes/no or 0/1")],
)
def test_coerce_features_bad_value(kind: str, expected: str) -> None:
    frame = pd.DataFrame({"a": ["1", None, "maybe"]})
    with pytest.raises(
        DataError,
        match=re.escape(
            f"Column 'a' should hold {expected}, but data row 3 holds 'maybe'. "
            "Fix or blank out such values (blank cells count as missing)."
        ),
    ):
        coerce_features(frame, {"a": kind})


# --- errors: the target and the task -------------------------------------------------------


def test_invalid_task_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'task' parameter of load_table must be one of ('classification', 'regression') "
            "or None (to infer it). Got 'clustering' instead."
        ),
    ):
        load_table("data.csv", "label", task="clustering")


def test_target_absent_suggests_closest_name() -> None:
    write("data.csv", "a,b,label\n1,2,x\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'lable' is not in data.csv. Did you mean 'label'? Columns: a, b, label."
        ),
    ):
        load_table("data.csv", "lable")


def test_target_absent_suggests_other_case() -> None:
    write("data.csv", "a,b,Species\n1,2,x\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'species' is not in data.csv. Did you mean 'Species'? Columns: a, b, Species."
        ),
    ):
        load_table("data.csv", "species")


def test_target_absent_without_close_name_lists_columns() -> None:
    header = ",".join(f"c{i}" for i in range(12))
    write("data.csv", header + "\n" + ",".join("1" * 12) + "\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'price' is not in data.csv. "
            "Columns: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 ... (2 more)."
        ),
    ):
        load_table("data.csv", "price")


def test_target_all_missing() -> None:
    write("data.csv", "a,label\n1,\n2,NA\n3,?\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'label' in data.csv has no values: all 3 rows are missing. "
            "Choose the column that holds the value to predict, or fill it in."
        ),
    ):
        load_table("data.csv", "label")


def test_single_class() -> None:
    write("data.csv", "a,label\n1,x\n2,x\n3,x\n4,x\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'label' has a single class ('x') in all 4 rows; classification needs at least two. "
            "Check that this is the column to predict, or add rows of other classes."
        ),
    ):
        load_table("data.csv", "label")


def test_one_rare_class() -> None:
    write("data.csv", "a,label\n1,x\n2,x\n3,x\n4,y\n5,y\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'label' has too few rows of class 'y' (2 rows); every class needs at least 3 "
            "(1 for the held-out test and 2 for 2-fold cross-validation on the rest). "
            "Add rows of that class, or drop or merge it into a similar class."
        ),
    ):
        load_table("data.csv", "label")


def test_several_rare_classes() -> None:
    write("data.csv", "a,label\n1,x\n2,x\n3,x\n4,y\n5,y\n6,z\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'label' has too few rows of classes 'y' (2 rows), 'z' (1 row); every class needs at least 3 "
            "(1 for the held-out test and 2 for 2-fold cross-validation on the rest). "
            "Add rows of those classes, or drop or merge them into a similar class."
        ),
    ):
        load_table("data.csv", "label")


def test_regression_needs_a_numeric_target() -> None:
    write("data.csv", "a,label\n1,x\n2,y\n3,x\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'label' is not numeric (e.g. 'x'), so it cannot be used for regression. "
            "Use task 'classification', or convert the column to numbers."
        ),
    ):
        load_table("data.csv", "label", task="regression")


def test_regression_target_with_infinity() -> None:
    write("data.csv", "a,y\n1,0.5\n2,inf\n3,1.5\n")
    with pytest.raises(
        DataError,
        match=re.escape("Target column 'y' holds infinite values. Remove those rows or fix the values."),
    ):
        load_table("data.csv", "y", task="regression")


def test_regression_needs_enough_rows() -> None:
    write("data.csv", "a,y\n1,0.5\n2,1.5\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Target column 'y' has only 2 values; regression needs at least 3 rows "
            "(1 for the held-out test and 2 for 2-fold cross-validation on the rest). Add rows."
        ),
    ):
        load_table("data.csv", "y", task="regression")


def test_no_feature_columns() -> None:
    write("data.csv", "label\nx\ny\nx\ny\nx\ny\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv has no feature columns, only the target 'label'. Add the columns to learn from."
        ),
    ):
        load_table("data.csv", "label")


def test_no_usable_feature_columns_left() -> None:
    write("data.csv", "k,e,label\n1,,x\n1,,y\n1,,x\n1,,y\n1,,x\n1,,y\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            "Data file data.csv has no usable feature columns: 'k', 'e' are constant or ID-like. "
            "Add columns that vary and carry information about the target."
        ),
    ):
        load_table("data.csv", "label")


# --- notes on the columns ------------------------------------------------------------------


def test_a_mostly_numeric_column_read_as_categorical_gets_a_note() -> None:
    values = [str(i) for i in range(18)] + ["unknown", "n.a."]
    frame = pd.DataFrame({"size": values, "label": ["x", "y"] * 10})
    frame.to_csv("data.csv", index=False)
    data = load_table("data.csv", "label")
    assert data.schema["size"] == "categorical" or "size" not in data.schema
    assert (
        "Column 'size' is read as categorical although 90% of its values are numbers: 2 values are not "
        "('unknown', 'n.a.'). If it is numeric, blank out those values (blank cells count as missing)."
    ) in data.notes


def test_a_text_column_gets_no_numeric_note() -> None:
    frame = pd.DataFrame({"color": ["red", "blue", "1"] * 4, "label": ["x", "y", "x"] * 4})
    frame.to_csv("data.csv", index=False)
    assert not any("read as categorical" in n for n in load_table("data.csv", "label").notes)
