"""Tests of automl.search.space and the default search_spaces/tabular.yaml: sampled configurations, their
bounds and types, and start points.

Bound expressions and the errors of a space file: test_space_validation.py; conditional parameters
(`when:`): test_conditions.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.search.space import TYPES, SearchSpace, default_space_path

REPO_ROOT = Path(__file__).resolve().parents[3]
SIZES = {"n_rows": 1000, "n_features": 6, "n_classes": 3}
TASKS = ("classification", "regression")
N_SAMPLES = 200


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test inside its own tmp_path so file names in messages are short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def default_space() -> SearchSpace:
    return SearchSpace.load()


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def sample_configs(space: dict[str, Any], seed: int, n: int = N_SAMPLES) -> list[dict[str, Any]]:
    """n configurations drawn the way Tune's random search draws them, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return [{name: domain.sample(random_state=rng) for name, domain in space.items()} for _ in range(n)]


# --- the default space file ----------------------------------------------------------------


def test_default_space_path_is_found() -> None:
    path = default_space_path()
    assert path.is_file()
    assert path.name == "tabular.yaml"
    assert path.read_bytes() == (REPO_ROOT / "search_spaces" / "tabular.yaml").read_bytes()
    assert default_space_path("tabular") == path


def test_load_without_a_path_reads_the_default(default_space: SearchSpace) -> None:
    assert default_space.source == str(default_space_path())
    assert list(default_space.parameters) == [
        "family",
        "linear_c",
        "depth",
        "width",
        "activation",
        "batch_norm",
        "dropout",
        "l1",
        "l2",
        "lr",
        "batch_size",
        "members",
        *GBDT,
        "patience",
        "scaler",
        "class_weight",
        "synth_method",
        "synth_ratio",
        "synth_epochs",
    ]
    assert len(default_space.start) == 3
    assert all(spec["type"] in TYPES for spec in default_space.parameters.values())


def test_the_default_file_loads_from_any_directory(default_space: SearchSpace) -> None:
    # the autouse fixture runs this test in an empty tmp_path
    assert SearchSpace.load().parameters == default_space.parameters


# --- sampled configurations -----------------------------------------------------------------

GBDT = ["gbdt_lr", "gbdt_leaves", "gbdt_min_leaf", "gbdt_l2", "gbdt_subsample", "gbdt_colsample"]
EXPECTED_CHOICES = {
    "family": {"linear", "mlp", "gbdt"},
    "width": {16, 32, 64, 128, 256},
    "activation": {"relu", "gelu", "silu", "tanh"},
    "batch_norm": {False, True},
    "scaler": {"standard", "minmax", "robust", "robust_clip", "none"},
    "batch_size": {16, 32, 64, 128},
    "class_weight": {"none", "balanced"},
    "synth_epochs": {50, 150},
    "members": {1, 4},
}
EXPECTED_RANGES = {  # name: (low, high, type)
    "linear_c": (1e-3, 100.0, float),
    "depth": (1, 4, int),
    "gbdt_lr": (0.01, 0.3, float),
    "gbdt_leaves": (2, 32, int),
    "gbdt_min_leaf": (1, 20, int),
    "gbdt_l2": (1e-3, 10.0, float),
    "gbdt_subsample": (0.5, 1.0, float),
    "gbdt_colsample": (0.3, 1.0, float),
    "patience": (5, 30, int),
    "dropout": (0.0, 0.5, float),
    "l1": (1e-7, 1e-2, float),
    "l2": (1e-6, 1.0, float),
    "lr": (1e-4, 3e-2, float),
    "synth_ratio": (0.0, 2.0, float),
}
SYNTH_METHODS = {
    "classification": {"none", "smote", "gaussian_copula", "ctgan", "tvae"},
    "regression": {"none", "gaussian_copula", "ctgan", "tvae"},
}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_configs_stay_in_bounds_and_types(default_space: SearchSpace, task: str, seed: int) -> None:
    configs = sample_configs(default_space.to_tune(task, SIZES), seed)
    expected_names = set(EXPECTED_CHOICES) | set(EXPECTED_RANGES) | {"synth_method"}
    if task == "regression":
        expected_names.discard("class_weight")
    for config in configs:
        assert set(config) == expected_names
        for name, (low, high, kind) in EXPECTED_RANGES.items():
            value = config[name]
            assert type(value) is kind, (name, value)
            assert low <= value <= high, (name, value)
        for name, allowed in EXPECTED_CHOICES.items():
            if name in config:
                assert config[name] in allowed, (name, config[name])
                assert type(config[name]) is type(next(iter(allowed))), (name, config[name])
        assert config["synth_method"] in SYNTH_METHODS[task]


@pytest.mark.parametrize("task", TASKS)
def test_every_dimension_takes_more_than_one_value(default_space: SearchSpace, task: str) -> None:
    configs = sample_configs(default_space.to_tune(task, SIZES), seed=3)
    for name in configs[0]:
        values = [c[name] for c in configs]
        assert len(set(values)) > 1, name
        if name in EXPECTED_CHOICES:  # 200 draws reach every choice
            assert set(values) == EXPECTED_CHOICES[name], name
        if name in ("depth", "patience"):
            low, high, _ = EXPECTED_RANGES[name]
            assert set(values) == set(range(low, high + 1)), name
    assert {c["synth_method"] for c in configs} == SYNTH_METHODS[task]


def test_loguniform_dimensions_spread_over_decades(default_space: SearchSpace) -> None:
    configs = sample_configs(default_space.to_tune("classification", SIZES), seed=4)
    l1 = np.log10([c["l1"] for c in configs])
    # log-uniform between 1e-7 and 1e-2: about a fifth of the draws in each decade
    counts = np.histogram(l1, bins=[-7, -6, -5, -4, -3, -2])[0]
    assert (counts > N_SAMPLES / 10).all()


def test_the_same_seed_reproduces_the_samples(default_space: SearchSpace) -> None:
    space = default_space.to_tune("classification", SIZES)
    assert sample_configs(space, 11, 50) == sample_configs(space, 11, 50)
    again = SearchSpace.load().to_tune("classification", SIZES)
    assert sample_configs(again, 11, 50) == sample_configs(space, 11, 50)
    assert sample_configs(space, 12, 50) != sample_configs(space, 11, 50)


def test_int_domains_include_the_high_bound(default_space: SearchSpace) -> None:
    space = default_space.to_tune("classification", SIZES)
    assert (space["depth"].lower, space["depth"].upper) == (1, 5)  # Tune's randint excludes upper
    assert (space["patience"].lower, space["patience"].upper) == (5, 31)


# --- task and data-size dependent dimensions -----------------------------------------------


def test_class_weight_only_for_classification(default_space: SearchSpace) -> None:
    assert default_space.resolved("classification", SIZES)["class_weight"]["values"] == ["none", "balanced"]
    assert "class_weight" not in default_space.resolved("regression", SIZES)
    assert "class_weight" not in default_space.to_tune("regression", SIZES)


def test_smote_is_dropped_for_regression(default_space: SearchSpace) -> None:
    classification = default_space.resolved("classification", SIZES)["synth_method"]["values"]
    regression = default_space.resolved("regression", SIZES)["synth_method"]["values"]
    assert classification == ["none", "smote", "gaussian_copula", "ctgan", "tvae"]
    assert regression == ["none", "gaussian_copula", "ctgan", "tvae"]
    # the spec read from YAML is not changed by resolving it
    assert "smote" in default_space.parameters["synth_method"]["values"]


@pytest.mark.parametrize(
    ("n_rows", "batch_sizes"),
    [
        (1000, [16, 32, 64, 128]),
        (128, [16, 32, 64, 128]),
        (100, [16, 32, 64]),
        (32, [16, 32]),
        (20, [16]),
        (8, [16]),
    ],
)
def test_max_n_rows_drops_larger_batch_sizes(
    default_space: SearchSpace, n_rows: int, batch_sizes: list[int]
) -> None:
    sizes = dict(SIZES, n_rows=n_rows)
    assert default_space.resolved("classification", sizes)["batch_size"]["values"] == batch_sizes
    assert default_space.to_tune("regression", sizes)["batch_size"].categories == batch_sizes


def test_max_value(default_space: SearchSpace) -> None:
    assert default_space.max_value("synth_ratio", 9.0) == 2.0
    assert default_space.max_value("batch_size", 1.0) == 128.0
    assert default_space.max_value("depth", 1.0) == 4.0  # low 1: a network without hidden layers is linear
    assert default_space.max_value("nothing", 7.5) == 7.5


# --- start points ----------------------------------------------------------------------------


def assert_inside(point: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    assert set(point) == set(specs)
    for name, spec in specs.items():
        value = point[name]
        if spec["type"] == "choice":
            assert value in spec["values"], (name, value)
        else:
            assert spec["low"] <= value <= spec["high"], (name, value)
            assert type(value) is (int if spec["type"] == "int" else float), (name, value)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("n_rows", [5, 20, 40, 1000])
def test_start_points_are_complete_and_inside_the_space(
    default_space: SearchSpace, task: str, n_rows: int
) -> None:
    sizes = dict(SIZES, n_rows=n_rows)
    points = default_space.start_points(task, sizes)
    assert len(points) == 3
    specs = default_space.resolved(task, sizes)
    for point in points:
        assert_inside(point, specs)


def test_start_points_keep_given_values_and_fill_the_rest(default_space: SearchSpace) -> None:
    linear, network, trees = default_space.start_points("classification", SIZES)
    assert (linear["family"], linear["linear_c"], linear["scaler"]) == ("linear", 1.0, "standard")
    assert linear["depth"] == 1 and linear["width"] == 16  # inactive there: the low bound, the first choice
    assert linear["class_weight"] == "none" and linear["synth_ratio"] == 0.0 and linear["synth_epochs"] == 50
    assert (network["depth"], network["width"], network["dropout"], network["patience"]) == (2, 64, 0.2, 15)
    assert (trees["family"], trees["gbdt_leaves"], trees["gbdt_min_leaf"], trees["patience"]) == (
        "gbdt",
        8,
        3,
        10,
    )


def test_start_points_are_clamped_to_the_data(default_space: SearchSpace) -> None:
    for point in default_space.start_points("regression", dict(SIZES, n_rows=20)):
        assert point["batch_size"] == 16  # 32 is above n_rows: the nearest allowed size
        assert "class_weight" not in point


def test_start_points_fill_missing_keys_with_the_middle() -> None:
    write(
        "space.yaml",
        "parameters:\n"
        "  dropout: {type: uniform, low: 0.0, high: 4.0}\n"
        "  lr: {type: loguniform, low: 1.0e-4, high: 1.0}\n"
        "  patience: {type: int, low: 1, high: 10}\n"
        "  scaler: {type: choice, values: [x, y]}\n"
        "  batch_size: {type: choice, values: [1, 5, 9]}\n"
        "start:\n"
        "  - {}\n"
        "  - {dropout: 9.0, patience: -3, scaler: y, batch_size: 6}\n",
    )
    space = SearchSpace.load("space.yaml")
    middle, clamped = space.start_points("classification", SIZES)
    assert middle == {
        "dropout": 2.0,
        "lr": pytest.approx(1e-2),
        "patience": 6,
        "scaler": "x",
        "batch_size": 1,
    }
    assert clamped == {
        "dropout": 4.0,
        "lr": pytest.approx(1e-2),
        "patience": 1,
        "scaler": "y",
        "batch_size": 5,
    }


def test_start_points_naming_an_absent_value_are_left_out_and_repeats_kept_once() -> None:
    write(
        "space.yaml",
        "parameters:\n"
        "  scaler: {type: choice, values: [x, y]}\n"
        "  batch_size: {type: choice, values: [1, 5]}\n"
        "start:\n"
        "  - {scaler: z}\n"  # say, a backbone without weights on this machine
        "  - {scaler: y, batch_size: 4}\n"
        "  - {scaler: y, batch_size: 5}\n",  # the same point as the one before, once clamped
    )
    space = SearchSpace.load("space.yaml")
    assert space.start_points("classification", SIZES) == [{"scaler": "y", "batch_size": 5}]


def test_no_start_entry_gives_no_start_points() -> None:
    write("space.yaml", "parameters:\n  dropout: {type: uniform, low: 0, high: 1}\n")
    space = SearchSpace.load("space.yaml")
    assert space.start == []
    assert space.start_points("regression", SIZES) == []


# --- known bugs ----------------------------------------------------------------------------

FRACTIONAL_INT = "parameters:\n  patience: {type: int, low: n_rows / 4, high: n_rows / 2}\nstart:\n  - {patience: 100}\n  - {patience: 0}\n"


def test_int_start_point_with_fractional_bounds_stays_inside() -> None:
    write("space.yaml", FRACTIONAL_INT)
    space = SearchSpace.load("space.yaml")
    sizes = dict(SIZES, n_rows=15)
    specs = space.resolved("classification", sizes)
    for point in space.start_points("classification", sizes):
        assert_inside(point, specs)


def test_int_samples_with_fractional_bounds_stay_inside() -> None:
    write("space.yaml", FRACTIONAL_INT)
    space = SearchSpace.load("space.yaml")
    sizes = dict(SIZES, n_rows=15)
    spec = space.resolved("classification", sizes)["patience"]
    values = {c["patience"] for c in sample_configs(space.to_tune("classification", sizes), seed=0, n=100)}
    assert all(spec["low"] <= v <= spec["high"] for v in values), (spec, sorted(values))
