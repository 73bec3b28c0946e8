"""Where a queued study runs, and how to tell whether it still does.

- locally (the default): `python -m automl.service.runner STUDY_ID` as its own process in a new session,
  so it outlives a service that is stopped or killed; with --address it joins that Ray cluster
  (RAY_ADDRESS), else it starts a local Ray of its own, as `automl run` does;
- as a Ray Job (a Jobs API address: the dashboard's AUTOML_RAY_ADDRESS): the same runner is the job's
  entrypoint and this `automl` package travels with it; it reads the upload from the store, so the store
  must be one the cluster reaches (s3://), or a local one with a cluster on this machine.

The store's location travels in the runner's environment (AUTOML_STORAGE), never on its command line
(an s3:// URI may carry options), and the dashboard's password is left out of it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import automl
from automl.errors import ConfigError
from automl.hosts import is_loopback_url
from automl.service.queue import HOST, STALE_S, Queue, QueueEntry, Runner
from automl.service.uploads import UPLOADS
from automl.store import Store

STORAGE_ENV = "AUTOML_STORAGE"
PASSWORD_ENV = "AUTOML_DASHBOARD_PASSWORD"  # the dashboard's: no runner needs it
RUNNER_MODULE = "automl.service.runner"
LOG_FILE = "run.log"
JOB_STATES_ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}


def runner_command(study_id: str) -> list[str]:
    return [sys.executable, "-m", RUNNER_MODULE, study_id]


def runner_env(storage: str, ray_address: str | None) -> dict[str, str]:
    """The runner's environment: this one, less the dashboard's password and any inherited Ray address."""
    env = {k: v for k, v in os.environ.items() if k not in (PASSWORD_ENV, "RAY_ADDRESS")}
    env[STORAGE_ENV] = storage
    if ray_address:
        env["RAY_ADDRESS"] = ray_address
    return env


class Launcher:
    """Starts runners, and answers for any runner (local or a job, started by it or not) whether it lives."""

    def __init__(
        self, store: Store, storage: str, *, ray_address: str | None = None, jobs_address: str | None = None
    ) -> None:
        # the runner's store: a local one by its absolute path (the runner starts in another folder)
        self.store, self.storage = store, store.uri if store.local else storage
        self.ray_address, self.jobs_address = ray_address, jobs_address
        self._children: dict[int, subprocess.Popen] = {}  # this process's runners, reaped as they end
        if jobs_address and store.local and not is_loopback_url(jobs_address):
            raise ConfigError(
                f"The storage {store.uri!r} is a local directory, which the nodes of the cluster at "
                f"{jobs_address} do not share. Use an s3:// (or gs://) storage."
            )

    def launch(self, entry: QueueEntry) -> Runner:
        if self.jobs_address:
            return self._launch_job(entry)
        return self._launch_local(entry)

    def _launch_local(self, entry: QueueEntry) -> Runner:
        command = runner_command(entry.study_id)
        log_key, log_path = self._log(entry)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a cancel stops it and its Ray, nothing else
                env=runner_env(self.storage, self.ray_address),
            )
        self._children[process.pid] = process
        return Runner(kind="local", pid=process.pid, log=log_key, command=shlex.join(command))

    def _log(self, entry: QueueEntry) -> tuple[str | None, Path]:
        """The runner's log: beside the upload on a local store (as the dashboard always kept it)."""
        if self.store.local:
            token = entry.upload.split("/")[1]
            return f"{UPLOADS}/{token}/{LOG_FILE}", self.store.local_path(UPLOADS, f"{token}/{LOG_FILE}")
        folder = Path(tempfile.gettempdir()) / "automl-service" / entry.study_id
        folder.mkdir(parents=True, exist_ok=True)
        return None, folder / LOG_FILE

    def _launch_job(self, entry: QueueEntry) -> Runner:
        from automl import jobs

        submission_id = f"automl-{entry.study_id}-{entry.attempts + 1}"
        command = ["python", "-m", RUNNER_MODULE, entry.study_id]
        job_id = jobs.client(self.jobs_address).submit_job(
            entrypoint=shlex.join(command),
            submission_id=submission_id,
            runtime_env={
                "py_modules": [str(Path(automl.__file__).parent)],
                "env_vars": {STORAGE_ENV: self.storage},
            },
            metadata={"study_id": entry.study_id},
        )
        return Runner(kind="ray_job", job_id=job_id, address=self.jobs_address, command=shlex.join(command))

    # ---- liveness and stopping ----------------------------------------------------------------
    def alive(self, entry: QueueEntry) -> bool:
        """Whether the entry's runner still runs (an unreachable Jobs API or host: its heartbeat says)."""
        runner = entry.runner
        if runner is None:
            return False
        if runner.kind == "local" and runner.pid in self._children:
            return self._children[runner.pid].poll() is None
        if runner.kind == "local" and runner.host == HOST:
            return pid_runs(runner.pid, entry.study_id)
        if runner.kind == "ray_job":
            state = self._job_state(runner)
            if state is not None:
                return state not in JOB_STATES_ENDED
        beat = Queue(self.store).last_beat(entry.study_id) or runner.started_at
        return time.time() - beat < STALE_S

    def _job_state(self, runner: Runner) -> str | None:
        from automl import jobs

        try:
            return str(jobs.client(runner.address or "").get_job_status(runner.job_id).value)
        except Exception:  # the cluster cannot be reached now: the heartbeat decides
            return None

    def stop(self, entry: QueueEntry) -> None:
        """Stop the entry's runner and everything it started (its local Ray included)."""
        runner = entry.runner
        if runner is None:
            return
        if runner.kind == "ray_job":
            from automl import jobs

            jobs.client(runner.address or "").stop_job(runner.job_id)
            return
        if runner.host != HOST or not runner.pid or not pid_runs(runner.pid, entry.study_id):
            return
        try:
            if os.getpgid(runner.pid) == runner.pid:  # the group it leads (start_new_session): only its own
                os.killpg(runner.pid, signal.SIGKILL)
            else:
                os.kill(runner.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child = self._children.pop(runner.pid, None)
        if child is not None:
            child.wait(timeout=30)
        _wait_gone(runner.pid, entry.study_id)


def _wait_gone(pid: int, study_id: str, timeout_s: float = 30.0) -> None:
    """Wait until a killed runner is gone (reaped, when it is a child of this process)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_runs(pid, study_id):
            return
        time.sleep(0.05)


def pid_runs(pid: int | None, study_id: str) -> bool:
    """Whether process `pid` on this machine is the runner of `study_id` (not a process that reused the
    number, nor a zombie)."""
    if not pid or pid <= 0:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():  # Linux: the command line tells the runner apart
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        return RUNNER_MODULE.encode() in words and study_id.encode() in words
    try:  # elsewhere: whether the process exists at all
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
