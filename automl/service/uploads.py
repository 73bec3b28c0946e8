"""Uploaded data, kept in the study store so that a queued study outlives the service that took it.

An upload lands in `<storage>/_uploads/<random>/<sanitized name>` (the folder the dashboard has always
used) and nowhere else: the name cannot leave that folder. It is copied in chunks and counted as it
comes, so an upload over its limit is refused without being held whole. On a local store it is written in
place; on an object store (s3://) it is first staged on local disk (the checks read a local file), then
copied to the store, and a runner fetches it back to a fixed local path (the same path on every restart,
which `automl resume`'s check of the data file needs).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from automl.data.messages import size_text
from automl.data.tabular import PARQUET_EXTENSIONS, SUPPORTED_EXTENSIONS, sniff_format, sniff_separator
from automl.errors import StoreError, UploadTooLarge
from automl.store import Store

UPLOADS = "_uploads"  # inside the store; not a study (the store lists only folders with a study.json)
CHUNK = 1024 * 1024
MAX_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TOKEN = re.compile(r"^[0-9a-f]{8,64}$")
IMAGE_EXTENSIONS = (".zip",)  # a zipped image folder: root/<class>/<image>
EXTENSIONS = (*SUPPORTED_EXTENSIONS, *IMAGE_EXTENSIONS)  # what a study can be submitted with


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
    """Column names of an uploaded CSV or Parquet, read in memory as `automl run` would read its header;
    [] when they cannot be read (the submission's checks then say why)."""
    suffix = Path(sanitize_filename(filename)).suffix
    try:
        if suffix in PARQUET_EXTENSIONS:
            import pyarrow.parquet as pq

            return [str(n) for n in pq.ParquetFile(io.BytesIO(data)).schema_arrow.names]
        sniff_format(data, filename)  # JSON, Excel ... under a table's name: no columns to offer
        text = data.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        sep, _ = sniff_separator(text, suffix)  # the rule `automl run` reads the file with
        return [c for c in next(csv.reader([text], delimiter=sep), []) if c]
    except Exception:  # any unreadable file: the submission's checks report it precisely
        return []


@dataclass(frozen=True)
class Upload:
    """One saved upload: its folder token, its safe name, and the local file the checks read."""

    token: str
    name: str
    path: Path  # on a local store, the file inside the store; else a local staging copy

    @property
    def key(self) -> str:
        """Where it lives in the store, relative to the store's root."""
        return f"{UPLOADS}/{self.token}/{self.name}"

    @property
    def folder(self) -> Path:
        return self.path.parent


def _folder(store: Store, token: str) -> Path:
    if not _TOKEN.match(token):
        raise StoreError(f"Invalid upload folder name {token!r}.")
    if store.local:
        return store.local_path(UPLOADS, token)
    return Path(tempfile.gettempdir()) / "automl-staging" / token


def receive(
    store: Store,
    filename: str,
    stream: BinaryIO,
    max_bytes: int,
    token: str | None = None,
    *,
    part: str = "file",
) -> Upload:
    """Copy `stream` to the upload folder under a safe name, refusing it past `max_bytes`."""
    token = token or secrets.token_hex(8)
    name = sanitize_filename(filename)
    folder = _folder(store, token)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.resolve().parent != folder.resolve():  # belt and braces: the name cannot climb out
        raise StoreError(f"Refusing to store an upload named {filename!r}.")
    written = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(
                        f"The upload {filename!r} ('{part}') is over the limit of {size_text(max_bytes)}. Send "
                        "a sample of the rows, or start the service with a larger --max-upload-mb."
                    )
                out.write(chunk)
    except BaseException:
        discard(store, Upload(token, name, path))
        raise
    return Upload(token, name, path)


def publish(store: Store, *uploads: Upload) -> None:
    """Make the uploads the store's own: nothing to do on a local store; copied up to an object store."""
    if store.local:
        return
    try:
        for upload in uploads:
            target = f"{store.root}/{upload.key}"  # token and name are checked above
            store.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
            with open(upload.path, "rb") as source, store.fs.open_output_stream(target) as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
    except Exception as exc:  # credentials, a full bucket ...
        raise StoreError(f"Cannot keep the upload in the storage {store.uri}: {exc}.") from None
    finally:
        for upload in uploads:
            shutil.rmtree(upload.folder, ignore_errors=True)


def discard(store: Store, upload: Upload) -> None:
    """Remove one upload folder (a rejected or cancelled submission), and only that folder."""
    if not _TOKEN.match(upload.token):
        return
    shutil.rmtree(_folder(store, upload.token), ignore_errors=True)
    if not store.local:
        with contextlib.suppress(FileNotFoundError, OSError):
            store.fs.delete_dir(f"{store.root}/{UPLOADS}/{upload.token}")


def local_copy(store: Store, key: str, study_id: str) -> Path:
    """The upload at `key` as a local file: itself on a local store; else fetched once to a fixed path per
    study (a resumed study finds its data where the first run read it)."""
    parts = key.split("/")
    if (
        len(parts) != 3
        or parts[0] != UPLOADS
        or not _TOKEN.match(parts[1])
        or sanitize_filename(parts[2]) != parts[2]
    ):
        raise StoreError(f"The queued upload {key!r} is not a path this service writes.")
    if store.local:
        return store.local_path(UPLOADS, f"{parts[1]}/{parts[2]}")
    path = Path(tempfile.gettempdir()) / "automl-service" / study_id / parts[2]
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        try:
            with store.fs.open_input_stream(f"{store.root}/{key}") as source, open(partial, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
        except OSError as exc:
            raise StoreError(f"Cannot read the upload {key} from {store.uri}: {exc}.") from None
        os.replace(partial, path)
    return path
