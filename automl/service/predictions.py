"""Rows to predict -> the served model's modality's own prediction code -> the answer's lists.

The rows come as a table file's bytes (text/csv, or a Parquet or CSV file part), as JSON records (written
to a CSV file, so that they are read exactly as `automl predict` reads a CSV), or as files (images). They
are written to a private temporary folder and handed to `Modality.predict`, the code `automl predict`
runs, so a new kind of exported model that loads through `automl.artifact.model_from_files` predicts here
unchanged. Images are written under names that keep their order, so the answer follows the input order.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from automl.errors import DataError
from automl.service.uploads import sanitize_filename

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
PROBABILITY = "proba_"


@dataclass(frozen=True)
class Rows:
    """What a client sent to predict."""

    kind: Literal["table", "records", "files"]
    table: bytes = b""
    table_name: str = "rows.csv"
    records: list[dict[str, Any]] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)


def records_from_json(value: Any) -> Rows:
    """JSON records ([{column: value, ...}, ...]) as Rows; a DataError says what else was sent."""
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        kind = (
            type(value).__name__ if not isinstance(value, list) else "list that is not of objects, or empty"
        )
        raise DataError(
            "The rows to predict must be a non-empty JSON list of records (objects of column: value), e.g. "
            f'[{{"bill_length_mm": 39.1, "island": "Torgersen"}}]. Got a {kind} instead.'
        )
    for record in value:
        for column, cell in record.items():
            if isinstance(cell, dict | list):
                raise DataError(
                    f"The rows to predict must hold single values; column {column!r} holds a "
                    f"{type(cell).__name__}. Send numbers, strings, booleans or null."
                )
    return Rows(kind="records", records=value)


def write_source(rows: Rows, folder: Path, takes_folder: bool) -> Path:
    """Write `rows` under `folder` as the modality reads new data: one table file, or a folder of files."""
    if rows.kind == "records":
        import pandas as pd

        path = folder / "rows.csv"
        pd.DataFrame.from_records(rows.records).to_csv(path, index=False)
        return path
    if rows.kind == "table":
        path = folder / _table_name(rows.table_name)
        path.write_bytes(rows.table)
        return path
    if not rows.files:
        raise DataError("No files to predict: send one or more multipart file parts.")
    if takes_folder:
        images = folder / "images"
        images.mkdir()
        for i, (name, data) in enumerate(rows.files):  # the number keeps the input order
            (images / f"{i:06d}-{sanitize_filename(name)}").write_bytes(data)
        return images
    if len(rows.files) != 1:
        raise DataError(
            f"This model takes one table per request; {len(rows.files)} files were sent. Send one CSV or "
            "Parquet file."
        )
    name, data = rows.files[0]
    path = folder / _table_name(name)
    path.write_bytes(data)
    return path


def _table_name(name: str) -> str:
    safe = sanitize_filename(name)
    return safe if Path(safe).suffix.lower() in TABLE_SUFFIXES else f"{Path(safe).stem}.csv"


def predict_rows(model: Any, rows: Rows, max_bytes: int) -> dict[str, Any]:
    """The model's predictions for `rows`, through its modality's `predict` (as `automl predict`)."""
    from automl.modalities import modality

    reader = modality(model.info.get("modality"))
    with tempfile.TemporaryDirectory(prefix="automl-predict-") as tmp:
        source = write_source(rows, Path(tmp), takes_folder=reader.new_data.endswith("/"))
        frame, notes = reader.predict(model, str(source), None, max_bytes)
    return answer(frame, [_without(note, tmp) for note in notes])


def _without(note: str, folder: str) -> str:
    return note.replace(f"{folder}/", "")


def answer(frame: Any, notes: list[str]) -> dict[str, Any]:
    """{"predictions", "probabilities", "notes"} from a prediction frame (`prediction`, `proba_<class>`)."""
    classes = [str(c)[len(PROBABILITY) :] for c in frame.columns if str(c).startswith(PROBABILITY)]
    probabilities = None
    if classes:
        values = frame[[f"{PROBABILITY}{c}" for c in classes]].to_numpy(dtype=float)
        probabilities = [dict(zip(classes, row.tolist(), strict=True)) for row in values]
    predictions = [
        v.item() if hasattr(v, "item") else v for v in frame["prediction"].tolist()
    ]  # numpy -> JSON
    return {"predictions": predictions, "probabilities": probabilities, "notes": notes}
