"""Uploaded data for new studies: kept inside the study store, named safely, validated like the CLI does.

An upload is a table (CSV, Parquet) or a .zip of an image folder (one sub-folder per class). It
lands in `<storage>/_uploads/<random>/<sanitized name>` and nowhere else; the name cannot leave
that folder. Validation is `automl.data.tabular.load_table` for a table and
`automl.data.images.load_images` for a zip, so a bad file gives the exact DataError message
`automl run` prints. Uploads need a local store for now: a study process reads its data from local disk.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from automl.config import StudyConfig
from automl.data.images import ImageDataset, load_images
from automl.data.tabular import PARQUET_EXTENSIONS, TabularDataset, load_table, sniff_format, sniff_separator
from automl.errors import DataError, StoreError
from automl.metrics import get_metric
from automl.store import Store
from ui.lib.settings import MAX_UPLOAD_MB, UPLOADS_DIR

MB = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TOKEN = re.compile(r"^[0-9a-f]{8,64}$")
MAX_NAME = 80
IMAGE_EXTENSIONS = (".zip",)  # a zipped image folder: root/<class>/<image>
VALIDATION_IMAGE_SIZE = 64  # images are decoded at this side to check them (the study picks its own size)


@dataclass
class Upload:
    """A saved, validated upload and the study it will become."""

    token: str  # the random folder under _uploads/
    path: Path  # the saved file
    dataset: TabularDataset | ImageDataset
    study_id: str

    @property
    def modality(self) -> str:
        return "image" if isinstance(self.dataset, ImageDataset) else "tabular"

    @property
    def folder(self) -> Path:
        return self.path.parent


def sanitize_filename(name: str) -> str:
    """A file name safe to create inside one folder: no directories, no dots in front, no odd characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name  # drop both / and \ directories
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._-")[: MAX_NAME - 10] or "upload"
    ext = _UNSAFE.sub("", ext).lower()[:8]
    return f"{stem}.{ext}" if ext else stem


def is_image_upload(filename: str) -> bool:
    """Whether an uploaded file is a zipped image folder (by its name, as the CLI decides by its path)."""
    return Path(sanitize_filename(filename)).suffix in IMAGE_EXTENSIONS


def peek_columns(filename: str, data: bytes) -> list[str]:
    """Column names of an uploaded CSV or Parquet, read in memory; [] when they cannot be read (validation says why)."""
    suffix = Path(sanitize_filename(filename)).suffix
    try:
        if suffix in PARQUET_EXTENSIONS:
            import pyarrow.parquet as pq

            return [str(n) for n in pq.ParquetFile(io.BytesIO(data)).schema_arrow.names]
        sniff_format(data, filename)  # JSON, Excel ... under a table's name: no columns to offer
        text = data.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        sep, _ = sniff_separator(text, suffix)  # the rule `automl run` reads the file with
        return [c for c in next(csv.reader([text], delimiter=sep), []) if c]
    except Exception:  # any unreadable file: the real check, load_table, reports it precisely
        return []


def _uploads_root(store: Store) -> Path:
    if not store.local:
        raise StoreError(
            f"Uploads need a local study store; this dashboard shows {store.uri}. "
            "Start studies on it with `automl run DATA --target COLUMN --storage "
            f"{store.uri}` (or as a cluster job) instead."
        )
    return Path(store.root) / UPLOADS_DIR


def save_upload(store: Store, filename: str, data: bytes, token: str | None = None) -> tuple[str, Path]:
    """Write the bytes to `_uploads/<token>/<sanitized name>` through the store; returns (token, path)."""
    if len(data) > MAX_UPLOAD_MB * MB:
        raise DataError(
            f"The uploaded file {filename!r} is {len(data) / MB:.1f} MB, over the dashboard's limit of "
            f"{MAX_UPLOAD_MB} MB. Use a sample of the rows, or run `automl run` on the full file."
        )
    token = token or secrets.token_hex(8)
    if not _TOKEN.match(token):
        raise StoreError(f"Invalid upload folder name {token!r}.")
    root = _uploads_root(store).resolve()
    name = sanitize_filename(filename)
    path = (root / token / name).resolve()
    if path.parent.parent != root:  # belt and braces: the name cannot climb out of its folder
        raise StoreError(f"Refusing to store an upload named {filename!r}.")
    store.write_bytes(UPLOADS_DIR, f"{token}/{name}", data)
    return token, path


def discard_upload(store: Store, token: str) -> None:
    """Remove one upload folder (after a rejected file), and only that folder."""
    if not _TOKEN.match(token):
        return
    folder = _uploads_root(store) / token
    if folder.is_dir():
        shutil.rmtree(folder)


def validate(
    path: Path,
    target: str | None,
    task: str | None,
    config: StudyConfig,
) -> TabularDataset | ImageDataset:
    """The checks `automl run` makes before its search: the data (and target), the metric and the settings.

    A .zip is read as images, whose labels come from the class folders: `target` and `task` do not apply.
    """
    config.validate()
    if is_image_upload(path.name):
        images = config.images
        dataset: TabularDataset | ImageDataset = load_images(
            path,
            size=VALIDATION_IMAGE_SIZE,
            skip_bad=images.skip_bad,
            max_pixels=images.max_pixels,
            max_archive_bytes=int(images.max_archive_mb * MB),
        )
    elif target is None:
        raise DataError(
            f"{path.name} is read as a table: name the column to predict. "
            "(For images, upload a .zip of a folder with one sub-folder per class.)"
        )
    else:
        dataset = load_table(path, target, task, max_bytes=int(MAX_UPLOAD_MB * MB))
    if config.metric:
        get_metric(config.metric, dataset.task)
    return dataset


def accept_upload(
    store: Store,
    filename: str,
    data: bytes,
    config: StudyConfig,
    token: str | None = None,
) -> Upload:
    """Save and validate an upload; on any AutoMLError the upload folder is removed and the error raised.

    `config.data` is replaced by the saved path and `config.name` by the new study id.
    """
    token, path = save_upload(store, filename, data, token)
    try:
        config.data = str(path)
        config.name = config.name or store.new_study_id(path.stem)
        dataset = validate(path, config.target, config.task, config)
    except Exception:
        discard_upload(store, token)
        raise
    return Upload(token=token, path=path, dataset=dataset, study_id=config.name)
