"""Small real datasets that ship inside installed packages, written out for studies and tests.

`python -m automl.datasets penguins penguins.csv` writes a table as CSV;
`python -m automl.datasets textures photos/ 10` writes an image folder (10 images per class): one of
`IMAGE_DATASETS` (textures, digits, photos in colour, grey_lowres at 16 px).
Nothing is downloaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def penguins() -> pd.DataFrame:
    """Palmer penguins: 344 rows, numeric + categorical features with missing values; target `species`."""
    from palmerpenguins import load_penguins

    return load_penguins()


def _sklearn(loader_name: str, target: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)(as_frame=True)
        frame = bunch.frame.copy()
        if hasattr(bunch, "target_names") and loader_name != "load_diabetes":
            frame["target"] = [str(bunch.target_names[i]) for i in bunch.target]
        return frame.rename(columns={"target": target})

    return load


DATASETS: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {
    "penguins": (penguins, "species"),
    "wine": (_sklearn("load_wine", "cultivar"), "cultivar"),
    "breast_cancer": (_sklearn("load_breast_cancer", "diagnosis"), "diagnosis"),
    "iris": (_sklearn("load_iris", "species"), "species"),
    "diabetes": (_sklearn("load_diabetes", "progression"), "progression"),
}


def _tiles(image, side: int) -> list:
    """`image` cut into non-overlapping `side` x `side` tiles, row by row (the ragged edges dropped)."""
    rows, cols = image.shape[:2]
    return [
        image[r : r + side, c : c + side]
        for r in range(0, rows - side + 1, side)
        for c in range(0, cols - side + 1, side)
    ]


def _texture_tiles() -> dict[str, list]:
    """scikit-image's surface photos cut into non-overlapping 64x64 tiles (64 per class)."""
    import skimage.data

    return {name: _tiles(getattr(skimage.data, name)(), 64) for name in ("brick", "grass", "gravel", "moon")}


def _photo_tiles() -> dict[str, list]:
    """Five colour photos, one class each, cut into non-overlapping 40x40 RGB tiles (144-160 per class):
    scikit-image's astronaut, coffee and rocket, scikit-learn's china and flower sample images."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {name: getattr(skimage.data, name)() for name in ("astronaut", "coffee", "rocket")}
    samples = load_sample_images()
    photos.update({Path(f).stem: image for f, image in zip(samples.filenames, samples.images, strict=True)})
    return {name: _tiles(image, 40) for name, image in photos.items()}


def _grey_lowres_tiles() -> dict[str, list]:
    """Five greyscale scikit-image photos, one class each, cut into non-overlapping 24x24 tiles and
    area-averaged to 16x16 (126-594 per class): camera, coins, cell, clock and text."""
    import numpy as np
    import skimage.data
    from PIL import Image

    def low(tile):
        return np.asarray(Image.fromarray(tile).resize((16, 16), Image.Resampling.BOX))

    names = ("camera", "coins", "cell", "clock", "text")
    return {name: [low(t) for t in _tiles(getattr(skimage.data, name)(), 24)] for name in names}


def _digit_images() -> dict[str, list]:
    """scikit-learn's 8x8 handwritten digits, as 0-255 greyscale images per digit."""
    import numpy as np
    import sklearn.datasets

    digits = sklearn.datasets.load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    return {str(d): [img for img, t in zip(images, digits.target, strict=True) if t == d] for d in range(10)}


IMAGE_DATASETS: dict[str, Callable[[], dict[str, list]]] = {
    "textures": _texture_tiles,
    "digits": _digit_images,
    "photos": _photo_tiles,
    "grey_lowres": _grey_lowres_tiles,
}
IMAGE_SIDES = {"grey_lowres": 16}  # the side `write_images` writes by default (64 for the others)


def write_images(
    name: str, folder: str | Path, per_class: int | None = None, seed: int = 0, size: int | None = None
) -> Path:
    """Write image dataset `name` as an ImageFolder tree (`folder/<class>/<i>.png`), `per_class` images
    drawn at random from each class, resized to `size` pixels (default `IMAGE_SIDES`, else 64)."""
    import numpy as np
    from PIL import Image

    if name not in IMAGE_DATASETS:
        raise KeyError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}")
    size = size or IMAGE_SIDES.get(name, 64)
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    for label, images in IMAGE_DATASETS[name]().items():
        picked = rng.permutation(len(images))[: per_class or len(images)]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in picked:
            image = Image.fromarray(images[i]).resize((size, size), Image.Resampling.BICUBIC)
            image.save(folder / label / f"{label}_{i:03d}.png")
    return folder


def load(name: str) -> tuple[pd.DataFrame, str]:
    """The named dataset and its target column."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    loader, target = DATASETS[name]
    return loader(), target


def write(name: str, path: str | Path, n_rows: int | None = None, seed: int = 0) -> str:
    """Write dataset `name` (optionally a random subsample) as CSV; returns its target column."""
    frame, target = load(name)
    if n_rows is not None and n_rows < len(frame):
        frame = frame.sample(n=n_rows, random_state=seed).reset_index(drop=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return target


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(
            "usage: python -m automl.datasets NAME OUT.csv|OUT_FOLDER [N_ROWS | N_PER_CLASS]", file=sys.stderr
        )
        sys.exit(2)
    count = int(sys.argv[3]) if len(sys.argv) == 4 else None
    if sys.argv[1] in IMAGE_DATASETS:
        print(write_images(sys.argv[1], sys.argv[2], count))
    else:
        print(write(sys.argv[1], sys.argv[2], count))
