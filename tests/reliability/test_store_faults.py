"""Faults injected into the study store while it is written: a killed writer, two writers, a full disk.
Every case ends with each study's files whole (a version that was written), nothing else changed."""

from __future__ import annotations

import re
from pathlib import Path

from automl.store import STORAGE_FIX
from tests.reliability.faults import disk_full_during_export, kill_during_writes, two_studies_at_once


def test_a_process_killed_while_writing_leaves_the_previous_files_whole(tmp_path: Path) -> None:
    figures = kill_during_writes(tmp_path, kills=4)
    assert {k: v for k, v in figures.items() if k != "temporary_files_left"} == {
        "cases": 4,
        "whole": 4,
        "files_lost": 0,
        "others_changed": 0,
        "temporary_files_beside_the_model": 0,
    }


def test_two_studies_written_into_one_store_at_once(tmp_path: Path) -> None:
    assert two_studies_at_once(tmp_path, versions=15) == {
        "cases": 1,
        "completed": 2,
        "files_lost": 0,
        "listed": 3,
        "others_changed": 0,
    }


def test_a_full_disk_during_export_keeps_the_previous_export(tmp_path: Path) -> None:
    figures = disk_full_during_export(tmp_path)
    local = figures.pop("local_message")
    remote = figures.pop("remote_message")
    assert figures == {"cases": 2, "refused": 2, "files_lost": 0, "others_changed": 0}
    assert local == (
        f"Cannot write model/weights.safetensors of study 'victim' to the storage {tmp_path}: File too large. "
        f"{STORAGE_FIX}"
    )
    assert re.fullmatch(
        re.escape("Cannot write model/weights.safetensors of study 'remote' to the storage ")
        + ".+"
        + re.escape(f": No space left on device. {STORAGE_FIX}"),
        remote,
    )
