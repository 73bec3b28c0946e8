"""One study, end to end: validate -> search -> re-evaluate the best candidates on fresh folds -> select and
estimate on their out-of-fold predictions -> export (automl/finish.py).

Below 2,000 rows nothing is held out (data/splits.py): every row trains the model and, out of
fold, tests it. With a held-out test set (large data or --test-size) the exported model is also
scored once on it.

`run_study` writes everything to the store as it goes; a study that crashes ends with status
"failed" and its error in the manifest, and nothing stored before is removed.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from automl.artifact import model_files_for, model_from_files
from automl.config import StudyConfig
from automl.errors import StoreError
from automl.finish import finish
from automl.modalities import detect, modality
from automl.prepared import Prepared
from automl.search.scheduler import asha_rungs
from automl.store import Store

TRIAL_SHARE, MIN_TRIAL_CAP_S = 0.1, 15.0  # no trial trains for more than a tenth of the budget (or 15 s)
# A synthesizer setting or a backbone's features: at most a third of the budget, and at least 30 s
# (a cold worker's imports alone can take 10 s on a busy machine).
SHARED_FIT_SHARE, MIN_SHARED_FIT_CAP_S = 1 / 3, 30.0


@dataclass
class Study:
    """A stored study: its manifest, leaderboard, test report and exported model."""

    study_id: str
    store: Store
    manifest: dict[str, Any]
    _model: Any = field(default=None, repr=False)  # the exported model: tabular, image or ensemble

    @classmethod
    def load(cls, study_id: str, storage: str = "studies") -> Study:
        store = Store(storage)
        return cls(study_id, store, store.read_manifest(study_id))

    @property
    def status(self) -> str:
        return self.manifest.get("status", "unknown")

    def leaderboard(self) -> pd.DataFrame:
        """One row per trial, best validation score first; `chosen` marks the selected trial."""
        if not self.store.exists(self.study_id, "report/trials.parquet"):
            raise StoreError(f"Study {self.study_id!r} has no leaderboard yet (status: {self.status}).")
        return self.store.read_table(self.study_id, "report/trials.parquet")

    def curves(self) -> pd.DataFrame:
        return self.store.read_table(self.study_id, "report/curves.parquet")

    @property
    def estimate(self) -> dict[str, Any]:
        """The number to read first: {metric, value, ci_low, ci_high, protocol, n_rows, ...}."""
        return self.manifest.get("estimate") or {}

    @property
    def test_report(self) -> dict[str, Any]:
        """The one-shot held-out test ({} when nothing was held out)."""
        return self.manifest.get("test_report") or {}

    @property
    def best_model(self) -> Any:
        """The exported model, as its modality loads it (`predict_frame`, `predict_output`)."""
        if self._model is None:
            if self.status != "completed":
                raise StoreError(f"Study {self.study_id!r} has no model (status: {self.status}).")
            where = f"model of study {self.study_id}"
            model_json = self.store.read_bytes(self.study_id, "model/model.json")
            files = {
                name: self.store.read_bytes(self.study_id, f"model/{name}")
                for name in model_files_for(model_json, where)
            }
            self._model = model_from_files(files, where)
        return self._model


def prepare(config: StudyConfig, log=print) -> Prepared:
    """Validate the config, then have the modality that claims the data load and validate it, hold out
    the test rows, and build what the trials receive."""
    config.validate()
    return detect(config.data, config.target).prepare(config, log)


def run_study(config: StudyConfig, log=print, started: float | None = None) -> Study:
    """Run one study and return it; raises AutoMLError for anything the user can fix.

    `config.budget_s` bounds the whole call (from `started`, a time.time(), when the caller began
    earlier, as the CLI does before its imports): the search ends in time for the finish."""
    deadline = (time.time() if started is None else started) + config.budget_s
    prep = prepare(config, log)
    store = Store(config.storage)
    study_id = config.name or store.new_study_id(Path(config.data).stem)
    if store.exists(study_id):
        raise StoreError(f"Study {study_id!r} already exists in {store.uri}. Choose another --name.")
    manifest: dict[str, Any] = {
        "study_id": study_id,
        "status": "running",
        "modality": prep.modality,
        "created_at": time.time(),
        "data": prep.summary(),
        "config": config.to_dict(),
        "metric": {"name": prep.metric.name, "greater_is_better": prep.metric.greater_is_better},
        "splits": prep.splits.to_dict(),
        "space": {
            "source": prep.space.source,
            "parameters": prep.space.resolved(prep.dataset.task, prep.sizes),
        },
        "selection": {"rule": config.select},
        "error": None,
    }
    store.write_manifest(study_id, manifest)
    log(f"study {study_id}: {prep.describe()}")
    modality(prep.modality).save_extras(store, study_id, prep)  # e.g. the image augmentation previews
    return _execute(config, prep, store, study_id, manifest, log, restore=False, deadline=deadline)


def resume_study(study_id: str, storage: str = "studies", log=print) -> Study:
    """Continue a study whose driver died: finished trials are kept, unfinished and errored ones resume."""
    store = Store(storage)
    manifest = store.read_manifest(study_id)
    if manifest.get("status") == "completed":
        raise StoreError(f"Study {study_id!r} is already completed; nothing to resume.")
    if not store.exists(study_id, "tune"):
        raise StoreError(f"Study {study_id!r} has no Ray Tune experiment to resume from; start a new study.")
    config = StudyConfig.from_dict(manifest["config"])
    prep = prepare(config, log)
    if prep.dataset.fingerprint != manifest["data"]["fingerprint"]:
        raise StoreError(
            f"The data file {config.data} changed since study {study_id!r} started (its fingerprint differs). "
            "Restore the original file, or start a new study."
        )
    if prep.splits.test.tolist() != manifest["splits"]["test_rows"]:
        raise StoreError(
            f"The held-out test rows of study {study_id!r} cannot be reproduced; start a new study."
        )
    manifest.update(status="running", error=None, resumed_at=time.time())
    store.write_manifest(study_id, manifest)
    log(f"resuming study {study_id}")
    return _execute(config, prep, store, study_id, manifest, log, restore=True)


def _execute(config, prep, store, study_id, manifest, log, *, restore: bool, deadline=None) -> Study:
    """Search, then re-evaluate, select, test and export; on any error the manifest says "failed"."""
    try:
        with _search_session(config, prep) as session:
            grid, search_seconds = _search(
                config, prep, store, study_id, log, restore=restore, deadline=deadline
            )
            model = finish(
                config,
                prep,
                store,
                study_id,
                manifest,
                grid,
                search_seconds,
                log,
                deadline=deadline,
                resources=session["resources"],
                slots=session["slots"],
            )
    except BaseException as exc:
        manifest.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-4000:],
            finished_at=time.time(),
            duration_s=time.time() - manifest["created_at"],
        )
        store.write_manifest(study_id, manifest)
        raise
    return Study(study_id, store, manifest, _model=model)


def trial_cap_s(budget_s: float) -> float:
    """The longest a trial may train: a slow configuration (a from-scratch network on a CPU) cannot
    eat the budget that many cheap ones need."""
    return max(MIN_TRIAL_CAP_S, TRIAL_SHARE * budget_s)


def warm_up_finish_imports() -> None:
    """Import what the finish will need while the driver only waits on Ray and the trials.

    The refit's optimizer (torch.optim) imports torch._dynamo on first use: 1.4 s of CPU that the
    finish would otherwise spend after the search, with nothing else to do. Here it overlaps Ray's
    start and the first trials, in a background thread (an import holds Python's per-module lock, so
    the refit simply waits for it if it comes first). Not a daemon: the process never exits mid-import."""
    threading.Thread(
        target=importlib.import_module, args=("torch._dynamo",), name="automl-warm-imports"
    ).start()


@contextlib.contextmanager
def _search_session(config, prep: Prepared):
    """Ray (local, or the cluster's), the study's data ready to ship and its shared pool, for the search and
    the re-evaluation after it; the pool is killed at the end (its shared rows and features with it, in a
    shared Ray too). Yields what one trial asks Ray for and how many run at once."""
    import ray

    from automl.search import tuner as tuning
    from automl.search.placement import check_placement
    from automl.synth.pool import HEAD_NODE_RESOURCE, SharedPool

    prep.data.extra.update(
        rungs=asha_rungs(config.max_epochs, config.grace_period),  # the trials halve themselves there
        trial_cap_s=trial_cap_s(config.budget_s),
    )
    warm_up_finish_imports()
    ready = (
        threading.Thread(target=prep.before_search, name="automl-before-search")
        if prep.before_search
        else None
    )
    if ready is not None:  # overlaps Ray's start, which mostly waits for its processes
        ready.start()
    # Started once per process and reused by the next study; its workers import what trials need.
    shutdown = tuning.ensure_ray(keep=True, preload=modality(prep.modality).trial_modules)
    check_placement(config.resources)  # no node can hold a trial: refused, not a search that waits
    try:
        if ready is not None:
            ready.join()
        data_ref = ray.put(prep.data)  # held here for the whole search: the pool borrows it
        # On the head node, so losing a worker node does not lose the pool (a driver can share a
        # host, and so an IP, with a worker's raylet: its own node is not necessarily the head).
        prep.data.shared_pool = SharedPool.options(resources={HEAD_NODE_RESOURCE: 0.001}).remote(
            [data_ref],
            prep.data.extra["max_synth_ratio"],
            max(MIN_SHARED_FIT_CAP_S, SHARED_FIT_SHARE * config.budget_s),
            config.resources.feature_gpus(ray.cluster_resources().get("GPU", 0)),
        )
        yield {"resources": tuning.trial_resources(config), "slots": tuning.concurrency(config)}
        del data_ref
    finally:
        if prep.data.shared_pool is not None:  # its shared rows and features die with it, in a shared Ray too
            ray.kill(prep.data.shared_pool)
            prep.data.shared_pool = None
        shutdown()


def _search(config, prep: Prepared, store: Store, study_id: str, log, *, restore: bool, deadline=None):
    """The Ray Tune search, inside `_search_session`: its ResultGrid and how long it took."""
    from automl.search import tuner as tuning

    stdout = sys.stdout  # Tune's banner is silenced below; a `log=print` must still reach the caller

    def progress_log(message: str) -> None:
        with contextlib.redirect_stdout(stdout):
            log(message)

    progress = tuning.ProgressLine(
        config.trials, config.budget_s, prep.metric.name, prep.metric.sign(), progress_log
    )
    if restore:
        tuner = tuning.restore_tuner(config, prep.data, store.tune_storage(study_id))
    else:
        tuner = tuning.build_tuner(
            config,
            prep.data,
            prep.space.to_tune(prep.dataset.task, prep.sizes),
            prep.space.start_points(prep.dataset.task, prep.sizes),
            store.tune_storage(study_id),
            callbacks=[progress],
            deadline=deadline,
            expensive=modality(prep.modality).expensive_choices(),
            low_cost=prep.space.low_cost(prep.dataset.task, prep.sizes),
        )
    started = time.time()
    with contextlib.redirect_stdout(io.StringIO()):  # Tune's own banner; progress goes to `log`
        grid = tuning.fit(tuner, config)
    search_seconds = time.time() - started
    log(f"search finished: {len(grid)} trials in {search_seconds:.0f}s")
    return grid, search_seconds
