"""A real `automl serve` for the tests: uvicorn on 127.0.0.1 (a free port) in its own process, with a
token file of mode 600, spoken to over HTTP with httpx.

`start_service` starts one and waits for /v1/health; `Service.kill` stops it with SIGKILL (its own local
Ray too, which lives in its process group). Runners are their own sessions and outlive the service, as
they do for users: every fixture ends by stopping the runners its service started (by their process id).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_token(path: Path, token: str = "test-token-0123456789abcdef") -> str:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


@dataclass
class Service:
    url: str
    token: str
    storage: Path
    process: subprocess.Popen
    log: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = "", timeout: float = 120.0) -> httpx.Client:
        """A client sending `token` ('' : the service's own; None: no header)."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.clients.append(client)
        return client

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the service and what runs in its process group (its own Ray), not its runners."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)
        for client in self.clients:
            client.close()

    def stop_runners(self) -> None:
        """Stop every runner a service on this store started (their process groups, by id)."""
        for path in (self.storage / "_queue").glob("*.json"):
            runner = (json.loads(path.read_text()).get("runner") or {}) if path.is_file() else {}
            pid = runner.get("pid")
            if not pid:
                continue
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.exists() and b"automl.service.runner" in cmdline.read_bytes():
                os.killpg(pid, signal.SIGKILL)


def start_service(storage: Path, folder: Path, *options: str, token: bool = True) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "automl.cli", "serve", "--storage", str(storage), "--port", str(port)]
    secret = ""
    if token:
        secret = write_token(folder / "token")
        argv += ["--token-file", str(folder / "token")]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    log = folder / f"service-{port}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*argv, *options], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    service = Service(f"http://127.0.0.1:{port}", secret, storage, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the service exited:\n{service.log_text()}"
        try:
            if httpx.get(f"{service.url}/v1/health", timeout=2).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    service.kill()
    raise AssertionError(f"the service did not answer in {START_TIMEOUT_S} s:\n{service.log_text()}")


def wait_for(client: httpx.Client, study_id: str, states: tuple[str, ...], timeout_s: float = 300) -> dict:
    """Poll GET /v1/studies/{id} until its status is one of `states`."""
    deadline, view = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        view = client.get(f"/v1/studies/{study_id}").json()
        if view.get("status") in states:
            return view
        time.sleep(0.5)
    raise AssertionError(f"study {study_id} did not reach {states} in {timeout_s} s: {view}")


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Service:
    """One service for the tests that share it: token required, uploads up to 1 MB, one study at once."""
    folder = tmp_path_factory.mktemp("service")
    running = start_service(folder / "store", folder, "--max-upload-mb", "1", "--idle", "3s")
    yield running
    running.kill()
    running.stop_runners()


@pytest.fixture(scope="session")
def penguins_upload(data_dir) -> tuple[Path, str]:
    """80 penguins as a CSV file (a study on it takes seconds)."""
    from automl.datasets import write

    path = data_dir / "penguins80.csv"
    return path, write("penguins", path, n_rows=80, seed=0)


TINY_STUDY = {"trials": 3, "budget": "5m", "folds": 2, "repeats": 1, "max_epochs": 5, "grace_period": 2}
