"""The benchmark's tasks: training rows drawn with the seed, and a fresh sample that is the rest of the same
source (capped), never one of the training rows; the survey sources load offline; a shuffled-label task keeps
the labels' counts and breaks their link to the features; fresh images never repeat a training image."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmarks.tasks import FRESH_ROWS, TABLE_SOURCES, TASKS, draw_table, write_fresh_images, write_task


def _rows(frame: pd.DataFrame) -> Counter:
    return Counter(map(tuple, frame.astype(str).to_numpy()))


@pytest.mark.parametrize("name", [n for n, t in TASKS.items() if t.family == "table"])
def test_the_fresh_rows_are_the_rest_of_the_source(name):
    task = TASKS[name]
    source, target = TABLE_SOURCES[task.source]()
    drawn, rest, same_target = draw_table(task, 1)
    assert same_target == target and len(drawn) == task.size
    assert len(rest) == min(FRESH_ROWS, len(source) - task.size)
    features = [c for c in source.columns if c != target]  # a shuffled-label task's labels moved
    both, available = _rows(drawn[features]) + _rows(rest[features]), _rows(source[features])
    assert all(
        available[row] >= n for row, n in both.items()
    )  # no source row used twice (surveys repeat rows)
    assert set(drawn[target]) == set(source[target]) or task.task == "regression"  # every class is drawn
    again, _, _ = draw_table(task, 1)
    assert again.equals(drawn) and not draw_table(task, 2)[0].equals(drawn)  # the seed draws the rows
    if task.minority is not None:
        assert drawn[target].value_counts().min() == round(task.minority * task.size)


def test_the_surveys_load_offline_with_their_targets():
    votes, target = TABLE_SOURCES["anes96"]()
    assert target == "vote" and len(votes) == 944 and set(votes["vote"]) == {"Clinton", "Dole"}
    affairs, target = TABLE_SOURCES["fair"]()
    assert target == "affair" and "affairs" not in affairs and len(affairs) == 6366
    assert affairs["affair"].eq("yes").mean() == pytest.approx(0.322, abs=0.001)


def test_shuffled_labels_keep_their_counts_and_lose_the_features():
    task = TASKS["shuffled_labels"]
    drawn, rest, target = draw_table(task, 0)
    both = pd.concat([drawn, rest])
    source, _ = TABLE_SOURCES[task.source]()
    assert both[target].value_counts().to_dict() == source[target].value_counts().to_dict()
    merged = both.merge(source, on=[c for c in source.columns if c != target], suffixes=("", "_true"))
    assert len(merged) == len(source) and 0.35 < (merged[target] == merged[f"{target}_true"]).mean() < 0.65


def test_a_table_task_is_written_with_its_fresh_sample(tmp_path):
    data = write_task(TASKS["penguins120"], 0, tmp_path)
    train, fresh = pd.read_csv(data.train), pd.read_csv(data.fresh)
    assert (len(train), len(fresh)) == (data.n_train, data.n_fresh) == (120, 344 - 120)
    assert list(train[data.target]) == list(data.y_train) and list(fresh[data.target]) == list(data.y_fresh)
    assert train.isna().any().any()  # the missing values reach the study as they are


def _hashes(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(np.asarray(Image.open(p)).tobytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@pytest.mark.parametrize("name", [n for n, t in TASKS.items() if t.family == "image"])
def test_the_fresh_images_never_repeat_the_training_images(name, tmp_path):
    task = TASKS[name]
    data = write_task(task, 1, tmp_path)
    studied, fresh = _hashes(data.train), _hashes(data.fresh)
    classes = {p.name for p in data.train.iterdir()}
    assert len(studied) == len(classes) * task.size == data.n_train
    assert {p.name for p in data.fresh.iterdir()} == classes and len(fresh) == data.n_fresh >= 100
    assert not set(studied.values()) & set(fresh.values()) and len(set(fresh.values())) == len(fresh)
    with Image.open(next(data.fresh.rglob("*.png"))) as image:
        assert image.size == (task.pixels, task.pixels)
    assert len(_hashes(write_fresh_images(task, 1, tmp_path / "small", total=4 * len(classes)))) == 4 * len(
        classes
    )
