"""Feature preprocessing fitted on the training part of a fold only, stored as JSON (no pickle).

Numeric and boolean columns: median imputation (plus a missing-indicator column where the
training part had gaps), then the searched scaler on the numeric ones. Categorical columns:
one-hot over the categories seen in the training part (the most frequent `MAX_CATEGORIES`);
unseen categories encode as all zeros. The work is scikit-learn's, applied to numpy blocks directly
(no ColumnTransformer: this runs once per fold of every trial): a SimpleImputer with its
MissingIndicator (`add_indicator`), a StandardScaler, MinMaxScaler or RobustScaler, and a OneHotEncoder
(`handle_unknown="ignore"`); `to_dict` stores their fitted attributes (automl/data/sklearn_json.py).

The matrix is the one this module gave before it used scikit-learn, with its column order (each
column's missing indicator right after it, categories by frequency then name), so models exported then
load and predict the same (their state, `"columns"` per feature, is read into the same transformers):

- the robust scaler keeps its fallback: a column whose quartiles are equal (more than half its values
  the same) is scaled by its standard deviation, not left unscaled as RobustScaler would;
- the categories kept are chosen here (the most frequent, ties by name), not with OneHotEncoder's
  `max_categories`, which would also sort them and add an "infrequent" column that the rest join.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

from automl.data.sklearn_json import fitted_state, restore
from automl.errors import invalid_parameter

SCALERS = ("standard", "minmax", "robust", "robust_clip", "none")
CLIP = 3.0  # robust_clip: x / sqrt(1 + (x / CLIP)^2), about x within +-CLIP, never beyond
MAX_CATEGORIES = 30
MISSING = "__missing__"
STATE_VERSION = 2  # 1 (no "version"): per-column statistics, before scikit-learn
_SCALER_CLASSES = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "robust": RobustScaler,
    "robust_clip": RobustScaler,  # then smoothly clipped (RealMLP's robust scaling, Holzmueller et al. 2024)
}
_TINY_SCALE = 1e-12  # a spread below this is no spread: the column is only centered


def _fast() -> Any:
    """scikit-learn without its checks of settings and finite inputs: the inputs are arrays that this
    module makes, with settings it sets (the checks cost a tenth of a millisecond per call, and this runs
    once per fold of every trial); infinite values pass through, as they did before scikit-learn."""
    return config_context(assume_finite=True, skip_parameter_validation=True)


class Preprocessor:
    """Turns a coerced feature frame into a float32 matrix; `fit` sees training rows only."""

    def __init__(self, schema: dict[str, str], scaler: str = "standard") -> None:
        if scaler not in SCALERS:
            raise invalid_parameter("scaler", "Preprocessor", f"one of {', '.join(SCALERS)}", scaler)
        self.schema = dict(schema)
        self.scaler = scaler
        self.numeric = [n for n, kind in self.schema.items() if kind == "numeric"]  # imputed, scaled
        self.boolean = [n for n, kind in self.schema.items() if kind == "boolean"]  # imputed only
        self.categorical = [n for n, kind in self.schema.items() if kind == "categorical"]
        self.imputer: SimpleImputer | None = None
        self.scaling: StandardScaler | MinMaxScaler | RobustScaler | None = None
        self.encoder: OneHotEncoder | None = None
        self.fitted = False
        self._order = np.arange(0)  # the blocks' columns, in the order of `feature_names`
        self._names: list[str] = []

    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        with _fast():
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> Preprocessor:
        values = self._values(frame)
        if values.shape[1]:
            self.imputer = _imputer().fit(values)
            if self.numeric and self.scaler != "none":
                numbers = values[:, : len(self.numeric)]  # imputed as the imputer will
                fill = self.imputer.statistics_[: len(self.numeric)]
                self.scaling = _fit_scaler(self.scaler, np.where(np.isnan(numbers), fill, numbers))
        if self.categorical:
            labels = self._labels(frame)
            self.encoder = _encoder([_top_categories(column) for column in labels.T]).fit(labels)
        self._arrange()
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError("Preprocessor.transform called before fit")
        with _fast():
            return self._transform(frame)

    def _transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        if self.imputer is not None:
            block = self.imputer.transform(self._values(frame))  # values, then missing indicators
            if self.scaling is not None:
                n = len(self.numeric)
                block[:, :n] = self.scaling.transform(block[:, :n])
                if self.scaler == "robust_clip":  # outliers of a few dozen rows cannot dominate
                    block[:, :n] /= np.sqrt(1.0 + (block[:, :n] / CLIP) ** 2)
            blocks.append(block)
        if self.encoder is not None:
            blocks.append(self.encoder.transform(self._labels(frame)))
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        matrix = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
        return matrix[:, self._order].astype(np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @property
    def feature_names(self) -> list[str]:
        return list(self._names)

    @property
    def state(self) -> dict[str, Any] | None:
        """What `fit` learned, as JSON-ready data (None before fit)."""
        if not self.fitted:
            return None
        return {
            "version": STATE_VERSION,
            "scaler": self.scaler,
            "imputer": fitted_state(self.imputer) if self.imputer is not None else None,
            "scaling": fitted_state(self.scaling) if self.scaling is not None else None,
            "encoder": fitted_state(self.encoder) if self.encoder is not None else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "state": self.state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """The fitted Preprocessor that `to_dict` wrote, or that automl wrote before scikit-learn."""
        state = data["state"]
        pre = cls(data["schema"], state["scaler"])
        if "version" not in state:
            state = _from_version_1(pre, state)
        elif state["version"] != STATE_VERSION:
            raise ValueError(f"preprocessing state version {state['version']!r} is newer than this automl's")
        n_values = len(pre.numeric) + len(pre.boolean)
        if state["imputer"] is not None:
            stand_in = np.zeros((1, n_values))
            stand_in[0, state["imputer"].get("indicator_.features_", [])] = np.nan
            pre.imputer = restore(_imputer(), state["imputer"], stand_in)
        if state["scaling"] is not None:
            stand_in = np.zeros((2, len(pre.numeric)))
            pre.scaling = restore(_SCALER_CLASSES[pre.scaler](), state["scaling"], stand_in)
        if state["encoder"] is not None:
            categories = [np.asarray(c, dtype=object) for c in state["encoder"]["categories_"]]
            stand_in = np.array([[c[0] for c in categories]], dtype=object)
            pre.encoder = restore(_encoder(categories), state["encoder"], stand_in)
        pre._arrange()
        return pre

    def _values(self, frame: pd.DataFrame) -> np.ndarray:
        """The numeric, then the boolean columns, as float64 (a copy: the imputer may fill it in place)."""
        return frame[self.numeric + self.boolean].to_numpy(dtype=np.float64, copy=True)

    def _labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The categorical columns as text, MISSING for a gap."""
        labels = frame[self.categorical].to_numpy(dtype=object, copy=True)
        labels[pd.isna(labels)] = MISSING
        if not all(type(label) is str for label in labels.flat):  # coerce_features gives text already
            labels = labels.astype(str).astype(object)
        return labels

    def _arrange(self) -> None:
        """The feature names, and `_order`: where each feature is in the blocks that `transform` stacks
        (values, missing indicators, one-hot columns). A column's missing indicator follows it."""
        values = self.numeric + self.boolean
        at = {name: [i] for i, name in enumerate(values)}
        gapped = [] if self.imputer is None else [values[i] for i in self.imputer.indicator_.features_]
        for j, name in enumerate(gapped):
            at[name].append(len(values) + j)
        categories = (
            {} if self.encoder is None else dict(zip(self.categorical, self.encoder.categories_, strict=True))
        )
        start = len(values) + len(gapped)
        for name in self.categorical:
            at[name] = list(range(start, start + len(categories[name])))
            start += len(categories[name])
        order, names = [], []
        for name, kind in self.schema.items():
            order += at[name]
            if kind == "categorical":
                names += [f"{name}={c}" for c in categories[name]]
            else:
                names += [name] + [f"{name}__missing"] * (len(at[name]) - 1)
        self._order = np.array(order, dtype=np.intp)
        self._names = names
        self.fitted = True


def _imputer() -> SimpleImputer:
    # keep_empty_features: a column with no value in the fit rows is filled with 0, not dropped
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def _encoder(categories: list[Any]) -> OneHotEncoder:
    return OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)


def _top_categories(labels: np.ndarray) -> list[str]:
    """The `MAX_CATEGORIES` most frequent labels, ties by name."""
    names, counts = np.unique(labels, return_counts=True)  # sorted by name
    return names[np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]].tolist()


def _fit_scaler(name: str, values: np.ndarray) -> StandardScaler | MinMaxScaler | RobustScaler:
    scaler = _SCALER_CLASSES[name]().fit(values)
    if name in (
        "robust",
        "robust_clip",
    ):  # equal quartiles: scale by the standard deviation (RobustScaler would use 1)
        q1, q3 = np.quantile(values, [0.25, 0.75], axis=0)
        flat = q3 - q1 <= 0
        if flat.any():
            spread = values[:, flat].std(axis=0)
            scaler.scale_[flat] = np.where(spread > _TINY_SCALE, spread, 1.0)
    return scaler


def _from_version_1(pre: Preprocessor, state: dict[str, Any]) -> dict[str, Any]:
    """A state that automl wrote before scikit-learn (per column: fill, indicator, center, scale or the
    categories) as the fitted attributes of the same transformers."""
    columns = {col["name"]: col for col in state["columns"]}
    values = [columns[n] for n in pre.numeric + pre.boolean]
    imputer = {
        "statistics_": [c["fill"] for c in values],
        "indicator_.features_": [i for i, c in enumerate(values) if c["indicator"]],
    }
    scaling = None
    if pre.numeric and pre.scaler != "none":
        center = np.array([columns[n]["center"] for n in pre.numeric])
        scale = np.array([columns[n]["scale"] for n in pre.numeric])
        scaling = {  # each scaler's own form of (x - center) / scale
            "standard": {"mean_": center, "var_": scale**2, "scale_": scale, "n_samples_seen_": 0},
            "minmax": {
                "min_": -center / scale,
                "scale_": 1.0 / scale,
                "data_min_": center,
                "data_max_": center + scale,
                "data_range_": scale,
                "n_samples_seen_": 0,
            },
            "robust": {"center_": center, "scale_": scale},
        }[pre.scaler]
    encoder = {"categories_": [columns[n]["categories"] for n in pre.categorical]}
    return {
        "imputer": imputer if values else None,
        "scaling": scaling,
        "encoder": encoder if pre.categorical else None,
    }
