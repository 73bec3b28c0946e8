"""Model families, looked up by name: `MODELS`, a `Registry` (automl/registry.py). Adding one is one
`@register_model("name", description=...)` builder in one module.

The package (`automl/models/__init__.py`) imports the modules that define the built-in families,
so a lookup through `automl.models` finds them all.

A builder takes (n_inputs, n_outputs, architecture params) and returns a torch module; the
architecture params are plain JSON values so that an exported model can be rebuilt from model.json.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch.nn as nn

from automl.registry import TASKS, Cost, Entry, Registry

ModelBuilder = Callable[[int, int, dict[str, Any]], nn.Module]


def _check(entry: Entry[ModelBuilder]) -> None:
    """A builder must take (n_inputs, n_outputs, params), so a malformed family fails at import time."""
    try:
        inspect.signature(entry.obj).bind(1, 1, {})
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"The model family {entry.name!r} must be a builder(n_inputs, n_outputs, params) -> nn.Module; "
            f"got {entry.obj!r}."
        ) from exc


MODELS: Registry[ModelBuilder] = Registry("model family", check=_check, sort=True)


def register_model(
    name: str, *, description: str, tasks: tuple[str, ...] = TASKS, cost: Cost = "cheap"
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator that registers a builder as model family `name`; returns the builder unchanged."""
    return MODELS.register(name, description=description, tasks=tasks, cost=cost)


def available_models() -> list[str]:
    """The registered model family names, sorted."""
    return MODELS.names()


def build_model(name: str, n_inputs: int, n_outputs: int, params: dict[str, Any]) -> nn.Module:
    """A new network of family `name`; ConfigError listing the families when there is none."""
    return MODELS.entry(name).obj(n_inputs, n_outputs, params)


def count_parameters(module: nn.Module) -> int:
    """The number of parameters of `module` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
