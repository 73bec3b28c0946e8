"""The Preprocessor on scikit-learn against the one before it (tests/unit/data/preprocessing_v1.json: the
states and matrices that the hand-written version gave, on rows with gaps, a constant column, an empty
one, a column with equal quartiles and more than MAX_CATEGORIES categories):

- a model exported before loads and transforms as it did (its preprocessing.json is version 1);
- fitted now on the same rows, it gives the same matrix, feature names and categories;
- its own JSON round-trips and holds no pickle, only lists, numbers and strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.data.preprocess import SCALERS, STATE_VERSION, Preprocessor
from automl.data.tabular import coerce_features

FIXTURE = json.loads((Path(__file__).parent / "preprocessing_v1.json").read_text())
SCHEMA: dict[str, str] = FIXTURE["schema"]


OLD_SCALERS = [s for s in SCALERS if s in FIXTURE["scalers"]]  # those of the version before (no robust_clip)


def rows(part: str) -> pd.DataFrame:
    return coerce_features(pd.DataFrame(FIXTURE[part]), SCHEMA)


@pytest.mark.parametrize("scaler", OLD_SCALERS)
def test_a_version_1_state_loads_and_transforms_as_before(scaler: str) -> None:
    old = FIXTURE["scalers"][scaler]
    assert "version" not in old["preprocessing"]["state"]
    pre = Preprocessor.from_dict(old["preprocessing"])
    assert pre.scaler == scaler and pre.schema == SCHEMA
    assert pre.feature_names == old["feature_names"]
    for part in ("fit_rows", "other_rows"):
        np.testing.assert_allclose(pre.transform(rows(part)), old[part], rtol=1e-6, atol=1e-6)
    # written again, it is in the current form and reads back to the same transform
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert again.to_dict()["state"]["version"] == STATE_VERSION
    np.testing.assert_array_equal(again.transform(rows("other_rows")), pre.transform(rows("other_rows")))


@pytest.mark.parametrize("scaler", OLD_SCALERS)
def test_fitting_now_gives_the_matrix_of_before(scaler: str) -> None:
    old = FIXTURE["scalers"][scaler]
    pre = Preprocessor(SCHEMA, scaler).fit(rows("fit_rows"))
    assert pre.feature_names == old["feature_names"]
    for part in ("fit_rows", "other_rows"):
        np.testing.assert_allclose(pre.transform(rows(part)), old[part], rtol=1e-6, atol=1e-6)


def test_the_fixture_covers_the_awkward_cases() -> None:
    names = FIXTURE["scalers"]["robust"]["feature_names"]
    assert "empty__missing" in names and "x__missing" in names and "const__missing" not in names
    assert sum(n.startswith("city=") for n in names) == 30  # more categories than that in the fit rows
    skew = np.array([v for v in FIXTURE["fit_rows"]["skew"] if v is not None])
    q1, q3 = np.quantile(skew, [0.25, 0.75])
    assert q1 == q3  # the robust scaler's fallback to the standard deviation


def plain_json(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


@pytest.mark.parametrize("scaler", SCALERS)
def test_the_state_is_plain_json_and_round_trips(scaler: str) -> None:
    pre = Preprocessor(SCHEMA, scaler).fit(rows("fit_rows"))
    data = pre.to_dict()
    assert plain_json(data)
    text = json.dumps(data, allow_nan=False)
    back = Preprocessor.from_dict(json.loads(text))
    assert json.dumps(back.to_dict(), allow_nan=False) == text
    for part in ("fit_rows", "other_rows"):
        np.testing.assert_array_equal(back.transform(rows(part)), pre.transform(rows(part)))


def test_a_state_of_the_wrong_shape_is_refused() -> None:
    data = Preprocessor(SCHEMA, "standard").fit(rows("fit_rows")).to_dict()
    data["state"]["scaling"]["mean_"] = data["state"]["scaling"]["mean_"][:-1]
    with pytest.raises(ValueError, match="'mean_' has shape"):
        Preprocessor.from_dict(data)
    data = Preprocessor(SCHEMA, "standard").fit(rows("fit_rows")).to_dict()
    del data["state"]["imputer"]["statistics_"]
    with pytest.raises(ValueError, match="'statistics_' of SimpleImputer is missing"):
        Preprocessor.from_dict(data)


def test_a_newer_state_version_is_refused() -> None:
    data = Preprocessor(SCHEMA, "standard").fit(rows("fit_rows")).to_dict()
    data["state"]["version"] = STATE_VERSION + 1
    with pytest.raises(ValueError, match="newer than this automl's"):
        Preprocessor.from_dict(data)
