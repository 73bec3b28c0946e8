"""Predict with an exported model (a model directory, a study directory, or a study id in a store)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.artifact import TabularModel, load_model
from automl.data.special_files import cannot_write, check_output
from automl.data.tabular import DEFAULT_MAX_FILE_BYTES, MAX_FEATURE_VALUE, coerce_features, read_frame
from automl.errors import ConfigError, DataError, ModelError


def resolve_model(where: str, storage: str = "studies") -> Any:
    """`where` is a model directory, a study directory (containing model/), or a study id in `storage`."""
    path = Path(where)
    if (path / "model.json").is_file():
        return load_model(path)
    if (path / "study.json").is_file():
        status = _study_status(path / "study.json")
        if status != "completed" or not (path / "model" / "model.json").is_file():
            # a study that failed or is still running may hold half an export: never serve it
            raise ModelError(
                f"Study directory {where} has no exported model yet (status: {status}); "
                "predict with a completed study."
            )
        return load_model(path / "model")
    if path.exists():
        raise ModelError(
            f"{where} is neither a model directory (with model.json) nor a study directory (with study.json)."
        )
    from automl.study import Study

    return Study.load(where, storage).best_model


def _study_status(manifest: Path) -> str:
    """The status in a study directory's study.json, or a ModelError naming the broken file."""
    try:
        info = json.loads(manifest.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(
            f"{manifest} cannot be read ({exc}). Restore it, or give the model/ folder."
        ) from None
    if not isinstance(info, dict):
        raise ModelError(f"{manifest} is not a JSON object. Restore it, or give the model/ folder.")
    return str(info.get("status"))


def write_predictions(predictions: pd.DataFrame, output: str) -> None:
    """The predictions as CSV at `output` (its folders created); a ConfigError naming the path if not."""
    check_output(output)
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(out, index=False)
    except OSError as exc:
        raise ConfigError(cannot_write(output, (exc.strerror or str(exc)).lower())) from None


def _check_scaled(model: Any, features: pd.DataFrame) -> None:
    """A DataError naming the first value that, scaled as the model was trained, is beyond what its
    32-bit inputs hold (a column that varied little in training scales a large value far up)."""
    for member in getattr(model, "members", [model]):  # an ensemble's members each scale their own
        pre = getattr(member, "preprocessor", None)
        if pre is None:
            continue
        with warnings.catch_warnings():  # the overflow is reported below, as one message
            warnings.simplefilter("ignore", RuntimeWarning)
            X = pre.transform(features)
        bad = np.argwhere(~np.isfinite(X))
        if len(bad):
            row, column = int(bad[0][0]), pre.feature_names[int(bad[0][1])].removesuffix("__missing")
            raise DataError(
                f"Column {column!r} holds {features[column].iloc[row]:g} in data row {row + 1}: scaled as in "
                f"training, that is beyond the about {MAX_FEATURE_VALUE:.1e} that the model's 32-bit numbers "
                "reach, so it would give no prediction. Check the value, or leave the row out."
            )


def _check_finite(predictions: pd.DataFrame) -> None:
    """A DataError naming the first row whose prediction is not a number, never a file of empty
    probabilities."""
    numbers = predictions.select_dtypes("number").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers).all(axis=1))
    if len(bad):
        raise DataError(
            f"The model gives no finite prediction for data row {int(bad[0]) + 1}: its values overflow the "
            "model's 32-bit numbers. Check that row's values, or leave it out."
        )


def predict_frame(model: TabularModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Predictions for every row of `frame`, and notes about the columns that were ignored."""
    schema = model.info["schema"]
    notes = []
    target = model.info.get("target")
    if target in frame.columns:
        notes.append(f"Ignored the target column {target!r}.")
    extra = [c for c in frame.columns if c not in schema and c != target]
    if extra:
        notes.append(
            f"Ignored {len(extra)} column(s) the model does not use: {', '.join(map(str, extra[:10]))}."
        )
    features = coerce_features(frame, schema)  # refuses inf and values beyond float32
    _check_scaled(model, features)
    with warnings.catch_warnings():  # an overflow inside the network is reported by _check_finite
        warnings.simplefilter("ignore", RuntimeWarning)
        predictions = model.predict_frame(features)
    _check_finite(predictions)
    return predictions, notes


def predict_file(
    model: TabularModel, data: str, output: str | None = None, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[pd.DataFrame, list[str]]:
    check_output(output)
    predictions, notes = predict_frame(model, read_frame(data, max_bytes=max_bytes))
    if output:
        write_predictions(predictions, output)
    return predictions, notes


def predict_images(model: Any, source: str, output: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Predictions for every image file under `source` (class subfolders are read too; their names are ignored)."""
    from automl.data.images import list_image_files, load_image_files

    root = Path(source)
    if not root.is_dir():
        raise ModelError(f"{source} is not a folder of images. Give a folder (subfolders are read too).")
    files = list_image_files(root)
    if not files:
        raise ModelError(f"{source} holds no image files (PNG, JPEG, WebP or BMP).")
    check_output(output)
    images, paths = load_image_files(files, size=model.image_size, root=root)
    predictions = model.predict_frame(images, paths)
    if output:
        write_predictions(predictions, output)
    return predictions, [f"Predicted {len(paths)} images."]
