"""A real multi-node Ray cluster on one machine (ray.cluster_utils.Cluster): trials spread over the worker
nodes, and a study completes when a worker node is lost mid-study."""

from __future__ import annotations

import threading
import time

import pytest

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


def test_trials_spread_over_nodes_and_survive_a_lost_node(cluster, penguins_csv, fast_space, tmp_path):
    cluster, workers = cluster
    path, target = penguins_csv
    config = small_config(path, target, tmp_path, fast_space, trials=8, max_epochs=15, name="multinode")
    tune_dir = tmp_path / "multinode" / "tune"
    removed = threading.Event()

    def lose_a_worker_mid_study() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(tune_dir.glob("*/result.json"))) < 4:
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
    assert set(board["status"]) <= {"completed", "stopped_early"}, board[["trial", "status", "error"]]
    worker_ids = {w.node_id for w in workers}
    used = set(board["node"].dropna())
    assert used <= worker_ids and len(used) == 2, used
