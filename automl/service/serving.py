"""A Ray Serve deployment per served model: loaded on first use, scaled to zero replicas when idle.

`ModelServer` is one replica: it loads the study's exported model from the store through the generic
loader (`automl.study.Study.best_model`: `automl.artifact.model_files_for` + `model_from_files`, so any kind
of exported model a study writes) and predicts through the model's modality (`predictions.predict_rows`).
Each study is one Serve application, `automl-model-<study_id>`, deployed the first time it is asked for a
prediction, then autoscaled between 0 and --max-replicas replicas on the requests in flight; after
--idle without requests it has none, and the next request starts one again (it loads the model again).

`ModelPool` is the service's side: it starts Ray (a local Ray of its own, or the cluster of --address) and
Serve (no HTTP proxy: the service calls the replicas through deployment handles) on first use, deploys an
application once, and keeps its handle. A replica answers refusals as data (the error's kind and
message), so the client gets the message the CLI would print, never a remote traceback.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import automl
from automl import errors
from automl.errors import AutoMLError, DataError, ModelError
from automl.service.predictions import Rows, predict_rows
from automl.service.settings import ServiceSettings

APP_PREFIX = "automl-model-"
REPLICA_CPUS = 0.25  # a prediction is small; several served models share a CPU's worth of reservation
UPSCALE_DELAY_S = 0.0
LOOK_BACK_S = 30.0  # Serve's default window of request counts behind a scaling decision


class ModelServer:
    """One replica of one study's model."""

    def __init__(self, storage: str, study_id: str, max_bytes: int) -> None:
        from automl.study import Study  # torch: in the replica only

        self.study_id, self.max_bytes = study_id, max_bytes
        self.model = Study.load(study_id, storage).best_model

    def predict(self, rows: Rows) -> dict[str, Any]:
        try:
            return {"ok": predict_rows(self.model, rows, self.max_bytes)}
        except AutoMLError as exc:
            return {"error": type(exc).__name__, "detail": str(exc)}


def app_name(study_id: str) -> str:
    return f"{APP_PREFIX}{study_id}"


class ModelPool:
    """The service's handles on its served models."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._handles: dict[str, Any] = {}
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._start_lock = threading.Lock()
        self._started = False

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            import ray
            from ray import serve

            if not ray.is_initialized():
                ray.init(
                    address=self.settings.ray_address or "local",
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                )
            serve.start(proxy_location="Disabled", logging_config={"log_level": "WARNING"})
            self._started = True

    def _deployment(self, study_id: str) -> Any:
        from ray import serve

        options: dict[str, Any] = {"num_cpus": REPLICA_CPUS}
        if self.settings.ray_address:  # the cluster's nodes run this checkout's automl, as jobs do
            options["runtime_env"] = {"py_modules": [str(Path(automl.__file__).parent)]}
        deployment = serve.deployment(
            ModelServer,
            name="model",
            ray_actor_options=options,
            autoscaling_config={
                "min_replicas": 0,
                "initial_replicas": 1,
                "max_replicas": self.settings.max_replicas,
                "target_ongoing_requests": 2,
                "upscale_delay_s": UPSCALE_DELAY_S,
                "downscale_delay_s": min(60.0, self.settings.idle_s),
                "downscale_to_zero_delay_s": self.settings.idle_s,
                "look_back_period_s": min(LOOK_BACK_S, self.settings.idle_s),  # a short --idle acts soon
            },
        )
        return deployment.bind(self.settings.storage, study_id, self.settings.max_upload_bytes)

    def handle(self, study_id: str) -> Any:
        """The study's deployment handle, deploying its application the first time (blocking)."""
        with self._locks[study_id]:
            if study_id in self._handles:
                return self._handles[study_id]
            self._start()
            from ray import serve

            name = app_name(study_id)
            status = serve.status().applications.get(name)
            if status is None or str(getattr(status.status, "value", status.status)) != "RUNNING":
                try:
                    serve.run(self._deployment(study_id), name=name, route_prefix=None)
                except Exception as exc:  # the replica could not load the model: say why, plainly
                    serve.delete(name, _blocking=False)
                    reason = (
                        str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else type(exc).__name__
                    )
                    raise ModelError(
                        f"The model of study {study_id!r} could not be served: {reason}"
                    ) from None
            self._handles[study_id] = serve.get_app_handle(name)
            return self._handles[study_id]

    async def predict(self, study_id: str, rows: Rows) -> dict[str, Any]:
        handle = await asyncio.to_thread(self.handle, study_id)
        try:
            result = await handle.predict.remote(rows)
        except Exception:  # the application is gone (deleted, Ray restarted): deployed again next time
            self._handles.pop(study_id, None)
            raise
        if "error" in result:
            kind = getattr(errors, result["error"], DataError)
            raise (kind if isinstance(kind, type) and issubclass(kind, AutoMLError) else DataError)(
                result["detail"]
            )
        return result["ok"]

    def replicas(self, study_id: str) -> dict[str, int] | None:
        """The replicas of the study's model by state ({} when scaled to zero; None when not deployed)."""
        if study_id not in self._handles:
            return None
        from ray import serve

        status = serve.status().applications.get(app_name(study_id))
        if status is None:
            return None
        states = next(iter(status.deployments.values())).replica_states
        return {str(state): int(n) for state, n in states.items() if n}

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()  # a local Ray takes its Serve applications with it; a cluster keeps them
