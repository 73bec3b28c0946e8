"""A submission's options -> the StudyConfig that `automl run` builds from the same settings.

The options are a JSON object whose keys are `automl run`'s study options by their Python names
(`target`, `budget`, `trials`, `metric`, `seed`, `select`, `folds`, `max_epochs`, `test_size`, ...; flags
such as `no_hub` are booleans). They are read through the command line's own reader
(`automl.run_args.add_study_options` for the names and defaults, `study_config` for the StudyConfig), so
a setting means what it means on the command line, and `StudyConfig.validate()` gives the same message.
Paths on the server are not options: the data is the upload, the search space its own part, the store
the service's.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from functools import cache
from typing import Any

from automl.config import StudyConfig
from automl.errors import ConfigError, invalid_parameter
from automl.run_args import add_study_options, study_config

OWNER = "automl run"  # the options are `automl run`'s: a bad one is named as the CLI names it
MAX_OPTIONS_BYTES = 64 * 1024
# Settings that name something on the server: given by the service, never by a client.
SERVER_SIDE = {
    "data": "the data is the upload itself (the multipart part 'file')",
    "space": "a search space is uploaded as the multipart part 'space' (a YAML file)",
    "storage": "the service's --storage holds every study",
    "weights_dir": "a folder on the server cannot be named by a client",
}


@cache
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automl run", add_help=False, exit_on_error=False)
    add_study_options(parser)
    parser.add_argument("--storage")
    return parser


@cache
def _actions() -> dict[str, argparse.Action]:
    """The study options of `automl run` by name, less the server-side ones."""
    return {
        action.dest: action
        for action in _parser()._actions  # noqa: SLF001 - argparse exposes its options only there
        if action.dest not in SERVER_SIDE and action.dest != "help"
    }


def option_names() -> list[str]:
    return sorted(_actions())


def parse_options(text: str | bytes | None) -> dict[str, Any]:
    """The JSON object of the 'options' part ({} when there is none)."""
    if text is None or not str(text if isinstance(text, str) else text.decode("utf-8", "replace")).strip():
        return {}
    if len(text) > MAX_OPTIONS_BYTES:
        raise ConfigError(
            f"The 'options' part is {len(text)} bytes, over the limit of {MAX_OPTIONS_BYTES}. Send only the "
            "study settings."
        )
    try:
        options = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"The 'options' part must be a JSON object of study settings ({exc}). "
            'E.g. {"target": "label", "budget": "5m", "trials": 20}.'
        ) from None
    if not isinstance(options, dict):
        raise invalid_parameter("options", "POST /v1/studies", "a JSON object of study settings", options)
    return options


def study_config_from_options(options: dict[str, Any], storage: str) -> StudyConfig:
    """The StudyConfig `automl run` would build from these settings (data left empty: the upload's path
    comes later). Not yet validated: the submission validates it as `automl run` does."""
    actions = _actions()
    for key, value in options.items():
        if key in SERVER_SIDE:
            raise ConfigError(f"The option {key!r} cannot be set through the service: {SERVER_SIDE[key]}.")
        if key not in actions:
            raise ConfigError(
                f"Unknown study option {key!r}. The options are automl run's: {', '.join(option_names())}."
            )
        _check_type(key, actions[key], value)
    defaults = vars(_parser().parse_args(["-"]))
    args = argparse.Namespace(**{**defaults, **options, "storage": storage, "space": None})
    return replace(study_config(args), data="")


def _check_type(key: str, action: argparse.Action, value: Any) -> None:
    """A value of the type `automl run` reads for that option (argparse's own checks are for text)."""
    if value is None:
        if action.default is None or isinstance(action, argparse._StoreTrueAction):  # noqa: SLF001
            return
        raise invalid_parameter(key, OWNER, f"set (its default is {action.default!r})", value)
    if isinstance(action, argparse._StoreTrueAction):  # noqa: SLF001
        if not isinstance(value, bool):
            raise invalid_parameter(key, OWNER, "true or false", value)
    elif action.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_parameter(key, OWNER, "an integer", value)
    elif action.type is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_parameter(key, OWNER, "a number", value)
    elif key == "budget":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid_parameter(key, OWNER, "a duration such as 90s, 10m or 1h (or seconds)", value)
    elif not isinstance(value, str):
        raise invalid_parameter(key, OWNER, "a string", value)
