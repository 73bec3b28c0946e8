"""Small tables written as files, shared by the tests of automl.data.tabular and automl.data.table_files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write(name: str, text: str) -> str:
    Path(name).write_bytes(text.encode("utf-8"))
    return name


def small_frame() -> pd.DataFrame:
    """Six rows, two classes of three, one numeric, one categorical and one boolean feature."""
    return pd.DataFrame(
        {
            "x": [1.5, 2.0, np.nan, 4.0, 5.5, 6.0],
            "color": ["red", "blue", "red", None, "green", "blue"],
            "flag": ["yes", "No", "YES", "no", None, "yes"],
            "label": ["cat", "dog", "cat", "dog", "cat", "dog"],
        }
    )
