"""`automl run` on images as a user types it: the clear errors, and the acceptance run."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from PIL import Image

from automl.datasets import write_images
from tests.helpers import assert_every_dimension_varies, fails_with, run_cli


def _png(path, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (value, value, value)).save(path)


def test_image_errors_exit_2_with_a_clear_message(tmp_path, capsys):
    loose = tmp_path / "loose"
    for i in range(3):
        _png(loose / f"{i}.png")
    fails_with(["run", str(loose), "--no-hub"], capsys, "no class folders")

    one = tmp_path / "one"
    for i in range(3):
        _png(one / "cat" / f"{i}.png")
    fails_with(["run", str(one), "--no-hub"], capsys, "'cat'")

    few = tmp_path / "few"
    for i in range(5):
        _png(few / "cat" / f"{i}.png")
    for i in range(2):
        _png(few / "dog" / f"{i}.png")
    fails_with(["run", str(few), "--no-hub"], capsys, "'dog' (2 images)")

    only_resnet = tmp_path / "resnet.yaml"
    only_resnet.write_text(
        yaml.safe_dump({"parameters": {"backbone": {"type": "choice", "values": ["resnet18"]}}})
    )
    _png(few / "dog" / "2.png")  # enough images: the weights are looked up once the layout passed
    fails_with(
        ["run", str(few), "--no-hub", "--space", str(only_resnet)],
        capsys,
        "None of the searched backbones has pretrained weights here.",
    )
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    fails_with(["run", str(table)], capsys, "name the column to predict with --target COLUMN")


@pytest.mark.slow
def test_sixteen_trials_on_a_four_class_folder_of_ten_images_within_ten_minutes(tmp_path):
    """The acceptance run: 4 classes x 10 images, default image space, 16 trials (its 8 start points,
    then 8 of the searcher's), 2 cores, under 10 minutes; across the trials every dimension of the
    space takes more than one value."""
    photos = write_images("textures", tmp_path / "photos", per_class=10, seed=0)
    argv = ["run", str(photos), "--trials", "16", "--budget", "9m", "--no-hub", "--image-size", "96"]
    argv += ["--folds", "3", "--max-epochs", "20", "--storage", str(tmp_path / "store"), "--name", "photos"]
    proc, elapsed = run_cli(argv, timeout=660)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 600, f"took {elapsed:.0f}s"
    board = pd.read_parquet(tmp_path / "store" / "photos" / "report" / "trials.parquet")
    assert len(board) >= 16
    assert_every_dimension_varies(tmp_path / "store" / "photos", "image")
    predictions = tmp_path / "preds.csv"
    proc, _ = run_cli(
        ["predict", str(tmp_path / "store" / "photos"), str(photos), "-o", str(predictions)], 120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    frame = pd.read_csv(predictions)
    assert len(frame) == 40 and {"path", "prediction", "proba_brick"} <= set(frame.columns)
