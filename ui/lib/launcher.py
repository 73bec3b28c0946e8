"""Start the form's study the one way every study is started: `automl.service.submission.submit_study`
(the upload kept in the store, checked as `automl run` checks it, queued), then started at once by the
service's dispatcher: a runner process in the background (`python -m automl.service.runner`), or, with
AUTOML_RAY_ADDRESS set, the same runner as a Ray Job.

A study started here is in the store's queue (`_queue/<study_id>.json`), so an `automl serve` on the same
store counts it among its running studies and starts it again if its runner dies. Its log is
`_uploads/<token>/run.log`, as before. The Studies page lists, beside the studies, the submissions that
have no manifest yet (queued, starting, or ended before their study began) from the queue, and the
`job.json` records the dashboard wrote before the queue existed.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace
from typing import Any

import pyarrow.fs as pafs

from automl import run_args
from automl.config import StudyConfig
from automl.service.dispatcher import Dispatcher
from automl.service.launch import Launcher, pid_runs
from automl.service.queue import HOST, Queue, QueueEntry
from automl.service.submission import submit_study
from automl.store import Store
from ui.lib.settings import MAX_UPLOAD_MB, RAY_ADDRESS_ENV, UPLOADS_DIR

JOB_FILE = "job.json"  # the dashboard's launch records from before the queue (still listed)
PENDING_FOR_S = 24 * 3600  # a submission whose study never appeared is listed for a day
MB = 1024 * 1024


def study_options(config: StudyConfig) -> list[str]:
    """The `automl run` options that reproduce `config`, less the data file (`automl.run_args`)."""
    return run_args.study_options(config)


def run_arguments(config: StudyConfig, data: str) -> list[str]:
    """The `automl run` arguments that reproduce `config` on the file `data`."""
    return run_args.run_arguments(replace(config, data=data))


def dispatcher(store: Store) -> Dispatcher:
    """The service's dispatcher on this store: runners locally, or Ray Jobs with AUTOML_RAY_ADDRESS."""
    launcher = Launcher(store, store.uri, jobs_address=os.environ.get(RAY_ADDRESS_ENV) or None)
    return Dispatcher(store, launcher)


def submit(store: Store, filename: str, data: bytes, config: StudyConfig) -> QueueEntry:
    """The form's upload and settings, submitted as the HTTP API submits (a bad file: the CLI's message)."""
    return submit_study(
        store, config, filename, io.BytesIO(data), max_bytes=int(MAX_UPLOAD_MB * MB), source="dashboard"
    )


def start(store: Store, entry: QueueEntry) -> dict[str, Any]:
    """Start the submitted study now; returns what the page shows about it."""
    started = dispatcher(store).start_now(entry.study_id)
    runner = started.runner
    return {
        "study_id": started.study_id,
        "kind": "ray" if runner is not None and runner.kind == "ray_job" else "local",
        "pid": runner.pid if runner is not None else None,
        "job_id": runner.job_id if runner is not None else None,
        "address": runner.address if runner is not None else None,
        "command": runner.command if runner is not None else None,
        "log": runner.log if runner is not None else None,
        "started_at": started.started_at,
    }


def process_alive(pid: int) -> bool:
    """Whether a local process still runs (reaping it first when it is this dashboard's child)."""
    if pid <= 0:  # waitpid(0) or kill(0) would address a whole process group
        return False
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:  # not our child: ask the OS whether it exists
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_tail(store: Store, relpath: str, lines: int = 15) -> str:
    """The last lines of a study process's log (relpath under the store root)."""
    folder, _, rest = relpath.partition("/")
    try:
        text = store.read_bytes(folder, rest).decode("utf-8", errors="replace")
    except Exception:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def pending_jobs(store: Store, known_ids: set[str], now: float | None = None) -> list[dict[str, Any]]:
    """Submissions whose study has no manifest yet, with state 'queued', 'starting', 'submitted' (a Ray
    Job) or 'exited' (it ended before its study began: its log says why)."""
    now = time.time() if now is None else now
    jobs = [*_queued(store, known_ids, now), *_recorded(store, known_ids, now)]
    return sorted(jobs, key=lambda r: r.get("started_at") or 0, reverse=True)


def _queued(store: Store, known_ids: set[str], now: float) -> list[dict[str, Any]]:
    entries = Queue(store).entries()
    waiting = [e.study_id for e in entries if e.state == "queued"]
    jobs = []
    for entry in entries:
        if (
            entry.study_id in known_ids
            or entry.state == "cancelled"
            or now - entry.submitted_at > PENDING_FOR_S
        ):
            continue
        runner = entry.runner
        record: dict[str, Any] = {
            "study_id": entry.study_id,
            "started_at": entry.started_at or entry.submitted_at,
        }
        if entry.state == "queued":
            record.update(state="queued", position=waiting.index(entry.study_id) + 1)
        elif runner is not None and runner.kind == "ray_job" and entry.state == "running":
            record.update(state="submitted", kind="ray", job_id=runner.job_id, address=runner.address)
        elif entry.state == "running" and (
            runner is None or runner.host != HOST or pid_runs(runner.pid, entry.study_id)
        ):
            record.update(state="starting", kind="local", pid=runner.pid if runner else None)
        else:  # ended, or a runner that is gone, before the study wrote its manifest
            record.update(state="exited", kind="local", error=entry.error)
            record["log_tail"] = (
                log_tail(store, runner.log) if runner is not None and runner.log else (entry.error or "")
            )
        jobs.append(record)
    return jobs


def _recorded(store: Store, known_ids: set[str], now: float) -> list[dict[str, Any]]:
    """The job.json records of launches made before the queue."""
    try:
        infos = store.fs.get_file_info(pafs.FileSelector(f"{store.root}/{UPLOADS_DIR}", allow_not_found=True))
    except OSError:
        return []
    jobs = []
    for info in infos:
        if info.type != pafs.FileType.Directory or not store.exists(
            UPLOADS_DIR, f"{info.base_name}/{JOB_FILE}"
        ):
            continue
        try:
            record = store.read_json(UPLOADS_DIR, f"{info.base_name}/{JOB_FILE}")
        except Exception:
            continue
        if not isinstance(record, dict) or record.get("study_id") in known_ids:
            continue
        if now - float(record.get("started_at") or 0) > PENDING_FOR_S:
            continue
        if record.get("kind") == "local":
            alive = process_alive(int(record.get("pid") or 0)) if record.get("pid") else False
            record["state"] = "starting" if alive else "exited"
            if not alive:
                record["log_tail"] = log_tail(store, str(record.get("log", "")))
        else:
            record["state"] = "submitted"
        jobs.append(record)
    return jobs


def describe(record: dict[str, Any]) -> str:
    """One line about a pending submission, for the Studies page."""
    if record.get("state") == "queued":
        return (
            f"queued ({_ordinal(record.get('position') or 0)} in line); it starts when a running study ends"
        )
    if record.get("state") == "starting":
        return f"starting (process {record.get('pid')}); it appears here once it has read its data"
    if record.get("state") == "exited":
        return "the process exited before the study started; its log says why"
    return f"submitted to the Ray cluster at {record.get('address')} as job {record.get('job_id')}"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
