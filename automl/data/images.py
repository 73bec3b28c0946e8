"""Read an image classification dataset: class folders, a .zip of them, or a CSV of paths and labels.

Every problem a user can fix is a ``DataError`` that says what is wrong and how to fix it. Images
are decoded to RGB (transparency on white), turned upright from their EXIF orientation, scaled so
that the shorter side is ``size`` and center-cropped to ``size`` x ``size``. The input is only read;
a .zip is unpacked by ``archive.py`` (checked entry by entry first) into a folder that is read the same way.
"""

from __future__ import annotations

import hashlib
import io
import numbers
import os
import re
import shutil
import tempfile
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from automl.data.archive import DEFAULT_MAX_ARCHIVE_BYTES, extract_zip
from automl.data.image_sources import (  # importable from here too, as before the split
    IMAGE_SUFFIXES,
    LAYOUT,
    _bad_list,
    _dataset_root,
    _read_csv_listing,
    _scan_folder,
    check_classes,
    check_image_source,
    is_image_source,
    list_image_files,
    missing_source_error,
    not_a_source_error,
    source_kind,
)
from automl.data.messages import MIB, listing, plural, size_text
from automl.data.special_files import TooLarge, read_limited, special_kind
from automl.errors import DataError, invalid_parameter

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "LAYOUT",
    "ImageDataset",
    "check_image_source",
    "is_image_source",
    "list_image_files",
    "load_image_files",
    "load_images",
    "read_image",
]

DEFAULT_IMAGE_SIZE = 224  # stored square side in pixels
DEFAULT_MAX_PIXELS = 50_000_000  # per image (decompression-bomb guard)
_WORKERS = min(8, os.cpu_count() or 1)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


@dataclass
class ImageDataset:
    """A validated image classification dataset, decoded to equal-sized RGB squares."""

    source: str  # what the user passed
    paths: list[str]  # per image, its path relative to the dataset root (e.g. "cat/001.png")
    images: np.ndarray  # (n, size, size, 3) uint8 RGB
    y: np.ndarray  # (n,) int64 class indices into `classes`
    classes: list[str]  # sorted class names
    fingerprint: str  # sha256 over (relative path, label, file bytes) of every used image, sorted
    notes: list[str]  # human-readable notes (skipped files, colour conversions ...)
    n_skipped: int = 0
    task: str = "classification"

    @property
    def n_rows(self) -> int:
        """Number of images."""
        return len(self.images)

    @property
    def class_counts(self) -> dict[str, int]:
        """Images per class, in `classes` order."""
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {label: int(n) for label, n in zip(self.classes, counts, strict=True)}

    @property
    def image_size(self) -> int:
        """Side of the stored squares in pixels."""
        return int(self.images.shape[1])

    def summary(self) -> dict[str, Any]:
        """The manifest's `data` entry of an image study."""
        return {
            "source": str(self.source),
            "fingerprint": self.fingerprint,
            "n_rows": self.n_rows,
            "n_images": self.n_rows,
            "image_size": self.image_size,
            "target": "label",
            "task": "classification",
            "classes": self.classes,
            "class_counts": self.class_counts,
            "n_skipped": self.n_skipped,
            "notes": self.notes,
        }


class _TooManyPixels(Exception):
    """An image over the pixel limit; args: (pixel count or None, "W x H = " or "")."""


def _check_positive(name: str, value: object, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise invalid_parameter(name, owner, "a positive integer", value)


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB version of any mode: transparency composited on white, 16/32-bit greyscale rescaled to 8 bits."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):  # 16-bit (or wider) greyscale: 0..65535 -> 0..255
        values = np.asarray(im, dtype=np.float64)
        values = values / 257.0 if im.mode.startswith("I;16") or values.max(initial=0) > 255 else values
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if im.mode != "RGB" and (im.mode in _ALPHA_MODES or "transparency" in im.info):
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def _decode(source: io.BytesIO, size: int, max_pixels: int) -> tuple[np.ndarray, str]:
    """(size, size, 3) uint8 RGB array and the original mode; raises _TooManyPixels or Pillow's errors."""
    try:
        with Image.open(source) as im:
            width, height = im.size
            if width * height > max_pixels:  # from the header: nothing decoded yet
                raise _TooManyPixels(width * height, f"{width} x {height} = ")
            mode = im.mode
            im.draft(None, (size, size))  # JPEG: decode at a reduced scale, never below size
            rgb = _to_rgb(ImageOps.exif_transpose(im))
    except Image.DecompressionBombError as exc:  # Pillow's own limit, before ours could look
        match = re.search(r"\((\d+) pixels\)", str(exc))
        raise _TooManyPixels(int(match.group(1)) if match else None, "") from exc
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2  # the center square, scaled to size x size
    square = rgb.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    return np.asarray(square, dtype=np.uint8).copy(), mode


class _Unreadable(Exception):
    """A file that is not read at all: args: (why,)."""


def _read_image_file(path: Path, max_pixels: int) -> bytes:
    """The bytes of one image file: a regular file (a FIFO would block, /dev/zero never end) of at most
    `max_image_bytes(max_pixels)`."""
    special = special_kind(path)
    if special:
        raise _Unreadable(f"{special}, not a regular file")
    try:
        return read_limited(path, max_image_bytes(max_pixels))
    except TooLarge:
        raise _Unreadable(
            f"over {size_text(max_image_bytes(max_pixels))}, more than an image of --max-pixels holds"
        ) from None


def max_image_bytes(max_pixels: int) -> int:
    """The largest image file read: 4 bytes per pixel of the largest image accepted (uncompressed RGBA),
    and 1 MB for its headers."""
    return 4 * max_pixels + MIB


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Unreadable):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image that can be read: unknown format or corrupt header"
    return f"corrupt or truncated: {exc}" if isinstance(exc, OSError) else f"cannot decode: {exc}"


def _decode_all(
    items: list[Path] | list[bytes], size: int, max_pixels: int, owner: str
) -> tuple[np.ndarray, list[str], list[str], dict[int, tuple[str, int | None]]]:
    """Decode every item (in threads): images, sha256 per file, original modes, failures {i: (reason, pixels)}.

    ``max_pixels`` is the only pixel limit: Pillow's bomb warning is silenced, and its own limit (a
    module global) is raised to ours while decoding when ours is higher, then put back.
    """
    for name, value in (("size", size), ("max_pixels", max_pixels)):
        _check_positive(name, value, owner)
    n = len(items)
    images = np.zeros((n, size, size, 3), dtype=np.uint8)
    digests, modes, failures = [""] * n, [""] * n, {}

    def work(i: int) -> None:
        try:
            data = items[i] if isinstance(items[i], bytes) else _read_image_file(items[i], max_pixels)
            images[i], modes[i] = _decode(io.BytesIO(data), size, max_pixels)
            digests[i] = hashlib.sha256(data).hexdigest()
        except _TooManyPixels as exc:
            pixels, shape = exc.args
            over = f"{shape}{pixels:,} pixels" if pixels else "too many pixels"
            failures[i] = (f"{over}, over the limit of {max_pixels:,} pixels", pixels or max_pixels + 1)
        except Exception as exc:  # any decoder error of a corrupt file
            failures[i] = (_reason(exc), None)

    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")  # e.g. corrupt EXIF
        if before is not None and max_pixels > before:
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with ThreadPoolExecutor(min(_WORKERS, max(n, 1))) as pool:
                list(pool.map(work, range(n)))
        finally:
            Image.MAX_IMAGE_PIXELS = before
    return images, digests, modes, failures


def _bad_files_error(bad: list[tuple[str, str, int | None]], n_total: int, fix: str) -> DataError:
    listed = _bad_list([f"{name} ({reason})" for name, reason, _ in bad])
    too_big = [pixels for *_, pixels in bad if pixels]
    if too_big:
        fix = f"Downscale the images over the pixel limit, or raise it with --max-pixels {max(too_big)} (or more). {fix}"
    return DataError(f"Cannot use {plural(len(bad), 'image')} of {n_total}: {listed}. {fix}")


def read_image(
    path_or_bytes: str | os.PathLike | bytes, *, size: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """One image as a (size, size, 3) uint8 RGB array (upright, shorter side scaled, center-cropped)."""
    raw = isinstance(path_or_bytes, (bytes, bytearray, memoryview))
    item = bytes(path_or_bytes) if raw else Path(path_or_bytes)
    images, _, _, failures = _decode_all([item], size, max_pixels, "read_image")
    if failures:
        (reason, pixels), name = failures[0], "given as bytes" if raw else os.fspath(path_or_bytes)
        fix = f"Downscale the image, or raise the limit with --max-pixels {pixels} (or more)."
        fix = fix if pixels else f"Give a complete image file ({', '.join(IMAGE_SUFFIXES)})."
        raise DataError(f"Cannot read the image {name}: {reason}. {fix}")
    return images[0]


def load_image_files(
    paths: list[str | os.PathLike],
    *,
    size: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    root: str | os.PathLike | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Decode many files (e.g. for prediction): images and names (relative to root when given).

    Raises one DataError listing every file that cannot be read.
    """
    files = [Path(p) for p in paths]
    names = [Path(os.path.relpath(f, root)).as_posix() if root is not None else os.fspath(f) for f in files]
    images, _, _, failures = _decode_all(files, size, max_pixels, "load_image_files")
    if failures:
        bad = [(names[i], reason, pixels) for i, (reason, pixels) in sorted(failures.items())]
        raise _bad_files_error(bad, len(files), "Fix or remove those files and run again.")
    return images, names


def load_images(
    source: str | os.PathLike,
    *,
    size: int = DEFAULT_IMAGE_SIZE,
    skip_bad: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
    extract_dir: str | os.PathLike | None = None,
) -> ImageDataset:
    """Read and validate an image classification dataset (see the module docstring for the forms).

    All files are decoded before any error about them: unreadable ones are reported together, or
    skipped with a note when ``skip_bad``. The class-size checks run after skipping. A .zip goes to
    ``extract_dir`` (kept), or to a temporary folder that is removed once the images are decoded.
    """
    for name, value in (("size", size), ("max_pixels", max_pixels), ("max_archive_bytes", max_archive_bytes)):
        _check_positive(name, value, "load_images")
    src = os.fspath(source)
    file = Path(src)
    if not file.exists():
        raise missing_source_error(src)
    kind = source_kind(file)
    if kind is None:
        raise not_a_source_error(src)
    where = f"{kind} {src}"
    temporary = kind == "Archive" and not extract_dir  # else unpack into extract_dir and keep it
    dest = Path(tempfile.mkdtemp(prefix="automl-images-")) if temporary else Path(extract_dir or ".")
    try:
        notes: list[str] = []
        if kind == "Folder":
            entries, classes, notes = _scan_folder(file, where)
        elif kind == "Archive":
            dest.mkdir(parents=True, exist_ok=True)
            extract_zip(file, src, dest, max_archive_bytes)
            entries, classes, notes = _scan_folder(_dataset_root(dest), where)
        else:
            entries, classes = _read_csv_listing(file, src)
        images, digests, modes, failures = _decode_all(
            [e[1] for e in entries], size, max_pixels, "load_images"
        )
    finally:
        if temporary:
            shutil.rmtree(dest, ignore_errors=True)

    if failures:
        bad = [(entries[i][0], reason, pixels) for i, (reason, pixels) in sorted(failures.items())]
        if not skip_bad:
            raise _bad_files_error(
                bad, len(entries), "Fix or remove those files, or pass --skip-bad to leave them out."
            )
        notes.append(
            f"Skipped {plural(len(bad), 'unreadable image')}: {listing([name for name, *_ in bad])}."
        )
        keep = [i for i in range(len(entries)) if i not in failures]
        entries, images = [entries[i] for i in keep], images[keep]
        digests, modes = [digests[i] for i in keep], [modes[i] for i in keep]

    index = {label: k for k, label in enumerate(classes)}
    y = np.array([index[label] for *_, label in entries], dtype=np.int64)
    counts = np.bincount(y, minlength=len(classes)).tolist()
    check_classes(dict(zip(classes, counts, strict=True)), where, kind == "CSV file")
    converted = Counter(mode for mode in modes if mode != "RGB")
    if converted:
        kinds = ", ".join(f"{mode}: {n}" for mode, n in sorted(converted.items()))
        alpha = any(mode in _ALPHA_MODES or mode == "P" for mode in converted)
        notes.append(
            f"Converted {plural(converted.total(), 'image')} to RGB (from {kinds})"
            + ("; transparency, if any, was composited on white." if alpha else ".")
        )
    digest = hashlib.sha256()
    for name, label, file_hash in sorted((e[0], e[2], h) for e, h in zip(entries, digests, strict=True)):
        digest.update(f"{name}\0{label}\0{file_hash}\n".encode())
    paths = [name for name, *_ in entries]
    return ImageDataset(src, paths, images, y, classes, digest.hexdigest(), notes, n_skipped=len(failures))
