"""The queue of submitted studies, kept in the store so that it survives the service: one JSON file per
study, `<storage>/_queue/<study_id>.json`, written atomically by the store.

A submission is `queued` until the dispatcher starts a runner for it (`running`), and ends `completed`,
`failed` or `cancelled`. Who writes what: the submission creates the entry; the dispatcher starts it (and
puts it back in the queue when its runner died without finishing); the runner records how it ended; a
cancel marks it `cancelled` before stopping the runner. Each start is claimed first
(`_queue/<study_id>.attempt-<n>`, created exclusively on a local store), so two dispatchers on one store
(a service and the dashboard) never start the same attempt twice. A running runner rewrites
`_queue/<study_id>.alive` every HEARTBEAT_S seconds: how a runner on another machine is known to live.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any, Literal

import pyarrow.fs as pafs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automl.errors import StoreError, StudyConflict, UnknownStudy
from automl.names import check_study_id, is_study_id
from automl.store import Store

QUEUE = "_queue"  # inside the store; not a study (no study.json)
HEARTBEAT_S = 15.0
STALE_S = 4 * HEARTBEAT_S  # a runner on another machine silent this long is taken for dead
HOST = socket.gethostname()

State = Literal["queued", "running", "completed", "failed", "cancelled"]
ENDED = ("completed", "failed", "cancelled")


class Runner(BaseModel):
    """Where one attempt of a study runs: a local process (by host and pid) or a Ray Job (by id)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["local", "ray_job"]
    host: str = HOST
    pid: int | None = None
    job_id: str | None = None
    address: str | None = None  # the Jobs API of a ray_job
    log: str | None = None  # the runner's log, relative to the store's root (local stores)
    command: str | None = None
    started_at: float = Field(default_factory=time.time)


class QueueEntry(BaseModel):
    """One submitted study: its settings, its upload, and where it stands in the queue."""

    model_config = ConfigDict(extra="allow")

    study_id: str
    state: State = "queued"
    config: dict[str, Any]  # StudyConfig.to_dict(), data = the upload's local path
    upload: str  # the upload's key in the store: _uploads/<token>/<name>
    space: str | None = None  # an uploaded search space's key, beside the upload
    source: str = "api"  # who submitted it: "api" or "dashboard"
    notes: list[str] = Field(default_factory=list)  # what the checks noted (dropped columns ...)
    submitted_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0  # runners started so far
    runner: Runner | None = None
    error: str | None = None


_ADDING = threading.Lock()  # one submission's id check and write at a time in this process
_ENDED: dict[str, set[str]] = {}  # per store: ids whose entry has ended (an end is final: never read again)


class Queue:
    """The queue of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ended = _ENDED.setdefault(store.uri, set())

    def add(self, entry: QueueEntry) -> None:
        """Queue a new study; its id must be new to the store and to the queue (attempt 0 of the id is
        claimed first: two submissions of one name at once cannot both be queued)."""
        check_study_id(entry.study_id, "name", "StudyConfig")
        with _ADDING:
            taken = self.find(entry.study_id) is not None or self.store.exists(entry.study_id)
            if taken or not self.claim(entry.study_id, 0):
                raise StudyConflict(
                    f"Study {entry.study_id!r} already exists in {self.store.uri}. Choose another --name."
                )
            self.save(entry)

    def save(self, entry: QueueEntry) -> None:
        self.store.write_json(QUEUE, f"{check_study_id(entry.study_id)}.json", entry.model_dump(mode="json"))

    def find(self, study_id: str) -> QueueEntry | None:
        """The entry of `study_id`, or None when it was not submitted through the queue."""
        if not is_study_id(study_id) or not self.store.exists(QUEUE, f"{study_id}.json"):
            return None
        raw = self.store.read_json(QUEUE, f"{study_id}.json")
        try:
            return QueueEntry.model_validate(raw)
        except ValidationError as exc:
            raise StoreError(
                f"The queue entry of study {study_id!r} in {self.store.uri}/{QUEUE} is damaged "
                f"({exc.errors()[0]['msg']}). Remove it, or restore it."
            ) from None

    def get(self, study_id: str) -> QueueEntry:
        entry = self.find(study_id)
        if entry is None:
            raise UnknownStudy(f"Study {study_id!r} is not in the queue of {self.store.uri}.")
        return entry

    def entries(self, *, active: bool = False) -> list[QueueEntry]:
        """Every entry (`active`: only those not ended, which are the only ones read again), oldest
        submission first; a damaged one is left out (`find` names it)."""
        found = []
        for study_id in self._ids():
            if active and study_id in self._ended:
                continue
            try:
                entry = self.find(study_id)
            except StoreError:
                continue
            if entry is None:
                continue
            if entry.state in ENDED:
                self._ended.add(study_id)
                if active:
                    continue
            found.append(entry)
        return sorted(found, key=lambda e: e.submitted_at)

    def _ids(self) -> list[str]:
        try:
            infos = self.store.fs.get_file_info(
                pafs.FileSelector(f"{self.store.root}/{QUEUE}", allow_not_found=True)
            )
        except OSError:
            return []
        names = [i.base_name.removesuffix(".json") for i in infos if i.base_name.endswith(".json")]
        return [n for n in names if is_study_id(n)]

    # ---- starts and liveness --------------------------------------------------------------------
    def claim(self, study_id: str, attempt: int) -> bool:
        """Whether this caller may start attempt `attempt` of the study (the first to ask may). Exclusive
        on a local store; an object store has no exclusive create: run one service per bucket."""
        name = f"{check_study_id(study_id)}.attempt-{attempt}"
        if not self.store.local:
            if self.store.exists(QUEUE, name):
                return False
            self.store.write_bytes(QUEUE, name, HOST.encode())
            return True
        path = self.store.local_path(QUEUE, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.write(descriptor, HOST.encode())
        os.close(descriptor)
        return True

    def beat(self, study_id: str) -> None:
        """The runner's sign of life."""
        self.store.write_json(
            QUEUE, f"{study_id}.alive", {"host": HOST, "pid": os.getpid(), "at": time.time()}
        )

    def last_beat(self, study_id: str) -> float | None:
        try:
            return float(json.loads(self.store.read_bytes(QUEUE, f"{study_id}.alive"))["at"])
        except (StoreError, ValueError, KeyError, TypeError):
            return None
