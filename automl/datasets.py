"""Small real datasets that ship inside installed packages, written out for studies and tests.

`python -m automl.datasets penguins penguins.csv` writes a table as CSV;
`python -m automl.datasets textures photos/ 10` writes an image folder (10 images per class).
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


def _texture_tiles() -> dict[str, list]:
    """scikit-image's surface photos cut into non-overlapping 64x64 tiles (64 per class)."""
    import skimage.data

    tiles = {}
    for name in ("brick", "grass", "gravel", "moon"):
        image = getattr(skimage.data, name)()  # 512 x 512 greyscale
        tiles[name] = [image[r : r + 64, c : c + 64] for r in range(0, 512, 64) for c in range(0, 512, 64)]
    return tiles


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
}


def write_images(
    name: str, folder: str | Path, per_class: int | None = None, seed: int = 0, size: int = 64
) -> Path:
    """Write image dataset `name` as an ImageFolder tree (`folder/<class>/<i>.png`), `per_class` images
    drawn at random from each class, upscaled to `size` pixels."""
    import numpy as np
    from PIL import Image

    if name not in IMAGE_DATASETS:
        raise KeyError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}")
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
