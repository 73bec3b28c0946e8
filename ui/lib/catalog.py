"""What is in the study store, including what is broken: the dashboard never shows a traceback for it.

Reads only through `automl.store.Store` and `automl.study.Study`, so it works the same for studies
run from the CLI, the Python API or a cluster, on a local directory or s3://.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from automl.errors import AutoMLError
from automl.store import Store
from automl.study import Study
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
    state: str  # one of STATES, or the manifest's own status when it is something else
    manifest: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # the error of a failed study, or why the entry cannot be read

    @property
    def readable(self) -> bool:
        return self.state not in ("unreadable", "incomplete")


def _entry(manifest: dict[str, Any]) -> StudyEntry:
    status = str(manifest.get("status") or "unknown")
    message = str(manifest.get("error") or "") if status in ("failed", "unreadable") else ""
    return StudyEntry(str(manifest.get("study_id")), status, manifest, message)


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
    entries = [_entry(m) for m in store.list_studies()]
    entries.sort(key=lambda e: e.manifest.get("created_at") or 0, reverse=True)
    entries += [
        StudyEntry(name, "incomplete", {}, INCOMPLETE_MESSAGE) for name in _folders_without_manifest(store)
    ]
    return entries


def load_entry(store: Store, study_id: str) -> StudyEntry:
    """One study's entry; a missing or unreadable manifest gives a state, not an exception."""
    if not store.exists(study_id):
        if study_id in _folders_without_manifest(store):
            return StudyEntry(study_id, "incomplete", {}, INCOMPLETE_MESSAGE)
        return StudyEntry(study_id, "unreadable", {}, f"There is no study {study_id!r} in {store.uri}.")
    try:
        manifest = Study(study_id, store, store.read_manifest(study_id)).manifest
    except AutoMLError as exc:
        return StudyEntry(study_id, "unreadable", {}, str(exc))
    if not isinstance(manifest, dict):
        return StudyEntry(study_id, "unreadable", {}, f"study.json of {study_id!r} is not a JSON object.")
    manifest.setdefault("study_id", study_id)
    return _entry(manifest)


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
    """One row of the Studies table."""
    m = entry.manifest
    data, metric = m.get("data") or {}, m.get("metric") or {}
    best = m.get("best") or {}
    created = m.get("created_at")
    now = time.time() if now is None else now
    if entry.state == "running" and fmt.is_number(created):
        took = f"{fmt.duration(now - created)} so far"
    else:
        took = fmt.duration(m.get("duration_s"))
    val = best.get("val_score")
    validation = f"{fmt.score(val)} ± {fmt.score(best.get('val_std'), 2)}" if fmt.is_number(val) else "-"
    apparent = (m.get("cv_estimate") or {}).get("apparent")
    if estimate.is_ensemble(m) and fmt.is_number(apparent):  # the members' own scores say little
        validation = f"{fmt.score(apparent)} (ensemble, out of fold)"
    if entry.state == "running":
        note = progress_text
    elif entry.state == "completed":
        members = estimate.members(m)
        note = (
            f"ensemble of {len(members)} trials: {estimate.members_text(m)}"
            if len(members) > 1
            else f"chosen {best.get('trial', '?')}"
        )
        note += "".join(f"; note: {n}" for n in estimate.notes(m))
    else:
        note = entry.message
    return {
        "study": entry.study_id,
        "status": entry.state,
        "progress": None,
        **estimate.catalog_cells(m),
        "best validation": validation,
        "metric": metric.get("name", "-"),
        "rows/images": data.get("n_images", data.get("n_rows")),
        "started": fmt.timestamp(created),
        "duration": took,
        "modality": m.get("modality", "-"),
        "task": data.get("task", "-"),
        "note": note,
    }
