"""The synthesizer registry (automl/registry.py's `Registry`), filled lazily so that heavy libraries
load on demand.

Synthesizers register themselves with ``@register_synthesizer("name")`` (the pattern of timm's
``@register_model``). The modules that define them are only imported on the first lookup of one
of their names (the name -> module table of Ray Tune's ``search/__init__.py``), so importing
``automl.synth`` or using SMOTE never imports SDV and torch. An entry's description is the first
line of the class docstring, its tasks the class's ``tasks`` and its cost class ``expensive``.

"none" is deliberately not a synthesizer: the caller skips synthesis instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl.errors import ConfigError, invalid_parameter
from automl.registry import Entry, Registry
from automl.synth.base import SPACES, TASKS, Synthesizer, setting_names

_MODULES: dict[str, str] = {
    "smote": "automl.synth.smote",
    "gaussian_copula": "automl.synth.sdv",
    "ctgan": "automl.synth.sdv",
    "tvae": "automl.synth.sdv",
}
"""Where each built-in synthesizer is defined; the module registers it when imported."""


def _check(entry: Entry[type[Synthesizer]]) -> None:
    """The class attributes the study relies on, so a malformed synthesizer fails at import time."""
    cls = entry.obj
    if getattr(cls, "space", None) not in SPACES:
        raise TypeError(f"{cls.__qualname__}.space must be one of {SPACES}.")
    tasks = getattr(cls, "tasks", ())
    if not tasks or not set(tasks) <= set(TASKS):
        raise TypeError(f"{cls.__qualname__}.tasks must be a non-empty subset of {TASKS}.")
    if not isinstance(getattr(cls, "expensive", None), bool):
        raise TypeError(f"{cls.__qualname__}.expensive must be a bool.")


SYNTHESIZERS: Registry[type[Synthesizer]] = Registry(
    "synthesizer",
    lazy=_MODULES,
    reserved=("none",),
    check=_check,
    hint="(or 'none' to turn synthesis off)",
    sort=True,
)


def register_synthesizer(name: str) -> Callable[[type[Synthesizer]], type[Synthesizer]]:
    """Class decorator that registers a ``Synthesizer`` subclass under ``name`` and sets ``cls.name``."""
    if not isinstance(name, str) or not name.isidentifier() or name == "none":
        raise invalid_parameter(
            "name", "register_synthesizer", "a lowercase identifier other than 'none'", name
        )

    def decorator(cls: type[Synthesizer]) -> type[Synthesizer]:
        if not (isinstance(cls, type) and issubclass(cls, Synthesizer)):
            raise TypeError(
                f"@register_synthesizer({name!r}) must decorate a Synthesizer subclass; got {cls!r}."
            )
        description = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        SYNTHESIZERS.add(
            name,
            cls,
            description=description,
            tasks=tuple(getattr(cls, "tasks", ())) or TASKS,
            cost="expensive" if getattr(cls, "expensive", False) is True else "cheap",
        )
        cls.name = name
        return cls

    return decorator


def available_synthesizers() -> list[str]:
    """The registered synthesizer names, sorted; imports nothing."""
    return SYNTHESIZERS.names()


def synthesizer_class(name: str) -> type[Synthesizer]:
    """The class registered as ``name``, importing its module on first use.

    Raises ``ConfigError`` listing the valid names when ``name`` is unknown.
    """
    return SYNTHESIZERS.entry(name).obj


def create_synthesizer(name: str, **settings: Any) -> Synthesizer:
    """A new, unfitted synthesizer ``name`` with the given settings.

    Raises ``ConfigError`` for an unknown name, an unknown setting or a bad setting value.
    """
    cls = synthesizer_class(name)
    accepted = setting_names(cls)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        takes = f"Valid settings are: {', '.join(accepted)}." if accepted else "It takes no settings."
        raise ConfigError(
            f"Unknown setting(s) {', '.join(repr(k) for k in unknown)} for synthesizer {name!r}. {takes}"
        )
    return cls(**settings)
