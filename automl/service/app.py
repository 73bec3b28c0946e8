"""The FastAPI application of `automl serve`: the routes, and the dispatcher that runs the queue.

OpenAPI: /openapi.json, and the interactive page at /docs. Every route under /v1 but /v1/health needs the
bearer token (guards.py). The routes that read the store or check an upload are plain functions, which
FastAPI runs in its thread pool; predictions are awaited from the model's Ray Serve deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response

import automl
from automl.errors import DataError
from automl.names import check_study_id
from automl.service import views
from automl.service.dispatcher import Dispatcher
from automl.service.guards import BodyLimit, install_error_handlers, token_guard
from automl.service.launch import Launcher
from automl.service.options import parse_options, study_config_from_options
from automl.service.predictions import Rows, records_from_json
from automl.service.schemas import (
    ErrorBody,
    Health,
    Leaderboard,
    Predictions,
    StudyCreated,
    StudyList,
    StudyView,
)
from automl.service.serving import ModelPool
from automl.service.settings import ServiceSettings
from automl.service.submission import submit_study
from automl.store import Store

logger = logging.getLogger("automl.service")
OVERHEAD = 1024 * 1024  # a request's multipart framing, options and search space, beside its file
MAX_FILES = 100_000  # images per prediction request: bounded by the body's size, as for the CLI
TABLE_TYPES = {"text/csv": "rows.csv", "application/csv": "rows.csv", "text/plain": "rows.csv",
               "application/vnd.apache.parquet": "rows.parquet", "application/x-parquet": "rows.parquet"}  # fmt: skip
REFUSALS = {code: {"model": ErrorBody} for code in (400, 401, 404, 409, 413, 422, 503)}
DESCRIPTION = (
    "Submit a dataset, follow its study, and use the best model. Every route but /v1/health needs "
    "'Authorization: Bearer <token>'. See docs/service.md."
)


def create_app(settings: ServiceSettings) -> FastAPI:
    store = Store(settings.storage)
    launcher = Launcher(
        store, settings.storage, ray_address=settings.ray_address, jobs_address=settings.jobs_address
    )
    dispatcher = Dispatcher(store, launcher, settings.max_running)
    pool = ModelPool(settings)
    completed: set[str] = set()  # studies whose model this service has served

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        loop = threading.Thread(target=_dispatch, args=(dispatcher, settings.poll_s, stop), daemon=True,
                                name="automl-dispatcher")  # fmt: skip
        loop.start()
        logger.info("serving %s (at most %d studies at once)", store.uri, settings.max_running)
        yield
        stop.set()
        loop.join(timeout=10)
        pool.close()

    app = FastAPI(title="automl", version=automl.__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.dispatcher, app.state.pool = dispatcher, pool
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + OVERHEAD)
    install_error_handlers(app)

    @app.get("/v1/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness (no token needed)."""
        return Health(version=automl.__version__)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(token_guard(settings.token))], responses=REFUSALS)

    @v1.post("/studies", status_code=201, response_model=StudyCreated, tags=["studies"])
    def create_study(
        file: Annotated[UploadFile, File(description="a CSV or Parquet table, or a .zip of an image folder")],
        options: Annotated[
            str | None, Form(description="a JSON object of automl run's study settings")
        ] = None,
        space: Annotated[UploadFile | None, File(description="a search space (YAML), optional")] = None,
    ) -> StudyCreated:
        """Queue a study on the uploaded data, checked as `automl run` checks it."""
        config = study_config_from_options(parse_options(options), store.uri)
        entry = submit_study(
            store,
            config,
            file.filename or "data",
            file.file,
            max_bytes=settings.max_upload_bytes,
            space=space.file if space is not None else None,
            source="api",
            hide_paths=True,
        )
        logger.info("study %s: queued", entry.study_id)
        return StudyCreated(study_id=entry.study_id, notes=entry.notes)

    @v1.get("/studies", response_model=StudyList, tags=["studies"])
    def list_studies() -> StudyList:
        """Every study in the store and in the queue, oldest first."""
        return StudyList(studies=views.list_views(store))

    @v1.get("/studies/{study_id}", response_model=StudyView, tags=["studies"])
    def get_study(study_id: str) -> StudyView:
        """Status, progress, the estimate with its interval and baselines, the chosen configuration and why."""
        view = views.study_view(store, _checked(study_id))
        view.serving = pool.replicas(study_id) if view.status == "completed" else None
        return view

    @v1.get("/studies/{study_id}/leaderboard", response_model=Leaderboard, tags=["studies"])
    def get_leaderboard(study_id: str) -> Leaderboard:
        """The trials as rows, best validation score first."""
        return views.leaderboard(store, _checked(study_id))

    @v1.get("/studies/{study_id}/model", tags=["models"],
            responses={200: {"content": {"application/zip": {}}, "description": "model/ as a zip"}})  # fmt: skip
    def get_model(study_id: str) -> Response:
        """The exported model folder as a zip (safetensors + JSON)."""
        data = views.model_zip(store, _checked(study_id))
        headers = {"Content-Disposition": f'attachment; filename="{study_id}-model.zip"'}
        return Response(data, media_type="application/zip", headers=headers)

    @v1.post("/studies/{study_id}/predict", response_model=Predictions, tags=["models"])
    async def predict(study_id: str, request: Request) -> Predictions:
        """Predictions for rows (text/csv, or a JSON list of records) or files (multipart: images, or one
        table file), in input order."""
        if _checked(study_id) not in completed:  # a completed study stays completed: checked once
            await asyncio.to_thread(views.completed_manifest, store, study_id)
            completed.add(study_id)
        rows = await read_rows(request)
        answer = await pool.predict(study_id, rows)
        return Predictions(study_id=study_id, **answer)

    @v1.delete("/studies/{study_id}", response_model=StudyView, tags=["studies"])
    def cancel_study(study_id: str) -> StudyView:
        """Cancel a queued or running study; the store keeps what it had written."""
        dispatcher.cancel(_checked(study_id), f"Cancelled through DELETE /v1/studies/{study_id}.")
        logger.info("study %s: cancelled", study_id)
        return views.study_view(store, study_id)

    app.include_router(v1)
    return app


def _checked(study_id: str) -> str:
    return check_study_id(study_id, "study_id", "/v1/studies/{study_id}")


async def read_rows(request: Request) -> Rows:
    """The rows of a prediction request, by its Content-Type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            value = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            raise DataError(f"The body is not valid JSON ({exc}). Send a list of records.") from None
        return records_from_json(value)
    if content_type == "multipart/form-data":
        form = await request.form(max_files=MAX_FILES)
        files = [(v.filename or "file", await v.read()) for _, v in form.multi_items() if hasattr(v, "read")]
        return Rows(kind="files", files=files)
    if content_type in TABLE_TYPES:
        return Rows(kind="table", table=await request.body(), table_name=TABLE_TYPES[content_type])
    raise DataError(
        f"Cannot read rows sent as {content_type or 'no Content-Type'!r}. Send text/csv, application/json "
        "(a list of records) or multipart/form-data (images, or one CSV or Parquet file)."
    )


def _dispatch(dispatcher: Dispatcher, poll_s: float, stop: threading.Event) -> None:
    """The dispatcher's loop: a failing tick (a store that cannot be read for a moment) is logged, not fatal."""
    while not stop.is_set():
        try:
            dispatcher.tick()
        except Exception:
            logger.exception("the queue could not be dispatched; trying again")
        stop.wait(poll_s)
