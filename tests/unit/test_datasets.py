"""The package-shipped image datasets: their classes, tiles and written folders, drawn the same way for a seed."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from automl.datasets import IMAGE_DATASETS, write_images

NEW = {  # dataset: (classes, tile shape as loaded, mode and side as written by default)
    "photos": ({"astronaut", "coffee", "rocket", "china", "flower"}, (40, 40, 3), ("RGB", 64)),
    "grey_lowres": ({"camera", "coins", "cell", "clock", "text"}, (16, 16), ("L", 16)),
}


def _hashes(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(np.asarray(Image.open(p)).tobytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@pytest.mark.parametrize("name", sorted(NEW))
def test_the_tiles_are_distinct_and_plenty(name):
    classes, shape, _ = NEW[name]
    tiles = IMAGE_DATASETS[name]()
    assert set(tiles) == classes
    for images in tiles.values():
        assert len(images) >= 120  # a few-shot study and over a hundred unseen images per class
        assert {(image.shape, image.dtype) for image in images} == {(shape, np.dtype(np.uint8))}
    every = [image.tobytes() for images in tiles.values() for image in images]
    assert len(set(every)) == len(every)  # no tile twice, within a class or across classes


def test_the_textures_are_still_64_tiles_of_64_px_per_class():
    tiles = IMAGE_DATASETS["textures"]()
    assert {name: len(images) for name, images in tiles.items()} == dict.fromkeys(
        ("brick", "grass", "gravel", "moon"), 64
    )
    assert {image.shape for images in tiles.values() for image in images} == {(64, 64)}


@pytest.mark.parametrize("name", sorted(NEW))
def test_write_images_writes_a_class_folder_tree_the_same_for_a_seed(name, tmp_path):
    classes, _, (mode, side) = NEW[name]
    folder = write_images(name, tmp_path / "a", per_class=6, seed=3)
    assert {p.name for p in folder.iterdir()} == classes
    for label in classes:
        files = sorted((folder / label).glob("*.png"))
        assert len(files) == 6
        for path in files:
            with Image.open(path) as image:
                assert (image.mode, image.size) == (mode, (side, side))
    hashes = _hashes(folder)
    assert len(set(hashes.values())) == len(hashes)
    assert _hashes(write_images(name, tmp_path / "b", per_class=6, seed=3)) == hashes
    assert _hashes(write_images(name, tmp_path / "c", per_class=6, seed=4)) != hashes


def test_write_images_takes_another_side(tmp_path):
    folder = write_images("grey_lowres", tmp_path / "g", per_class=3, size=24)
    with Image.open(next(folder.rglob("*.png"))) as image:
        assert image.size == (24, 24)


def test_the_command_line_writes_an_image_folder(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "automl.datasets", "grey_lowres", str(tmp_path / "g"), "4"],
        check=True,
        capture_output=True,
    )
    assert sorted(len(list(d.glob("*.png"))) for d in (tmp_path / "g").iterdir()) == [4] * 5
