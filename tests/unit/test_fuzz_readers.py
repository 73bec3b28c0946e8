"""Property-based fuzz of every reader of outside input: random bytes, random CSV dialects, random image
headers, random YAML and JSON. The only outcomes allowed are a result or the project's own error
(an AutoMLError with a message), never another exception. Bounded: a few seconds per reader."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import tempfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl.artifact import read_json_object
from automl.data.images import read_image
from automl.data.tabular import load_table, read_frame
from automl.errors import AutoMLError
from automl.safe_yaml import load_untrusted_yaml
from automl.store import Store

FUZZ = settings(
    max_examples=int(os.environ.get("AUTOML_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize="AUTOML_FUZZ_RANDOM" not in os.environ,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
pytestmark = pytest.mark.filterwarnings("ignore:Dropped .* rows whose target:UserWarning")
SCRATCH = Path(tempfile.gettempdir())
SUFFIXES = [".csv", ".tsv", ".txt", ".parquet"]
MAGICS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0",
    "gif": b"GIF89a",
    "bmp": b"BM",
    "webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "tiff": b"II*\x00",
}


def only_own_errors(call) -> object:
    """The call's result, or None for an AutoMLError with a message; any other exception fails the test."""
    try:
        return call()
    except AutoMLError as exc:
        assert str(exc).strip(), "an error without a message"
        return None


@pytest.fixture(autouse=True, scope="module")
def _scratch(tmp_path_factory) -> None:
    """Every example's files go under one folder that pytest cleans up."""
    global SCRATCH
    SCRATCH = tmp_path_factory.mktemp("fuzz")


def _new_folder() -> Path:
    return Path(tempfile.mkdtemp(dir=SCRATCH))


def _in_file(suffix: str, data: bytes) -> Path:
    folder = _new_folder()
    path = folder / f"data{suffix}"
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_as_a_table(data: bytes, suffix: str) -> None:
    path = _in_file(suffix, data)
    only_own_errors(lambda: read_frame(path))
    only_own_errors(lambda: load_table(path, "label"))


cells = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", "NA", "?", "yes", "no", "true", "1", "0", "nan"]),
)


@FUZZ
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=5), min_size=0, max_size=30),
    header=st.lists(st.text(max_size=8), min_size=1, max_size=5),
    delimiter=st.sampled_from([",", ";", "\t", "|", " "]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    suffix=st.sampled_from([".csv", ".tsv", ".txt"]),
)
def test_random_csv_dialects(rows, header, delimiter, quoting, terminator, bom, suffix) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow([*header, "label"])
    for i, row in enumerate(rows):
        writer.writerow([*row, "ab"[i % 2]])
    path = _in_file(suffix, (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    frame = only_own_errors(lambda: read_frame(path))
    assert frame is None or isinstance(frame, pd.DataFrame)
    only_own_errors(lambda: load_table(path, "label"))


def _png(width: int, height: int, body: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return MAGICS["png"] + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@FUZZ
@given(
    kind=st.sampled_from(sorted(MAGICS)),
    rest=st.binary(max_size=512),
    width=st.integers(0, 2**31 - 1),
    height=st.integers(0, 2**31 - 1),
    body=st.binary(max_size=256),
)
def test_random_image_headers(kind: str, rest: bytes, width: int, height: int, body: bytes) -> None:
    for raw in (MAGICS[kind] + rest, _png(width, height, body), _png(width, height, zlib.compress(body))):
        image = only_own_errors(lambda raw=raw: read_image(raw, size=16, max_pixels=4_000_000))
        assert image is None or image.shape == (16, 16, 3)


@FUZZ
@given(text=st.text(max_size=400))
def test_random_yaml(text: str) -> None:
    only_own_errors(lambda: load_untrusted_yaml(text, "fuzz.yaml"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(value=json_values, noise=st.binary(max_size=64))
def test_random_model_json_and_manifests(value, noise: bytes) -> None:
    for raw in (json.dumps(value).encode(), noise):
        result = only_own_errors(lambda raw=raw: read_json_object({"model.json": raw}, "model.json", "model"))
        assert result is None or isinstance(result, dict)
        store = Store(_new_folder())
        Path(store.root, "s1").mkdir(parents=True)
        Path(store.root, "s1", "study.json").write_bytes(raw)
        manifest = only_own_errors(lambda store=store: store.read_manifest("s1"))
        assert manifest is None or isinstance(manifest, dict)
        assert len(store.list_studies()) == 1  # a broken manifest is a row saying so, never a crash


@FUZZ
@given(name=st.text(max_size=30))
def test_random_study_names_never_leave_the_store(name: str) -> None:
    store = Store(_new_folder() / "store")
    if (
        only_own_errors(lambda: store.write_json(name, "study.json", {})) is None
        and Path(store.root).exists()
    ):
        for path in Path(store.root).rglob("*"):
            assert Path(store.root) in path.resolve().parents
    assert not (Path(store.root).parent / "study.json").exists()
