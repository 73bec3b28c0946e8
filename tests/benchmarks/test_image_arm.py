"""An image study runs as a user runs it (`run_study`, then `automl predict` on a folder of fresh images), and
its true score reads each prediction's class from the image's folder, whatever order they come back in."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.arms import ARMS, resolve
from benchmarks.studies import _fresh_labels, run_arm
from benchmarks.tasks import Task, write_task

TEXTURES = Task("textures_tiny", "image", "textures", 5, "accuracy", "textures", pixels=32, fresh_cap=40)


def test_fresh_labels_follow_the_predictions_paths(tmp_path):
    data = write_task(TEXTURES, 0, tmp_path / "data")
    paths = sorted(str(p.relative_to(data.fresh)) for p in data.fresh.rglob("*.png"))[::-1]
    predictions = tmp_path / "predictions.csv"
    pd.DataFrame({"path": paths, "prediction": "x"}).to_csv(predictions, index=False)
    assert list(_fresh_labels(predictions, data)) == [p.split("/")[0] for p in paths]
    pd.DataFrame({"path": paths[1:], "prediction": "x"}).to_csv(predictions, index=False)
    with pytest.raises(RuntimeError, match="one prediction per fresh image"):
        _fresh_labels(predictions, data)


@pytest.mark.slow
def test_an_image_study_is_scored_on_fresh_images(tmp_path, ray_session):
    data = write_task(TEXTURES, 0, tmp_path / "data")
    arm = resolve(ARMS["budget"], "image", 240.0, 2, tmp_path)  # 2 trials end it, well inside the budget
    record = run_arm(TEXTURES, 0, arm, data, tmp_path)
    assert record["trials"] == 2 and data.n_fresh == 40
    assert 0.25 < record["true"] <= 1.0 and record["true_log_loss"] > 0  # chance: 0.25
    e = record["estimate"]
    assert 0 <= e["ci_low"] <= e["value"] <= e["ci_high"] <= 1 and record["covered"] == (
        e["ci_low"] <= record["true"] <= e["ci_high"]
    )
    assert not (tmp_path / "studies").exists() or not any(
        (tmp_path / "studies").iterdir()
    )  # removed once scored
