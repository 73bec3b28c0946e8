"""Tests of automl.config: durations and the validation of StudyConfig and Resources."""

from __future__ import annotations

import re

import pytest

from automl.config import Resources, StudyConfig, parse_duration
from automl.errors import ConfigError

# --- parse_duration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("90", 90.0),
        ("90 sec", 90.0),
        ("10m", 600.0),
        ("10min", 600.0),
        ("10M", 600.0),
        ("1.5h", 5400.0),
        ("2hr", 7200.0),
        ("  1H  ", 3600.0),
        ("0.5s", 0.5),
        (300, 300.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    result = parse_duration(text)
    assert result == seconds
    assert type(result) is float


@pytest.mark.parametrize("text", ["ten minutes", "10 d", "1e3", "-5s", "1.5.2h", "", "m", "10mm", "1h30m"])
def test_parse_duration_bad_text(text: str) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'budget' parameter of automl run must be a duration such as 90s, 10m or 1h. Got {text!r} instead."
        ),
    ):
        parse_duration(text)


@pytest.mark.parametrize("value", ["0s", "0", 0, 0.0, -3, -0.5])
def test_parse_duration_must_be_positive(value: str | float) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'budget' parameter of automl run must be a positive duration. Got {value!r} instead."
        ),
    ):
        parse_duration(value)


# --- StudyConfig.validate --------------------------------------------------------------------


def config(**changes: object) -> StudyConfig:
    return StudyConfig(data="data.csv", target="label", **changes)  # type: ignore[arg-type]


def test_defaults_are_valid_and_validate_returns_self() -> None:
    cfg = config()
    assert cfg.validate() is cfg
    assert (cfg.trials, cfg.budget_s, cfg.seed, cfg.test_size, cfg.n_folds) == (30, 600.0, 0, None, 5)
    assert (cfg.select, cfg.storage, cfg.max_epochs, cfg.grace_period) == (
        "one_se_min_gap",
        "studies",
        100,
        5,
    )
    assert cfg.resources == Resources()


def test_boundary_values_are_valid() -> None:
    config(trials=1, test_size=0.05, n_folds=2, n_repeats=1, max_epochs=1, grace_period=1).validate()
    config(test_size=0.5, n_folds=20, grace_period=100, task="regression").validate()
    config(task="classification", resources=Resources(0.5, 0.25, 1)).validate()


def test_to_dict_is_plain_and_nested() -> None:
    d = config(seed=3).to_dict()
    assert d["seed"] == 3
    assert d["data"] == "data.csv"
    assert d["resources"] == {"cpus_per_trial": 1.0, "gpus_per_trial": None, "max_concurrent_trials": None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trials": 0}, "The 'trials' parameter of StudyConfig must be a positive integer. Got 0 instead."),
        (
            {"trials": 2.5},
            "The 'trials' parameter of StudyConfig must be a positive integer. Got 2.5 instead.",
        ),
        (
            {"budget_s": 0},
            "The 'budget_s' parameter of StudyConfig must be a positive number of seconds. Got 0 instead.",
        ),
        (
            {"budget_s": float("nan")},
            "The 'budget_s' parameter of StudyConfig must be a positive number of seconds. Got nan instead.",
        ),
        (
            {"test_size": 0.6},
            "The 'test_size' parameter of StudyConfig must be 0 (nothing held out) or a fraction between 0.05 and 0.5. Got 0.6 instead.",
        ),
        (
            {"test_size": 0.01},
            "The 'test_size' parameter of StudyConfig must be 0 (nothing held out) or a fraction between 0.05 and 0.5. Got 0.01 instead.",
        ),
        (
            {"n_folds": 1},
            "The 'n_folds' parameter of StudyConfig must be an integer from 2 to 20. Got 1 instead.",
        ),
        (
            {"n_folds": 21},
            "The 'n_folds' parameter of StudyConfig must be an integer from 2 to 20. Got 21 instead.",
        ),
        (
            {"n_folds": 5.0},
            "The 'n_folds' parameter of StudyConfig must be an integer from 2 to 20. Got 5.0 instead.",
        ),
        (
            {"n_repeats": 0},
            "The 'n_repeats' parameter of StudyConfig must be a positive integer or None. Got 0 instead.",
        ),
        (
            {"max_epochs": 0},
            "The 'max_epochs' parameter of StudyConfig must be a positive integer. Got 0 instead.",
        ),
        (
            {"grace_period": 0},
            "The 'grace_period' parameter of StudyConfig must be an integer from 1 to 100. Got 0 instead.",
        ),
        (
            {"max_epochs": 10, "grace_period": 11},
            "The 'grace_period' parameter of StudyConfig must be an integer from 1 to 10. Got 11 instead.",
        ),
        (
            {"task": "clustering"},
            "The 'task' parameter of StudyConfig must be 'classification' or 'regression'. Got 'clustering' instead.",
        ),
        (
            {"max_file_mb": 0},
            "The 'max_file_mb' parameter of StudyConfig must be a positive number. Got 0 instead.",
        ),
        (
            {"resources": Resources(cpus_per_trial=0)},
            "The 'cpus_per_trial' parameter of Resources must be a positive number. Got 0 instead.",
        ),
        (
            {"resources": Resources(gpus_per_trial=-1)},
            "The 'gpus_per_trial' parameter of Resources must be zero or positive. Got -1 instead.",
        ),
        (
            {"resources": Resources(max_concurrent_trials=0)},
            "The 'max_concurrent_trials' parameter of Resources must be a positive integer or None. Got 0 instead.",
        ),
    ],
)
def test_validate_messages(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config(**changes).validate()


def test_validate_reports_the_first_bad_field() -> None:
    with pytest.raises(ConfigError, match=re.escape("The 'trials' parameter of StudyConfig")):
        config(trials=0, n_folds=1, task="x").validate()
