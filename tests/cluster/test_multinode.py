"""A real multi-node Ray cluster on one machine (ray.cluster_utils.Cluster): trials spread over the worker
nodes, and a study completes when a worker node is lost mid-study."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest
import yaml

from automl.study import run_study
from tests.helpers import small_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray")]


@pytest.fixture
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


def _slow_space(tmp_path) -> str:
    """Deep, wide networks on small batches without early stopping, at a searched learning rate: each
    trial trains for seconds, longer than a worker takes to start its actor, so both workers run
    trials (sub-second trials would all reuse the first actor while the second one starts)."""
    fixed = {"depth": 3, "width": 256, "batch_size": 16, "patience": 500, "synth_method": "none"}
    parameters = {name: {"type": "choice", "values": [value]} for name, value in fixed.items()}
    parameters["lr"] = {"type": "loguniform", "low": 1.0e-4, "high": 1.0e-2}
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return str(path)


def test_trials_spread_over_nodes_and_survive_a_lost_node(cluster, penguins_csv, tmp_path):
    cluster, workers = cluster
    path, target = penguins_csv
    config = small_config(
        path,
        target,
        tmp_path,
        _slow_space(tmp_path),
        trials=8,
        max_epochs=40,
        grace_period=40,  # no ASHA rung below max_epochs: every trial trains its 40 epochs
        n_folds=5,
        n_repeats=2,
        name="multinode",
        max_trial_retries=4,  # a trial on the lost node can fail again on an actor cached there before Ray notices
    )
    tune_dir = tmp_path / "multinode" / "tune"
    removed = threading.Event()

    def nodes_reported() -> set[str]:
        """Where the trials ran: every epoch report carries its node (a retried trial's folder keeps both attempts)."""
        nodes = set()
        for result in tune_dir.glob("*/result.json"):
            for line in result.read_text().splitlines():
                with contextlib.suppress(json.JSONDecodeError, KeyError):  # a line being written
                    nodes.add(json.loads(line)["node_id"])
        return nodes

    def lose_a_worker_mid_study() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(nodes_reported()) < 2:  # both workers have run trials
            time.sleep(0.2)
        cluster.remove_node(workers[1])
        removed.set()

    killer = threading.Thread(target=lose_a_worker_mid_study, daemon=True)
    killer.start()
    study = run_study(config, log=lambda m: None)
    killer.join(timeout=10)

    assert removed.is_set(), "the worker node was not removed during the study"
    board = study.leaderboard()
    assert study.status == "completed"
    assert len(board) == 8 and set(board["trial"]) == {f"t{i:02d}" for i in range(1, 9)}
    # Every trial is accounted for. A trial that ran on the lost node is retried; it can still end as
    # "failed" (seen in about 1 run in 4), and then only because of the lost node.
    failed = board[board["status"] == "failed"]
    assert set(board["status"]) <= {"completed", "stopped_early", "failed"}
    assert all("node was terminated" in str(error) for error in failed["error"]), failed[["trial", "error"]]
    assert (board["status"] != "failed").sum() >= 6
    used = nodes_reported()
    assert used == {w.node_id for w in workers}, used
