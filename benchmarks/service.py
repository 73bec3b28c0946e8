"""The HTTP service's speed: prediction latency on a warm deployment, and submissions accepted while a
study runs.

    python -m benchmarks.service [--quick] [--requests N] [--seconds S]

A real `automl serve` (uvicorn, its own local Ray and Ray Serve) on a temporary store, spoken to over HTTP
with httpx, as a client would:

  (a) one study (120 penguins, 3 trials) is submitted and run to completion; its model is deployed by the
      first prediction (the cold start, reported once), then warmed with a few requests;
  (b) prediction latency, client side (request to parsed answer): N sequential requests of 1 row and of
      1,000 rows, as text/csv and as JSON records; p50 and p99;
  (c) submissions accepted per minute while a study runs: a long study is started (the service runs one
      at a time), then 4 client threads submit small valid tables for S seconds; each is checked as
      `automl run` checks it (the table read, the target, the folds) and queued (201). Then every queued
      study is cancelled.

The machine is shared and noisy: figures are medians (p50) and the 99th percentile over many requests,
with the load average beside them. The full run writes results/service.{json,md} and then RESULTS.md
(benchmarks/report.py); --quick only prints.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from benchmarks.report import RESULTS_DIR, load_average, machine, machine_line, save_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Service: prediction latency and submissions (`benchmarks/service.py`)"
STUDY = {"trials": 3, "budget": "5m", "folds": 2, "repeats": 1, "max_epochs": 5, "grace_period": 2}
LONG_STUDY = {"trials": 500, "budget": "10m", "folds": 5, "max_epochs": 200, "max_concurrent": 1}


class Service:
    """`automl serve` in a process of its own, on a free port of 127.0.0.1, with a private token file."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        token_file = folder / "token"
        self.token = "benchmark-token-" + os.urandom(12).hex()
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        self.storage = folder / "store"
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.log = open(folder / "service.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "automl.cli", "serve", "--storage", str(self.storage), "--port",
             str(self.port), "--token-file", str(token_file), "--idle", "30m"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=300,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if self.client.get("/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise RuntimeError(f"the service did not start: see {folder / 'service.log'}")

    def submit(self, path: Path, options: dict, client: httpx.Client | None = None) -> httpx.Response:
        files = {"file": (path.name, path.read_bytes(), "text/csv")}
        return (client or self.client).post("/v1/studies", files=files, data={"options": json.dumps(options)})

    def wait(self, study_id: str, states: tuple[str, ...], timeout_s: float = 600) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view = self.client.get(f"/v1/studies/{study_id}").json()
            if view["status"] in states:
                return view
            time.sleep(0.5)
        raise RuntimeError(f"study {study_id} did not reach {states}")

    def stop(self) -> None:
        """The service and its own Ray (its process group), then the runners it started (theirs)."""
        for entry in self.storage.glob("_queue/*.json"):
            state = json.loads(entry.read_text())
            if state["state"] in ("queued", "running"):
                self.client.delete(f"/v1/studies/{state['study_id']}")
        self.client.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "n": len(seconds)}  # fmt: skip


def latency(service: Service, study_id: str, rows: pd.DataFrame, requests: int) -> dict[str, Any]:
    """Sequential predictions of 1 and 1,000 rows, as CSV and as JSON records."""
    out: dict[str, Any] = {}
    for n in (1, 1000):
        sample = rows.sample(n=n, replace=True, random_state=n).reset_index(drop=True)
        csv = sample.to_csv(index=False).encode()
        records = json.loads(sample.to_json(orient="records"))
        url = f"/v1/studies/{study_id}/predict"
        for kind, send in (
            ("csv", partial(service.client.post, url, content=csv, headers={"Content-Type": "text/csv"})),
            ("json", partial(service.client.post, url, json=records)),
        ):
            for _ in range(5):  # warm this path
                send().raise_for_status()
            times = []
            for _ in range(requests if n == 1 else max(10, requests // 4)):
                started = time.perf_counter()
                answer = send()
                answer.raise_for_status()
                assert len(answer.json()["predictions"]) == n
                times.append(time.perf_counter() - started)
            out[f"{n}_rows_{kind}"] = _percentiles(times)
    return out


def submissions(
    service: Service, data: Path, target: str, seconds: float, threads: int = 4
) -> dict[str, Any]:
    """Valid submissions accepted per minute by `threads` clients while a study runs."""
    service.submit(data, {"target": target, **LONG_STUDY, "name": "long-running"}).raise_for_status()
    service.wait("long-running", ("running",))
    accepted, refused, times, lock = [], [], [], threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(worker: int) -> None:
        with httpx.Client(
            base_url=service.client.base_url, headers=service.client.headers, timeout=120
        ) as client:
            i = 0
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                answer = service.submit(
                    data, {"target": target, **STUDY, "name": f"queued-{worker}-{i}"}, client
                )
                with lock:
                    times.append(time.perf_counter() - started)
                    (accepted if answer.status_code == 201 else refused).append(answer.status_code)
                i += 1

    started = time.monotonic()
    workers = [threading.Thread(target=client_loop, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    still_running = service.client.get("/v1/studies/long-running").json()["status"] == "running"
    return {
        "accepted": len(accepted), "refused": len(refused), "seconds": round(elapsed, 1), "threads": threads,
        "per_minute": round(len(accepted) * 60 / elapsed, 1), "study_running_throughout": still_running,
        **{f"submit_{k}": v for k, v in _percentiles(times).items()},
    }  # fmt: skip


def run(quick: bool, requests: int, seconds: float) -> dict[str, Any]:
    from automl.datasets import write

    with tempfile.TemporaryDirectory(prefix="automl-bench-service-") as tmp:
        folder = Path(tmp)
        data = folder / "penguins.csv"
        target = write("penguins", data, n_rows=120, seed=0)
        service = Service(folder)
        try:
            started = time.monotonic()
            service.submit(data, {"target": target, **STUDY, "name": "served"}).raise_for_status()
            view = service.wait("served", ("completed", "failed"))
            assert view["status"] == "completed", view
            study_s = time.monotonic() - started
            rows = pd.read_csv(data).drop(columns=[target])
            started = time.monotonic()
            service.client.post(
                "/v1/studies/served/predict", json=json.loads(rows.head(1).to_json(orient="records"))
            )
            cold_s = time.monotonic() - started
            results: dict[str, Any] = {
                "study_seconds": round(study_s, 1),
                "first_prediction_seconds": round(cold_s, 2),
                "latency": latency(service, "served", rows, requests),
                "submissions": submissions(service, data, target, seconds),
            }
        finally:
            service.stop()
    results["quick"] = quick
    return results


def section(results: dict[str, Any], command: str) -> str:
    lat, sub = results["latency"], results["submissions"]
    lines = [
        HEADING, "",
        f"Command: `{command}`. {machine_line(results['machine'])} Load average (1 min) before and after: "
        f"{results['load_average'][0]} and {results['load_average'][1]} on a machine shared with other work: "
        "timings are noisy; compare orders of magnitude.", "",
        "A real `automl serve` on 127.0.0.1 (uvicorn; its own local Ray and one Ray Serve deployment for the "
        "model), measured from an httpx client: request sent to answer parsed.", "",
        "| predict request | p50 (ms) | p99 (ms) | requests |", "|---|---:|---:|---:|",
    ]  # fmt: skip
    for key, figures in lat.items():
        n, _, kind = key.split("_")
        lines.append(
            f"| {n} row{'s' if n != '1' else ''}, {kind} | {figures['p50_ms']} | {figures['p99_ms']} | {figures['n']} |"
        )
    lines += [
        "",
        f"- First prediction (Ray and Serve start, the deployment created, the model loaded): "
        f"{results['first_prediction_seconds']} s; the study itself (120 rows, 3 trials) took "
        f"{results['study_seconds']} s from submission to completed.",
        f"- Submissions accepted while a study ran ({sub['threads']} client threads, {sub['seconds']} s): "
        f"{sub['accepted']} ({sub['per_minute']} per minute), {sub['refused']} refused; one submission took "
        f"{sub['submit_p50_ms']} ms at the median, {sub['submit_p99_ms']} ms at p99 (the upload kept, the table "
        "read and checked as `automl run` checks it, the study queued). The running study kept running: "
        f"{sub['study_running_throughout']}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 requests, 10 s of submissions")
    parser.add_argument(
        "--requests", type=int, default=200, help="1-row requests per kind (1,000 rows: a quarter)"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long submissions are sent")
    args = parser.parse_args(argv)
    requests, seconds = (20, 10.0) if args.quick else (args.requests, args.seconds)
    before = load_average()[0]
    results = run(args.quick, requests, seconds)
    results["load_average"] = [before, load_average()[0]]
    results["machine"] = machine()
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    if not args.quick:
        command = " ".join(["python -m benchmarks.service", *(sys.argv[1:] if argv is None else argv)])
        save_section(RESULTS_DIR, "service", results, section(results, command))
    return results


if __name__ == "__main__":
    main()
