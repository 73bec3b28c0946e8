"""`python -m automl.service.runner STUDY_ID`: run one queued study, then record how it ended.

The store is AUTOML_STORAGE (or --storage). What it does depends on what the store holds:
- no manifest yet: the study runs from the start (`automl.study.run_study`), on the upload kept in the store;
- a manifest still "running" with a Ray Tune experiment (an earlier runner was killed): the study resumes
  (`automl.study.resume_study`): finished trials are kept. If Tune cannot restore it, it starts again;
- a manifest "running" without an experiment: it starts again, from an empty study folder;
- "completed": nothing to do.
Resuming unpickles Tune's state from the store, so it is refused when a local study's files can be written
by another user (the check of `automl resume`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
import traceback
from dataclasses import replace

from automl.config import StudyConfig
from automl.errors import AutoMLError, StoreError
from automl.service.launch import STORAGE_ENV
from automl.service.queue import HEARTBEAT_S, Queue, QueueEntry
from automl.service.uploads import local_copy
from automl.store import Store


def log(message: str) -> None:
    print(f"[automl] {message}", file=sys.stderr, flush=True)


def run_entry(store: Store, entry: QueueEntry, storage: str) -> None:
    """Run, resume or restart the entry's study until it ends (its manifest says how); `storage` is the
    store's location as the runner was given it (an s3:// URI keeps its options)."""
    from automl.study import resume_study, run_study  # torch and Ray: only in the runner

    study_id = entry.study_id
    config = replace(StudyConfig.from_dict(entry.config), name=study_id, storage=storage)
    config = replace(config, data=str(local_copy(store, entry.upload, study_id)))
    if entry.space:
        config = replace(config, space=str(local_copy(store, entry.space, study_id)))
    if store.exists(study_id):
        status = store.read_manifest(study_id).get("status")
        if status == "completed":
            log(f"study {study_id} is already completed")
            return
        if status == "running" and store.exists(study_id, "tune"):
            writers = store.foreign_writers(study_id)
            if writers:
                raise StoreError(
                    f"Refusing to resume study {study_id!r}: {writers[0]} can be written by another user, and "
                    "resuming unpickles Ray Tune's state from it. Check the store's permissions."
                )
            try:
                resume_study(study_id, storage, log=log)
                return
            except Exception as exc:  # noqa: BLE001 - any failure to restore: start again (below)
                log(f"could not resume study {study_id} ({type(exc).__name__}: {exc}); starting it again")
        remove_study(store, study_id)
    run_study(config, log=log)


def remove_study(store: Store, study_id: str) -> None:
    """Empty the study's folder before it starts again (a study id is checked by the store's own rule)."""
    if store.local:
        shutil.rmtree(store.local_path(study_id), ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError, OSError):
            store.fs.delete_dir(f"{store.root}/{study_id}")


def record_end(store: Store, study_id: str, error: str | None) -> str:
    """Write how the study ended into its queue entry (a cancel, recorded first, is kept)."""
    queue = Queue(store)
    entry = queue.get(study_id)
    if entry.state == "cancelled":
        return entry.state
    status = store.read_manifest(study_id).get("status") if store.exists(study_id) else None
    if status == "completed":
        update = {"state": "completed", "error": None}
    else:
        manifest_error = store.read_manifest(study_id).get("error") if status else None
        update = {"state": "failed", "error": manifest_error or error or "The study ended without a result."}
    queue.save(entry.model_copy(update={**update, "finished_at": time.time()}))
    return update["state"]


def _heartbeat(queue: Queue, study_id: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            queue.beat(study_id)
        except Exception as exc:  # noqa: BLE001 - a missed beat is not fatal; the study goes on
            log(f"heartbeat not written: {exc}")
        stop.wait(HEARTBEAT_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m automl.service.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("study_id")
    parser.add_argument("--storage", default=os.environ.get(STORAGE_ENV, "studies"))
    args = parser.parse_args(argv)
    store = Store(args.storage)
    queue = Queue(store)
    entry = queue.get(args.study_id)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(queue, entry.study_id, stop), daemon=True).start()
    error = None
    try:
        run_entry(store, entry, args.storage)
    except AutoMLError as exc:
        error = str(exc)
        log(f"error: {exc}")
    except BaseException as exc:  # noqa: BLE001 - recorded, then the process ends
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        stop.set()
    state = record_end(store, entry.study_id, error)
    log(f"study {entry.study_id}: {state}")
    return 0 if state == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
