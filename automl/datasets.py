"""Small real datasets that ship inside installed packages, written out as CSV for studies and tests.

`python -m automl.datasets penguins penguins.csv` writes one. Nothing is downloaded.
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
        print("usage: python -m automl.datasets NAME OUT.csv [N_ROWS]", file=sys.stderr)
        sys.exit(2)
    target = write(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else None)
    print(target)
