"""Scaling and GPU sections of the speed benchmark (`python -m benchmarks.speed`).

scaling: each study a separate `python -m automl.cli run` process (its own Ray), its whole process tree
sampled for memory every 0.5 s. gpu: in-process studies (`benchmarks.speed_studies`) with 1 and with 4
trials per GPU, `nvidia-smi` sampled for utilization.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.speed_clock import median
from benchmarks.speed_studies import LocalRay, Settings, measure_study, study_space

ROOT = Path(__file__).resolve().parent.parent


class Sampler(threading.Thread):
    """Calls `sample()` every `interval` seconds in a daemon thread, from `start()` until `stop()`, or
    while in a `with` block."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self._stop_event = threading.Event()

    def sample(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- scaling: studies in child processes -----------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, session id) of every process, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        found[int(entry)] = (int(fields[1]), int(fields[3]))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS splits shared pages (Ray's object store) between processes."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


class TreeMemory(Sampler):
    """Samples the summed RSS and PSS of a process, its descendants and its session every `interval` s."""

    def __init__(self, root: int, interval: float = 0.5, exclude: set[int] | None = None) -> None:
        super().__init__(interval)
        self.root, self.exclude = root, exclude or set()
        self.peak_rss_kb = self.peak_pss_kb = self.peak_processes = self.samples = 0

    def tree(self) -> set[int]:
        procs = _processes()
        members = {pid for pid, (_, sid) in procs.items() if sid == self.root} | {self.root}
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        stack = [self.root]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in members:
                    members.add(child)
                    stack.append(child)
        return {pid for pid in members if pid in procs and pid not in self.exclude}

    def sample(self) -> None:
        pids = self.tree()
        memory = [_memory_kb(pid) for pid in pids]
        self.peak_rss_kb = max(self.peak_rss_kb, sum(m[0] for m in memory))
        self.peak_pss_kb = max(self.peak_pss_kb, sum(m[1] for m in memory))
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1


# Starts the study and reports its wait4 rusage. A process forked from this one would count this process's
# RSS at the fork in its own ru_maxrss (Linux keeps the high-water mark across exec); forked from this
# small helper instead, the study's ru_maxrss is its own (and that of the children it reaped).
RUSAGE_HELPER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as out:
    json.dump({"exit": code, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(code if code >= 0 else 1)
"""


def run_cli_study(csv: Path, target: str, storage: Path, name: str, trials: int, settings: Settings, space):
    """`python -m automl.cli run ...` in a child process: wall time, study times, peak memory."""
    from automl.store import Store

    command = [
        sys.executable,
        "-m",
        "automl.cli",
        "run",
        str(csv),
        "--target",
        target,
        "--trials",
        str(trials),
        "--budget",
        settings.budget,
        "--seed",
        "0",
        "--folds",
        str(settings.scale_folds),
        "--max-epochs",
        str(settings.scale_max_epochs),
        "--storage",
        str(storage),
        "--name",
        name,
        *(["--space", space] if space else []),
    ]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # the child starts a Ray of its own
    log_path = storage.parent / f"{name}.log"
    usage_path = storage.parent / f"{name}.rusage.json"
    storage.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        helper = subprocess.Popen(
            [sys.executable, "-c", RUSAGE_HELPER, str(usage_path), *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
    with TreeMemory(helper.pid, exclude={helper.pid}) as sampler:
        helper.wait()
        wall = time.perf_counter() - started
    if helper.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"study {name} exited with {helper.returncode}:\n{tail}")
    usage = json.loads(usage_path.read_text())
    manifest = Store(storage).read_manifest(name)
    return {
        "name": name,
        "trials": trials,
        "rows": manifest["data"]["n_rows"],
        "folds": manifest["splits"].get("n_folds"),
        "repeats": manifest["splits"].get("n_repeats"),
        "process_wall_s": wall,
        "duration_s": float(manifest["duration_s"]),
        "search_seconds": float(manifest["search_seconds"]),
        "trial_statuses": manifest.get("trials"),
        "peak_tree_rss_mb": sampler.peak_rss_kb / 1024,
        "peak_tree_pss_mb": sampler.peak_pss_kb / 1024,
        "peak_processes": sampler.peak_processes,
        "memory_samples": sampler.samples,
        "max_single_process_rss_mb": usage["maxrss_kb"] / 1024,
    }


def synthetic_csv(folder: Path, rows: int, seed: int = 0) -> Path:
    """A make_classification table (12 features, 3 classes, target `y`); smaller tables are its first rows."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows, n_features=12, n_informative=6, n_redundant=2, n_classes=3, random_state=seed
    )
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).round(5)
    frame["y"] = [f"c{v}" for v in y]
    path = folder / f"synthetic_{rows}.csv"
    frame.to_csv(path, index=False)
    return path


def section_scaling(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 4: study time and peak memory with 4x the rows and with 4x the trials."""
    ray.down()  # each child starts its own Ray; ours would only compete with it
    full = synthetic_csv(work, 4 * settings.scale_rows)
    small = work / f"synthetic_{settings.scale_rows}.csv"
    import pandas as pd

    pd.read_csv(full).head(settings.scale_rows).to_csv(small, index=False)
    storage = work / "scaling"
    space = study_space(settings, work)
    runs = {}
    cases = (
        ("base", small, settings.scale_trials),
        ("rows_x4", full, settings.scale_trials),
        ("trials_x4", small, 4 * settings.scale_trials),
    )
    for label, csv, trials in cases:
        print(f"  {label}: {csv.name}, {trials} trials", flush=True)
        runs[label] = run_cli_study(csv, "y", storage, label, trials, settings, space)
        r = runs[label]
        print(
            f"    {r['process_wall_s']:.0f} s process, {r['search_seconds']:.0f} s search, "
            f"peak tree PSS {r['peak_tree_pss_mb']:.0f} MB (RSS {r['peak_tree_rss_mb']:.0f} MB)",
            flush=True,
        )

    def ratios(label: str) -> dict[str, float]:
        x4, base = runs[label], runs["base"]
        keys = ("process_wall_s", "duration_s", "search_seconds", "peak_tree_pss_mb", "peak_tree_rss_mb")
        return {key: x4[key] / base[key] for key in keys} | {
            "max_single_process_rss_mb": x4["max_single_process_rss_mb"] / base["max_single_process_rss_mb"]
        }

    return {
        "dataset": f"sklearn make_classification, 12 features, 3 classes; {settings.scale_rows} and "
        f"{4 * settings.scale_rows} rows (the smaller is the first rows of the larger)",
        "settings": {
            "folds": settings.scale_folds,
            "max_epochs": settings.scale_max_epochs,
            "space": "quick (CTGAN/TVAE 2-4 epochs)" if space else "default",
            "cpus": os.cpu_count(),
        },
        "memory_note": "peak tree RSS/PSS: summed over the child, its descendants (Ray's GCS, raylet, workers) "
        "and its session, sampled every 0.5 s; RSS counts shared pages (Ray's object store, libraries) once "
        "per process, PSS splits them (the small helper that starts the study is left out). "
        "max_single_process_rss_mb: wait4's ru_maxrss of the study process, the largest of it and the "
        "children it reaped (Ray's workers, reaped by the raylet, may not be among them).",
        "runs": runs,
        "rows_x4": ratios("rows_x4"),
        "trials_x4": ratios("trials_x4"),
    }


# ---- GPU -------------------------------------------------------------------------------------------------


class GpuUtilization(Sampler):
    """Samples `nvidia-smi --query-gpu=utilization.gpu` every `interval` seconds."""

    QUERY = ("nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits")

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.values: list[float] = []

    def sample(self) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError, IndexError):
            out = subprocess.run(self.QUERY, capture_output=True, text=True, timeout=5).stdout
            self.values.append(float(out.strip().splitlines()[0]))


def section_gpu(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 5: trials per hour and GPU utilization with 1 and with 4 trials per GPU."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU on this machine"}
    from automl.config import Resources

    runs = {}
    for label, share in (("1_per_gpu", 1.0), ("4_per_gpu", 0.25)):
        sampler = GpuUtilization()
        figures = measure_study(
            settings,
            work,
            ray,
            f"gpu-{label}",
            folder="gpu",
            watch=sampler,
            trials=settings.gpu_trials,
            resources=Resources(gpus_per_trial=share),
        )
        values = sampler.values
        runs[label] = {
            "gpus_per_trial": share,
            "concurrency": figures["concurrency"],
            "search_seconds": figures["search_seconds"],
            "trials_per_hour": figures["trials_per_hour"],
            "gpu_util_mean": statistics.fmean(values) if values else None,
            "gpu_util_median": median(values),
            "gpu_busy_share": sum(v > 0 for v in values) / len(values) if values else None,
            "samples": len(values),
        }
    return {
        "available": True,
        "gpu": torch.cuda.get_device_name(0),
        "dataset": f"penguins, {settings.rows} rows, {settings.gpu_trials} trials",
        "runs": runs,
        "trials_per_hour_ratio_4_over_1": runs["4_per_gpu"]["trials_per_hour"]
        / runs["1_per_gpu"]["trials_per_hour"],
    }
