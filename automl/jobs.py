"""Run a study on a Ray cluster as a Ray Job, and follow it.

The dataset (and a custom search space) travel in the job's working_dir, and this exact
`automl` package travels as a py_module, so the cluster runs the code that submitted it.
Results go to the study store (`--storage s3://...`), so they outlive the cluster. Ray's token
authentication stays on: the client sends the token from ~/.ray/auth_token or RAY_AUTH_TOKEN.
"""

from __future__ import annotations

import concurrent.futures
import shlex
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import automl
from automl.config import StudyConfig
from automl.errors import ConfigError, DataError
from automl.hosts import is_loopback_url
from automl.names import check_study_id
from automl.run_args import run_arguments
from automl.store import Store

MAX_UPLOAD_MB = 100.0  # Ray uploads the working_dir through its GCS; keep jobs small
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
SUBMIT_ATTEMPTS = 30  # a head node that just started needs a while for its job agent
SUBMIT_TIMEOUT_S = 30.0
JOB_SPACE = "space.yaml"  # the search space's name in the job's working_dir
# what a freshly started head answers before its job agent is up
_TRANSIENT = ("try again later", "no available agent", "agent is not available", "503", "502")


def client(address: str):
    """A Jobs API client, or a clear error when the address cannot be reached."""
    from ray.job_submission import JobSubmissionClient

    token = auth_token()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return JobSubmissionClient(address, headers=headers)
    except Exception as exc:  # ConnectionError, RuntimeError, auth errors: all mean "cannot talk to it"
        reason = str(exc).strip().splitlines()[0][:300]
        hint = (
            "Give the cluster's token (`ray get-auth-token` on the head node) in RAY_AUTH_TOKEN or ~/.ray/auth_token."
            if "auth" in reason.lower()
            else "Is the cluster up (`ray up ray_cluster.yaml`) and the tunnel open "
            "(`ray dashboard ray_cluster.yaml`, then use http://127.0.0.1:8265)?"
        )
        raise ConfigError(f"Cannot reach the Ray Jobs API at {address}: {reason}. {hint}") from None


def auth_token() -> str | None:
    """Ray's token for the Jobs API: RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token."""
    import os

    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    return path.read_text().strip() if path.is_file() else None


def submit(address: str, config: StudyConfig, *, study_id: str, max_upload_mb: float = MAX_UPLOAD_MB) -> str:
    """Submit `automl run` on `config` as a Ray Job; returns the job id. A folder of images travels as a .zip."""
    staging = Path(tempfile.mkdtemp(prefix="automl-job-"))
    try:
        request = job_request(
            address, config, study_id=study_id, staging=staging, max_upload_mb=max_upload_mb
        )
        return _submit_with_retries(client(address), address, request)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def job_request(
    address: str, config: StudyConfig, *, study_id: str, staging: Path, max_upload_mb: float = MAX_UPLOAD_MB
) -> dict:
    """The Jobs API request that runs `config` as study `study_id`, with its files put in `staging`
    (the job's working_dir). Needs no cluster: `submit` sends what this returns.

    The job runs `automl run` with every option of `config` (`automl.run_args.run_arguments`); only
    what must change on the cluster changes: the data file (the copy in the working_dir), the search
    space (likewise), --storage (a local directory as an absolute path) and --name (`study_id`).
    """
    source = Path(config.data)
    if not source.exists():
        raise DataError(f"Data file {config.data} does not exist. Check the path.")
    storage = config.storage
    if "://" not in storage:
        if not is_loopback_url(address):
            raise ConfigError(
                f"The storage {storage!r} is a local directory, which the nodes of a remote cluster do not share. "
                "Use --storage s3://bucket/prefix (or gs://...)."
            )
        storage = str(Path(storage).resolve())
    if source.is_dir():  # an image folder: one archive, which `automl run` reads like the folder
        payload = Path(shutil.make_archive(str(staging / source.name), "zip", root_dir=source))
    else:
        payload = Path(shutil.copy2(source, staging / source.name))
    size_mb = payload.stat().st_size / 1024 / 1024
    if size_mb > max_upload_mb:
        raise DataError(
            f"Data {config.data} is {size_mb:.1f} MB, over the {max_upload_mb:.0f} MB a job may carry. "
            "Put it on storage every node reaches and run `automl run` on the cluster, or raise --max-upload-mb."
        )
    # The search space travels too, so the job searches exactly the space the submitter sees: the
    # default one of the modality that reads the data as given (a folder, a .zip, a path,label CSV, a table).
    from automl.modalities import detect
    from automl.search.space import SearchSpace

    modality = detect(source, config.target).name
    shutil.copy2(SearchSpace.load(config.space, modality).source, staging / JOB_SPACE)
    job_config = replace(config, data=payload.name, space=JOB_SPACE, storage=storage, name=study_id)
    args = ["python", "-m", "automl.cli", "run", *run_arguments(job_config)]
    return dict(
        entrypoint=shlex.join(args),
        submission_id=f"automl-{study_id}",
        runtime_env={"working_dir": str(staging), "py_modules": [str(Path(automl.__file__).parent)]},
        metadata={"study_id": study_id, "storage": storage},
    )


def _submit_with_retries(jobs_api, address: str, request: dict) -> str:
    """Submit, retrying while a freshly started head node has no job agent (it may refuse the request,
    or leave it unanswered); a retry that finds the job already there means the first try went through."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=SUBMIT_ATTEMPTS)
    try:
        for attempt in range(SUBMIT_ATTEMPTS):
            future = pool.submit(jobs_api.submit_job, **request)
            try:
                return future.result(timeout=SUBMIT_TIMEOUT_S)
            except concurrent.futures.TimeoutError:
                reason = f"no answer within {SUBMIT_TIMEOUT_S:.0f} s"
            except RuntimeError as exc:
                reason = str(exc)[:300]
                if "already exists" in reason and attempt > 0:
                    return request["submission_id"]
                if not _is_transient(reason):
                    break
            time.sleep(2)
        raise ConfigError(
            f"The Ray Jobs API at {address} did not take the job: {reason}. Try again in a minute."
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _is_transient(reason: str) -> bool:
    """Whether a refused submission is worth retrying: the head is up but its job agent is not yet."""
    lowered = reason.lower()
    return any(sign in lowered for sign in _TRANSIENT)


def new_study_id(storage: str, data: str, name: str | None) -> str:
    """The given --name (checked against the study-id rule) or a new id from the data file's name."""
    if name is not None:
        return check_study_id(name, "name", "automl submit")
    return Store(storage).new_study_id(Path(data).stem)


def status(address: str, job_id: str) -> str:
    try:
        return str(client(address).get_job_status(job_id).value)
    except RuntimeError as exc:
        raise ConfigError(
            f"No job {job_id!r} at {address} ({str(exc).splitlines()[0][:200]}). List jobs with `ray job list`."
        ) from None


def wait(address: str, job_id: str, timeout_s: float | None = None, poll_s: float = 2.0) -> str:
    """Block until the job ends (or `timeout_s` passes); returns its last status."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        state = status(address, job_id)
        if state in TERMINAL or (deadline is not None and time.monotonic() > deadline):
            return state
        time.sleep(poll_s)


def logs(address: str, job_id: str) -> str:
    return client(address).get_job_logs(job_id)


def cancel(address: str, job_id: str) -> bool:
    return client(address).stop_job(job_id)
