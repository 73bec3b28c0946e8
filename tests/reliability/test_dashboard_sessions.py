"""20 dashboard sessions at once on loopback while a study is being written: every session renders the
Studies page or a study's page without an exception, within a bounded time, and nothing in the store is unpickled or changed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from automl.store import Store
from tests.reliability.faults import bystander, snapshot, writer

pytestmark = pytest.mark.slow
SESSIONS = 20
DEADLINE_S = 150.0


class _Marker:
    """A pickle that, if anything ever loads it, creates a file: the dashboard must never unpickle."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def dashboard(storage: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "automl.cli", "dashboard", "--storage", str(storage), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ, AUTOML_DASHBOARD_PASSWORD=""),
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.5)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


async def _session(port: int, page: str = "", query: str = "") -> tuple[float, str, int]:
    """One browser-like session: open the websocket, run the page, collect what it rendered."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start = time.perf_counter()
    rendered, exceptions = [], 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", max_size=None) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = query
        rerun.rerun_script.page_name = page
        await ws.send(rerun.SerializeToString())
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(ws.recv(), DEADLINE_S))
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                exceptions += element.WhichOneof("type") == "exception"
                rendered.append(str(element))
            if kind == "script_finished":
                return time.perf_counter() - start, "\n".join(rendered), exceptions


async def _sessions(port: int) -> list:
    """Half on the Studies page, half on the page of the study whose tune/ holds the planted pickles."""
    pages = [("", "") if i % 2 else ("study", "study=bystander") for i in range(SESSIONS)]
    return await asyncio.gather(*(_session(port, *page) for page in pages), return_exceptions=True)


def test_twenty_sessions_while_a_study_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    bystander(store)
    marker = tmp_path / "unpickled"
    store.write_bytes("bystander", "tune/exp/tuner.pkl", pickle.dumps(_Marker(marker)))
    store.write_bytes("bystander", "tune/exp/searcher-state-0.pkl", pickle.dumps(_Marker(marker)))
    before = snapshot(Path(store.root) / "bystander")
    live = writer(Path(store.root), "live", 1, 10**6)  # rewrites its manifest and model all along
    try:
        with dashboard(Path(store.root)) as port:
            start = time.perf_counter()
            results = asyncio.run(_sessions(port))
            elapsed = time.perf_counter() - start
    finally:
        live.kill()
        live.wait()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert [exceptions for _, _, exceptions in results] == [0] * SESSIONS
    assert all("bystander" in text and "live" in text for _, text, _ in results[1::2])  # the Studies page
    assert all('body: "Study bystander"' in text for _, text, _ in results[::2])  # the study's own page
    assert elapsed < DEADLINE_S
    assert not marker.exists(), "the dashboard unpickled a file from the store"
    assert snapshot(Path(store.root) / "bystander") == before
    print(
        f"\n{SESSIONS} sessions in {elapsed:.1f} s; slowest {max(t for t, _, _ in results):.1f} s, "
        f"median {sorted(t for t, _, _ in results)[SESSIONS // 2]:.1f} s"
    )
