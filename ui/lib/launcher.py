"""Start a validated upload as a study: `python -m automl.cli run ...` in the background, or as a Ray Job.

Locally the study runs as its own process (new session, so it outlives a dashboard rerun), logging
to `_uploads/<token>/run.log`; a `job.json` beside it lets the Studies page show the study before
its manifest exists, and explain a process that died before it wrote one. With AUTOML_RAY_ADDRESS
set, the same command is submitted through Ray's Jobs API (exercised by the cluster work).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import pyarrow.fs as pafs

from automl import run_args
from automl.config import StudyConfig
from automl.store import Store
from ui.lib.settings import PASSWORD_ENV, RAY_ADDRESS_ENV, UPLOADS_DIR
from ui.lib.uploads import Upload

JOB_FILE = "job.json"
LOG_FILE = "run.log"
PENDING_FOR_S = 24 * 3600  # a job whose study never appeared is listed for a day


def study_options(config: StudyConfig) -> list[str]:
    """The `automl run` options that reproduce `config`, less the data file (`automl.run_args`).

    Image studies take their labels from the class folders: the form gives them no target, and
    they get no --target. `--test-size` is passed only when the form set a fraction (0 included);
    without it the study decides by size.
    """
    return run_args.study_options(config)


def run_arguments(config: StudyConfig, data: str) -> list[str]:
    """The `automl run` arguments that reproduce `config` on the file `data`."""
    return run_args.run_arguments(replace(config, data=data))


def _child_env() -> dict[str, str]:
    """The dashboard's environment without its password: the study process has no use for it."""
    return {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}


def start_local(store: Store, upload: Upload, config: StudyConfig) -> dict[str, Any]:
    """Start the study as a background process; returns the job record (also saved as job.json)."""
    study = replace(config, data=str(upload.path), name=upload.study_id)
    command = [sys.executable, "-m", "automl.cli", "run", *run_args.run_arguments(study)]
    log_path = upload.folder / LOG_FILE
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=upload.folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_child_env(),
        )
    record = {
        "study_id": upload.study_id,
        "kind": "local",
        "pid": process.pid,
        "command": shlex.join(command),
        "log": f"{UPLOADS_DIR}/{upload.token}/{LOG_FILE}",
        "started_at": time.time(),
    }
    store.write_json(UPLOADS_DIR, f"{upload.token}/{JOB_FILE}", record)
    return record


def start_ray_job(store: Store, upload: Upload, config: StudyConfig, address: str) -> dict[str, Any]:
    """Submit the same study as a Ray Job through `automl.jobs` (the data and the package travel with it)."""
    from automl import jobs

    job_id = jobs.submit(address, replace(config, data=str(upload.path)), study_id=upload.study_id)
    record = {
        "study_id": upload.study_id,
        "kind": "ray",
        "job_id": job_id,
        "address": address,
        "started_at": time.time(),
    }
    store.write_json(UPLOADS_DIR, f"{upload.token}/{JOB_FILE}", record)
    return record


def start(store: Store, upload: Upload, config: StudyConfig) -> dict[str, Any]:
    """A Ray Job when AUTOML_RAY_ADDRESS is set, else a local process."""
    address = os.environ.get(RAY_ADDRESS_ENV)
    if address:
        return start_ray_job(store, upload, config, address)
    return start_local(store, upload, config)


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
    """Jobs started from this dashboard whose study has no manifest yet, with state 'starting' or 'exited'."""
    now = time.time() if now is None else now
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
    return sorted(jobs, key=lambda r: r.get("started_at") or 0, reverse=True)


def describe(record: dict[str, Any]) -> str:
    """One line about a pending job, for the Studies page."""
    if record.get("state") == "starting":
        return f"starting (process {record.get('pid')}); it appears here once it has read its data"
    if record.get("state") == "exited":
        return "the process exited before the study started; its log says why"
    return f"submitted to the Ray cluster at {record.get('address')} as job {record.get('job_id')}"
