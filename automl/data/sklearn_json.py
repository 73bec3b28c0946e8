"""Fitted scikit-learn transformers as JSON, without pickle.

`fitted_state` writes the public fitted attributes that a transformer's `transform` reads (statistics,
means, scales, categories), as plain lists and numbers. `restore` rebuilds the fitted transformer from
them: the caller makes the transformer with the same settings, `restore` fits it on a stand-in of the
right width, which sets scikit-learn's private bookkeeping for this version of scikit-learn, then sets the
stored attributes over the stand-in's, refusing any whose shape differs. The JSON thus holds only what the
data decided, and a scikit-learn upgrade that renames private attributes does not break stored models.
Only the transformers listed in `FITTED` are handled: nothing in the JSON names a class to build.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

# the public fitted attributes that `transform` reads, per class ("a.b": attribute b of attribute a)
FITTED: dict[type, tuple[str, ...]] = {
    SimpleImputer: ("statistics_", "indicator_.features_"),
    StandardScaler: ("mean_", "var_", "scale_", "n_samples_seen_"),
    MinMaxScaler: ("min_", "scale_", "data_min_", "data_max_", "data_range_", "n_samples_seen_"),
    RobustScaler: ("center_", "scale_"),
    OneHotEncoder: ("categories_",),
}


def fitted_state(transformer: TransformerMixin) -> dict[str, Any]:
    """The fitted attributes of `transformer` (a class of `FITTED`) as JSON-ready lists and numbers."""
    state = {}
    for name in _attributes(transformer):
        value = _get(transformer, name)
        if value is not None:  # e.g. no indicator_ without add_indicator
            state[name] = _plain(value)
    return state


def restore(transformer: TransformerMixin, state: dict[str, Any], stand_in: Any) -> TransformerMixin:
    """`transformer` (unfitted, made as the fitted one was) fitted on `stand_in`, then given `state`'s
    attributes. `stand_in` has the fitted one's columns; the values that `state` does not hold (the
    imputer's missing-indicator columns, an encoder's categories) must already be those of the fitted one.
    Raises ValueError when `state` lacks an attribute or holds one of another shape."""
    transformer.fit(stand_in)
    for name in _attributes(transformer):
        current = _get(transformer, name)
        if current is None and name not in state:
            continue
        if name not in state:
            raise ValueError(f"the fitted attribute {name!r} of {type(transformer).__name__} is missing")
        _set(transformer, name, _like(state[name], current, name))
    return transformer


def _attributes(transformer: TransformerMixin) -> tuple[str, ...]:
    kind = type(transformer)
    if kind not in FITTED:
        raise TypeError(f"{kind.__name__} is not a transformer that sklearn_json stores")
    return FITTED[kind]


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _set(obj: Any, dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    for part in path:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (and lists of arrays) -> lists and Python numbers."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _like(stored: Any, current: Any, name: str) -> Any:
    """`stored` (from JSON) with the type, dtype and shape of the stand-in's `current` value."""
    if isinstance(current, list):  # e.g. an encoder's categories_: one array per column
        if not isinstance(stored, list) or len(stored) != len(current):
            raise ValueError(f"{name!r} should hold {len(current)} arrays")
        return [_like(s, c, f"{name}[{i}]") for i, (s, c) in enumerate(zip(stored, current, strict=True))]
    if isinstance(current, np.ndarray):
        array = np.asarray(stored, dtype=current.dtype)
        if array.shape != current.shape and not (current.dtype == object and array.ndim == 1):
            raise ValueError(f"{name!r} has shape {array.shape}; expected {current.shape}")
        return array
    if isinstance(current, np.generic | int | float):
        return type(current)(stored)
    return stored
