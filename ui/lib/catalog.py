"""What is in the study store, including what is broken: the dashboard never shows a traceback for it.

Reads only through `automl.store.Store`, so it works the same for studies run from the CLI, the Python
API or a cluster, on a local directory or s3://. A readable study's entry holds its typed manifest
(`automl.manifest.Manifest`, what the pages read); an unreadable one holds none, and says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from automl.errors import AutoMLError
from automl.manifest import Manifest
from automl.store import Store
from ui.lib import estimate
from ui.lib import formatting as fmt

STATES = ("running", "completed", "failed", "unreadable", "incomplete")
INCOMPLETE_MESSAGE = (
    "This folder has no study.json: the study was interrupted before its manifest was written, "
    "or the folder is not a study. Nothing can be shown for it."
)


@dataclass
class StudyEntry:
    """One folder of the store and what can be said about it."""

    study_id: str
    state: str  # one of STATES (a readable study's is its manifest's status)
    manifest: Manifest | None = None  # None when the entry is unreadable or incomplete
    message: str = ""  # the error of a failed study, or why the entry cannot be read

    @property
    def readable(self) -> bool:
        return self.state not in ("unreadable", "incomplete")


def _entry(manifest: Manifest) -> StudyEntry:
    message = (manifest.error or "") if manifest.status == "failed" else ""
    return StudyEntry(manifest.study_id, manifest.status, manifest, message)


def _read(store: Store, study_id: str) -> StudyEntry:
    """The entry of a study that has a study.json: its manifest, or 'unreadable' with the reason."""
    try:
        return _entry(store.manifest(study_id))
    except AutoMLError as exc:  # a damaged or foreign study.json (the store's message says which)
        return StudyEntry(study_id, "unreadable", None, str(exc))


def _folders_without_manifest(store: Store) -> list[str]:
    """Study-like folders (not `_uploads` or hidden ones) that hold no study.json."""
    try:
        infos = store.fs.get_file_info(pafs.FileSelector(store.root, allow_not_found=True))
    except OSError:
        return []
    names = [i.base_name for i in infos if i.type == pafs.FileType.Directory]
    return sorted(n for n in names if not n.startswith(("_", ".")) and not store.exists(n))


def list_entries(store: Store) -> list[StudyEntry]:
    """Every study of the store, newest first, then the folders that are not readable studies."""
    entries = [_read(store, study_id) for study_id in store.study_ids()]
    entries.sort(key=lambda e: (e.manifest.created_at if e.manifest else None) or 0, reverse=True)
    entries += [
        StudyEntry(name, "incomplete", None, INCOMPLETE_MESSAGE) for name in _folders_without_manifest(store)
    ]
    return entries


def load_entry(store: Store, study_id: str) -> StudyEntry:
    """One study's entry; a missing or unreadable manifest gives a state, not an exception."""
    if not store.exists(study_id):
        if study_id in _folders_without_manifest(store):
            return StudyEntry(study_id, "incomplete", None, INCOMPLETE_MESSAGE)
        return StudyEntry(study_id, "unreadable", None, f"There is no study {study_id!r} in {store.uri}.")
    return _read(store, study_id)


def leaderboard(store: Store, study_id: str) -> pd.DataFrame | None:
    """The stored leaderboard, or None when the study has none (yet)."""
    if not store.exists(study_id, "report/trials.parquet"):
        return None
    return store.read_table(study_id, "report/trials.parquet")


def curves(store: Store, study_id: str) -> pd.DataFrame | None:
    """Per-epoch curves of every trial, or None when the study has none."""
    if not store.exists(study_id, "report/curves.parquet"):
        return None
    return store.read_table(study_id, "report/curves.parquet")


def summary_row(entry: StudyEntry, progress_text: str = "", now: float | None = None) -> dict[str, Any]:
    """One row of the Studies table (dashes but the note for an entry without a manifest)."""
    m = entry.manifest
    row: dict[str, Any] = {
        "study": entry.study_id,
        "status": entry.state,
        "progress": None,
        "estimate": "-",
        "estimated by": "-",
        "best validation": "-",
        "metric": "-",
        "rows/images": None,
        "started": "-",
        "duration": "-",
        "modality": "-",
        "task": "-",
        "note": entry.message,
    }
    if m is None:
        return row
    now = time.time() if now is None else now
    if entry.state == "running" and fmt.is_number(m.created_at):
        row["duration"] = f"{fmt.duration(now - m.created_at)} so far"
    else:
        row["duration"] = fmt.duration(m.duration_s)
    best = m.best
    if best and fmt.is_number(best.val_score):
        row["best validation"] = f"{fmt.score(best.val_score)} ± {fmt.score(best.val_std, 2)}"
    apparent = m.cv_estimate.apparent if m.cv_estimate else None
    if estimate.is_ensemble(m) and fmt.is_number(apparent):  # the members' own scores say little
        row["best validation"] = f"{fmt.score(apparent)} (ensemble, out of fold)"
    if entry.state == "running":
        row["note"] = progress_text
    elif entry.state == "completed":
        members = estimate.members(m)
        row["note"] = (
            f"ensemble of {len(members)} trials: {estimate.members_text(m)}"
            if len(members) > 1
            else f"chosen {best.trial if best else '?'}"
        ) + "".join(f"; note: {n}" for n in estimate.notes(m))
    row.update(estimate.catalog_cells(m))
    row.update(
        metric=fmt.metric_name(m, "-"),
        started=fmt.timestamp(m.created_at),
        modality=m.modality,
        task=m.data.get("task", "-"),
    )
    row["rows/images"] = m.data.get("n_images", m.data.get("n_rows"))
    return row
