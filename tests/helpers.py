"""Small study settings shared by the tests that run real studies."""

from __future__ import annotations

from pathlib import Path

from automl.config import Resources, StudyConfig


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


def fails_with(argv: list[str], capsys, message: str) -> None:
    """`automl ARGV` exits 2 with `message` on stderr, and no traceback."""
    from automl.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
