"""A model directory's files, shared by every kind of exported model (tabular, image, ensemble).

Writing the files, and reading model.json and the weights back with a ModelError that names the
broken file; what the files describe is each model kind's own business (artifact.py, image/artifact.py,
ensemble.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from automl.errors import ModelError


def save_files(files: dict[str, bytes], directory: str | Path) -> Path:
    """Write a model directory's files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def read_model_files(
    files: dict[str, bytes], names: tuple[str, ...], where: str, version: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """model.json (without its format version) and the weights of a model directory, with a clear
    ModelError when a file is missing or broken, or written by another format version."""
    missing = [n for n in names if n not in files]
    if missing:
        raise ModelError(f"{where} is not a model directory: {', '.join(missing)} missing.")
    info = read_json_object(files, "model.json", where)
    other = _not_safetensors(files["weights.safetensors"])
    if other:
        raise ModelError(
            f"{where} cannot be loaded (weights.safetensors: not a safetensors file, {other}; a pickle is never "
            "loaded). Re-export it with `automl run`."
        )
    try:
        state = load_safetensors(files["weights.safetensors"])
    except Exception as exc:  # corrupt tensors
        raise ModelError(
            f"{where} cannot be loaded (weights.safetensors: {exc}). Re-export it with `automl run`."
        ) from None
    if info.get("format_version") != version:
        raise ModelError(
            f"{where} has format version {info.get('format_version')}; this automl reads {version}."
        )
    info.pop("format_version")
    return info, state


def read_json_object(files: dict[str, bytes], name: str, where: str) -> dict[str, Any]:
    """One JSON file of a model directory, which must hold an object; the error names the file."""
    try:
        obj = json.loads(files[name])
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise ModelError(
            f"{where} cannot be loaded ({name}: {exc}). Re-export it with `automl run`."
        ) from None
    if not isinstance(obj, dict):
        raise ModelError(
            f"{where} cannot be loaded ({name} holds a JSON {_json_kind(obj)}, not an object). "
            "Re-export it with `automl run`."
        )
    return obj


def _json_kind(obj: Any) -> str:
    names = {
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }
    return names.get(type(obj), type(obj).__name__)


_FORMATS = (  # what a file that is not safetensors often is, by its first bytes
    (b"\x80", "it starts like a Python pickle"),
    (b"PK\x03\x04", "it is a zip archive, as torch.save writes"),
    (b"\x93NUMPY", "it is a NumPy .npy file"),
    (b"\x89HDF", "it is an HDF5 file"),
)


def _not_safetensors(raw: bytes) -> str | None:
    """Why `raw` is not a safetensors file (an 8-byte header length, then that many bytes of a JSON
    object), or None when it has that shape."""
    if len(raw) >= 9 and int.from_bytes(raw[:8], "little") <= len(raw) - 8 and raw[8:9] == b"{":
        return None  # the shape of one: the loader checks the rest
    for magic, what in _FORMATS:
        if raw.startswith(magic):
            return what
    if len(raw) < 9:
        return f"it has only {len(raw)} bytes"
    return "its first 8 bytes do not give the length of the JSON header that follows them"


def check_against_weights(build: Callable[[], nn.Module], state: dict[str, Any], where: str) -> None:
    """Refuse, before anything is allocated, a model.json whose network (`build()`, made on the meta
    device: shapes only, no memory) does not have the saved tensors' names and shapes: a tampered width
    or input count would otherwise allocate whatever it says."""
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    saved = {name: tuple(t.shape) for name, t in state.items()}
    if expected == saved:
        return
    missing = sorted(set(expected) - set(saved))
    extra = sorted(set(saved) - set(expected))
    if missing or extra:
        reason = (
            f"the weights lack {missing[0]!r}" if missing else f"the weights hold an unknown {extra[0]!r}"
        )
    else:
        name = next(n for n in expected if expected[n] != saved[n])
        reason = f"it gives {name!r} the shape {list(expected[name])}, the weights {list(saved[name])}"
    raise ModelError(
        f"{where} cannot be loaded (model.json does not describe the saved network: {reason}). "
        "Re-export it with `automl run`."
    )


def check_count(info: dict[str, Any], key: str, low: int, high: int, where: str) -> int:
    """model.json's `key` as an int in [low, high] (an integral float, as a leaderboard may hold, too),
    or a ModelError: a count from a tampered file must not size an allocation."""
    value = info.get(key)
    integral = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if not integral or not low <= value <= high:
        raise ModelError(
            f"{where} cannot be loaded: model.json's {key!r} must be an integer from {low} to {high:,}. "
            f"Got {value!r} instead. Re-export it with `automl run`."
        )
    return int(value)
