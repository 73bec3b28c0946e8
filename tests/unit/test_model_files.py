"""Broken model files and study folders: the error names the file, and a half-written model is never served."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from automl.artifact import TabularModel, load_model, read_json_object
from automl.cli import main
from automl.errors import ModelError
from automl.predict import resolve_model

FILES = {"model.json": b'{"format_version": 1}', "weights.safetensors": b"", "preprocessing.json": b"{}"}


@pytest.mark.parametrize(
    ("content", "kind"), [(b"[1, 2, 3]", "array"), (b'"x"', "string"), (b"null", "null"), (b"7", "number")]
)
def test_model_json_that_is_not_an_object(content: bytes, kind: str) -> None:
    message = f"model cannot be loaded (model.json holds a JSON {kind}, not an object). Re-export it with `automl run`."
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        TabularModel.from_files(dict(FILES, **{"model.json": content}))


def test_invalid_json_names_the_file() -> None:
    with pytest.raises(
        ModelError, match=r"^model cannot be loaded \(preprocessing\.json: Expecting property name"
    ):
        read_json_object({"preprocessing.json": b"{[}"}, "preprocessing.json", "model")


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ModelError, match=r"^model cannot be loaded \(model\.json: "):
        read_json_object({"model.json": deep}, "model.json", "model")


def test_a_pickle_in_place_of_the_weights_names_the_file(tmp_path: Path) -> None:
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "weights.safetensors").write_bytes(b"\x80\x04\x95pickle")
    message = (
        f"{tmp_path} cannot be loaded (weights.safetensors: not a safetensors file, it starts like a Python "
        "pickle; a pickle is never loaded). Re-export it with `automl run`."
    )
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        load_model(tmp_path)


def test_predict_with_a_model_json_that_is_a_list(tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for name, data in FILES.items():
        (model / name).write_bytes(data)
    (model / "model.json").write_text("[1,2,3]")
    (tmp_path / "new.csv").write_text("a\n1\n")
    assert main(["predict", str(model), str(tmp_path / "new.csv")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {model} cannot be loaded (model.json holds a JSON array, not an object). "
        "Re-export it with `automl run`.\n"
    )


@pytest.mark.parametrize("status", ["failed", "running"])
def test_a_study_that_did_not_complete_serves_no_model(tmp_path: Path, status: str) -> None:
    """A crash during export can leave model/ half written: only a completed study's model is loaded."""
    (tmp_path / "study.json").write_text(json.dumps({"study_id": "s", "status": status}))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text("{}")
    message = f"Study directory {tmp_path} has no exported model yet (status: {status}); predict with a completed study."
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        resolve_model(str(tmp_path))


def test_a_study_folder_with_a_broken_manifest(tmp_path: Path) -> None:
    (tmp_path / "study.json").write_text("[]")
    message = f"{tmp_path / 'study.json'} is not a JSON object. Restore it, or give the model/ folder."
    with pytest.raises(ModelError, match=f"^{re.escape(message)}$"):
        resolve_model(str(tmp_path))
