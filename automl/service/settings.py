"""The settings of one `automl serve`: a small typed dataclass, built by command.py from its options.

The token is kept out of the dataclass's repr (and so out of any log line or traceback that prints the
settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

MB = 1024 * 1024
DEFAULT_MAX_UPLOAD_MB = 200.0  # the CLI's --max-file-mb default, for `automl run` and `automl predict`
DEFAULT_IDLE_S = 300.0  # a served model's replicas are stopped after this long without a request
DEFAULT_MAX_REPLICAS = 2


@dataclass(frozen=True)
class ServiceSettings:
    """What one service serves, where, and within which limits."""

    storage: str  # the study store: a directory or an s3:// URI (queue and uploads live in it too)
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)  # the bearer token; None only on loopback
    ray_address: str | None = None  # None: a local Ray of the service's own; else the cluster to join
    jobs_address: str | None = None  # a Ray Jobs API: studies run there as jobs (else local processes)
    max_running: int = 1  # studies at once; the others wait in the queue
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB  # the largest upload or prediction request body
    idle_s: float = DEFAULT_IDLE_S  # a served model idle this long scales to zero replicas
    max_replicas: int = DEFAULT_MAX_REPLICAS  # replicas of one served model at most
    poll_s: float = 1.0  # how often the dispatcher looks at the queue

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)
