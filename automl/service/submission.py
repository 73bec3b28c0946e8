"""The one way to start a study, for the HTTP API and the dashboard's form alike: keep the upload in the
store, check everything as `automl run` checks it, then queue the study.

The checks are the command line's, in its order (automl/cli.py `check_before_work`, then the study's own
`prepare`): the study id's rule and whether it is taken, a writable store, `StudyConfig.validate()`, the
search-space file's limits, the file's size (the readers' own messages, answered 413), then the data as
the study's modality reads it before a search (`automl.study.prepare`: the target, the classes, the folds
...). A rejected upload is removed; nothing is queued.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from automl.config import StudyConfig
from automl.errors import AutoMLError, DataError, StudyConflict, UploadTooLarge
from automl.names import check_study_id
from automl.service.queue import Queue, QueueEntry
from automl.service.uploads import Upload, discard, publish, receive
from automl.store import Store

MB = 1024 * 1024
SPACE_FILE = "space.yaml"
MAX_SPACE_BYTES = 256 * 1024  # automl/safe_yaml.py reads no more


def submit_study(
    store: Store,
    config: StudyConfig,
    filename: str,
    data: BinaryIO,
    *,
    max_bytes: int,
    space: BinaryIO | None = None,
    source: str = "api",
    hide_paths: bool = False,
) -> QueueEntry:
    """Queue the study `config` describes on the uploaded `data` (named `filename` by the client).

    `config.data` and `config.storage` are replaced by the upload's path and `store`; `config.name` is
    kept (checked) or made from the file's name. With `hide_paths` (the HTTP API), a message names the
    file as the client did, never by its path on the server.
    """
    upload = receive(store, filename, data, max_bytes)
    uploads = [upload]
    try:
        name = config.name or store.new_study_id(Path(upload.name).stem)
        config = replace(config, data=str(upload.path), storage=store.uri, name=name)
        if space is not None:
            uploads.append(receive(store, SPACE_FILE, space, MAX_SPACE_BYTES, upload.token, part="space"))
            config = replace(config, space=str(uploads[-1].path))
        notes = check_study(store, config)
        publish(store, *uploads)
        entry = QueueEntry(
            study_id=name,
            config=config.to_dict(),
            upload=upload.key,
            source=source,
            notes=notes,
            space=uploads[1].key if space is not None else None,
        )
        Queue(store).add(entry)
    except BaseException as exc:
        discard(store, upload)
        if hide_paths and isinstance(exc, AutoMLError):
            raise type(exc)(_as_client_named(str(exc), upload, filename, store)) from None
        raise
    return entry


def check_study(store: Store, config: StudyConfig) -> list[str]:
    """`automl run`'s checks before its search; returns the notes the data readers made."""
    if config.name is not None:
        check_study_id(config.name, "name", "StudyConfig")
        if store.exists(config.name) or Queue(store).find(config.name) is not None:
            raise StudyConflict(
                f"Study {config.name!r} already exists in {store.uri}. Choose another --name."
            )
    store.check_writable()
    config.validate()
    if config.space:
        from automl.safe_yaml import read_yaml_file

        read_yaml_file(config.space)
    _check_size(Path(config.data), config)
    from automl.study import prepare  # the modality's own reading: torch, scikit-learn

    notes: list[str] = []
    prepare(config, log=lambda message: notes.append(message.removeprefix("note: ")))
    return notes


def _check_size(path: Path, config: StudyConfig) -> None:
    """A file over the limit `automl run` applies to it: the reader's own message, as UploadTooLarge."""
    size = path.stat().st_size
    try:
        if path.suffix.lower() == ".zip":
            limit = int(config.images.max_archive_mb * MB)
            if size > limit:
                from automl.data.archive import extract_zip

                extract_zip(path, str(path), path.parent / "unpacked", limit)  # refuses before unpacking
        elif size > int(config.max_file_mb * MB):
            from automl.data.table_files import read_checked

            read_checked(path, int(config.max_file_mb * MB))  # refuses before reading
    except DataError as exc:
        raise UploadTooLarge(str(exc)) from None


def _as_client_named(message: str, upload: Upload, filename: str, store: Store) -> str:
    """The message with the upload's path on the server replaced by the name the client gave it (and the
    store's location by words: a client has no use for the server's paths)."""
    message = message.replace(str(upload.path), filename).replace(str(upload.folder), ".")
    return message.replace(store.uri, "the service's store")
