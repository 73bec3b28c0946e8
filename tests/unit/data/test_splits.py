"""Tests of automl.data.splits: the held-out test split and the seeded inner folds."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from automl.data.splits import HOLDOUT_ROWS, TINY_ROWS, Splits, make_splits, resolve_test_size
from automl.errors import DataError


def classes_y(counts: list[int], seed: int = 0) -> np.ndarray:
    """Class codes 0..k-1 with the given counts, shuffled."""
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y)


def assert_partition(splits: Splits, n: int) -> None:
    assert len(np.intersect1d(splits.search, splits.test)) == 0
    assert np.array_equal(np.sort(np.concatenate([splits.search, splits.test])), np.arange(n))
    assert np.array_equal(splits.search, np.sort(splits.search))
    assert np.array_equal(splits.test, np.sort(splits.test))


def assert_folds(splits: Splits) -> None:
    """Folds index the search rows; the val parts of one repeat partition them."""
    n_search = len(splits.search)
    k, repeats = splits.n_folds, splits.n_repeats
    assert len(splits.folds) == k * repeats
    for train, val in splits.folds:
        assert len(np.intersect1d(train, val)) == 0
        assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n_search))
        assert len(val) > 0 and len(train) > 0
    for r in range(repeats):
        vals = np.concatenate([val for _, val in splits.folds[r * k : (r + 1) * k]])
        assert np.array_equal(np.sort(vals), np.arange(n_search))


# --- the outer split -----------------------------------------------------------------------


def test_constant() -> None:
    assert TINY_ROWS == 150


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [20, 57, 200])
def test_test_and_search_rows_are_disjoint_and_cover_all_rows(seed: int, n: int) -> None:
    y = classes_y([n // 2, n - n // 2], seed)
    splits = make_splits(y, "classification", seed=seed)
    assert_partition(splits, n)
    assert len(splits.test) == int(np.ceil(0.2 * n))


@pytest.mark.parametrize("test_size", [0.05, 0.2, 0.33, 0.5])
def test_test_size_rounds_up(test_size: float) -> None:
    y = classes_y([40, 41])
    splits = make_splits(y, "classification", test_size=test_size)
    assert len(splits.test) == int(np.ceil(test_size * 81))
    assert_partition(splits, 81)


def test_classification_test_split_is_stratified() -> None:
    y = classes_y([60, 30, 6, 4])
    splits = make_splits(y, "classification", test_size=0.2)
    test_counts = np.bincount(y[splits.test], minlength=4)
    assert test_counts.tolist() == [12, 6, 1, 1]  # 20% of every class (rounded), every class present


@pytest.mark.parametrize("seed", range(5))
def test_every_class_is_in_the_test_split_when_possible(seed: int) -> None:
    # five classes, a test split of exactly five rows: one of each
    y = classes_y([5, 5, 5, 5, 5], seed)
    splits = make_splits(y, "classification", seed=seed)
    assert sorted(y[splits.test].tolist()) == [0, 1, 2, 3, 4]


def test_regression_test_split_is_stratified_by_quantile_bins() -> None:
    y = np.random.default_rng(0).permutation(np.arange(100, dtype=float))
    splits = make_splits(y, "regression")
    quintiles = np.floor(y[splits.test] / 20).astype(int)
    assert np.bincount(quintiles, minlength=5).tolist() == [4, 4, 4, 4, 4]


def test_same_seed_same_splits_other_seed_other_splits() -> None:
    y = classes_y([30, 30, 20])
    first, again, other = (make_splits(y, "classification", seed=s) for s in (4, 4, 5))
    assert np.array_equal(first.test, again.test)
    assert all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(first.folds, again.folds, strict=True)
    )
    assert not np.array_equal(first.test, other.test)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first.folds, other.folds, strict=True))


def test_regression_same_seed_same_splits() -> None:
    y = np.random.default_rng(1).normal(size=60)
    first, again, other = (make_splits(y, "regression", seed=s) for s in (0, 0, 1))
    assert np.array_equal(first.test, again.test)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first.folds, again.folds, strict=True))
    assert not np.array_equal(first.test, other.test)


# --- the inner folds -----------------------------------------------------------------------


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("n", [30, 149, 400])
def test_folds_partition_the_search_rows(task: str, n: int) -> None:
    y = classes_y([n // 3, n - n // 3]) if task == "classification" else np.linspace(0, 1, n)
    splits = make_splits(y, task, n_folds=4)
    assert_partition(splits, n)
    assert splits.n_folds == 4
    assert_folds(splits)
    for train, val in splits.folds:
        assert train.max() < len(splits.search) and val.max() < len(splits.search)


def test_inner_folds_are_stratified() -> None:
    y = classes_y([50, 25, 10])
    splits = make_splits(y, "classification", n_folds=4)
    y_search = y[splits.search]
    for train, val in splits.folds:
        assert set(y_search[val]) == {0, 1, 2}
        assert set(y_search[train]) == {0, 1, 2}


def test_repeats_differ_from_each_other() -> None:
    y = classes_y([20, 20])
    splits = make_splits(y, "classification", n_folds=2)
    assert splits.n_repeats == 2
    assert not np.array_equal(splits.folds[0][1], splits.folds[2][1])


@pytest.mark.parametrize(
    ("n", "repeats"),
    [(20, 2), (187, 2), (188, 1), (500, 1)],  # 187 rows leave 149 search rows, 188 leave 150
)
def test_repeats_twice_below_tiny_rows(n: int, repeats: int) -> None:
    y = classes_y([n // 2, n - n // 2])
    splits = make_splits(y, "classification", n_folds=3)
    assert (len(splits.search) < TINY_ROWS) == (repeats == 2)
    assert splits.n_repeats == repeats
    assert len(splits.folds) == 3 * repeats
    assert_folds(splits)


def test_explicit_repeats_are_kept() -> None:
    y = classes_y([20, 20])
    splits = make_splits(y, "classification", n_folds=2, n_repeats=3)
    assert splits.n_repeats == 3
    assert len(splits.folds) == 6
    assert_folds(splits)
    big = make_splits(classes_y([200, 200]), "regression", n_repeats=2)
    assert big.n_repeats == 2
    assert_folds(big)


def test_folds_shrink_for_a_rare_class_with_a_note_naming_it() -> None:
    y = classes_y([30, 4])
    splits = make_splits(y, "classification", classes=["common", "rare"])
    rare_outside_test = int((y[splits.search] == 1).sum())
    assert rare_outside_test == 3
    assert splits.n_folds == 3
    assert splits.notes == [
        "Using 3-fold instead of 5-fold cross-validation: class 'rare' has only 3 rows outside the test set."
    ]
    assert_folds(splits)
    y_search = y[splits.search]
    for _, val in splits.folds:  # each val part holds one rare row
        assert (y_search[val] == 1).sum() == 1


def test_folds_shrink_note_without_class_names_uses_the_code() -> None:
    y = classes_y([4, 30, 30])
    splits = make_splits(y, "classification", n_folds=4)
    assert splits.n_folds == 3
    assert splits.notes == [
        "Using 3-fold instead of 4-fold cross-validation: class 0 has only 3 rows outside the test set."
    ]


def test_folds_never_go_below_two() -> None:
    y = classes_y([30, 3])
    splits = make_splits(y, "classification", classes=["a", "b"])
    assert splits.n_folds == 2
    assert splits.notes == [
        "Using 2-fold instead of 5-fold cross-validation: class 'b' has only 2 rows outside the test set."
    ]
    assert_folds(splits)


def test_no_note_when_every_class_fills_the_folds() -> None:
    splits = make_splits(classes_y([30, 30]), "classification", n_folds=5)
    assert splits.notes == []
    assert splits.n_folds == 5
    assert make_splits(np.arange(50.0), "regression").notes == []


def test_to_dict() -> None:
    y = classes_y([10, 10])
    splits = make_splits(y, "classification", n_folds=2)
    d = splits.to_dict()
    assert d == {
        "n_search": 16,
        "n_test": 4,
        "n_folds": 2,
        "n_repeats": 2,
        "protocol": "held_out_test",
        "test_rows": splits.test.tolist(),
    }
    assert all(type(i) is int for i in d["test_rows"])


def test_no_test_set_folds_cover_every_row() -> None:
    y = classes_y([12, 9])
    splits = make_splits(y, "classification", test_size=0.0, n_folds=3, n_repeats=2, seed=1)
    assert len(splits.test) == 0 and splits.to_dict()["protocol"] == "out_of_fold"
    assert splits.search.tolist() == list(range(21))
    validated = np.concatenate([val for _, val in splits.folds])
    assert sorted(validated.tolist()) == sorted(list(range(21)) * 2)  # each row once per repeat


def test_test_size_by_data_size() -> None:
    assert resolve_test_size(None, HOLDOUT_ROWS - 1) == 0.0
    assert resolve_test_size(None, HOLDOUT_ROWS) == 0.2
    assert resolve_test_size(0.3, 100) == 0.3


# --- errors --------------------------------------------------------------------------------


def test_test_split_smaller_than_the_number_of_classes() -> None:
    y = classes_y([4, 4, 4, 4, 4, 4])
    with pytest.raises(
        DataError,
        match=re.escape(
            "The held-out test split (5 of 24 rows at test_size=0.2) is smaller than the 6 classes it must "
            "be stratified over. Add rows, or raise --test-size."
        ),
    ):
        make_splits(y, "classification")


def test_tiny_regression_falls_back_to_a_random_test_split() -> None:
    # 2 test rows cannot cover 5 quantile bins: the split is random instead of an error
    splits = make_splits(np.arange(10.0), "regression")
    assert len(splits.test) == 2 and len(splits.search) == 8
    assert_partition(splits, 10)


# --- edge cases found by testing -----------------------------------------------------------


def test_regression_target_with_ties_can_be_split() -> None:
    # the 20% quantile is 1.0, so the bin below it holds only the single 0.0
    y = np.array([0.0] + [1.0] * 8 + [2.0] * 8 + [3.0] * 8)
    splits = make_splits(y, "regression")
    assert_partition(splits, 25)


def test_regression_with_more_folds_than_search_rows() -> None:
    try:
        splits = make_splits(np.arange(21.0), "regression", n_folds=20)
    except DataError:
        return
    assert_folds(splits)


def test_every_fold_trains_on_every_class_at_the_largest_test_size() -> None:
    y = np.array([0] * 10 + [1] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn: "The least populated class in y has only 1 members"
        splits = make_splits(y, "classification", test_size=0.5, seed=0)
    y_search = y[splits.search]
    for train, _ in splits.folds:
        assert set(y_search[train]) == {0, 1}
