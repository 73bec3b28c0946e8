"""The image checks that decode nothing (automl/data/image_sources.py `check_image_source`), which the CLI
runs before torch is imported: they refuse what `load_images` refuses for its layout, with the same
message, for folders, zips (read from their headers) and path,label CSVs (issue 24)."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from automl.data.image_sources import check_image_source
from automl.data.images import load_images
from automl.errors import DataError

MB = 1024 * 1024


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (90, 20, 200)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _zip(name: str, entries: list[str]) -> str:
    with zipfile.ZipFile(name, "w") as archive:
        for entry in entries:
            if entry.endswith("/"):
                archive.writestr(entry, b"")
            else:
                archive.writestr(entry, PNG if entry.endswith(".png") else b"text")
    return name


def _verdict(check, source: str) -> str | None:
    try:
        check(source)
    except DataError as exc:
        return str(exc)
    return None


def _both(source: str) -> tuple[str | None, str | None]:
    early = _verdict(lambda s: check_image_source(s, max_archive_bytes=64 * MB), source)
    late = _verdict(lambda s: load_images(s, size=4, max_archive_bytes=64 * MB), source)
    return early, late


@pytest.mark.parametrize(
    "entries",
    [
        [f"data/{c}/{i}.png" for c in ("cat", "dog") for i in range(3)],  # one wrapping folder
        [f"{c}/{i}.png" for c in ("cat", "dog") for i in range(3)],
        [
            "__MACOSX/cat/._0.png",
            ".hidden/x.png",
            *[f"{c}/{i}.png" for c in ("cat", "dog") for i in range(3)],
        ],
        [f"{i}.png" for i in range(3)],  # loose images: no class folders
        [f"cat/{i}.png" for i in range(4)],  # one class
        ["cat/", "dog/", "cat/0.txt"],  # class folders without images
        [*[f"cat/{i}.png" for i in range(3)], "dog/0.png", "dog/1.png"],  # too few dogs
        ["data/", *[f"data/{c}/{i}.png" for c in ("cat", "dog") for i in range(3)], "data/extra.png"],
    ],
)
def test_a_zip_gets_the_verdict_load_images_gives(entries: list[str]) -> None:
    early, late = _both(_zip("data.zip", entries))
    assert early == late


_NAMES = st.sampled_from(["cat", "dog", "owl", ".git", "__MACOSX", "data"])


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    layout=st.lists(
        st.tuples(
            st.lists(_NAMES, min_size=0, max_size=3), st.sampled_from(["a.png", "b.png", "c.png", "n.txt"])
        ),
        min_size=1,
        max_size=14,
    )
)
def test_random_zip_layouts_get_the_verdict_load_images_gives(layout, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("zips")
    entries = sorted({"/".join([*parts, name]) for parts, name in layout})
    early, late = _both(_zip(str(folder / "data.zip"), entries))
    assert early == late


def test_a_folder_gets_the_same_verdict_without_decoding(tmp_path: Path) -> None:
    for label, n in (("cat", 3), ("dog", 2)):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(n):
            (tmp_path / "photos" / label / f"{i}.png").write_bytes(b"not decoded by the early check")
    early = _verdict(lambda s: check_image_source(s, max_archive_bytes=MB), "photos")
    assert early == (
        "Folder photos has too few images of class 'dog' (2 images); every class needs at least 3 (1 for the "
        "held-out test and 2 for 2-fold cross-validation on the rest). Add images of that class, or remove or "
        "merge it into a similar class."
    )


def test_a_path_label_csv_is_checked_from_its_listing(tmp_path: Path) -> None:
    Path("a.png").write_bytes(PNG)
    Path("list.csv").write_text("path,label\na.png,cat\nmissing.png,dog\n")
    message = (
        "CSV file list.csv lists 1 path that do not exist or are empty: 'missing.png'. Relative paths start "
        "from the CSV file's folder (.); fix the paths or add the files."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        check_image_source("list.csv", max_archive_bytes=MB)


def test_a_zip_bomb_and_a_fifo_are_refused_from_their_headers(tmp_path: Path) -> None:
    with zipfile.ZipFile("bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cat/0.png", b"\0" * (8 * MB))
    with pytest.raises(DataError, match=re.escape("a zip bomb, or images stored uncompressed")):
        check_image_source("bomb.zip", max_archive_bytes=64 * MB)
    os.mkfifo("pipe.zip")
    message = (
        "Image data pipe.zip is a named pipe (FIFO), which blocks its reader until something writes to it, not "
        "a regular file."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}"):
        check_image_source("pipe.zip", max_archive_bytes=MB)


def test_a_fifo_among_the_images_is_a_bad_file_not_a_hang(tmp_path: Path) -> None:
    for label in ("cat", "dog"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "photos" / label / f"{i}.png").write_bytes(PNG)
    os.mkfifo(tmp_path / "photos" / "dog" / "3.png")
    message = (
        "Cannot use 1 image of 7: dog/3.png (a named pipe (FIFO), which blocks its reader until something "
        "writes to it, not a regular file). Fix or remove those files, or pass --skip-bad to leave them out."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        load_images("photos", size=4)
    assert load_images("photos", size=4, skip_bad=True).n_rows == 6


def test_a_fifo_among_the_images_is_refused_up_front_unless_skipped(tmp_path: Path) -> None:
    for label in ("cat", "dog"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "photos" / label / f"{i}.png").write_bytes(b"not decoded by the early check")
    os.mkfifo(tmp_path / "photos" / "dog" / "3.png")
    message = (
        "Folder photos holds 1 image file that is not a regular file: dog/3.png (a named pipe (FIFO), which "
        "blocks its reader until something writes to it). Replace it with the image itself, or pass "
        "--skip-bad to leave such files out."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        check_image_source("photos", max_archive_bytes=MB)
    check_image_source("photos", max_archive_bytes=MB, skip_bad=True)  # load_images skips it then


def test_the_native_size_look_up_does_not_open_a_fifo(tmp_path: Path) -> None:
    from automl.image.prepare import native_side

    for label in ("cat", "dog"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        Image.new("RGB", (20, 30)).save(tmp_path / "photos" / label / "0.png")
    os.mkfifo(tmp_path / "photos" / "dog" / "1.png")
    assert native_side("photos") == 20  # returns: the FIFO is never opened
