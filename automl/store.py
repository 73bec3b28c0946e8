"""The study store: one folder per study on a local directory or any URI pyarrow reaches (s3://, gs://).

<storage>/<study_id>/study.json   manifest (written atomically: temporary file, then rename)
<storage>/<study_id>/tune/        the Ray Tune experiment
<storage>/<study_id>/model/       weights.safetensors + model.json + preprocessing.json (no pickle)
<storage>/<study_id>/report/      tables behind the dashboard's figures (Parquet) and JSON reports
<storage>/<study_id>/.tmp/        files being written on local disk, before their rename (never read)
The dashboard and `automl predict` read only this.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from automl.errors import StoreError
from automl.manifest import Manifest, ManifestError
from automl.names import MAX_STUDY_ID, check_study_id, is_study_id

if TYPE_CHECKING:  # pandas is imported where tables are read or written: a rejected option stays fast
    import pandas as pd

MANIFEST = "study.json"
LABELS = "report/labels.parquet"  # the search rows' targets, beside their out-of-fold predictions
SYNTH_QUALITY = "report/synth_quality.json"  # a table's synthetic-data quality (automl/synth/quality.py)
TEMPORARY = ".tmp"  # inside each study's folder: files being written, before their rename
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_PROBE = ".automl-write-check"
STORAGE_FIX = (
    "Give --storage a directory this user may create and write (it is created if missing) on a disk "
    "with free space, or an s3:// URI of an existing bucket with write credentials."
)


def _is_uri(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


class Store:
    """Reads and writes studies under one storage location."""

    def __init__(self, location: str | os.PathLike = "studies") -> None:
        location = str(location)
        if _is_uri(location):
            try:
                self.fs, root = pafs.FileSystem.from_uri(location)
            except Exception as exc:  # pyarrow raises several types for bad URIs / missing credentials
                raise StoreError(
                    f"Cannot open storage {location!r}: {exc}. Check the URI and your cloud credentials."
                ) from None
            self.root = root.rstrip("/")
            scheme = location.split("://", 1)[0]
            self.uri = f"{scheme}://{self.root}"  # without query options such as endpoint_override
            self.local = False
        else:
            path = Path(location.removeprefix("file://")).expanduser().resolve()
            if path.exists() and not path.is_dir():
                raise StoreError(f"The storage {str(path)!r} is a file, not a directory. {STORAGE_FIX}")
            self.fs, self.root, self.uri, self.local = pafs.LocalFileSystem(), str(path), str(path), True

    # ---- paths -------------------------------------------------------------------------------
    def _path(self, study_id: str, *parts: str) -> str:
        """The location of `parts` inside the study's folder; refuses any id or key that would leave it."""
        check_study_id(study_id, "study_id", "Store", error=StoreError)
        keys = [k for part in parts for k in str(part).split("/")]
        if any(k in ("", ".", "..") or "\\" in k or "\0" in k for k in keys):
            raise StoreError(
                f"Refusing the path {'/'.join(map(str, parts))!r} of study {study_id!r}: "
                "it would resolve outside the study's folder."
            )
        path = "/".join([self.root, study_id, *keys])
        if self.local:  # a symlink inside the store must not lead out of it either
            root = os.path.realpath(self.root)
            folder = os.path.realpath(os.path.join(self.root, study_id))
            if os.path.commonpath([root, folder]) != root or folder == root:
                raise StoreError(
                    f"Refusing study {study_id!r}: its folder resolves to {folder}, outside the store {self.uri}."
                )
            real = os.path.realpath(path)
            if os.path.commonpath([folder, real]) != folder:
                raise StoreError(
                    f"Refusing the path {'/'.join(keys)!r} of study {study_id!r}: it resolves to "
                    f"{real}, outside the study's folder in {self.uri}."
                )
        return path

    def study_uri(self, study_id: str) -> str:
        """The study's location, as shown to people (a plain path for local storage)."""
        return f"{self.uri}/{study_id}"

    def tune_storage(self, study_id: str) -> tuple[str, pafs.FileSystem | None]:
        """(storage_path, storage_filesystem) for Ray Tune's RunConfig: the experiment lands in <study>/tune."""
        if self.local:
            return self._path(study_id), None
        return self._path(study_id), self.fs

    def local_path(self, study_id: str, *parts: str) -> Path:
        if not self.local:
            raise StoreError(f"Storage {self.uri!r} is not a local directory.")
        return Path(self._path(study_id, *parts))

    def new_study_id(self, stem: str) -> str:
        stem = _SAFE.sub("-", stem).strip("-.")[:40].strip("-.") or "study"
        study_id = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        assert len(study_id) <= MAX_STUDY_ID
        return study_id

    # ---- storage errors ----------------------------------------------------------------------
    def check_writable(self) -> None:
        """Create the storage if missing and write (then remove) a probe file, so that an unusable store
        stops a study before any work, with one message naming the path and the fix."""
        probe = f"{self.root}/{_PROBE}-{secrets.token_hex(4)}"
        created = self._missing_folders()
        try:
            self.fs.create_dir(self.root, recursive=True)
            with self.fs.open_output_stream(probe) as handle:
                handle.write(b"ok")
            self.fs.delete_file(probe)
        except Exception as exc:  # OSError locally; pyarrow's own errors for object stores (credentials ...)
            raise self._error("write to", self.uri, exc) from None
        finally:
            for folder in created:  # a check leaves no trace: the study creates its folders itself
                with contextlib.suppress(OSError):
                    os.rmdir(folder)

    def _missing_folders(self) -> list[str]:
        """The local folders, deepest first, that creating the storage would add."""
        if not self.local:
            return []
        missing, path = [], Path(self.root)
        while not path.exists() and path != path.parent:
            missing.append(str(path))
            path = path.parent
        return missing

    def _error(self, action: str, where: str, exc: BaseException) -> StoreError:
        errno = getattr(exc, "errno", None)
        reason = (
            os.strerror(errno) if errno else (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        )
        return StoreError(f"Cannot {action} the storage {where}: {reason.rstrip('.')}. {STORAGE_FIX}")

    def foreign_writers(self, study_id: str, limit: int = 20) -> list[str]:
        """Paths of the study's folder, its tune/ folder and everything under it that another user owns or
        may write (or that cannot be listed, so cannot be checked).

        Resuming unpickles Ray Tune's state from tune/, so such a path lets someone else run code in
        the resuming process: a file they can rewrite, or a folder where they can add or swap files. On object stores the permissions are not visible here: [] (the CLI warns).
        """
        if not self.local:
            return []
        folder = self._path(study_id)
        tune = f"{folder}/tune"
        found = [path for path in (folder, tune) if os.path.lexists(path) and _foreign(path)]
        unreadable: list[str] = []  # a folder that cannot be listed cannot be vouched for
        for dirpath, dirnames, filenames in os.walk(
            tune, onerror=lambda exc: unreadable.append(exc.filename)
        ):
            for name in (*dirnames, *filenames):
                path = os.path.join(dirpath, name)
                if _foreign(path):
                    found.append(path)
                if len(found) >= limit:
                    return found[:limit]
        return (found + [p for p in unreadable if p != tune or os.path.lexists(tune)])[:limit]

    # ---- bytes and JSON ----------------------------------------------------------------------
    def write_bytes(self, study_id: str, relpath: str, data: bytes) -> None:
        """Write a file; on local disk through a temporary file and a rename, so readers never see half of it."""
        target = self._path(study_id, relpath)
        try:
            self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
            if self.local:
                self._replace_local(target, data, f"{self.root}/{study_id}/{TEMPORARY}")
            else:  # object stores publish an object only when its upload completes
                with self.fs.open_output_stream(target) as handle:
                    handle.write(data)
        except StoreError:
            raise
        except Exception as exc:  # a full disk, a read-only or vanished folder, missing credentials
            raise self._error(f"write {relpath} of study {study_id!r} to", self.uri, exc) from None

    @staticmethod
    def _replace_local(target: str, data: bytes, temporary: str) -> None:
        """Write a temporary file, then rename it over `target`: the old content survives any failure whole.

        The temporary file lives in the study's `.tmp/` folder, never beside `target`: a write killed
        before its rename leaves nothing inside model/ or report/ that a reader could list or serve.
        """
        tmp = f"{temporary}/{target.rsplit('/', 1)[-1]}.tmp-{secrets.token_hex(4)}"
        try:
            for attempt in range(3):  # another writer may remove the empty .tmp/ between makedirs and open
                os.makedirs(temporary, exist_ok=True)
                try:
                    handle = open(tmp, "wb")  # noqa: SIM115 - closed below
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
            # removed when empty: .tmp/ stays only for writes in progress, or killed before their rename
            with contextlib.suppress(OSError):
                os.rmdir(temporary)

    def read_bytes(self, study_id: str, relpath: str) -> bytes:
        path = self._path(study_id, relpath)
        try:
            with self.fs.open_input_stream(path) as handle:
                return handle.read()
        except (FileNotFoundError, OSError) as exc:
            raise StoreError(f"Cannot read {relpath} of study {study_id!r} in {self.uri}: {exc}") from None

    def exists(self, study_id: str, relpath: str = MANIFEST) -> bool:
        path = self._path(study_id, relpath)
        try:
            return self.fs.get_file_info(path).type != pafs.FileType.NotFound
        except Exception as exc:  # e.g. object-store credentials
            raise self._error("read", self.uri, exc) from None

    def write_json(self, study_id: str, relpath: str, obj: Any) -> None:
        """Strict JSON: NaN and infinities become null."""
        text = json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False)
        self.write_bytes(study_id, relpath, text.encode())

    def read_json(self, study_id: str, relpath: str) -> Any:
        raw = self.read_bytes(study_id, relpath)
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise StoreError(
                f"{relpath} of study {study_id!r} is not valid JSON ({exc}). The file {self._path(study_id, relpath)} "
                "is damaged; restore it or start a new study."
            ) from None

    def write_table(self, study_id: str, relpath: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.write_bytes(study_id, relpath, buffer.getvalue())

    def read_table(self, study_id: str, relpath: str) -> pd.DataFrame:
        import pandas as pd

        raw = self.read_bytes(study_id, relpath)
        try:
            return pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow's errors for a truncated or foreign file
            raise StoreError(
                f"{relpath} of study {study_id!r} is not a readable Parquet table ({str(exc)[:200]}). "
                f"The file {self._path(study_id, relpath)} is damaged; restore it or start a new study."
            ) from None

    # ---- manifests ---------------------------------------------------------------------------
    def write_manifest(self, study_id: str, manifest: dict[str, Any] | Manifest) -> None:
        """Validated against the manifest schema (automl/manifest.py) before anything is written."""
        raw = manifest.dump() if isinstance(manifest, Manifest) else dict(manifest)
        checked = Manifest.parse(
            dict(raw, updated_at=time.time()), where=f"the manifest of study {study_id!r}"
        )
        self.write_json(study_id, MANIFEST, checked.dump())

    def read_manifest(self, study_id: str) -> dict[str, Any]:
        """The study's manifest as a JSON object (validated and upgraded, as `manifest`)."""
        return self.manifest(study_id).dump()

    def manifest(self, study_id: str) -> Manifest:
        """The study's manifest, typed and upgraded to the current schema."""
        if not self.exists(study_id):
            known = ", ".join(self.study_ids()[-5:]) or "none"
            raise StoreError(
                f"Study {study_id!r} is not in {self.uri}. Recent studies there: {known}. "
                "List them with `automl studies --storage ...`."
            )
        raw = self.read_json(study_id, MANIFEST)
        if not isinstance(raw, dict):
            raise StoreError(
                f"{MANIFEST} of study {study_id!r} is not a JSON object (it holds a {type(raw).__name__}). "
                f"The file {self._path(study_id, MANIFEST)} is damaged; restore it or start a new study."
            )
        try:
            return Manifest.parse(raw, where=f"{MANIFEST} of study {study_id!r}")
        except ManifestError as exc:
            raise StoreError(
                f"{exc} The file {self._path(study_id, MANIFEST)} is damaged or from another program; restore "
                "it or start a new study."
            ) from None

    def update_manifest(self, study_id: str, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest(study_id)
        manifest.update(fields)
        self.write_manifest(study_id, manifest)
        return manifest

    def study_ids(self) -> list[str]:
        """The studies here: folders with a manifest whose name follows the study-id rule."""
        try:
            info = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
        except Exception as exc:
            raise self._error("list", self.uri, exc) from None
        ids = [i.base_name for i in info if i.type == pafs.FileType.Directory and is_study_id(i.base_name)]
        return sorted(i for i in ids if self._inside(i) and self.exists(i))

    def _inside(self, study_id: str) -> bool:
        try:
            self._path(study_id)
        except StoreError:
            return False
        return True

    def list_studies(self) -> list[dict[str, Any]]:
        """Every study's manifest, oldest first; an unreadable manifest yields a row saying so."""
        rows = []
        for study_id in self.study_ids():
            try:
                rows.append(self.read_manifest(study_id))
            except StoreError as exc:
                rows.append({"study_id": study_id, "status": "unreadable", "error": str(exc)})
        return sorted(rows, key=lambda m: m.get("created_at", 0))


def _foreign(path: str) -> bool:
    """Owned by another user, writable by every user, or a symlink. (Group-writable is allowed: with the
    usual one-group-per-user setup and umask 002, the group is the owner alone.)"""
    info = os.lstat(path)
    return stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or bool(info.st_mode & stat.S_IWOTH)


def _finite(obj: Any) -> Any:
    """A copy of `obj` with non-finite floats (NaN, inf) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
