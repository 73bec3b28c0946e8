"""A model directory's files, shared by every kind of exported model (tabular, image, ensemble).

Writing the files, and reading model.json and the weights back with a ModelError that names the
broken file; what the files describe is each model kind's own business (artifact.py, image/artifact.py,
ensemble.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load as load_safetensors

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
    try:
        state = load_safetensors(files["weights.safetensors"])
    except Exception as exc:  # corrupt tensors, or another format (a pickle is never loaded)
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
