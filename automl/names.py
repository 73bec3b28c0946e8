"""The one rule for study ids, checked wherever a name enters (CLI, Python API, dashboard, jobs) and
again by the store, so that no name can point outside the store's folder.

A study id is 1 to 100 letters, digits, '-', '_' or '.', and does not start with a dot: no '/',
no '..', nothing hidden, nothing a shell or a URL would read differently.
"""

from __future__ import annotations

import re

from automl.errors import AutoMLError, invalid_parameter

MAX_STUDY_ID = 100
_STUDY_ID = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,{MAX_STUDY_ID - 1}}}")
RULE = f"1 to {MAX_STUDY_ID} letters, digits, '-', '_' or '.', not starting with a dot"


def is_study_id(name: object) -> bool:
    """Whether `name` follows the study-id rule."""
    return isinstance(name, str) and _STUDY_ID.fullmatch(name) is not None


def check_study_id(
    name: object, param: str = "name", owner: str = "automl run", error: type[AutoMLError] | None = None
) -> str:
    """`name` itself, or the error "The 'name' parameter of automl run must be ... Got ... instead."."""
    if is_study_id(name):
        return name  # type: ignore[return-value]
    exc = invalid_parameter(param, owner, RULE, name)
    if error is not None:
        exc = error(str(exc))
    raise exc
