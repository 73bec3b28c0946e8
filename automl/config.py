"""Run-level settings as small typed dataclasses, separate from the search space.

Each field's annotation is its rule: the type (checked strictly: no '30' for 30, no 2.5 or True for an
integer), pydantic's constraints (`Field(ge=1)`, validators) and, in `Must`, the words of the one message
template of `errors.py`: "The 'x' parameter of Y must be Z. Got W instead.". A config holds what it was
given (the CLI, the dashboard and the manifests of old studies may hold a bad value, and
`automl/run_args.py` turns any config into `automl run` arguments and back); `validate()` checks it and
raises the first bad field, in the order of the fields, as a ConfigError, never a pydantic
ValidationError. The CLI and the Python API build a StudyConfig and never pass loose keyword arguments
further down.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, get_type_hints

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
    with_config,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from automl.errors import ConfigError, invalid_parameter
from automl.names import RULE, is_study_id

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
# strict: a value of another type is an error, not converted; nested settings are checked too
_RULES = ConfigDict(strict=True, revalidate_instances="always")


def parse_duration(text: str | float | int) -> float:
    """'90s', '10m', '1.5h' or a number of seconds -> seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise invalid_parameter("budget", "automl run", "a duration such as 90s, 10m or 1h", text)
        seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise invalid_parameter("budget", "automl run", "a positive duration", text)
    return seconds


@dataclass(frozen=True)
class Must:
    """What a field's value must be, as the message template says it ("must be {text}"); `{name}` in
    the text stands for the value of the settings' field `name`."""

    text: str


def _test_fraction(value: float | None) -> float | None:
    if value is None or value == 0 or 0.05 <= value <= 0.5:
        return value
    raise ValueError("not 0 nor a fraction between 0.05 and 0.5")


def _study_id(name: str | None) -> str | None:
    if name is None or is_study_id(name):
        return name
    raise ValueError("not a study id")


def _selection_rule(name: str) -> str:
    from automl.search.selection import available_rules  # the registry's imports take a moment

    rules = available_rules()
    if name not in rules:
        raise PydanticCustomError(
            "invalid_parameter", "not a selection rule", {"expected": f"one of {', '.join(rules)}"}
        )
    return name


Settings = TypeVar("Settings")


def _validate(settings: Settings) -> Settings:
    """`settings` itself when every field follows its rule, else the ConfigError of the first that does not."""
    try:
        _adapter(type(settings)).validate_python(settings)
    except ValidationError as exc:
        raise _config_error(settings, exc.errors()[0]) from None
    return settings


@cache
def _adapter(kind: type) -> TypeAdapter:
    return TypeAdapter(kind)


@cache
def _must(kind: type, name: str) -> str:
    hint = get_type_hints(kind, include_extras=True)[name]
    return next((m.text for m in getattr(hint, "__metadata__", ()) if isinstance(m, Must)), "valid")


def _config_error(settings: Any, error: ErrorDetails) -> ConfigError:
    """The message template's ConfigError for one pydantic error: the field its location names (nested
    settings included; a whole-config check names it in its context), the field's `Must` (or the
    expectation the check gave) and the value as given."""
    context = error.get("ctx") or {}
    holder, name = settings, None
    for part in error["loc"]:  # field names, among union members' and validators' steps
        value = getattr(holder, name) if name is not None else None
        if is_dataclass(value) and part in {f.name for f in fields(value)}:
            holder, name = value, part
        elif name is None and part in {f.name for f in fields(holder)}:
            name = part
    name = name or context.get("field")
    if name is None:  # not expected: every rule is a field's
        return ConfigError(f"{type(settings).__name__} is invalid: {error['msg']}.")
    expected = context.get("expected") or _must(type(holder), name).format_map(vars(holder))
    return invalid_parameter(name, type(holder).__name__, expected, getattr(holder, name))


@with_config(_RULES)
@dataclass
class Resources:
    """What one trial asks Ray for. Fractions of a GPU let several small trials share one card."""

    cpus_per_trial: Annotated[float, Field(gt=0), Must("a positive number")] = 1.0
    # None: 0 without GPUs, else GPU_SHARE (several trials per GPU)
    gpus_per_trial: Annotated[float | None, Field(ge=0), Must("zero or positive")] = None
    # None: as many as the cluster's CPUs (and GPUs) allow
    max_concurrent_trials: Annotated[int | None, Field(ge=1), Must("a positive integer or None")] = None

    GPU_SHARE = 0.24  # small networks: four trials share one GPU and leave FEATURE_GPU_SHARE of it free
    FEATURE_GPU_SHARE = 0.04  # the shared pool's frozen-feature extraction of an image study

    def resolved_gpus(self, cluster_gpus: float) -> float:
        """GPUs per trial: as set, or a fraction of a GPU when the cluster has any."""
        if self.gpus_per_trial is not None:
            return self.gpus_per_trial
        return self.GPU_SHARE if cluster_gpus > 0 else 0.0

    def feature_gpus(self, cluster_gpus: float) -> float:
        """The GPU share of the shared pool's feature extraction (synth/pool.py): FEATURE_GPU_SHARE where
        the trials packed onto one GPU leave that much of it free, else 0, so the extraction runs on the
        CPU (a task queued for a GPU that waiting trials hold would stall them)."""
        share = self.resolved_gpus(cluster_gpus)
        if cluster_gpus <= 0 or share >= 1:
            return 0.0
        if share <= 0:
            return self.FEATURE_GPU_SHARE
        room = 1.0 - math.floor(1.0 / share + 1e-9) * share
        return self.FEATURE_GPU_SHARE if room + 1e-9 >= self.FEATURE_GPU_SHARE else 0.0

    def validate(self) -> Resources:
        return _validate(self)


@with_config(_RULES)
@dataclass
class ImageOptions:
    """Settings of image studies (ignored for tables)."""

    # local pretrained weights: <backbone>.safetensors|.pth, or <backbone>/
    weights_dir: Annotated[str | None, Must("a folder (a string) or None")] = None
    # let timm download pretrained weights (cached) when they are not local
    allow_hub: Annotated[bool, Must("True or False")] = True
    # cap on the backbones' input size (None: each backbone's own)
    image_size: Annotated[int | None, Field(ge=16, le=1024), Must("an integer from 16 to 1024, or None")] = (
        None
    )
    # skip unreadable images (reporting the count) instead of stopping
    skip_bad: Annotated[bool, Must("True or False")] = False
    # per image: larger ones are refused (decompression bombs)
    max_pixels: Annotated[int, Field(ge=1), Must("a positive integer")] = 50_000_000
    max_archive_mb: Annotated[float, Field(gt=0), Must("a positive number")] = 2048.0

    def validate(self) -> ImageOptions:
        return _validate(self)


@with_config(_RULES)
@dataclass
class StudyConfig:
    """Everything that shapes one study, except the search space itself."""

    data: Annotated[str, Must("a file or folder (a string)")]
    # the column to predict (tables); image labels come from folders or `label`
    target: Annotated[str | None, Must("a column name or None")] = None
    # inferred from the target when None
    task: Annotated[
        Literal["classification", "regression"] | None, Must("'classification' or 'regression'")
    ] = None
    metric: Annotated[str | None, Must("a metric's name or None")] = None  # the task's default when None
    trials: Annotated[int, Field(ge=1), Must("a positive integer")] = 30
    budget_s: Annotated[float, Field(gt=0), Must("a positive number of seconds")] = 600.0
    seed: Annotated[int, Field(ge=0, le=2**32 - 1), Must("an integer from 0 to 4294967295")] = 0
    # held-out test fraction; None: by size (none below 2,000 rows, else 0.2); 0: none
    test_size: Annotated[
        float | None,
        AfterValidator(_test_fraction),
        Must("0 (nothing held out) or a fraction between 0.05 and 0.5"),
    ] = None
    n_folds: Annotated[int, Field(ge=2, le=20), Must("an integer from 2 to 20")] = 5
    # None: repeated when the data is tiny
    n_repeats: Annotated[int | None, Field(ge=1), Must("a positive integer or None")] = None
    max_epochs: Annotated[int, Field(ge=1), Must("a positive integer")] = 100
    # ASHA: epochs every trial gets before it can be stopped (at most max_epochs: see _grace_fits)
    grace_period: Annotated[int, Field(ge=1), Must("an integer from 1 to {max_epochs}")] = 5
    select: Annotated[str, AfterValidator(_selection_rule), Must("a selection rule's name")] = (
        "one_se_min_gap"
    )
    # the exported model: "bag" (the chosen candidate's fresh fold networks, averaged: what the estimate
    # measured) or "refit" (the chosen configuration trained again on every search row)
    export: Annotated[Literal["bag", "refit"], Must("'bag' or 'refit'")] = "bag"
    # YAML file; None: the default space for the modality
    space: Annotated[str | None, Must("a YAML file (a string) or None")] = None
    storage: Annotated[str, Must("a folder or a bucket URI (a string)")] = "studies"
    name: Annotated[str | None, AfterValidator(_study_id), Must(RULE)] = None
    max_file_mb: Annotated[float, Field(gt=0), Must("a positive number")] = 200.0
    # a crashing trial is retried this many times, then recorded as failed
    max_trial_retries: Annotated[int, Field(ge=0), Must("a non-negative integer")] = 2
    resources: Annotated[Resources, Must("a Resources")] = field(default_factory=Resources)
    images: Annotated[ImageOptions, Must("an ImageOptions")] = field(default_factory=lambda: ImageOptions())

    @model_validator(mode="after")
    def _grace_fits(self) -> StudyConfig:
        if self.grace_period > self.max_epochs:
            raise PydanticCustomError(
                "invalid_parameter", "grace period above max_epochs", {"field": "grace_period"}
            )
        return self

    def validate(self) -> StudyConfig:
        """The config itself when every field is valid, else the ConfigError of the first bad one."""
        return _validate(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StudyConfig:
        """The inverse of `to_dict` (as stored in a study's manifest); unknown keys are ignored.

        Not validated: a study's manifest is read as it was written (`validate()` says what is wrong)."""
        values = _known(cls, data)
        values["resources"] = Resources(**_known(Resources, values.get("resources") or {}))
        values["images"] = ImageOptions(**_known(ImageOptions, values.get("images") or {}))
        return cls(**values)


def _known(kind: type, data: dict) -> dict:
    """The entries of `data` that are fields of `kind` (a newer automl's additions are left out)."""
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in data.items() if k in names}
