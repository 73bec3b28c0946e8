"""What stands between a request and the routes: the token, the body-size limit, and error bodies.

- The bearer token (auth.py) guards every route but /v1/health (and the API's own description at /docs and
  /openapi.json, which holds no study data). A missing or wrong token is answered 401, never echoed.
- A request body over the limit is answered 413: at once from its Content-Length, else as it streams.
- A refusal is a JSON body {"detail": the message, "error": its kind}, with the status of its kind:
  DataError 400 (the CLI's text), UploadTooLarge 413, ConfigError 422, UnknownStudy 404,
  StudyConflict 409, another StoreError 503; anything else is 500 with no traceback (the log has it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from automl.data.messages import size_text
from automl.errors import (
    AutoMLError,
    ConfigError,
    DataError,
    ModelError,
    StoreError,
    StudyConflict,
    UnknownStudy,
    UploadTooLarge,
)
from automl.service.auth import token_matches

logger = logging.getLogger("automl.service")
STATUS: list[tuple[type[AutoMLError], int]] = [  # the first that matches: subclasses before their bases
    (UploadTooLarge, 413),
    (UnknownStudy, 404),
    (StudyConflict, 409),
    (DataError, 400),
    (ModelError, 400),
    (ConfigError, 422),
    (StoreError, 503),
]
DRAIN_FACTOR = 4  # an oversized body up to this many times the limit is read (and dropped) so the client
# sees the 413; a larger one is answered and the connection closed


# module level: the routes' annotations are read in this module's namespace (postponed annotations)
BEARER = HTTPBearer(auto_error=False, description="the token in the service's --token-file")


class Unauthorized(AutoMLError):
    """No token, or not the service's."""


def _body(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message, "error": kind}, status_code=status, headers=headers)


def error_response(exc: AutoMLError) -> JSONResponse:
    if isinstance(exc, Unauthorized):
        return _body(401, str(exc), "Unauthorized", {"WWW-Authenticate": "Bearer"})
    status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
    return _body(status, str(exc), type(exc).__name__)


def install_error_handlers(app: FastAPI) -> None:
    async def automl_error(request: Request, exc: AutoMLError) -> JSONResponse:
        return error_response(exc)

    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _body(422, request_problem(request, exc.errors()), "ConfigError")

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _body(exc.status_code, str(exc.detail), "HTTPError", getattr(exc, "headers", None))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path)
        return _body(
            500, f"Internal error ({type(exc).__name__}); the service's log has the details.", "InternalError"
        )

    app.add_exception_handler(AutoMLError, automl_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def request_problem(request: Request, problems: list[dict]) -> str:
    """FastAPI's validation errors in one sentence, e.g. a missing multipart part."""
    first = problems[0] if problems else {}
    where, *rest = [str(p) for p in first.get("loc", ("request",))] or ["request"]
    name = ".".join(rest) or where
    if first.get("type") == "missing":
        if where == "body":
            return f"{request.method} {request.url.path} needs the multipart part {name!r}" + (
                " (a CSV or Parquet table, or a .zip of images)." if name == "file" else "."
            )
        return f"{request.method} {request.url.path} needs the {where} parameter {name!r}."
    return f"The {where} parameter {name!r} of {request.method} {request.url.path} is not valid: {first.get('msg')}."


def token_guard(token: str | None) -> Callable:
    """The dependency that checks the bearer token (nothing to check when the service has none)."""

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    ) -> None:
        if token is None:
            return
        if credentials is None or not token_matches(credentials.credentials, token):
            raise Unauthorized(
                "This route needs the service's token: send the header 'Authorization: Bearer <token>' with "
                "the token in the file given to automl serve --token-file."
            )

    return require_token


class BodyLimit:
    """ASGI middleware: refuse a request body over `max_bytes` with 413 (UploadTooLarge)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: int | None) -> UploadTooLarge:
        what = f"is {size_text(size)}," if size is not None else "is"
        return UploadTooLarge(
            f"The request body {what} over the limit of {size_text(self.max_bytes)}. Send a sample of the "
            "rows, or start the service with a larger --max-upload-mb."
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        declared = int(length) if length and length.isdigit() else None
        if declared is not None and declared > self.max_bytes:
            if declared <= DRAIN_FACTOR * self.max_bytes:
                while (message := await receive())["type"] == "http.request" and message.get("more_body"):
                    pass
            response = error_response(self._too_large(declared))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large(None)
            return message

        await self.app(scope, limited_receive, send)
