"""What the routes answer about studies, read from the store only: the manifest (`study.json`), the
leaderboard (`report/trials.parquet`), the model folder (`model/`), Tune's experiment state (plain JSON,
for a running study's progress) and the queue. Nothing comes from an object in this process.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pyarrow.fs as pafs

from automl.errors import StoreError, StudyConflict, UnknownStudy
from automl.manifest import Manifest
from automl.names import check_study_id
from automl.service.queue import Queue, QueueEntry
from automl.service.schemas import Chosen, Leaderboard, Progress, StudyView
from automl.store import Store

_TRIAL_ENDED = {"TERMINATED", "ERROR"}


def study_view(store: Store, study_id: str, queue: list[QueueEntry] | None = None) -> StudyView:
    """The study as GET /v1/studies/{id} shows it; `queue`: every entry, when the caller has read them."""
    if queue is None:  # one study: its own entry, and the others only to tell its place in the queue
        entry = Queue(store).find(check_study_id(study_id, "study_id", "/v1/studies/{study_id}"))
        entries = Queue(store).entries(active=True) if entry is not None and entry.state == "queued" else []
    else:
        entries, entry = queue, next((e for e in queue if e.study_id == study_id), None)
    manifest = _manifest(store, study_id)
    if manifest is None and entry is None:
        raise UnknownStudy(
            f"Study {study_id!r} is not in this service's store. List the studies with GET /v1/studies."
        )
    waiting = [e.study_id for e in entries if e.state == "queued"]
    if entry is not None and (entry.state in ("queued", "cancelled") or manifest is None):
        status = entry.state
    else:
        status = manifest.status
    config = manifest.config if manifest is not None else entry.config
    view = StudyView(
        study_id=study_id,
        status=status,
        modality=manifest.modality if manifest is not None else None,
        metric=manifest.metric.name if manifest is not None and manifest.metric else config.get("metric"),
        source=entry.source if entry is not None else None,
        submitted_at=entry.submitted_at if entry is not None else (manifest.created_at if manifest else None),
        started_at=entry.started_at
        if entry is not None and entry.started_at
        else _get(manifest, "created_at"),
        finished_at=(entry.finished_at if entry is not None else None) or _get(manifest, "finished_at"),
        progress=_progress(store, study_id, status, manifest, entry, config, waiting),
        notes=list(entry.notes) if entry is not None else [],
        error=(entry.error if entry is not None and status in ("cancelled", "failed") else None)
        or (manifest.error if manifest is not None and status == "failed" else None),
    )
    if manifest is not None and status == "completed":
        view.estimate = manifest.headline()
        view.baselines = list(manifest.baselines)
        best, selection = manifest.best, manifest.selection
        view.chosen = Chosen(
            trial=best.trial if best else None,
            rule=selection.rule if selection else None,
            reason=selection.reason if selection else None,
            config=dict(best.config) if best else {},
        )
    return view


def list_views(store: Store) -> list[StudyView]:
    """Every study of the store and every queued one, oldest first."""
    entries = Queue(store).entries()
    ids = list(dict.fromkeys([*store.study_ids(), *(e.study_id for e in entries)]))
    views = []
    for study_id in ids:
        try:
            views.append(study_view(store, study_id, entries))
        except StoreError:  # a damaged manifest: GET /v1/studies/{id} says what is wrong with it
            continue
    return sorted(views, key=lambda v: v.submitted_at or 0)


def _manifest(store: Store, study_id: str) -> Manifest | None:
    check_study_id(study_id, "study_id", "/v1/studies/{study_id}")
    return store.manifest(study_id) if store.exists(study_id) else None


def _get(manifest: Manifest | None, name: str) -> Any:
    return getattr(manifest, name) if manifest is not None else None


def _progress(store, study_id, status, manifest, entry, config, waiting) -> Progress:
    planned = int(config.get("trials") or 0)
    budget = config.get("budget_s")
    progress = Progress(trials_done=0, trials_planned=planned)
    if status == "queued":
        progress.queue_position = waiting.index(study_id) + 1 if study_id in waiting else None
        return progress
    started = (entry.started_at if entry is not None else None) or _get(manifest, "created_at")
    ended = (entry.finished_at if entry is not None else None) or _get(manifest, "finished_at")
    if started is not None:
        progress.elapsed_s = max(0.0, (ended if status != "running" and ended else time.time()) - started)
    if status == "running" and budget and progress.elapsed_s is not None:
        progress.remaining_budget_s = max(0.0, float(budget) - progress.elapsed_s)
    if manifest is not None and manifest.trials:
        progress.trials_done = int(manifest.trials.get("total", 0))
    elif manifest is not None:
        progress.trials_done = _trials_ended(store, study_id)
    return progress


def _trials_ended(store: Store, study_id: str) -> int:
    """Trials Tune's newest saved experiment state (plain JSON) records as ended; 0 before it writes one."""
    folder = f"{store.root}/{study_id}/tune"
    try:
        infos = store.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        states = sorted(
            i.path for i in infos if i.base_name.startswith("experiment_state") and i.path.endswith(".json")
        )
        if not states:
            return 0
        with store.fs.open_input_stream(states[-1]) as handle:
            trials = json.loads(handle.read()).get("trial_data", [])
        return sum(json.loads(trial).get("status") in _TRIAL_ENDED for trial, _ in trials)
    except (OSError, ValueError, TypeError, AttributeError):  # being rewritten: try again next time
        return 0


def completed_manifest(store: Store, study_id: str) -> Manifest:
    """The manifest of a completed study; UnknownStudy or StudyConflict (with its status) otherwise."""
    manifest = _manifest(store, study_id)
    if manifest is None:
        queued = Queue(store).find(study_id)
        if queued is None:
            raise UnknownStudy(
                f"Study {study_id!r} is not in this service's store. List the studies with GET /v1/studies."
            )
        raise StudyConflict(
            f"Study {study_id!r} has no model yet (status: {queued.state}); wait until it is completed."
        )
    if manifest.status != "completed":
        raise StudyConflict(
            f"Study {study_id!r} has no model yet (status: {manifest.status}); predict with a completed study."
        )
    return manifest


def leaderboard(store: Store, study_id: str) -> Leaderboard:
    manifest = _manifest(store, study_id)
    if manifest is None or not store.exists(study_id, "report/trials.parquet"):
        status = manifest.status if manifest is not None else None
        if status is None and Queue(store).find(study_id) is None:
            raise UnknownStudy(
                f"Study {study_id!r} is not in this service's store. List the studies with GET /v1/studies."
            )
        raise StudyConflict(f"Study {study_id!r} has no leaderboard yet (status: {status or 'queued'}).")
    frame = store.read_table(study_id, "report/trials.parquet")
    rows = json.loads(frame.to_json(orient="records", double_precision=15))  # NaN -> null, numpy -> JSON
    return Leaderboard(study_id=study_id, columns=[str(c) for c in frame.columns], rows=rows)


def model_zip(store: Store, study_id: str) -> bytes:
    """The exported model folder as a zip (`model/...`: safetensors and JSON, as stored)."""
    completed_manifest(store, study_id)
    folder = f"{store.root}/{study_id}/model"
    infos = store.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=True))
    names = sorted(i.path[len(folder) + 1 :] for i in infos if i.type == pafs.FileType.File)
    if "model.json" not in names:
        raise StudyConflict(f"Study {study_id!r} is completed but its model/ folder has no model.json.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(f"model/{name}", store.read_bytes(study_id, f"model/{name}"))
    return buffer.getvalue()
