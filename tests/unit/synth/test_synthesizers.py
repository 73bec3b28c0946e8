"""Contract tests run on every registered synthesizer, plus the behaviour specific to each.

The contract cases are generated from ``available_synthesizers()``, so a newly registered
synthesizer is tested without touching this file (like scikit-learn's test_common.py).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from automl.errors import ConfigError, DataError
from automl.synth import (
    Synthesizer,
    SynthesizerNotFittedError,
    available_synthesizers,
    create_synthesizer,
    synthesizer_class,
)
from automl.synth.smote import allocate_to_classes

# Settings that keep the neural synthesizers quick; anything not listed uses its defaults.
FAST_SETTINGS: dict[str, dict] = {"ctgan": {"epochs": 3}, "tvae": {"epochs": 5}}
N_ROWS = 40

CASES = [(name, task) for name in available_synthesizers() for task in synthesizer_class(name).tasks]


def make_raw_fold(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """A tiny raw training fold with the dtypes real tables have, NaN included."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "unit": rng.random(n),
            "count": rng.integers(2, 9, n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "note": rng.choice(np.array(["a", "b", None], dtype=object), n),
            "flag": rng.random(n) < 0.3,
            "gappy": np.where(rng.random(n) < 0.2, np.nan, rng.normal(10.0, 2.0, n)),
        }
    )
    frame.index = np.arange(100, 100 + n)  # a fold's rows keep their original index labels
    return frame


def make_encoded_fold(n: int = N_ROWS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4))


def make_labels(task: str, n: int = N_ROWS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    if task == "classification":
        return rng.choice(np.array([0, 1, 2], dtype=np.int64), n, p=[0.6, 0.3, 0.1])
    return rng.normal(50.0, 5.0, n)


def make_fold(space: str, task: str) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    X = make_raw_fold() if space == "raw" else make_encoded_fold()
    return X, make_labels(task)


def new(name: str) -> Synthesizer:
    return create_synthesizer(name, **FAST_SETTINGS.get(name, {}))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Threads are the caller's to set (synthesizers never touch them); one keeps tiny fits fast."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fitted() -> Callable[[str, str], tuple[Synthesizer, object, np.ndarray]]:
    """Fit each (name, task) once per module and share it: fitting is the slow part."""
    cache: dict[tuple[str, str], tuple[Synthesizer, object, np.ndarray]] = {}

    def get(name: str, task: str) -> tuple[Synthesizer, object, np.ndarray]:
        if (name, task) not in cache:
            synth = new(name)
            X, y = make_fold(synth.space, task)
            cache[name, task] = (synth.fit(X, y, task=task, seed=0), X, y)
        return cache[name, task]

    return get


def assert_same_sample(a: tuple, b: tuple) -> None:
    if isinstance(a[0], pd.DataFrame):
        pd.testing.assert_frame_equal(a[0], b[0])
    else:
        np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# ------------------------------------------------------------------ contract, every synthesizer
@pytest.mark.parametrize(("name", "task"), CASES)
def test_zero_rows_gives_an_empty_sample_of_the_right_shape(fitted, name: str, task: str) -> None:
    synth, X, y = fitted(name, task)
    X_new, y_new = synth.sample(0, seed=1)
    assert len(X_new) == 0 and len(y_new) == 0
    assert y_new.dtype == y.dtype
    if synth.space == "raw":
        assert list(X_new.columns) == list(X.columns)
        assert X_new.dtypes.to_dict() == X.dtypes.to_dict()
    else:
        assert X_new.shape == (0, X.shape[1]) and X_new.dtype == np.float64


@pytest.mark.parametrize(("name", "task"), CASES)
def test_sample_has_the_fitted_types_shapes_and_valid_labels(fitted, name: str, task: str) -> None:
    synth, X, y = fitted(name, task)
    X_new, y_new = synth.sample(7, seed=1)
    assert isinstance(y_new, np.ndarray) and y_new.shape == (7,)
    if task == "classification":
        assert y_new.dtype == np.int64
        assert set(y_new) <= set(y)
    else:
        assert y_new.dtype == np.float64 and np.isfinite(y_new).all()
    if synth.space == "raw":
        assert isinstance(X_new, pd.DataFrame) and len(X_new) == 7
        assert list(X_new.columns) == list(X.columns)
        assert X_new.dtypes.to_dict() == X.dtypes.to_dict()
        assert X_new.index.equals(pd.RangeIndex(7))
        assert set(X_new["colour"].dropna()) <= set(X["colour"])
        assert set(X_new["note"].dropna()) <= set(X["note"].dropna())
    else:
        assert isinstance(X_new, np.ndarray) and X_new.shape == (7, X.shape[1])
        assert X_new.dtype == np.float64 and np.isfinite(X_new).all()


@pytest.mark.parametrize(("name", "task"), CASES)
def test_sampling_is_deterministic_per_seed(fitted, name: str, task: str) -> None:
    synth, _, _ = fitted(name, task)
    first = synth.sample(7, seed=3)
    synth.sample(5, seed=4)  # an interleaved call must not change what seed 3 gives
    assert_same_sample(first, synth.sample(7, seed=3))
    other = synth.sample(7, seed=4)
    if isinstance(first[0], pd.DataFrame):
        assert not first[0].equals(other[0])
    else:
        assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(("name", "task"), CASES)
def test_fitting_twice_with_the_same_seed_gives_the_same_samples(fitted, name: str, task: str) -> None:
    synth, X, y = fitted(name, task)
    again = new(name).fit(X, y, task=task, seed=0)
    assert_same_sample(synth.sample(7, seed=5), again.sample(7, seed=5))


@pytest.mark.parametrize(("name", "task"), CASES)
def test_fit_leaves_inputs_and_global_random_state_alone(name: str, task: str) -> None:
    synth = new(name)
    X, y = make_fold(synth.space, task)
    X_before, y_before = X.copy(), y.copy()
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    torch_state = sys.modules["torch"].get_rng_state() if "torch" in sys.modules else None
    synth.fit(X, y, task=task, seed=0).sample(3, seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    if torch_state is not None:
        assert sys.modules["torch"].get_rng_state().equal(torch_state)
    assert_same_sample((X, y), (X_before, y_before))


@pytest.mark.parametrize("name", available_synthesizers())
def test_sample_before_fit_raises(name: str) -> None:
    msg = (
        f"This {name!r} synthesizer is not fitted yet. "
        "Call fit(X, y, task=..., seed=...) on the fold's training rows before sample()."
    )
    with pytest.raises(SynthesizerNotFittedError, match=re.escape(msg)):
        new(name).sample(3, seed=0)


@pytest.mark.parametrize("name", available_synthesizers())
def test_negative_n_raises(fitted, name: str) -> None:
    synth, _, _ = fitted(name, synthesizer_class(name).tasks[0])
    msg = f"The 'n' parameter of {type(synth).__name__}.sample must be an int >= 0. Got -1 instead."
    with pytest.raises(ConfigError, match=re.escape(msg)):
        synth.sample(-1, seed=0)


@pytest.mark.parametrize("name", available_synthesizers())
def test_bad_training_rows_raise_data_error(name: str) -> None:
    synth = new(name)
    task = synth.tasks[0]
    X, y = make_fold(synth.space, task)
    with pytest.raises(DataError, match=re.escape("X has 40 rows but y has 39 labels")):
        synth.fit(X, y[:-1], task=task, seed=0)
    with pytest.raises(DataError, match=re.escape("needs at least 2 training rows to learn from; got 1")):
        synth.fit(X[:1], y[:1], task=task, seed=0)


# ------------------------------------------------------------------ smote
def test_smote_refuses_regression() -> None:
    msg = (
        "The 'smote' synthesizer does not support regression tasks; it supports classification only. "
        "Choose another synthesizer for this study, or turn synthesis off with 'none'."
    )
    with pytest.raises(ConfigError, match=re.escape(msg)):
        create_synthesizer("smote").fit(
            make_encoded_fold(), make_labels("regression"), task="regression", seed=0
        )


def test_smote_refuses_nan_in_the_encoded_matrix() -> None:
    X = make_encoded_fold()
    X[3, 1] = np.nan
    with pytest.raises(DataError, match=re.escape("Impute missing values in preprocessing")):
        create_synthesizer("smote").fit(X, make_labels("classification"), task="classification", seed=0)


def test_smote_rows_lie_on_segments_between_same_class_training_rows() -> None:
    X, y = make_encoded_fold(), make_labels("classification")
    X_new, y_new = create_synthesizer("smote").fit(X, y, task="classification", seed=0).sample(30, seed=2)
    for row, code in zip(X_new, y_new, strict=True):
        own = X[y == code]
        assert (row >= own.min(axis=0) - 1e-12).all() and (row <= own.max(axis=0) + 1e-12).all()
        # row == a + t (b - a) for some same-class a, b and t in [0, 1]
        a, b = own[:, None, :], own[None, :, :]
        d = b - a
        t = np.clip(((row - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-300), 0.0, 1.0)
        distance = np.linalg.norm(a + t[..., None] * d - row, axis=-1)
        assert distance.min() < 1e-9


def test_smote_fills_the_smallest_classes_first() -> None:
    X, y = make_encoded_fold(), make_labels("classification")
    counts = {int(c): int((y == c).sum()) for c in np.unique(y)}
    _, y_new = create_synthesizer("smote").fit(X, y, task="classification", seed=0).sample(9, seed=0)
    got = {c: int((y_new == c).sum()) for c in counts}
    assert got == allocate_to_classes(counts, 9)


def test_smote_gives_single_row_classes_share_to_the_others() -> None:
    X = make_encoded_fold(n=7)
    y = np.array([0, 0, 0, 1, 1, 2, 3], dtype=np.int64)
    _, y_new = (
        create_synthesizer("smote", k_neighbors=5).fit(X, y, task="classification", seed=0).sample(6, seed=0)
    )
    assert len(y_new) == 6 and set(y_new) <= {0, 1}


def test_smote_with_no_class_of_two_rows_warns_and_returns_nothing() -> None:
    synth = create_synthesizer("smote").fit(
        make_encoded_fold(n=3), np.array([0, 1, 2]), task="classification", seed=0
    )
    with pytest.warns(UserWarning, match="no class has at least 2 training rows"):
        X_new, y_new = synth.sample(5, seed=0)
    assert X_new.shape == (0, 4) and y_new.shape == (0,) and y_new.dtype == np.int64


@pytest.mark.parametrize(
    ("counts", "n", "expected"),
    [
        ({0: 10, 1: 4, 2: 2}, 0, {0: 0, 1: 0, 2: 0}),
        ({0: 10, 1: 4, 2: 2}, 1, {0: 0, 1: 0, 2: 1}),
        ({0: 10, 1: 4, 2: 2}, 2, {0: 0, 1: 0, 2: 2}),
        ({0: 10, 1: 4, 2: 2}, 5, {0: 0, 1: 1, 2: 4}),
        ({0: 10, 1: 4, 2: 2}, 14, {0: 0, 1: 6, 2: 8}),
        ({0: 10, 1: 4, 2: 2}, 100, {0: 28, 1: 35, 2: 37}),
        ({0: 5, 1: 5}, 3, {0: 2, 1: 1}),
        ({3: 8}, 4, {3: 4}),
        ({0: 6, 1: 2, 2: 2}, 7, {0: 0, 1: 4, 2: 3}),
    ],
)
def test_allocate_to_classes_exact_counts(counts: dict, n: int, expected: dict) -> None:
    assert allocate_to_classes(counts, n) == expected


@given(
    counts=st.dictionaries(st.integers(0, 20), st.integers(0, 200), min_size=1, max_size=8),
    n=st.integers(0, 2000),
)
def test_allocate_to_classes_water_fills(counts: dict, n: int) -> None:
    extra = allocate_to_classes(counts, n)
    assert extra.keys() == counts.keys()
    assert sum(extra.values()) == n
    assert all(v >= 0 for v in extra.values())
    final = {c: counts[c] + extra[c] for c in counts}
    # Rows only go to classes that end at most one row above the smallest final class.
    lowest = min(final.values())
    assert all(final[c] <= lowest + 1 for c in counts if extra[c] > 0)


def test_allocate_to_classes_rejects_negative_n() -> None:
    with pytest.raises(ValueError, match=re.escape("n must be >= 0; got -1.")):
        allocate_to_classes({0: 3}, -1)


# ------------------------------------------------------------------ sdv
def test_gaussian_copula_stays_within_the_fitted_ranges() -> None:
    X = make_raw_fold()
    synth = create_synthesizer("gaussian_copula").fit(X, make_labels("regression"), task="regression", seed=0)
    X_new, y_new = synth.sample(200, seed=0)
    assert X["unit"].between(0, 1).all()
    assert X_new["unit"].between(X["unit"].min(), X["unit"].max()).all()
    assert X_new["count"].between(X["count"].min(), X["count"].max()).all()
    assert X_new["gappy"].isna().any() and X_new["gappy"].notna().any()  # learns missing values
    assert y_new.min() >= make_labels("regression").min() and y_new.max() <= make_labels("regression").max()


def test_sdv_synthesizer_accepts_a_feature_named_like_its_target_column() -> None:
    X = make_raw_fold().rename(columns={"unit": "__target__", "count": 0})
    synth = create_synthesizer("gaussian_copula").fit(
        X, make_labels("classification"), task="classification", seed=0
    )
    X_new, y_new = synth.sample(7, seed=0)
    assert list(X_new.columns) == list(X.columns)
    assert X_new["__target__"].between(0, 1).all()


def test_sdv_synthesizer_needs_a_dataframe() -> None:
    msg = "The 'tvae' synthesizer works on the raw feature table and needs a pandas DataFrame; got ndarray."
    with pytest.raises(DataError, match=re.escape(msg)):
        create_synthesizer("tvae").fit(
            make_encoded_fold(), make_labels("regression"), task="regression", seed=0
        )


def test_sdv_synthesizer_keeps_nullable_dtypes() -> None:
    X = make_raw_fold()[["unit", "count"]]
    X = X.assign(count=X["count"].astype("Int64"), word=pd.array(["x", "y", None, "x"] * 10, dtype="string"))
    X.loc[X.index[::5], "count"] = pd.NA
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing chatty from SDV may leak out
        synth = create_synthesizer("gaussian_copula").fit(
            X, make_labels("regression"), task="regression", seed=0
        )
        X_new, _ = synth.sample(20, seed=0)
    assert X_new.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(X_new["word"].dropna()) <= {"x", "y"}
