"""Feature preprocessing fitted on the training part of a fold only, stored as JSON (no pickle).

Numeric and boolean columns: median imputation (plus a missing-indicator column where the
training part had gaps), then the searched scaler on the numeric ones. Categorical columns:
one-hot over the categories seen in the training part (the most frequent `MAX_CATEGORIES`);
unseen categories encode as all zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.errors import invalid_parameter

SCALERS = ("standard", "minmax", "robust", "none")
MAX_CATEGORIES = 30
MISSING = "__missing__"


def _scale_params(values: np.ndarray, scaler: str) -> tuple[float, float]:
    """(center, scale) so that the scaled value is (x - center) / scale."""
    if scaler == "standard":
        center, scale = float(np.mean(values)), float(np.std(values))
    elif scaler == "minmax":
        center, scale = float(np.min(values)), float(np.max(values) - np.min(values))
    elif scaler == "robust":
        q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
        center, scale = float(median), float(q3 - q1)
        if scale <= 0:  # more than half the values equal: fall back to the spread of the rest
            scale = float(np.std(values))
    else:
        center, scale = 0.0, 1.0
    return center, scale if scale > 1e-12 else 1.0


class Preprocessor:
    """Turns a coerced feature frame into a float32 matrix; `fit` sees training rows only."""

    def __init__(self, schema: dict[str, str], scaler: str = "standard") -> None:
        if scaler not in SCALERS:
            raise invalid_parameter("scaler", "Preprocessor", f"one of {', '.join(SCALERS)}", scaler)
        self.schema = dict(schema)
        self.scaler = scaler
        self.state: dict[str, Any] | None = None

    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        columns = []
        for name, kind in self.schema.items():
            values = frame[name]
            if kind == "categorical":
                filled = values.fillna(MISSING).astype(str)
                counts = filled.value_counts(sort=False)
                order = sorted(counts.index, key=lambda c: (-counts[c], c))[:MAX_CATEGORIES]
                columns.append({"name": name, "kind": kind, "categories": order})
                continue
            numbers = values.to_numpy(dtype=float)
            present = numbers[~np.isnan(numbers)]
            fill = float(np.median(present)) if len(present) else 0.0
            imputed = np.where(np.isnan(numbers), fill, numbers)
            center, scale = _scale_params(imputed, self.scaler if kind == "numeric" else "none")
            columns.append(
                {
                    "name": name,
                    "kind": kind,
                    "fill": fill,
                    "indicator": bool(np.isnan(numbers).any()),
                    "center": center,
                    "scale": scale,
                }
            )
        self.state = {"scaler": self.scaler, "columns": columns}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if self.state is None:
            raise RuntimeError("Preprocessor.transform called before fit")
        blocks = []
        for col in self.state["columns"]:
            values = frame[col["name"]]
            if col["kind"] == "categorical":
                filled = values.fillna(MISSING).astype(str).to_numpy()
                blocks.append(
                    (filled[:, None] == np.asarray(col["categories"], dtype=object)[None, :]).astype(float)
                )
                continue
            numbers = values.to_numpy(dtype=float)
            missing = np.isnan(numbers)
            imputed = np.where(missing, col["fill"], numbers)
            blocks.append(((imputed - col["center"]) / col["scale"])[:, None])
            if col["indicator"]:
                blocks.append(missing.astype(float)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for col in (self.state or {}).get("columns", []):
            if col["kind"] == "categorical":
                names += [f"{col['name']}={c}" for c in col["categories"]]
            else:
                names.append(col["name"])
                if col["indicator"]:
                    names.append(f"{col['name']}__missing")
        return names

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "state": self.state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        pre = cls(data["schema"], data["state"]["scaler"])
        pre.state = data["state"]
        return pre
