"""Per-trial resources and concurrency follow the cluster: CPU-only without GPUs, GPU fractions with them."""

from __future__ import annotations

import pytest

from automl.config import Resources, StudyConfig
from automl.search import tuner


@pytest.fixture
def cluster(monkeypatch):
    def set_resources(**resources):
        monkeypatch.setattr(tuner.ray, "cluster_resources", lambda: resources)

    return set_resources


def config(**resources) -> StudyConfig:
    return StudyConfig(data="x.csv", target="y", resources=Resources(**resources))


def test_cpu_only_without_gpus(cluster):
    cluster(CPU=2.0)
    assert tuner.trial_resources(config()) == {"cpu": 1.0, "gpu": 0.0}
    assert tuner.concurrency(config()) == 2


def test_a_gpu_is_shared_by_four_small_trials(cluster):
    cluster(CPU=16.0, GPU=1.0)
    assert tuner.trial_resources(config()) == {"cpu": 1.0, "gpu": Resources.GPU_SHARE}
    assert tuner.concurrency(config()) == 4  # bounded by the GPU, not the 16 CPUs


def test_explicit_settings_win(cluster):
    cluster(CPU=16.0, GPU=2.0)
    assert tuner.trial_resources(config(gpus_per_trial=0.5, cpus_per_trial=2)) == {"cpu": 2, "gpu": 0.5}
    assert tuner.concurrency(config(gpus_per_trial=0.5, cpus_per_trial=2)) == 4
    assert tuner.concurrency(config(max_concurrent_trials=3)) == 3


def test_an_empty_autoscaling_cluster_still_runs_one_trial(cluster):
    cluster(CPU=0.0)
    assert tuner.concurrency(config()) == 1
