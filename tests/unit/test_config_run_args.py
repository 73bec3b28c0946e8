"""automl.run_args: StudyConfig -> `automl run` arguments -> StudyConfig gives back an equal config,
for every field (resources and image options included), through a shell's quoting too."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.cli import build_parser
from automl.config import ImageOptions, Resources, StudyConfig
from automl.errors import ConfigError
from automl.run_args import run_arguments, study_config, study_options

PARSER = build_parser()

# argv can carry any text but NUL (and lone surrogates, which no file system name holds)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
MAYBE_TEXT = st.none() | TEXT
INTS = st.integers(-(10**12), 10**12)
FLOATS = st.integers(-1000, 1000) | st.floats(allow_nan=False)  # inf too: float() reads it back
POSITIVE = st.integers(1, 10**9) | st.floats(min_value=0, exclude_min=True, allow_infinity=False)

RESOURCES = {
    "cpus_per_trial": FLOATS,
    "gpus_per_trial": st.none() | FLOATS,
    "max_concurrent_trials": st.none() | INTS,
}
IMAGES = {
    "weights_dir": MAYBE_TEXT,
    "allow_hub": st.booleans(),
    "image_size": st.none() | INTS,
    "skip_bad": st.booleans(),
    "max_pixels": INTS,
    "max_archive_mb": FLOATS,
}
STUDY = {
    "data": TEXT,
    "target": MAYBE_TEXT,
    "task": st.sampled_from([None, "classification", "regression"]),
    "metric": MAYBE_TEXT,
    "trials": INTS,
    "budget_s": POSITIVE,
    "seed": INTS,
    "test_size": st.none() | FLOATS,
    "n_folds": INTS,
    "n_repeats": st.none() | INTS,
    "max_epochs": INTS,
    "grace_period": INTS,
    "select": TEXT,
    "export": st.sampled_from(["bag", "refit"]),
    "space": MAYBE_TEXT,
    "storage": TEXT,
    "name": MAYBE_TEXT,
    "max_file_mb": FLOATS,
    "max_trial_retries": INTS,
    "resources": st.builds(Resources, **RESOURCES),
    "images": st.builds(ImageOptions, **IMAGES),
}
CONFIGS = st.builds(StudyConfig, **STUDY)


def parsed(arguments: list[str]) -> StudyConfig:
    return study_config(PARSER.parse_args(["run", *arguments]))


def test_the_strategy_sets_every_field() -> None:
    """A field added to the dataclasses without a strategy here would never be round-tripped."""
    assert set(STUDY) == {f.name for f in fields(StudyConfig)}
    assert set(RESOURCES) == {f.name for f in fields(Resources)}
    assert set(IMAGES) == {f.name for f in fields(ImageOptions)}


@settings(max_examples=300, deadline=None, database=None)
@given(CONFIGS)
def test_run_arguments_parse_back_to_an_equal_config(config: StudyConfig) -> None:
    arguments = run_arguments(config)
    assert parsed(arguments) == config
    # as a job's entrypoint, through a shell
    assert parsed(shlex.split(shlex.join(arguments))) == config


@settings(max_examples=50, deadline=None, database=None)
@given(CONFIGS)
def test_study_options_are_run_arguments_less_the_data(config: StudyConfig) -> None:
    assert run_arguments(config) == [*study_options(config), "--", config.data]


@pytest.mark.parametrize(
    "config",
    [
        StudyConfig(data="-odd.csv", target="--trials", metric="-x", name="-n"),
        StudyConfig(data="--", target="a=b", storage="s3://bucket/with space"),
        StudyConfig(data="x.csv", budget_s=1e-5, test_size=0.0, grace_period=100),
        StudyConfig(data="x.csv", budget_s=1.5e20, resources=Resources(0.1, 0.25, 3)),
        StudyConfig(data="p/", images=ImageOptions("/w", False, 64, True, 7, 0.5)),
    ],
)
def test_awkward_values_round_trip(config: StudyConfig) -> None:
    assert parsed(run_arguments(config)) == config


def test_the_defaults_of_run_are_a_default_config() -> None:
    """`automl run x.csv --storage studies` and StudyConfig(data="x.csv") are the same study."""
    assert parsed(["x.csv", "--storage", "studies"]) == StudyConfig(data="x.csv")
    assert parsed(["x.csv", "--storage", "s", "--max-epochs", "3"]).grace_period == 3  # fits in 3 epochs


def test_unset_fields_are_left_to_run() -> None:
    options = study_options(StudyConfig(data="x.csv"))
    for option in ("--target", "--test-size", "--repeats", "--gpus-per-trial", "--image-size", "--name"):
        assert not any(o.startswith(option) for o in options)
    assert "--no-hub" not in options and "--skip-bad" not in options
    assert options[options.index("--budget") + 1] == "600s"
    assert "--seed=-3" in study_options(StudyConfig(data="x.csv", seed=-3))  # one word: not read as an option


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"budget_s": 0},
            "The 'budget_s' parameter of StudyConfig must be a positive, finite number of seconds",
        ),
        ({"budget_s": float("inf")}, "'budget_s' parameter of StudyConfig must be a positive, finite"),
        ({"trials": "30"}, "The 'trials' parameter of StudyConfig must be an integer. Got '30'"),
        ({"seed": True}, "The 'seed' parameter of StudyConfig must be an integer"),
        ({"max_file_mb": "big"}, "The 'max_file_mb' parameter of StudyConfig must be a number"),
    ],
)
def test_a_config_the_command_line_cannot_say_is_a_clear_error(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_arguments(StudyConfig(data="x.csv", **changes))
