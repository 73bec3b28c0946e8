"""A non-editable wheel carries the default search spaces, and `automl run` works from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        timeout=300,
    )
    wheel = next(out.glob("automl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "automl/_search_spaces/tabular.yaml" in names
    assert "ui/app.py" in names and any(n.startswith("ui/views/") for n in names)
    assert not any(n.startswith(("tests/", "search_spaces/")) for n in names)
    target = out / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    return target


@pytest.mark.slow
def test_installed_wheel_runs_a_study_from_another_directory(installed_wheel, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(installed_wheel), RAY_ADDRESS="")
    code = (
        "import automl.search.space as s; print(s.default_space_path()); print(s.SearchSpace.load().source)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert str(installed_wheel) in out.splitlines()[0]

    from automl.datasets import write

    target = write("iris", tmp_path / "iris.csv")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "automl.cli",
            "run",
            "iris.csv",
            "--target",
            target,
            "--trials",
            "2",
            "--max-epochs",
            "5",
            "--folds",
            "3",
            "--storage",
            "out",
            "--name",
            "from-wheel",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "from-wheel" / "model" / "weights.safetensors").is_file()
