"""The `Modality` protocol (automl/modalities/): every registered modality is complete, the registry tells
which one claims a source, and the core asks the modality instead of testing which one it has."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import automl.image.prepare
from automl.artifact import MODEL_FILES, model_files_for, model_from_files
from automl.config import StudyConfig
from automl.errors import DataError, ModelError
from automl.image.artifact import IMAGE_MODEL_FILES
from automl.modalities import MODALITIES, Modality, detect, modality, register_modality
from automl.prepared import Prepared
from automl.study import prepare

ROOT = Path(__file__).resolve().parents[2]
ABSTRACT = {
    "claims",
    "prepare",
    "describe",
    "data_line",
    "refit",
    "fold_model",
    "test_inputs",
    "model_files",
    "load_model",
    "predict",
}


def test_the_protocol_is_abstract():
    assert Modality.__abstractmethods__ == ABSTRACT
    with pytest.raises(TypeError, match="abstract"):
        Modality()


@pytest.mark.parametrize("name", MODALITIES.names())
def test_every_modality_is_complete(name):
    kind = MODALITIES[name]
    assert isinstance(kind, Modality) and kind.name == name and not type(kind).__abstractmethods__
    assert modality(name) is kind and MODALITIES.entry(name).tasks == kind.tasks


def test_an_incomplete_modality_fails_when_it_registers():
    with MODALITIES.trial():
        with pytest.raises(TypeError, match="abstract"):

            @register_modality
            class Audio(Modality):  # no prepare, describe, ... yet
                name = "audio"
                unit = "clips"
                new_data = "./new_clips/"
                description = "sounds"

        assert "audio" not in MODALITIES


def test_a_modality_registers_under_its_own_name():
    complete = {method: lambda self, *args: None for method in ABSTRACT}
    sound = type(
        "Sound", (Modality,), dict(complete, name="sound", unit="clips", new_data="x/", description="sounds")
    )
    with MODALITIES.trial():
        register_modality(sound)
        assert isinstance(MODALITIES["sound"], sound) and MODALITIES.describe("sound") == "sounds"
        with pytest.raises(ValueError, match=re.escape("The modality 'other' must be a Modality instance")):
            MODALITIES.add("other", sound(), description="misnamed")
        nameless = type("Nameless", (sound,), {"unit": ""})
        nameless.name = "nameless"
        with pytest.raises(ValueError, match=re.escape("The modality 'nameless' needs a non-empty 'unit'.")):
            register_modality(nameless)
    assert "sound" not in MODALITIES


def test_a_modality_name_unknown_to_the_registry():
    with pytest.raises(KeyError):
        modality("audio")
    assert modality(None) is MODALITIES["tabular"]  # studies and models from before the field


# ---- detection --------------------------------------------------------------------------------
@pytest.fixture()
def sources(tmp_path: Path) -> Path:
    """A folder of sources: a class folder, a .zip, a path,label CSV, a table CSV and a Parquet file."""
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    (tmp_path / "archive.zip").write_bytes(b"PK")
    (tmp_path / "pairs.csv").write_text("path,label\na.png,cat\n")
    (tmp_path / "table.csv").write_text("x,label\n1,cat\n")
    (tmp_path / "table.parquet").write_bytes(b"PAR1")
    return tmp_path


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("photos", None, "image"),
        ("photos", "y", "image"),  # a folder is never a table
        ("archive.zip", None, "image"),
        ("pairs.csv", None, "image"),
        ("pairs.csv", "label", "image"),
        ("pairs.csv", "path", "tabular"),  # another target: the CSV is a table after all
        ("table.csv", "label", "tabular"),
        ("table.parquet", "y", "tabular"),
        ("missing.csv", None, "tabular"),  # the table reader says the file is missing
    ],
)
def test_the_registry_tells_who_claims_a_source(sources, source, target, expected):
    path = sources / source
    assert detect(path, target).name == expected
    assert detect(str(path), target) is MODALITIES[expected]


def test_prepare_hands_over_to_the_modality_that_claims_the_data(sources, monkeypatch):
    handed: list[StudyConfig] = []
    monkeypatch.setattr(automl.image.prepare, "prepare_images", lambda config, log: handed.append(config))
    config = StudyConfig(data=str(sources / "photos"))
    prepare(config)
    assert handed == [config]
    with pytest.raises(DataError, match=re.escape("table.csv is read as a table: name the column")):
        prepare(StudyConfig(data=str(sources / "table.csv")))


def test_prepare_a_table(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "y": ["p", "q"] * 20})
    table.to_csv(tmp_path / "t.csv", index=False)
    prep = prepare(StudyConfig(data=str(tmp_path / "t.csv"), target="y"), log=lambda message: None)
    assert isinstance(prep, Prepared) and prep.modality == "tabular"
    assert len(prep.data.y) == 40 and prep.sizes["n_features"] == 2
    assert prep.describe() == (
        "40 rows, 2 features, classification, metric accuracy; "
        "nothing held out: every row trains and, out of fold, tests"
    )


# ---- what the core asks ----------------------------------------------------------------------
def _prepared(kind: str, n_test: int) -> Prepared:
    dataset = SimpleNamespace(n_rows=90, n_features=4, classes=["a", "b", "c"], task="classification")
    splits = SimpleNamespace(test=np.arange(n_test))
    data = SimpleNamespace(modality=kind)
    return Prepared(dataset, SimpleNamespace(name="accuracy"), None, splits, None, data)


@pytest.mark.parametrize(
    ("kind", "n_test", "expected"),
    [
        ("tabular", 0, "90 rows, 4 features, classification, metric accuracy; "),
        ("image", 0, "90 images of 3 classes, classification, metric accuracy; "),
        ("tabular", 18, "90 rows, 4 features, classification, metric accuracy; 18 rows held out"),
        ("image", 18, "90 images of 3 classes, classification, metric accuracy; 18 images held out"),
    ],
)
def test_prepared_describes_its_data_through_its_modality(kind, n_test, expected):
    line = _prepared(kind, n_test).describe()
    assert line.startswith(expected)
    unit = MODALITIES[kind].unit
    assert line.endswith(
        "for a one-shot test"
        if n_test
        else f"nothing held out: every {unit[:-1]} trains and, out of fold, tests"
    )


class _Store:
    def __init__(self) -> None:
        self.written: dict[str, bytes] = {}

    def write_bytes(self, study_id: str, name: str, content: bytes) -> None:
        self.written[f"{study_id}/{name}"] = content


def test_extras_before_the_search():
    rng = np.random.default_rng(0)
    data = SimpleNamespace(
        images=rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
        y=np.array([0, 1, 2, 0, 1, 2]),
        n_classes=3,
        seed=0,
    )
    space = SimpleNamespace(choices=lambda name: ["none", "light"] if name == "augment" else [])
    prep = SimpleNamespace(data=data, space=space)
    store = _Store()
    MODALITIES["tabular"].save_extras(store, "s1", prep)
    assert store.written == {}
    MODALITIES["image"].save_extras(store, "s1", prep)
    assert sorted(store.written) == ["s1/report/augment/light.png", "s1/report/augment/none.png"]
    assert all(png.startswith(b"\x89PNG") for png in store.written.values())


# ---- the exported model ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model_json", "expected"),
    [
        (b'{"modality": "image", "format_version": 1}', IMAGE_MODEL_FILES),
        (b'{"modality": "tabular"}', MODEL_FILES),
        (b'{"format_version": 1}', MODEL_FILES),  # before the field: a table's
        (b"[1, 2]", MODEL_FILES),  # broken: the table loader reports it
        (b"{not json", MODEL_FILES),
    ],
)
def test_the_modality_named_in_model_json_says_its_files(model_json, expected):
    assert model_files_for(model_json) == expected


def test_model_json_of_an_unknown_modality():
    message = (
        "somewhere/model is a model of the modality 'audio', which this automl does not know "
        "(image, tabular); upgrade automl to load it."
    )
    with pytest.raises(ModelError, match=re.escape(message)):
        model_files_for(b'{"modality": "audio"}', "somewhere/model")
    with pytest.raises(ModelError, match=re.escape(message)):
        model_from_files({"model.json": b'{"modality": "audio"}'}, "somewhere/model")


@pytest.mark.parametrize("name", MODALITIES.names())
def test_the_modality_loads_its_own_model(name, monkeypatch):
    kind = MODALITIES[name]
    loaded: list[tuple[dict[str, bytes], str]] = []
    monkeypatch.setattr(type(kind), "load_model", lambda self, files, where: loaded.append((files, where)))
    files = {"model.json": json.dumps({"modality": name}).encode()}
    model_from_files(files, "here")
    assert loaded == [(files, "here")]


def test_a_missing_model_json_is_reported_by_the_table_loader():
    with pytest.raises(
        ModelError, match=re.escape("model of s1 is not a model directory: weights.safetensors, model.json, ")
    ):
        model_from_files({}, "model of s1")


# ---- the acceptance of issue 11 --------------------------------------------------------------
def _modality_tests(path: Path, root: Path = ROOT) -> list[str]:
    """Comparisons in `path` against a modality's name or a `modality` value."""
    names = set(MODALITIES.names())
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            named = getattr(side, "id", None) or getattr(side, "attr", None)
            constant = side.value if isinstance(side, ast.Constant) else None
            if named == "modality" or (isinstance(constant, str) and constant in names):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
                break
    return found


def test_no_modality_test_outside_the_modalities():
    outside = [p for p in sorted((ROOT / "automl").rglob("*.py")) if "modalities" not in p.parts]
    found = [line for path in outside for line in _modality_tests(path)]
    assert not found, "ask the modality instead:\n" + "\n".join(found)


def test_the_acceptance_test_finds_a_modality_test(tmp_path: Path):
    source = tmp_path / "x.py"
    source.write_text('if prep.modality == "image":\n    pass\nif kind != "tabular":\n    pass\n')
    assert _modality_tests(source, tmp_path) == [
        "x.py:1: prep.modality == 'image'",
        "x.py:3: kind != 'tabular'",
    ]
