"""Shared fixtures: one local Ray for the session (2 CPUs), and small real datasets as CSV files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from automl.search.space import default_space_path

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "1")


def _start_local_ray():
    import ray

    from automl.search.tuner import PRELOAD, system_config

    if not ray.is_initialized():  # as a study's own local Ray: workers preloaded, spares kept
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
            _system_config=system_config(2, PRELOAD),
        )
    return ray


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs shared by the tests that need one (studies reuse it instead of starting their own)."""
    ray = _start_local_ray()
    yield ray
    ray.shutdown()


@pytest.fixture
def no_ray():
    """For tests that start their own Ray cluster: the shared local Ray is stopped first and restarted after."""
    import ray

    was_running = ray.is_initialized()
    ray.shutdown()
    yield
    ray.shutdown()
    if was_running:
        _start_local_ray()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def penguins_csv(data_dir) -> tuple[Path, str]:
    """120 penguins: numeric + categorical features with missing values, 3 classes."""
    from automl.datasets import write

    path = data_dir / "penguins.csv"
    return path, write("penguins", path, n_rows=120, seed=0)


@pytest.fixture(scope="session")
def diabetes_csv(data_dir) -> tuple[Path, str]:
    from automl.datasets import write

    path = data_dir / "diabetes.csv"
    return path, write("diabetes", path, n_rows=90, seed=0)


@pytest.fixture(scope="session")
def fast_space(tmp_path_factory) -> Path:
    """The default tabular space with CTGAN/TVAE shortened to a few epochs, so tests stay fast."""
    doc = yaml.safe_load(default_space_path("tabular").read_text())
    doc["parameters"]["synth_epochs"] = {"type": "choice", "values": [2, 4]}
    path = tmp_path_factory.mktemp("spaces") / "fast.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path
