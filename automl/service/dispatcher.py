"""At most `max_running` studies at once, the rest waiting in the store's queue, oldest first.

`tick()` is the whole loop, run every second by the service: it looks at every running entry (a runner
that ended without recording its end is found out: its study is put back at the head of the queue, to be
resumed by the next runner, or failed after MAX_ATTEMPTS), then starts the oldest queued studies while
there is room. A service killed and started again just ticks on from what the store says. `start_now`
starts one study at once, whatever the count (the dashboard's form: a person asked for it now).
"""

from __future__ import annotations

import logging
import threading
import time

from automl.errors import StudyConflict, UnknownStudy
from automl.service.launch import Launcher
from automl.service.queue import ENDED, Queue, QueueEntry
from automl.store import Store

MAX_ATTEMPTS = 3  # runners started for one study before it is failed
logger = logging.getLogger("automl.service")


class Dispatcher:
    """Starts queued studies, watches the running ones, cancels on request."""

    def __init__(self, store: Store, launcher: Launcher, max_running: int = 1) -> None:
        self.store, self.launcher, self.max_running = store, launcher, max_running
        self.queue = Queue(store)
        self._lock = threading.Lock()  # one tick or cancel at a time in this process

    def tick(self) -> None:
        with self._lock:
            entries = self.queue.entries(active=True)
            active = sum(self._still_running(e) for e in entries if e.state == "running")
            for entry in (e for e in entries if e.state == "queued"):
                if active >= self.max_running:
                    break
                active += self._start(entry)

    def start_now(self, study_id: str) -> QueueEntry:
        """Start a queued study now (or leave it to whoever started it first)."""
        with self._lock:
            entry = self.queue.get(study_id)
            if entry.state == "queued":
                self._start(entry)
            return self.queue.get(study_id)

    def _start(self, entry: QueueEntry) -> bool:
        attempt = entry.attempts + 1
        if not self.queue.claim(entry.study_id, attempt):
            return False  # another dispatcher on this store took it
        fresh = self.queue.find(entry.study_id)
        if fresh is None or fresh.state != "queued":  # cancelled meanwhile
            return False
        runner = self.launcher.launch(fresh)
        started = fresh.model_copy(
            update={"state": "running", "attempts": attempt, "runner": runner, "started_at": time.time()}
        )
        self.queue.save(started)
        logger.info("study %s: started (attempt %d, %s %s)", fresh.study_id, attempt, runner.kind,
                    runner.pid or runner.job_id)  # fmt: skip
        return True

    def _still_running(self, entry: QueueEntry) -> bool:
        """Whether the entry's runner lives; if not, what its study becomes (ended, queued again, failed)."""
        if self.launcher.alive(entry):
            return True
        fresh = self.queue.find(entry.study_id)  # the runner may have recorded its end meanwhile
        if fresh is None or fresh.state != "running":
            return False
        status = self._manifest_status(fresh.study_id)
        if status in ("completed", "failed"):  # it ended, but died before saying so in the queue
            manifest = self.store.read_manifest(fresh.study_id)
            update = {"state": status, "finished_at": time.time(), "error": manifest.get("error")}
        elif fresh.attempts >= MAX_ATTEMPTS:
            update = {
                "state": "failed",
                "finished_at": time.time(),
                "error": f"Its runner stopped {fresh.attempts} times without finishing; the log says why "
                f"({fresh.runner.log if fresh.runner and fresh.runner.log else 'the runner log'}).",
            }
        else:
            update = {"state": "queued"}  # first in line again (oldest submission): resumed or restarted
            logger.info("study %s: its runner stopped without finishing; queued again", fresh.study_id)
        self.queue.save(fresh.model_copy(update=update))
        return False

    def _manifest_status(self, study_id: str) -> str | None:
        if not self.store.exists(study_id):
            return None
        return str(self.store.read_manifest(study_id).get("status"))

    def cancel(self, study_id: str, reason: str) -> QueueEntry:
        """Cancel a queued or running study: marked first (a runner that ends now keeps the mark), then
        its runner stopped; the store keeps what the study had written, its manifest saying why it ended."""
        with self._lock:
            entry = self.queue.find(study_id)
            if entry is None:
                if self.store.exists(study_id):
                    raise StudyConflict(
                        f"Study {study_id!r} was not started by this service (no queue entry): stop the "
                        "process that runs it (automl cancel JOB for a Ray Job)."
                    )
                raise UnknownStudy(f"Study {study_id!r} is not in this service's store.")
            if entry.state in ENDED:
                raise StudyConflict(
                    f"Study {study_id!r} has already ended ({entry.state}); nothing to cancel."
                )
            cancelled = entry.model_copy(
                update={"state": "cancelled", "finished_at": time.time(), "error": reason}
            )
            self.queue.save(cancelled)
            self.launcher.stop(entry)
            if self._manifest_status(study_id) == "running":
                self.store.update_manifest(study_id, status="failed", error=reason, finished_at=time.time())
            return cancelled
