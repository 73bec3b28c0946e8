"""Tests of automl.data.preprocess: statistics from the fit rows only, scalers, encoding and JSON state."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

from automl.data.preprocess import MAX_CATEGORIES, MISSING, SCALERS, Preprocessor
from automl.data.tabular import coerce_features
from automl.errors import ConfigError

SCHEMA = {"x": "numeric", "z": "numeric", "flag": "boolean", "color": "categorical"}


def frame(rows: dict[str, list]) -> pd.DataFrame:
    return coerce_features(pd.DataFrame(rows), {k: v for k, v in SCHEMA.items() if k in rows})


def rows_a() -> pd.DataFrame:
    """Fit rows: gaps in x, flag and color; none in z."""
    return frame(
        {
            "x": [1.0, 2.0, np.nan, 4.0, 10.0, 3.0],
            "z": [0.5, -1.0, 2.0, 0.0, 1.5, 3.0],
            "flag": ["yes", "no", None, "yes", "yes", "no"],
            "color": ["red", "blue", "red", None, "green", "red"],
        }
    )


def rows_b() -> pd.DataFrame:
    """Rows to transform: other values, gaps where A has none, an unseen category."""
    return frame(
        {
            "x": [np.nan, 5.0, 0.0],
            "z": [np.nan, 100.0, -3.0],
            "flag": ["no", None, "yes"],
            "color": ["purple", "blue", None],
        }
    )


def expected_b(pre: Preprocessor) -> np.ndarray:
    """The transform of rows_b() written out from the statistics of rows_a() alone (standard scaler)."""
    x_a = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 3.0])  # the gap filled with A's median 3.0
    z_a = np.array([0.5, -1.0, 2.0, 0.0, 1.5, 3.0])
    z_fill = float(np.median(z_a))
    flag_fill = 1.0  # median of A's present 1, 0, 1, 1, 0
    return np.array(
        [
            # x, x__missing, z, flag, flag__missing, color=red, color=__missing__, color=blue, color=green
            [(3.0 - x_a.mean()) / x_a.std(), 1, (z_fill - z_a.mean()) / z_a.std(), 0, 0, 0, 0, 0, 0],
            [(5.0 - x_a.mean()) / x_a.std(), 0, (100.0 - z_a.mean()) / z_a.std(), flag_fill, 1, 0, 0, 1, 0],
            [(0.0 - x_a.mean()) / x_a.std(), 0, (-3.0 - z_a.mean()) / z_a.std(), 1, 0, 0, 1, 0, 0],
        ]
    )


# --- fit on some rows, transform others ------------------------------------------------------


def test_transform_uses_only_the_statistics_of_the_fit_rows() -> None:
    pre = Preprocessor(SCHEMA).fit(rows_a())
    assert pre.feature_names == [
        "x",
        "x__missing",
        "z",
        "flag",
        "flag__missing",
        "color=red",
        f"color={MISSING}",
        "color=blue",
        "color=green",
    ]
    np.testing.assert_allclose(pre.transform(rows_b()), expected_b(pre), rtol=1e-6, atol=1e-6)


def test_an_extreme_value_in_the_transformed_rows_changes_only_its_own_cell() -> None:
    pre = Preprocessor(SCHEMA).fit(rows_a())
    plain = pre.transform(rows_b())
    extreme = rows_b()
    extreme.loc[0, "x"] = 1e9  # was missing: B's median/mean would move if B were used
    extreme.loc[2, "z"] = -1e9
    out = pre.transform(extreme)
    changed = np.argwhere(~np.isclose(out, plain))
    assert sorted(map(tuple, changed.tolist())) == [(0, 0), (0, 1), (2, 2)]
    # the other rows are unchanged, and so are the fitted statistics
    np.testing.assert_array_equal(out[1], plain[1])
    assert pre.state == Preprocessor(SCHEMA).fit(rows_a()).state


def test_transforming_fit_rows_with_others_gives_the_same_rows() -> None:
    a, b = rows_a(), rows_b()
    pre = Preprocessor(SCHEMA, "robust").fit(a)
    together = pre.transform(pd.concat([a, b], ignore_index=True))
    np.testing.assert_array_equal(together[: len(a)], pre.transform(a))
    np.testing.assert_array_equal(together[len(a) :], pre.transform(b))


def test_refitting_on_other_rows_changes_the_statistics() -> None:
    pre = Preprocessor(SCHEMA).fit(rows_a())
    other = Preprocessor(SCHEMA).fit(pd.concat([rows_a(), rows_b()], ignore_index=True))
    assert pre.state != other.state


def test_fit_does_not_modify_the_frame() -> None:
    a = rows_a()
    before = a.copy()
    Preprocessor(SCHEMA).fit_transform(a)
    pd.testing.assert_frame_equal(a, before)


def test_output_is_float32_with_one_row_per_input_row() -> None:
    out = Preprocessor(SCHEMA).fit_transform(rows_a())
    assert out.dtype == np.float32
    assert out.shape == (6, 9)
    assert np.isfinite(out).all()


# --- scalers ---------------------------------------------------------------------------------


def numeric(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"x": np.asarray(values, dtype=float)})


VALUES = [3.0, -1.0, 7.5, 2.0, 2.0, 10.0, 0.25, 4.0]


def test_standard_scaler_gives_mean_0_std_1_on_the_fit_rows() -> None:
    out = Preprocessor({"x": "numeric"}, "standard").fit_transform(numeric(VALUES))[:, 0]
    assert out.mean() == pytest.approx(0.0, abs=1e-6)
    assert out.std() == pytest.approx(1.0, abs=1e-6)


def test_minmax_scaler_gives_0_to_1_on_the_fit_rows() -> None:
    pre = Preprocessor({"x": "numeric"}, "minmax").fit(numeric(VALUES))
    out = pre.transform(numeric(VALUES))[:, 0]
    assert out.min() == 0.0 and out.max() == 1.0
    # other rows may fall outside [0, 1]: no clipping
    np.testing.assert_allclose(pre.transform(numeric([-12.0, 21.0]))[:, 0], [-1.0, 2.0])


def test_robust_scaler_centers_on_the_median_and_scales_by_the_iqr() -> None:
    pre = Preprocessor({"x": "numeric"}, "robust").fit(numeric(VALUES))
    q1, median, q3 = np.quantile(VALUES, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(
        pre.transform(numeric([median, q1, q3]))[:, 0],
        [0.0, (q1 - median) / (q3 - q1), (q3 - median) / (q3 - q1)],
    )
    out = pre.transform(numeric(VALUES))[:, 0]
    assert np.median(out) == pytest.approx(0.0, abs=1e-6)
    assert np.subtract(*np.quantile(out, [0.75, 0.25])) == pytest.approx(1.0, abs=1e-6)


def test_robust_scaler_falls_back_to_the_std_when_the_iqr_is_zero() -> None:
    values = [5.0] * 7 + [6.0, 2.0]
    pre = Preprocessor({"x": "numeric"}, "robust").fit(numeric(values))
    np.testing.assert_allclose(
        pre.transform(numeric([5.0, 6.0]))[:, 0], [0.0, 1.0 / np.std(values)], rtol=1e-6
    )


def test_robust_clip_is_the_robust_scaling_smoothly_clipped() -> None:
    """RealMLP's robust scaling: the robust scaler's values x, then x / sqrt(1 + (x / 3)^2): near x in the
    middle, never beyond 3 for an outlier; it round-trips through to_dict like the others."""
    values = [*VALUES, 1e6]  # an outlier that a plain robust scaler leaves enormous
    robust = Preprocessor({"x": "numeric"}, "robust").fit(numeric(values)).transform(numeric(values))[:, 0]
    pre = Preprocessor({"x": "numeric"}, "robust_clip").fit(numeric(values))
    clipped = pre.transform(numeric(values))[:, 0]
    np.testing.assert_allclose(clipped, robust / np.sqrt(1 + (robust / 3) ** 2), rtol=1e-5)
    assert robust.max() > 1e4 and clipped.max() <= 3.0 and clipped.max() > 2.99
    again = Preprocessor.from_dict(pre.to_dict())
    np.testing.assert_array_equal(again.transform(numeric(values)), pre.transform(numeric(values)))


def test_none_scaler_keeps_the_values() -> None:
    out = Preprocessor({"x": "numeric"}, "none").fit_transform(numeric(VALUES))[:, 0]
    np.testing.assert_array_equal(out, np.asarray(VALUES, dtype=np.float32))


@pytest.mark.parametrize("scaler", SCALERS)
def test_constant_column_is_not_divided_by_zero(scaler: str) -> None:
    out = Preprocessor({"x": "numeric"}, scaler).fit_transform(numeric([4.0, 4.0, 4.0]))
    assert np.isfinite(out).all()
    expected = 4.0 if scaler == "none" else 0.0
    np.testing.assert_array_equal(out[:, 0], [expected] * 3)


@pytest.mark.parametrize("scaler", SCALERS)
def test_boolean_columns_are_never_scaled(scaler: str) -> None:
    data = frame({"flag": ["yes", "no", "no", "yes", "no"]})
    out = Preprocessor({"flag": "boolean"}, scaler).fit_transform(data)
    np.testing.assert_array_equal(out[:, 0], [1, 0, 0, 1, 0])


def test_bad_scaler() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'scaler' parameter of Preprocessor must be one of standard, minmax, robust, robust_clip, none. "
            "Got 'zscore' instead."
        ),
    ):
        Preprocessor(SCHEMA, "zscore")


def test_scalers_constant() -> None:
    assert SCALERS == ("standard", "minmax", "robust", "robust_clip", "none")


# --- missing values ------------------------------------------------------------------------


def test_missing_indicator_only_for_columns_with_gaps_in_the_fit_rows() -> None:
    pre = Preprocessor({"x": "numeric", "z": "numeric"}, "none")
    pre.fit(pd.DataFrame({"x": [1.0, np.nan, 5.0, 4.0], "z": [1.0, 2.0, 3.0, 4.0]}))
    assert pre.feature_names == ["x", "x__missing", "z"]
    # z has a gap only in the transformed rows: imputed with the fit median, no extra column
    out = pre.transform(pd.DataFrame({"x": [np.nan, 2.0], "z": [np.nan, 9.0]}))
    np.testing.assert_array_equal(out, [[4.0, 1.0, 2.5], [2.0, 0.0, 9.0]])


def test_all_missing_numeric_column_is_filled_with_zero() -> None:
    pre = Preprocessor({"x": "numeric"}).fit(numeric([np.nan, np.nan]))
    np.testing.assert_array_equal(pre.transform(numeric([np.nan, 3.0])), [[0.0, 1.0], [3.0, 0.0]])


# --- categorical columns ------------------------------------------------------------------------


def test_categories_are_ordered_by_frequency_then_name() -> None:
    data = frame({"color": ["b", "a", "c", "b", "a", "d", None, None]})
    pre = Preprocessor({"color": "categorical"}).fit(data)
    assert pre.state is not None
    assert pre.state["encoder"]["categories_"][0] == [MISSING, "a", "b", "c", "d"]
    np.testing.assert_array_equal(
        pre.transform(frame({"color": ["c", None]})), [[0, 0, 0, 1, 0], [1, 0, 0, 0, 0]]
    )


def test_unseen_category_encodes_as_all_zeros() -> None:
    pre = Preprocessor({"color": "categorical"}).fit(frame({"color": ["red", "blue", "red"]}))
    out = pre.transform(frame({"color": ["green", "blue", None]}))
    np.testing.assert_array_equal(out, [[0, 0], [0, 1], [0, 0]])  # no gap when fitted: missing is unseen too


def test_only_the_most_frequent_categories_are_kept() -> None:
    values = [f"c{i:02d}" for i in range(40) for _ in range(1 + (i < 5))]  # c00..c04 twice
    pre = Preprocessor({"color": "categorical"}).fit(frame({"color": values}))
    categories = pre.state["encoder"]["categories_"][0]  # type: ignore[index]
    assert len(categories) == MAX_CATEGORIES == 30
    assert categories[:5] == ["c00", "c01", "c02", "c03", "c04"]
    assert categories[-1] == "c29"
    assert pre.transform(frame({"color": ["c39"]})).sum() == 0


# --- state as JSON --------------------------------------------------------------------------


@pytest.mark.parametrize("scaler", SCALERS)
def test_to_dict_from_dict_round_trip_through_json(scaler: str) -> None:
    pre = Preprocessor(SCHEMA, scaler).fit(rows_a())
    text = json.dumps(pre.to_dict())
    back = Preprocessor.from_dict(json.loads(text))
    assert back.scaler == scaler
    assert back.schema == SCHEMA
    assert back.feature_names == pre.feature_names
    for rows in (rows_a(), rows_b()):
        np.testing.assert_array_equal(back.transform(rows), pre.transform(rows))
    assert json.dumps(back.to_dict()) == text


def test_feature_names_length_equals_matrix_width() -> None:
    for scaler in SCALERS:
        pre = Preprocessor(SCHEMA, scaler).fit(rows_a())
        assert len(pre.feature_names) == pre.transform(rows_b()).shape[1]
    pre = Preprocessor({"x": "numeric", "color": "categorical"}).fit(
        frame({"x": [1.0, 2.0], "color": ["a", "b"]})
    )
    assert pre.feature_names == ["x", "color=a", "color=b"]
    assert pre.transform(frame({"x": [1.0], "color": ["a"]})).shape == (1, 3)


def test_feature_names_before_fit_are_empty() -> None:
    assert Preprocessor(SCHEMA).feature_names == []


def test_transform_before_fit() -> None:
    with pytest.raises(RuntimeError, match=re.escape("Preprocessor.transform called before fit")):
        Preprocessor(SCHEMA).transform(rows_a())


def test_empty_schema_gives_zero_columns() -> None:
    out = Preprocessor({}).fit_transform(rows_a())
    assert out.shape == (6, 0) and out.dtype == np.float32


# --- scikit-learn underneath ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scaler", "kind"), [("standard", StandardScaler), ("minmax", MinMaxScaler), ("robust", RobustScaler)]
)
def test_the_work_is_scikit_learns(scaler: str, kind: type) -> None:
    pre = Preprocessor(SCHEMA, scaler).fit(rows_a())
    assert isinstance(pre.imputer, SimpleImputer) and isinstance(pre.encoder, OneHotEncoder)
    assert isinstance(pre.scaling, kind)
    assert pre.state is not None and set(pre.state["encoder"]) == {"categories_"}
    assert Preprocessor(SCHEMA, "none").fit(rows_a()).scaling is None


def test_columns_named_like_features_keep_their_place() -> None:
    """Names are not used to place columns: a column called 'a=b' or 'x__missing' is its own."""
    schema = {"a=b": "numeric", "a": "categorical", "x__missing": "numeric", "x": "numeric"}
    data = pd.DataFrame({"a=b": [5.0, 6.0], "a": ["b", "c"], "x__missing": [7.0, 8.0], "x": [np.nan, 1.0]})
    pre = Preprocessor(schema, "none").fit(coerce_features(data, schema))
    assert pre.feature_names == ["a=b", "a=b", "a=c", "x__missing", "x", "x__missing"]
    np.testing.assert_array_equal(
        pre.transform(coerce_features(data, schema)), [[5, 1, 0, 7, 1, 1], [6, 0, 1, 8, 1, 0]]
    )


def test_categories_that_are_not_text_are_read_as_text() -> None:
    pre = Preprocessor({"code": "categorical"}).fit(
        pd.DataFrame({"code": pd.Series([1, 2, 2, None], dtype=object)})
    )
    assert pre.feature_names == ["code=2", "code=1", f"code={MISSING}"]  # ties by name: "1" < "_"
    out = pre.transform(pd.DataFrame({"code": ["1", 2, 3]}))
    np.testing.assert_array_equal(out, [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
