"""One exception family for everything a user can get wrong.

Every message says what is wrong and how to fix it. The CLI prints the message (no traceback)
and exits with ``exit_code``.
"""

from __future__ import annotations


class AutoMLError(Exception):
    """Base class of the project's own errors: a problem the user can fix."""

    exit_code = 2


class DataError(AutoMLError):
    """The input data cannot be used as given (missing file, bad target, too few rows ...)."""


class ConfigError(AutoMLError):
    """A setting, option or search space is invalid."""


class StoreError(AutoMLError):
    """The study store cannot be read or written, or a study is not there."""


class ModelError(AutoMLError):
    """An exported model cannot be loaded, or the data given to it does not fit it."""


def invalid_parameter(name: str, owner: str, expected: str, got: object) -> ConfigError:
    """The one template for a bad setting: "The 'x' parameter of Y must be Z. Got W instead."."""
    return ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {got!r} instead.")


class UploadTooLarge(DataError):
    """An upload or a request body is over its size limit (the HTTP service answers 413)."""


class UnknownStudy(StoreError):
    """No study, stored or queued, has that id (the HTTP service answers 404)."""


class StudyConflict(StoreError):
    """What was asked does not fit the study's state: its id is taken, it has no model yet, or it has already
    ended (the HTTP service answers 409)."""
