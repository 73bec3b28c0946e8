"""Small study settings shared by the tests that run real studies."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from automl.config import ImageOptions, Resources, StudyConfig


def small_config(data: Path, target: str | None, storage: Path, space: Path, **overrides) -> StudyConfig:
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


def fails_with(argv: list[str], capsys, message: str) -> None:
    """`automl ARGV` exits 2 with `message` on stderr, and no traceback."""
    from automl.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


# Every dimension of the image space, small enough for 2 CPU cores.
FAST_IMAGE_SPACE = {
    "parameters": {
        "backbone": {"type": "choice", "values": ["tf_efficientnet_lite0", "small_cnn"]},
        "transfer": {"type": "choice", "values": ["linear_probe", "partial", "full"]},
        "freeze_stages": {"type": "int", "low": 1, "high": 3},
        "backbone_lr_mult": {"type": "loguniform", "low": 0.01, "high": 0.3},
        "drop_stages": {"type": "int", "low": 0, "high": 2},
        "head_depth": {"type": "int", "low": 0, "high": 2},
        "head_width": {"type": "choice", "values": [32, 64]},
        "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
        "drop_path": {"type": "uniform", "low": 0.0, "high": 0.2},
        "l1": {"type": "loguniform", "low": 1.0e-7, "high": 1.0e-3},
        "l2": {"type": "loguniform", "low": 1.0e-6, "high": 1.0e-1},
        "label_smoothing": {"type": "uniform", "low": 0.0, "high": 0.2},
        "patience": {"type": "int", "low": 2, "high": 3},
        "lr": {"type": "loguniform", "low": 1.0e-3, "high": 1.0e-2},
        "batch_size": {"type": "choice", "values": [8, 16]},
        "augment": {"type": "choice", "values": ["none", "light", "medium", "heavy", "randaugment"]},
        "aug_ops": {"type": "int", "low": 1, "high": 3},
        "aug_magnitude": {"type": "int", "low": 1, "high": 10},
        "synth_method": {"type": "choice", "values": ["none", "vae"]},
        "synth_ratio": {"type": "uniform", "low": 0.0, "high": 1.0},
        "synth_latent_dim": {"type": "choice", "values": [8, 16]},
        "synth_epochs": {"type": "choice", "values": [20, 40]},
    },
    "start": [
        {
            "backbone": "tf_efficientnet_lite0",
            "transfer": "linear_probe",
            "augment": "none",
            "synth_method": "none",
        },
        {
            "backbone": "small_cnn",
            "transfer": "full",
            "augment": "light",
            "synth_method": "vae",
            "synth_ratio": 0.5,
        },
    ],
}


def write_image_space(path: Path) -> Path:
    path.write_text(yaml.safe_dump(FAST_IMAGE_SPACE))
    return path


def small_image_config(data: Path, storage: Path, space: Path, **overrides) -> StudyConfig:
    """An image study of a few trials and epochs on 2 CPUs, offline weights only."""
    settings = dict(
        trials=6,
        budget_s=600,
        n_folds=2,
        max_epochs=4,
        grace_period=2,
        name="textures",
        resources=Resources(cpus_per_trial=1),
        images=ImageOptions(image_size=48, allow_hub=False),
    )
    settings.update(overrides)
    return small_config(data, None, storage, space, **settings)


def assert_every_dimension_varies(study_dir: Path, modality: str) -> None:
    """Across the trials the searcher proposed (Tune's params.json of each trial: the sampled
    values, before the leaderboard blanks those without effect), every parameter of the
    modality's default space took more than one value."""
    import json

    from automl.modalities import modality as modality_of
    from automl.search.space import SearchSpace

    proposed = [json.loads(p.read_text()) for p in sorted((study_dir / "tune").glob("*/params.json"))]
    assert proposed, f"no trials under {study_dir / 'tune'}"
    space = SearchSpace.load(None, modality)
    # The cost-frugal search (search/frugal.py) tries an expensive value only after the cheap start-up,
    # one at a time: a short study need not reach the expensive values of a choice with one cheap value.
    expensive = {k: set(v) for k, v in modality_of(modality).expensive_choices().items()}
    for name in space.parameters:
        # a conditional parameter counts only where it was active (elsewhere it holds its inactive value)
        values = [str(p[name]) for p in proposed if name in p and name in space.active(p)]
        cheap = (
            [v for v in space.choices(name) if v not in expensive.get(name, ())]
            if name in expensive
            else None
        )
        if cheap is not None and len(cheap) < 2:
            continue
        assert len(values) < 2 or len(set(values)) > 1, f"{name} took only {set(values)}"


def run_cli(argv: list[str], timeout: float, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m automl.cli ARGV` in a fresh process with its own local Ray: (result, seconds)."""
    import os

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "automl.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, RAY_ADDRESS="", **env),
    )
    return proc, time.monotonic() - start
