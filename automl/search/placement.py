"""Whether Ray can place a trial at all, checked as soon as Ray is up and before the search starts.

A trial asks for `--cpus-per-trial` CPUs and `--gpus-per-trial` GPUs on one node. When no node has that
much, Tune waits for resources that never come, and the study used to end, once its budget was spent,
with "No trial finished ... Raise --budget or --trials": the wrong fix. On this process's own Ray (a
local one: no RAY_ADDRESS) nothing can add a node, so such a request is refused at once, with what the
trial asks for and what the machine has. On a cluster reached through RAY_ADDRESS an autoscaler may
still add a node that fits (the project's ray_cluster.yaml starts with no worker at all), so there the
study only says that it waits for one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from automl.config import Resources
from automl.errors import ConfigError

_SLACK = 1e-9  # fractional requests (0.24 GPU) are summed in floating point


def check_placement(resources: Resources, log: Callable[[str], None] | None = None) -> None:
    """Refuse (ConfigError) trial resources that no node of a local Ray can hold; on a cluster, log that
    the study waits for a node that can (to stderr, as the CLI's log does, unless `log` is given). Call it
    once Ray is initialized."""
    import ray

    log = log or _to_stderr

    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    gpus = resources.resolved_gpus(sum(node.get("GPU", 0.0) for node in nodes))
    cpus = resources.cpus_per_trial
    if any(_fits(node, cpus, gpus) for node in nodes):
        return
    message = placement_message(cpus, gpus, nodes)
    if os.environ.get("RAY_ADDRESS"):  # a cluster: its autoscaler may add a node that fits
        log(f"note: {message} The trials wait until the cluster adds such a node.")
        return
    raise ConfigError(message)


def _to_stderr(message: str) -> None:
    print(f"[automl] {message}", file=sys.stderr, flush=True)


def _fits(node: dict[str, float], cpus: float, gpus: float) -> bool:
    return node.get("CPU", 0.0) + _SLACK >= cpus and node.get("GPU", 0.0) + _SLACK >= gpus


def placement_message(cpus: float, gpus: float, nodes: list[dict[str, float]]) -> str:
    """What a trial asks for, what the largest node has, and how to fix it."""
    most_cpus = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
    most_gpus = max((node.get("GPU", 0.0) for node in nodes), default=0.0)
    total = (sum(node.get("CPU", 0.0) for node in nodes), sum(node.get("GPU", 0.0) for node in nodes))
    where = (
        f"this Ray has {_count(most_cpus, 'CPU')} and {_count(most_gpus, 'GPU')}"
        if len(nodes) == 1
        else f"this Ray's {len(nodes)} nodes have at most {_count(most_cpus, 'CPU')} and at most "
        f"{_count(most_gpus, 'GPU')} each ({_count(total[0], 'CPU')} and {_count(total[1], 'GPU')} in all)"
    )
    fixes = []
    if cpus > most_cpus + _SLACK:
        fixes.append(f"--cpus-per-trial to at most {_number(most_cpus)}")
    if gpus > most_gpus + _SLACK:
        fixes.append(f"--gpus-per-trial to at most {_number(most_gpus)}")
    if not fixes:  # each fits some node, never both the same one
        fixes.append("--cpus-per-trial or --gpus-per-trial until one node holds both")
    return (
        f"No trial can be placed with the requested resources: each trial asks for {_count(cpus, 'CPU')} and "
        f"{_count(gpus, 'GPU')} on one node, and {where}. Lower {' and '.join(fixes)}, or run on a machine or "
        "Ray cluster (RAY_ADDRESS) that has them."
    )


def _number(value: float) -> str:
    return f"{value:g}"


def _count(value: float, unit: str) -> str:
    return f"{_number(value)} {unit}{'' if value == 1 else 's'}"
