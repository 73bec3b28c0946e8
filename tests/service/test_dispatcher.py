"""The dispatcher's view of runners, with real processes: a live runner is adopted (a restarted service
does not start its study twice), a dead one's study goes back to the queue, one that died MAX_ATTEMPTS
times fails, a process that merely reused the number is not taken for the runner, and each attempt is
claimed once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from automl.service.dispatcher import MAX_ATTEMPTS, Dispatcher
from automl.service.launch import RUNNER_MODULE, Launcher
from automl.service.queue import Queue, QueueEntry, Runner
from automl.store import Store

SLEEP = "import time; time.sleep(120)"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def _running(queue: Queue, pid: int, attempts: int = 1) -> QueueEntry:
    entry = QueueEntry(
        study_id="s1", state="running", config={"trials": 2}, upload="_uploads/0123456789abcdef/data.csv",
        attempts=attempts, runner=Runner(kind="local", pid=pid),
    )  # fmt: skip
    queue.save(entry)
    return entry


def _process(*words: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLEEP, *words], start_new_session=True)


def test_a_live_runner_is_adopted_and_a_dead_one_queued_again(store: Store) -> None:
    queue = Queue(store)
    dispatcher = Dispatcher(store, Launcher(store, store.uri), max_running=0)  # 0: start nothing new
    runner = _process(RUNNER_MODULE, "s1")  # what `ps` shows of a runner of study s1
    try:
        _running(queue, runner.pid)
        dispatcher.tick()
        assert queue.get("s1").state == "running" and queue.get("s1").attempts == 1
    finally:
        runner.kill()
        runner.wait()
    dispatcher.tick()
    assert queue.get("s1").state == "queued" and queue.get("s1").attempts == 1


def test_a_process_that_reused_the_number_is_not_the_runner(store: Store) -> None:
    queue = Queue(store)
    other = _process(RUNNER_MODULE, "another-study")
    try:
        _running(queue, other.pid)
        Dispatcher(store, Launcher(store, store.uri), max_running=0).tick()
        assert queue.get("s1").state == "queued"
    finally:
        other.kill()
        other.wait()


def test_a_study_whose_runner_died_too_often_fails(store: Store) -> None:
    queue = Queue(store)
    dead = _process()
    dead.kill()
    dead.wait()
    _running(queue, dead.pid, attempts=MAX_ATTEMPTS)
    Dispatcher(store, Launcher(store, store.uri), max_running=0).tick()
    entry = queue.get("s1")
    assert entry.state == "failed" and entry.finished_at is not None
    assert entry.error.startswith(f"Its runner stopped {MAX_ATTEMPTS} times without finishing")


def test_each_attempt_is_claimed_once(store: Store) -> None:
    queue = Queue(store)
    assert queue.claim("s1", 1) is True
    assert queue.claim("s1", 1) is False  # a second dispatcher on the same store
    assert queue.claim("s1", 2) is True
