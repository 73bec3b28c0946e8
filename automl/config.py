"""Run-level settings as small typed dataclasses, separate from the search space.

`StudyConfig.validate()` checks every field with the one message template of `errors.py`; the CLI
and the Python API build a StudyConfig and never pass loose keyword arguments further down.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields

from automl.errors import invalid_parameter
from automl.names import check_study_id

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


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


@dataclass
class Resources:
    """What one trial asks Ray for. Fractions of a GPU let several small trials share one card."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: 0 without GPUs, else GPU_SHARE (several trials per GPU)
    max_concurrent_trials: int | None = None  # None: as many as the cluster's CPUs (and GPUs) allow

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

    def validate(self) -> None:
        if not self.cpus_per_trial > 0:
            raise invalid_parameter("cpus_per_trial", "Resources", "a positive number", self.cpus_per_trial)
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            raise invalid_parameter("gpus_per_trial", "Resources", "zero or positive", self.gpus_per_trial)
        if self.max_concurrent_trials is not None and self.max_concurrent_trials < 1:
            raise invalid_parameter(
                "max_concurrent_trials", "Resources", "a positive integer or None", self.max_concurrent_trials
            )


@dataclass
class ImageOptions:
    """Settings of image studies (ignored for tables)."""

    weights_dir: str | None = None  # local pretrained weights: <backbone>.safetensors|.pth, or <backbone>/
    allow_hub: bool = True  # let timm download pretrained weights (cached) when they are not local
    image_size: int | None = None  # cap on the backbones' input size (None: each backbone's own)
    skip_bad: bool = False  # skip unreadable images (reporting the count) instead of stopping
    max_pixels: int = 50_000_000  # per image: larger ones are refused (decompression bombs)
    max_archive_mb: float = 2048.0

    def validate(self) -> None:
        owner = "ImageOptions"
        if self.image_size is not None and (
            not isinstance(self.image_size, int) or not 16 <= self.image_size <= 1024
        ):
            raise invalid_parameter(
                "image_size", owner, "an integer from 16 to 1024, or None", self.image_size
            )
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise invalid_parameter("max_pixels", owner, "a positive integer", self.max_pixels)
        if not self.max_archive_mb > 0:
            raise invalid_parameter("max_archive_mb", owner, "a positive number", self.max_archive_mb)


@dataclass
class StudyConfig:
    """Everything that shapes one study, except the search space itself."""

    data: str
    target: str | None = None  # the column to predict (tables); image labels come from folders or `label`
    task: str | None = None  # inferred from the target when None
    metric: str | None = None  # the task's default when None
    trials: int = 30
    budget_s: float = 600.0
    seed: int = 0
    # held-out test fraction; None: by size (none below 2,000 rows, else 0.2); 0: none
    test_size: float | None = None
    n_folds: int = 5
    n_repeats: int | None = None  # None: repeated when the data is tiny
    max_epochs: int = 100
    grace_period: int = 5  # ASHA: epochs every trial gets before it can be stopped
    select: str = "one_se_min_gap"
    space: str | None = None  # YAML file; None: the default space for the modality
    storage: str = "studies"
    name: str | None = None
    max_file_mb: float = 200.0
    max_trial_retries: int = 2  # a crashing trial is retried this many times, then recorded as failed
    resources: Resources = field(default_factory=Resources)
    images: ImageOptions = field(default_factory=lambda: ImageOptions())

    def validate(self) -> StudyConfig:
        owner = "StudyConfig"
        if not isinstance(self.trials, int) or self.trials < 1:
            raise invalid_parameter("trials", owner, "a positive integer", self.trials)
        if not self.budget_s > 0:
            raise invalid_parameter("budget_s", owner, "a positive number of seconds", self.budget_s)
        if self.test_size is not None and not (self.test_size == 0 or 0.05 <= self.test_size <= 0.5):
            raise invalid_parameter(
                "test_size", owner, "0 (nothing held out) or a fraction between 0.05 and 0.5", self.test_size
            )
        if not isinstance(self.n_folds, int) or not 2 <= self.n_folds <= 20:
            raise invalid_parameter("n_folds", owner, "an integer from 2 to 20", self.n_folds)
        if self.n_repeats is not None and (not isinstance(self.n_repeats, int) or self.n_repeats < 1):
            raise invalid_parameter("n_repeats", owner, "a positive integer or None", self.n_repeats)
        if not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise invalid_parameter("max_epochs", owner, "a positive integer", self.max_epochs)
        if not isinstance(self.grace_period, int) or not 1 <= self.grace_period <= self.max_epochs:
            raise invalid_parameter(
                "grace_period", owner, f"an integer from 1 to {self.max_epochs}", self.grace_period
            )
        if self.task is not None and self.task not in ("classification", "regression"):
            raise invalid_parameter("task", owner, "'classification' or 'regression'", self.task)
        if not isinstance(self.max_trial_retries, int) or self.max_trial_retries < 0:
            raise invalid_parameter(
                "max_trial_retries", owner, "a non-negative integer", self.max_trial_retries
            )
        if not self.max_file_mb > 0:
            raise invalid_parameter("max_file_mb", owner, "a positive number", self.max_file_mb)
        if self.name is not None:
            check_study_id(self.name, "name", owner)
        self.resources.validate()
        self.images.validate()
        from automl.search.selection import available_rules  # last: the registry's imports take a moment

        rules = available_rules()
        if self.select not in rules:
            raise invalid_parameter("select", owner, f"one of {', '.join(rules)}", self.select)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StudyConfig:
        """The inverse of `to_dict` (as stored in a study's manifest); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["resources"] = Resources(**values.get("resources", {}))
        values["images"] = ImageOptions(**values.get("images", {}))
        return cls(**values)
