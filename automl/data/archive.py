"""Unpack a .zip of images safely: every entry is checked before anything is written (no path out of
the extraction folder, no links, no zip bombs, a size limit), and the bytes really produced are counted.

Every problem is a ``DataError`` that says what is wrong and how to fix it. The archive is only read.
"""

from __future__ import annotations

import contextlib
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from automl.data.messages import MIB, size_text
from automl.data.special_files import special_kind
from automl.errors import DataError

DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200  # one entry unpacking to over 200x its packed size (and 1 MB) is a zip bomb
_RATIO_FLOOR_BYTES = 1024 * 1024  # small entries may compress well (a blank BMP), they cannot hurt
_RAISE_LIMIT = "Raise the limit with --max-archive-mb {mb} (or more), or split the data into smaller zips."
_DAMAGED = "Check that it was copied completely, or create it again (e.g. `zip -r data.zip data`)."


def _entry_problem(info: zipfile.ZipInfo, dest: Path) -> str | None:
    """Why writing this archive entry could escape dest, or None."""
    name = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        return "it is a symbolic link"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "it has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "it has a '..' component"
    if not (dest / name).resolve().is_relative_to(dest.resolve()):
        return "it resolves outside the extraction folder"
    return None


@contextlib.contextmanager
def check_archive(
    file: Path, source: str, max_bytes: int, dest: Path | None = None
) -> Iterator[zipfile.ZipFile]:
    """The open archive, once every check that its headers allow has passed: its size, its total unpacked
    size, each entry's path (nothing out of `dest`, no links) and compression ratio. Nothing is unpacked,
    so the CLI runs it before torch is imported; `extract_zip` runs it again."""
    special = special_kind(file)
    if special:
        raise DataError(f"Archive {source} is {special}, not a regular file. Give a .zip file.")
    dest = dest if dest is not None else Path(tempfile.gettempdir()) / "automl-archive-check"
    size = file.stat().st_size
    if size > max_bytes:
        limit = _RAISE_LIMIT.format(mb=-(-size // MIB))
        raise DataError(
            f"Archive {source} is {size_text(size)}, over the limit of {size_text(max_bytes)}. {limit}"
        )
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"Archive {source} is not a valid zip file ({exc}). {_DAMAGED}") from exc
    with archive:
        infos = archive.infolist()
        for info in infos:
            problem = _entry_problem(info, dest)
            if problem:
                raise DataError(
                    f"Archive {source} holds the entry {info.filename!r}, which would be written outside the "
                    f"extraction folder ({problem}). Nothing was extracted. Create the archive again from the "
                    "dataset folder with relative paths and no links, e.g. `cd data && zip -r ../data.zip .`."
                )
        unpacked = sum(info.file_size for info in infos)
        if unpacked > max_bytes:
            raise DataError(
                f"Archive {source} ({size_text(size)}) would unpack to {size_text(unpacked)}, over the limit of "
                f"{size_text(max_bytes)}. " + _RAISE_LIMIT.format(mb=-(-unpacked // MIB))
            )
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
                raise DataError(
                    f"Archive {source} holds the entry {info.filename!r}, which unpacks from "
                    f"{size_text(info.compress_size)} to {size_text(info.file_size)} ({ratio:.0f}:1, over the limit of "
                    f"{MAX_COMPRESSION_RATIO}:1): a zip bomb, or images stored uncompressed. Nothing was extracted. "
                    "Save the images as PNG or JPEG and zip them again."
                )
        yield archive


def extract_zip(file: Path, source: str, dest: Path, max_bytes: int) -> None:
    """Check the whole archive, then unpack it into dest; `source` is its name in messages.

    Nothing is written when a check fails, and nothing half-unpacked stays behind when unpacking fails.
    """
    with check_archive(file, source, max_bytes, dest) as archive:
        infos = archive.infolist()
        written: list[Path] = []
        try:
            budget = max_bytes
            for info in infos:
                target = dest / info.filename
                try:
                    (target if info.is_dir() else target.parent).mkdir(parents=True, exist_ok=True)
                    if not info.is_dir():
                        written.append(target)
                        budget -= _copy_entry(archive, info, target, budget, source)
                except (zipfile.BadZipFile, EOFError, ValueError, RuntimeError, OSError) as exc:
                    raise DataError(
                        f"Archive {source}: entry {info.filename!r} cannot be unpacked ({exc}). {_DAMAGED}"
                    ) from exc
        except DataError:
            for path in written:  # nothing half-unpacked stays behind
                path.unlink(missing_ok=True)
            raise


def _copy_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, source: str
) -> int:
    """Stream one entry to disk, counting the bytes really produced (headers can lie about sizes):
    more than the header declares, or than the archive's remaining budget, stops the unpacking."""
    limit = min(info.file_size, budget)
    copied = 0
    with archive.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(MIB):
            copied += len(chunk)
            if copied > limit:
                declared = (
                    "the size its header declares" if limit == info.file_size else "the unpacking limit"
                )
                raise DataError(
                    f"Archive {source}: entry {info.filename!r} unpacks to more than {size_text(limit)} "
                    f"({declared}). Nothing was kept. Create the archive again (e.g. `zip -r data.zip data`)."
                )
            out.write(chunk)
    return copied
