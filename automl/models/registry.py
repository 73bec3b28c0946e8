"""Model families, looked up by name. Adding one is one decorated builder in one module.

The package (`automl/models/__init__.py`) imports the modules that define the built-in families,
so a lookup through `automl.models` finds them all.

A builder takes (n_inputs, n_outputs, architecture params) and returns a torch module; the
architecture params are plain JSON values so that an exported model can be rebuilt from model.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn as nn

from automl.errors import ConfigError

ModelBuilder = Callable[[int, int, dict[str, Any]], nn.Module]
_MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model family {name!r} is registered twice")
        _MODELS[name] = builder
        return builder

    return decorator


def available_models() -> list[str]:
    return sorted(_MODELS)


def build_model(name: str, n_inputs: int, n_outputs: int, params: dict[str, Any]) -> nn.Module:
    if name not in _MODELS:
        raise ConfigError(
            f"The 'model' parameter must be one of {', '.join(sorted(_MODELS))}. Got {name!r} instead."
        )
    return _MODELS[name](n_inputs, n_outputs, params)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
