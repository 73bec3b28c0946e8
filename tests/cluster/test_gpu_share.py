"""GPU clusters: the shared pool's feature extraction asks Ray for a slice of a GPU (Ray hides the GPUs
from a task that asks for none) and the trials leave it room, so an image study on a GPU cluster never
waits on a feature task that cannot be scheduled. The GPU here is a logical one (`num_gpus=1` on a
machine without CUDA): scheduling is real, the arithmetic stays on the CPU."""

from __future__ import annotations

import pytest

from automl.config import Resources
from automl.datasets import write_images
from automl.study import run_study
from tests.helpers import small_image_config, write_image_space


@pytest.mark.parametrize(
    ("cluster_gpus", "gpus_per_trial", "expected"),
    [
        (0, None, 0.0),  # no GPU: nothing to ask for
        (1, None, Resources.FEATURE_GPU_SHARE),  # four default trials leave its share free
        (4, None, Resources.FEATURE_GPU_SHARE),
        (1, 0.25, 0.0),  # four trials fill the GPU: a GPU feature task would wait for them
        (1, 0.3, Resources.FEATURE_GPU_SHARE),  # three trials leave 0.1
        (1, 1.0, 0.0),
        (2, 2.0, 0.0),
        (1, 0.0, Resources.FEATURE_GPU_SHARE),  # trials on the CPU
    ],
)
def test_the_feature_share_fits_beside_the_trials(cluster_gpus, gpus_per_trial, expected):
    assert Resources(gpus_per_trial=gpus_per_trial).feature_gpus(cluster_gpus) == expected


class GpuProbe:
    """Stands in for a study's search data: reports the GPUs Ray gave the extraction task."""

    def frozen_features(self, backbone: str, drop_stages: int, size: str = "images"):
        import os

        import ray

        return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@pytest.fixture
def gpu_cluster(no_ray):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.slow
def test_feature_extraction_gets_a_gpu_and_an_image_study_completes(gpu_cluster, tmp_path):
    from automl.synth.pool import SharedPool, fetch_shared

    ray = gpu_cluster
    with_gpu = SharedPool.remote([ray.put(GpuProbe())], 1.0, None, Resources.FEATURE_GPU_SHARE)
    ids, visible = fetch_shared(with_gpu, "features", "tf_efficientnet_lite0", 0)
    assert len(ids) == 1 and visible == str(ids[0])
    without = SharedPool.remote([ray.put(GpuProbe())], 1.0, None, 0.0)
    ids, visible = fetch_shared(without, "features", "tf_efficientnet_lite0", 0)
    assert ids == [] and not visible  # no GPU id, and CUDA shows the task none

    # Trials take 0.24 of the GPU each, two at once (two CPUs); the linear probe's features come from the pool.
    images = write_images("textures", tmp_path / "textures", per_class=6, seed=0, size=32)
    space = write_image_space(tmp_path / "space.yaml")
    study = run_study(small_image_config(images, tmp_path / "store", space, trials=3), log=lambda m: None)
    board = study.leaderboard()
    assert study.status == "completed" and (board["status"] != "failed").all()
    probes = board[(board["param_backbone"] == "tf_efficientnet_lite0") & (board["feature_seconds"] > 0)]
    assert len(probes) >= 1
