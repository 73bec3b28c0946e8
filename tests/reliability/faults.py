"""Faults injected on purpose into the study store, shared by the reliability tests and the benchmark.

Each case runs real writers (the project's Store, in child processes where a process must die), then
checks what a reader sees: every manifest and model file whole, each one a version that was
written, nothing else in the store changed. Each case returns its figures.

    .venv/bin/python -m tests.reliability.faults --repeat 20   # the benchmark: prints the figures
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from automl.errors import StoreError
from automl.store import Store

WEIGHTS_BYTES = 300_000
# One export, as `study._finish` writes it: model files, then the manifest that points at them.
WRITER = rf"""
import sys
from automl.store import Store

store, study, first, last = Store(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for version in range(first, last + 1):
    store.write_bytes(study, "model/weights.safetensors", bytes([version % 256]) * {WEIGHTS_BYTES})
    store.write_json(study, "model/model.json", {{"version": version, "pad": "m" * 50_000}})
    store.write_manifest(study, {{"study_id": study, "status": "completed", "version": version, "pad": "s" * 200_000}})
    print(version, flush=True)
"""


def writer(root: Path, study: str, first: int, last: int, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), study, str(first), str(last)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def snapshot(root: Path, skip: str | None = None) -> dict[str, str]:
    """sha256 of every file under root (except the study `skip`)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and (skip is None or p.relative_to(root).parts[0] != skip)
    }


def check_export(store: Store, study: str, versions: range) -> list[str]:
    """What is wrong with a study's export as a reader sees it ([] when every file is whole)."""
    problems = []
    try:
        manifest = store.read_manifest(study)
        if manifest.get("version") not in versions:
            problems.append(f"manifest version {manifest.get('version')} not in {versions}")
    except StoreError as exc:
        problems.append(f"manifest: {exc}")
    try:
        model = store.read_json(study, "model/model.json")
        if model.get("version") not in versions:
            problems.append(f"model.json version {model.get('version')} not in {versions}")
    except StoreError as exc:
        problems.append(f"model.json: {exc}")
    weights = store.read_bytes(study, "model/weights.safetensors")
    if len(weights) != WEIGHTS_BYTES or len(set(weights)) != 1:
        problems.append(f"weights torn: {len(weights)} bytes, {len(set(weights))} distinct")
    return problems


def bystander(store: Store) -> dict[str, str]:
    """A completed study that no case touches, and the hashes of its files."""
    store.write_bytes("bystander", "model/weights.safetensors", b"\x07" * WEIGHTS_BYTES)
    store.write_json("bystander", "model/model.json", {"version": 7})
    store.write_manifest("bystander", {"study_id": "bystander", "status": "completed", "version": 7})
    return snapshot(Path(store.root) / "bystander")


# --- cases -------------------------------------------------------------------------------------


def kill_during_writes(root: Path, kills: int = 5, seed: int = 0) -> dict[str, int]:
    """SIGKILL a process at random moments while it rewrites the manifest and the model files."""
    rng = random.Random(seed)
    store = Store(root)
    before = bystander(store)
    figures = {"cases": 0, "whole": 0, "files_lost": 0, "others_changed": 0}
    last_done = 0
    for _ in range(kills):
        proc = writer(root, "victim", last_done + 1, last_done + 1000)
        target = rng.randint(1, 3)
        done = last_done
        for line in proc.stdout:  # wait until a few versions are through, then kill mid-write
            done = int(line)
            if done - last_done >= target:
                break
        time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for line in proc.stdout.read().split():
            done = int(line)
        figures["cases"] += 1
        # a reader sees the last completed version, or the one being written (each file renamed whole)
        problems = check_export(store, "victim", range(done, done + 2))
        figures["whole"] += not problems
        figures["files_lost"] += len(problems)
        figures["others_changed"] += snapshot(Path(root) / "bystander") != before
        last_done = done + 1
    # a write killed before its rename leaves its temporary file in the study's .tmp/ (never read or served)
    temporary = list(Path(root).rglob("*.tmp-*"))
    figures["temporary_files_left"] = len(temporary)
    figures["temporary_files_beside_the_model"] = sum(p.parent.name != ".tmp" for p in temporary)
    return figures


def two_studies_at_once(root: Path, versions: int = 30) -> dict[str, int]:
    """Two processes export two studies into one store at the same time."""
    store = Store(root)
    before = bystander(store)
    procs = [writer(root, f"study-{i}", 1, versions) for i in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    problems = [check_export(store, f"study-{i}", range(versions, versions + 1)) for i in range(2)]
    listed = sorted(m["study_id"] for m in store.list_studies())
    return {
        "cases": 1,
        "completed": sum(c == 0 and not p for c, p in zip(codes, problems, strict=True)),
        "files_lost": sum(len(p) for p in problems),
        "listed": len(listed),
        "others_changed": int(snapshot(Path(root) / "bystander") != before),
    }


FULL_DISK = rf"""
import resource, signal, sys
from automl.errors import StoreError
from automl.store import Store

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
store = Store(sys.argv[1])
try:
    store.write_bytes("victim", "model/weights.safetensors", b"\x02" * {WEIGHTS_BYTES})
except StoreError as exc:
    print(exc)
    sys.exit(2)
"""


def disk_full_during_export(root: Path) -> dict[str, object]:
    """The file-size limit of the OS (EFBIG) hits a local export; an upload quota (ENOSPC) hits an
    object-store export. The previous export stays whole, no temporary file is left, the error says why."""
    store = Store(root)
    before = bystander(store)
    store.write_bytes("victim", "model/weights.safetensors", b"\x01" * WEIGHTS_BYTES)
    store.write_json("victim", "model/model.json", {"version": 1})
    store.write_manifest("victim", {"study_id": "victim", "status": "completed", "version": 1})
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(root)], capture_output=True, text=True, timeout=120
    )
    local_message = proc.stdout.strip()
    problems = check_export(store, "victim", range(1, 2))

    remote = Store(root)
    handler = QuotaHandler(budget=WEIGHTS_BYTES + 10_000)
    remote.fs, remote.local = pafs.PyFileSystem(handler), False
    remote.write_bytes("remote", "model/weights.safetensors", b"\x01" * WEIGHTS_BYTES)
    remote.write_manifest("remote", {"study_id": "remote", "status": "completed", "version": 1})
    remote.write_json("remote", "model/model.json", {"version": 1})
    remote_message = ""
    try:
        remote.write_bytes("remote", "model/weights.safetensors", b"\x02" * WEIGHTS_BYTES)
    except StoreError as exc:
        remote_message = str(exc)
    problems += check_export(Store(root), "remote", range(1, 2))
    leftovers = [str(p) for p in Path(root).rglob("*.tmp-*")]
    return {
        "cases": 2,
        "refused": int(proc.returncode == 2) + int(bool(remote_message)),
        "files_lost": len(problems) + len(leftovers),
        "others_changed": int(snapshot(Path(root) / "bystander") != before),
        "local_message": local_message,
        "remote_message": remote_message,
    }


class QuotaHandler(pafs.FileSystemHandler):
    """A local folder behind an object-store-like interface with an upload quota: an object appears only
    when its upload completes, and an upload that would go over the quota fails with ENOSPC."""

    def __init__(self, budget: int) -> None:
        self.local, self.budget = pafs.LocalFileSystem(), budget

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other

    def get_type_name(self) -> str:
        return "quota"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError(errno.EPERM, "not here")

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        self.local.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.local.open_input_stream(path)

    def open_input_file(self, path):
        return self.local.open_input_file(path)

    def open_append_stream(self, path, metadata):
        raise OSError(errno.EPERM, "object stores do not append")

    def open_output_stream(self, path, metadata):
        return pa.PythonFile(_Upload(self, path), mode="w")


class _Upload(io.RawIOBase):
    def __init__(self, handler: QuotaHandler, path: str) -> None:
        self.handler, self.path, self.parts = handler, path, []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.handler.budget:
            self.parts = None  # a failed upload publishes nothing
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.handler.budget -= len(data)
        self.parts.append(bytes(data))
        return len(data)

    def close(self) -> None:
        if not self.closed and self.parts is not None:
            with self.handler.local.open_output_stream(self.path) as out:  # published whole, at the end
                out.write(b"".join(self.parts))
        super().close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Store fault benchmark: prints the figures as JSON.")
    parser.add_argument("--repeat", type=int, default=20, help="kills of the writer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        figures = {
            "kill_during_writes": kill_during_writes(Path(tmp) / "a", kills=args.repeat),
            "two_studies_at_once": two_studies_at_once(Path(tmp) / "b"),
            "disk_full_during_export": disk_full_during_export(Path(tmp) / "c"),
        }
        figures["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
