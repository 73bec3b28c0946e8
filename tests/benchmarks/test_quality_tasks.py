"""The few-shot image tasks of the quality benchmark: a study's images for a seed, and fresh images of the
same sources that never repeat one of them (compared by pixels, not by name)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from automl.datasets import write_images
from benchmarks.quality_tasks import TASKS, write_fresh_images, write_task


def _hashes(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(np.asarray(Image.open(p)).tobytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@pytest.mark.parametrize(("name", "mode", "side"), [("photos", "RGB", 64), ("grey_lowres", "L", 16)])
def test_the_fresh_images_never_repeat_the_study_images(name, mode, side, tmp_path):
    task = TASKS[name]
    assert (task.family, task.pixels, task.source) == ("image", side, name) and 5 <= task.size <= 10
    studied = write_task(task, 1, tmp_path / "study")[0]
    studied_hashes = _hashes(studied)
    assert len(studied_hashes) == 5 * task.size
    assert studied_hashes == _hashes(write_images(name, tmp_path / "again", task.size, seed=1, size=side))

    fresh = write_fresh_images(task, 1, tmp_path / "fresh", total=1000)
    fresh_hashes = _hashes(fresh)
    counts = {d.name: len(list(d.glob("*.png"))) for d in fresh.iterdir()}
    assert set(counts) == {d.name for d in studied.iterdir()} and min(counts.values()) >= 100
    assert not set(studied_hashes.values()) & set(fresh_hashes.values())
    assert len(set(fresh_hashes.values())) == len(fresh_hashes)
    with Image.open(next(fresh.rglob("*.png"))) as image:
        assert (image.mode, image.size) == (mode, (side, side))
