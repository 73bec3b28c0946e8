"""`automl serve`: the HTTP service (FastAPI on uvicorn) over a study store.

Every option is checked before anything is started: the token file's permissions, the bind rule (no
address beyond loopback without a token), the numbers, and a writable store. FastAPI, uvicorn and Ray are
imported only once the checks have passed, so the `automl` command stays quick to start.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from automl.config import parse_duration
from automl.errors import ConfigError, invalid_parameter
from automl.service.auth import check_bind, read_token_file
from automl.service.settings import (
    DEFAULT_IDLE_S,
    DEFAULT_MAX_REPLICAS,
    DEFAULT_MAX_UPLOAD_MB,
    ServiceSettings,
)

OWNER = "automl serve"


def add_serve_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `automl serve` to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "serve", help="an HTTP API to submit datasets, follow studies and predict (docs/service.md)"
    )
    parser.add_argument(
        "--storage",
        default=os.environ.get("AUTOML_STORAGE", "studies"),
        help="study store: a directory or s3:// URI (default ./studies); the queue and uploads live there too",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--token-file",
        help="file (mode 600) holding the bearer token every route but /v1/health requires; needed beyond loopback",
    )
    parser.add_argument(
        "--address",
        help="Ray cluster to run studies and models on (e.g. auto on the head node; default: a local Ray)",
    )
    parser.add_argument(
        "--max-running", type=int, default=1, help="studies at once; the rest wait (default 1)"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest upload or prediction request (default {DEFAULT_MAX_UPLOAD_MB:g}, as the CLI's --max-file-mb)",
    )
    parser.add_argument(
        "--idle",
        default=f"{DEFAULT_IDLE_S:g}s",
        help="a served model with no request for this long scales to zero replicas (default 5m)",
    )
    parser.add_argument(
        "--max-replicas", type=int, default=DEFAULT_MAX_REPLICAS, help="replicas of one served model at most"
    )
    parser.set_defaults(func=cmd_serve)
    return parser


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """The service's settings, every option checked (a ConfigError names the first bad one)."""
    token = read_token_file(args.token_file) if args.token_file else None
    check_bind(args.host, token)
    if not 0 < args.port < 65536:
        raise invalid_parameter("port", OWNER, "1 to 65535", args.port)
    if args.max_running < 1:
        raise invalid_parameter("max_running", OWNER, "a positive integer", args.max_running)
    if not args.max_upload_mb > 0:
        raise invalid_parameter("max_upload_mb", OWNER, "a positive number", args.max_upload_mb)
    if args.max_replicas < 1:
        raise invalid_parameter("max_replicas", OWNER, "a positive integer", args.max_replicas)
    return ServiceSettings(
        storage=args.storage,
        host=args.host,
        port=args.port,
        token=token,
        ray_address=args.address,
        max_running=args.max_running,
        max_upload_mb=args.max_upload_mb,
        idle_s=_duration("idle", args.idle),
        max_replicas=args.max_replicas,
    )


def _duration(name: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ConfigError:  # its message names --budget
        raise invalid_parameter(name, OWNER, "a duration such as 90s, 5m or 1h", text) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """The `automl serve` subcommand: checks, then uvicorn until stopped."""
    settings = settings_from_args(args)
    from automl.store import Store

    Store(settings.storage).check_writable()
    import uvicorn

    from automl.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(
        f"automl serve on http://{settings.host}:{settings.port} for {settings.storage} "
        f"({'token required' if settings.token else 'no token: loopback only'}; API at /docs)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0
