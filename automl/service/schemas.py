"""The bodies the API answers with, as pydantic models (they are also its OpenAPI schema at /docs).

The estimate and the baselines are the manifest's own types (automl/manifest.py), so a field added there
reaches clients unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from automl.manifest import Baseline, Estimate

Status = Literal["queued", "running", "completed", "failed", "cancelled"]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ErrorBody(BaseModel):
    """Every refusal: the message (the CLI's text where the CLI has one) and the kind of error."""

    detail: str
    error: str = Field(description="the error's kind, e.g. DataError, ConfigError, UploadTooLarge")


class Progress(BaseModel):
    trials_done: int = Field(description="trials finished (completed, stopped early or failed)")
    trials_planned: int
    elapsed_s: float | None = Field(None, description="since its runner started it (this attempt)")
    remaining_budget_s: float | None = Field(None, description="what is left of --budget while it runs")
    queue_position: int | None = Field(None, description="1: the next to start (queued studies)")


class Chosen(BaseModel):
    """The chosen configuration and why the selection rule chose it."""

    trial: str | None = None
    rule: str | None = None
    reason: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class StudyView(BaseModel):
    study_id: str
    status: Status
    modality: str | None = None
    metric: str | None = None
    source: str | None = Field(None, description="who submitted it: api, dashboard; None: the CLI or a job")
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    progress: Progress
    estimate: Estimate | None = Field(
        None, description="the score to expect on new data, with its 95% interval"
    )
    baselines: list[Baseline] = Field(default_factory=list)
    chosen: Chosen | None = None
    notes: list[str] = Field(default_factory=list)
    error: str | None = None
    serving: dict[str, int] | None = Field(
        None, description="the served model's replicas by state ({} once scaled to zero); None: not deployed"
    )


class StudyCreated(BaseModel):
    study_id: str
    status: Literal["queued"] = "queued"
    notes: list[str] = Field(default_factory=list, description="what the data checks noted")


class StudyList(BaseModel):
    studies: list[StudyView]


class Leaderboard(BaseModel):
    study_id: str
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="one per trial, best validation score first")


class Predictions(BaseModel):
    study_id: str
    predictions: list[Any] = Field(description="one per input row or image, in input order")
    probabilities: list[dict[str, float]] | None = Field(
        None, description="classification: per row, each class's probability; None for regression"
    )
    notes: list[str] = Field(default_factory=list)
