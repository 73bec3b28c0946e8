"""Tests of automl.config: durations, the validation of StudyConfig, Resources and ImageOptions (one
message template, a ConfigError), and the dict form that manifests store."""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.config import ImageOptions, Resources, StudyConfig, parse_duration
from automl.errors import ConfigError
from automl.names import RULE

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
    return StudyConfig(**{"data": "data.csv", "target": "label", **changes})  # type: ignore[arg-type]


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


def test_validate_reports_the_first_bad_field_in_the_order_of_the_fields() -> None:
    with pytest.raises(ConfigError, match=re.escape("The 'trials' parameter of StudyConfig")):
        config(trials=0, n_folds=1, resources=Resources(cpus_per_trial=0)).validate()
    with pytest.raises(ConfigError, match=re.escape("The 'task' parameter of StudyConfig")):
        config(trials=0, n_folds=1, task="x").validate()  # task comes before trials
    # a bad max_epochs is reported, not the grace period that it makes out of range
    with pytest.raises(ConfigError, match=re.escape("The 'max_epochs' parameter of StudyConfig")):
        config(max_epochs=0, grace_period=3).validate()


# --- types are checked strictly, with the same template --------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"trials": "30"},
            "The 'trials' parameter of StudyConfig must be a positive integer. Got '30' instead.",
        ),
        (
            {"trials": True},
            "The 'trials' parameter of StudyConfig must be a positive integer. Got True instead.",
        ),
        (
            {"seed": 1.5},
            "The 'seed' parameter of StudyConfig must be an integer from 0 to 4294967295. Got 1.5 instead.",
        ),
        (
            {"seed": -2},  # numpy's generators take no negative seed
            "The 'seed' parameter of StudyConfig must be an integer from 0 to 4294967295. Got -2 instead.",
        ),
        (
            {"budget_s": "10m"},
            "The 'budget_s' parameter of StudyConfig must be a positive number of seconds. Got '10m' instead.",
        ),
        (
            {"data": Path("x.csv")},
            f"The 'data' parameter of StudyConfig must be a file or folder (a string). Got {Path('x.csv')!r} instead.",
        ),
        (
            {"target": 3},
            "The 'target' parameter of StudyConfig must be a column name or None. Got 3 instead.",
        ),
        (
            {"test_size": "0.2"},
            "The 'test_size' parameter of StudyConfig must be 0 (nothing held out) or a fraction between 0.05 and 0.5. Got '0.2' instead.",
        ),
        (
            {"n_repeats": 2.0},
            "The 'n_repeats' parameter of StudyConfig must be a positive integer or None. Got 2.0 instead.",
        ),
        (
            {"select": 3},
            "The 'select' parameter of StudyConfig must be a selection rule's name. Got 3 instead.",
        ),
        (
            {"name": "../x"},
            f"The 'name' parameter of StudyConfig must be {RULE}. Got '../x' instead.",
        ),
        (
            {"max_trial_retries": -1},
            "The 'max_trial_retries' parameter of StudyConfig must be a non-negative integer. Got -1 instead.",
        ),
        (
            {"resources": {"cpus_per_trial": 2}},
            "The 'resources' parameter of StudyConfig must be a Resources. Got {'cpus_per_trial': 2} instead.",
        ),
        (
            {"resources": Resources(max_concurrent_trials=2.0)},  # type: ignore[arg-type]
            "The 'max_concurrent_trials' parameter of Resources must be a positive integer or None. Got 2.0 instead.",
        ),
        (
            {"images": ImageOptions(image_size=8)},
            "The 'image_size' parameter of ImageOptions must be an integer from 16 to 1024, or None. Got 8 instead.",
        ),
        (
            {"images": ImageOptions(allow_hub="no")},  # type: ignore[arg-type]
            "The 'allow_hub' parameter of ImageOptions must be True or False. Got 'no' instead.",
        ),
        (
            {"images": ImageOptions(max_pixels=0)},
            "The 'max_pixels' parameter of ImageOptions must be a positive integer. Got 0 instead.",
        ),
        (
            {"images": ImageOptions(max_archive_mb=-1.0)},
            "The 'max_archive_mb' parameter of ImageOptions must be a positive number. Got -1.0 instead.",
        ),
    ],
)
def test_wrong_types_and_nested_settings(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config(**changes).validate()


def test_a_bogus_selection_rule_lists_the_rules() -> None:
    from automl.search.selection import available_rules

    rules = ", ".join(available_rules())
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'select' parameter of StudyConfig must be one of {rules}. Got 'bogus' instead."
        ),
    ):
        config(select="bogus").validate()


def test_numbers_of_the_other_kind_that_are_exact_are_valid() -> None:
    """An integer where a float is expected is fine (JSON writes 600.0 as 600 in some tools)."""
    config(
        budget_s=600, test_size=0, max_file_mb=5, resources=Resources(cpus_per_trial=2, gpus_per_trial=0)
    ).validate()


def test_nested_settings_validate_alone() -> None:
    resources = Resources(cpus_per_trial=0.5)
    assert resources.validate() is resources
    images = ImageOptions(image_size=64)
    assert images.validate() is images
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'cpus_per_trial' parameter of Resources must be a positive number. Got -1 instead."
        ),
    ):
        Resources(cpus_per_trial=-1).validate()


ANYTHING = st.none() | st.booleans() | st.integers(-5, 200) | st.floats() | st.text(max_size=5)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.fixed_dictionaries(
        {f.name: ANYTHING for f in fields(StudyConfig) if f.name not in ("resources", "images")}
    )
)
def test_any_values_give_a_config_error_or_pass(values: dict) -> None:
    """Never a pydantic ValidationError (or another exception): a ConfigError in the template."""
    try:
        config_ = StudyConfig(**values)
        assert config_.validate() is config_
    except ConfigError as exc:
        assert re.fullmatch(
            r"The '\w+' parameter of StudyConfig must be .+\. Got .* instead\.", str(exc), re.S
        )


# --- to_dict / from_dict -----------------------------------------------------------------------


def test_from_dict_inverts_to_dict() -> None:
    cfg = config(
        seed=3,
        test_size=0.2,
        name="s1",
        resources=Resources(2.0, 0.5, 3),
        images=ImageOptions("/w", False, 64, True, 7, 0.5),
    )
    back = StudyConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert isinstance(back.resources, Resources) and isinstance(back.images, ImageOptions)


def test_an_old_manifests_config_still_loads() -> None:
    """A study stored before some fields existed (and one written by a newer automl) loads: missing
    fields take their defaults, unknown keys are left out."""
    stored = {
        "data": "iris.csv",
        "target": "species",
        "trials": 12,
        "budget_s": 90.0,
        "resources": {"cpus_per_trial": 1.0, "gpus_per_trial": None, "max_concurrent_trials": 2, "later": 1},
        "future_field": "x",
    }
    cfg = StudyConfig.from_dict(stored)
    assert cfg == config(
        data="iris.csv", target="species", trials=12, budget_s=90.0, resources=Resources(1.0, None, 2)
    )
    assert cfg.validate() is cfg


def test_from_dict_does_not_validate() -> None:
    """A stored config is read as written; `validate()` says what is wrong with it."""
    cfg = StudyConfig.from_dict({"data": "x.csv", "trials": 0})
    assert cfg.trials == 0
    with pytest.raises(ConfigError, match=re.escape("The 'trials' parameter of StudyConfig")):
        cfg.validate()


def test_a_config_is_a_dataclass() -> None:
    """`dataclasses.replace` (jobs, the dashboard's launcher) and `fields` keep working."""
    cfg = replace(config(), trials=7)
    assert cfg.trials == 7 and cfg.data == "data.csv"
    assert StudyConfig.grace_period == 5  # the CLI's help and default read it
