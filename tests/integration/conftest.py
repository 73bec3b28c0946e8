"""Small studies on real data, shared by the integration tests (each runs once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automl.config import Resources, StudyConfig
from automl.search.space import default_space_path


@pytest.fixture(scope="session")
def fast_space(tmp_path_factory) -> Path:
    """The default tabular space with CTGAN/TVAE shortened to a few epochs, so tests stay fast."""
    doc = yaml.safe_load(default_space_path("tabular").read_text())
    doc["parameters"]["synth_epochs"] = {"type": "choice", "values": [2, 4]}
    path = tmp_path_factory.mktemp("spaces") / "fast.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def small_config(data: Path, target: str, storage: Path, space: Path, **overrides) -> StudyConfig:
    settings = dict(
        data=str(data),
        target=target,
        trials=4,
        budget_s=240,
        seed=0,
        n_folds=3,
        n_repeats=1,
        max_epochs=12,
        grace_period=3,
        space=str(space),
        storage=str(storage),
        resources=Resources(max_concurrent_trials=2),
    )
    settings.update(overrides)
    return StudyConfig(**settings)
