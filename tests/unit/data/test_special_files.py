"""Special files are refused before they are opened, and regular ones are read with a bound
(automl/data/special_files.py): a FIFO would block its reader, /dev/zero never ends, /proc lies about
sizes (issue 24)."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from automl.data.special_files import (
    TooLarge,
    check_output,
    output_problem,
    read_limited,
    special_kind,
)
from automl.errors import ConfigError


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    os.mkfifo(path)
    return path


def test_a_fifo_is_named_without_being_opened(fifo: Path) -> None:
    done: list[str | None] = []
    worker = threading.Thread(target=lambda: done.append(special_kind(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=5)  # opening it would block until a writer came
    assert done == ["a named pipe (FIFO), which blocks its reader until something writes to it"]


def test_a_link_to_a_device_is_named_with_its_target(tmp_path: Path) -> None:
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    assert special_kind(link) == "a device (/dev/zero), which can be read without end"


@pytest.mark.parametrize("path", ["/proc/self/status", "/sys/kernel", "/proc"])
def test_proc_and_sys_are_refused_by_where_they_are(path: str) -> None:
    root = "/" + path.split("/")[1]
    assert special_kind(path) == (
        f"under {root}, whose files the system generates as they are read (their size reads 0)"
    )


def test_regular_files_folders_and_missing_paths_are_not_special(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a\n1\n")
    assert [special_kind(p) for p in (tmp_path / "a.csv", tmp_path, tmp_path / "missing")] == [None] * 3


def test_read_limited_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10)
    assert read_limited(path, 10) == b"x" * 10
    with pytest.raises(TooLarge):
        read_limited(path, 9)
    with pytest.raises(TooLarge):  # a file whose size reads 0 is still bounded by what it holds
        read_limited("/proc/self/maps", 16)


def test_output_problems(tmp_path: Path) -> None:
    (tmp_path / "file.csv").write_text("x")
    assert output_problem(tmp_path) == "it is a folder"
    assert output_problem("/proc/x/predictions.csv") == "it is under /proc, which the system generates"
    assert (
        output_problem(tmp_path / "file.csv" / "p.csv") == f"{tmp_path / 'file.csv'} is a file, not a folder"
    )
    assert output_problem(tmp_path / "new" / "deeper" / "p.csv") is None  # its folders are created
    assert output_problem(tmp_path / "file.csv") is None  # replaced
    message = (
        f"Cannot write the predictions to {tmp_path}: it is a folder. Give -o the path of a CSV file in a "
        "folder you may write, e.g. -o predictions.csv."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check_output(str(tmp_path))
