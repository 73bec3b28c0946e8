"""The study manifest (`<storage>/<study_id>/study.json`) as a typed contract.

A study writes its manifest when it starts (status "running") and again when it ends ("completed" or
"failed"); everything else (the CLI's summary, the dashboard, `predict`, resume) reads it. This module is
the one description of its shape: `Manifest.parse` validates what is read, upgrading older schema
versions, and `dump` gives what is written. Unknown keys are kept (a newer writer's additions survive a
read-modify-write by an older reader).

Schema versions: 1 (no `schema_version` key: every study before the field existed) and 2 (the current
one: the same fields, with the version recorded). Reading a version newer than this code knows is refused
with a message that says to upgrade.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from automl.errors import StoreError
from automl.modalities import MODALITIES, modality

SCHEMA_VERSION = 2

Status = Literal["running", "completed", "failed"]


class _Part(BaseModel):
    """A section of the manifest: typed where it is read, open to keys added later."""

    model_config = ConfigDict(extra="allow")


class MetricInfo(_Part):
    name: str
    greater_is_better: bool


class Splits(_Part):
    n_search: int = 0
    n_test: int = 0
    n_folds: int | None = None
    n_repeats: int = 1
    protocol: str | None = None
    test_rows: list[int] = Field(default_factory=list)


class Estimate(_Part):
    """A score with its 95% interval: the headline estimate, the out-of-fold one, a baseline's."""

    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    metric: str | None = None
    level: float | None = None
    protocol: str | None = None
    n_rows: int | None = None
    chance_level: float | None = None
    apparent: float | None = None  # out of fold: the chosen model's own score, before the correction
    bias: float | None = None
    n_bootstrap: int | None = None  # out of fold: the resamples of the correction
    picked: dict[str, float] = Field(default_factory=dict)  # trial -> share of the resamples that chose it
    notes: list[str] = Field(default_factory=list)
    # out of fold: "fresh" where the candidates were re-run on folds the search never saw, "search" before
    folds: str | None = None


class ConfusionMatrix(_Part):
    labels: list[Any] | None = None
    rows_true_columns_predicted: list[list[int]] = Field(default_factory=list)


class TestReport(Estimate):
    """The one-shot held-out test (studies with `test_size`): classification adds the confusion matrix and
    per-class scores, regression the residuals' statistics."""

    n_test: int = 0
    all_metrics: dict[str, float | None] = Field(default_factory=dict)
    confusion_matrix: ConfusionMatrix | None = None
    per_class: list[dict[str, Any]] = Field(default_factory=list)
    residuals: dict[str, float | None] = Field(default_factory=dict)


class Baseline(Estimate):
    """A plain model beside the search (majority / mean, logistic / ridge), scored as the study is."""

    name: str
    description: str = ""
    test: Estimate | None = None  # on the held-out test, when there is one


class Comparison(_Part):
    """The paired comparison of the rule's choice with the simpler model on the same rows
    (evaluation/paired.py): `advantage` > 0 means the chosen one's out-of-fold loss is lower."""

    chosen: str
    simpler: str
    advantage: float | None = None
    std_error: float | None = None
    n_rows: int = 0
    loss: str = ""
    z: float = 1.0
    keeps_simpler: bool = False


class Selection(_Part):
    rule: str
    trial: str | None = None
    reason: str | None = None
    band_floor: float | None = None
    band_log_loss: float | None = None
    candidates: list[str] = Field(default_factory=list)
    members: dict[str, float] = Field(default_factory=dict)
    comparison: Comparison | None = None
    on: str | None = None  # "fresh folds" (the re-evaluation's) or "search folds" (studies before it)


class Candidate(_Part):
    """A configuration re-run on the fresh folds."""

    trial: str
    why: str = ""
    epochs: int | None = None
    simple: bool = False
    search_objective: float | None = None
    seconds: float | None = None


class Reevaluation(_Part):
    """The best candidates of the search re-run on fresh folds (automl/reevaluate.py): what the choice,
    the estimate and the exported bag come from."""

    n_folds: int = 0
    n_repeats: int = 0
    seconds: float = 0.0
    budget_share: float | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)


class Best(_Part):
    trial: str
    config: dict[str, Any]
    val_score: float | None = None
    val_std: float | None = None
    gap: float | None = None
    n_params: int | None = None
    refit: dict[str, Any] = Field(default_factory=dict)
    members: dict[str, float] = Field(default_factory=dict)


class ModelRef(_Part):
    uri: str
    # single (one network), bag (the chosen candidate's fresh fold networks, averaged), ensemble (of trials)
    kind: Literal["single", "bag", "ensemble"] = "single"


class Manifest(_Part):
    """Only `study_id` and `status` are required (a study that failed in its checks has little more);
    every other field is typed where present."""

    schema_version: int = 1
    study_id: str
    status: Status
    modality: str = "tabular"  # a registered modality's name
    created_at: float | None = None
    updated_at: float | None = None
    finished_at: float | None = None
    resumed_at: float | None = None
    duration_s: float | None = None
    search_seconds: float | None = None
    error: str | None = None
    traceback: str | None = None  # a failed study: the end of its traceback
    data: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    metric: MetricInfo | None = None
    splits: Splits = Field(default_factory=Splits)
    space: dict[str, Any] = Field(default_factory=dict)
    selection: Selection | None = None
    reevaluation: Reevaluation | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    best: Best | None = None
    trials: dict[str, int] = Field(default_factory=dict)
    estimate: Estimate | None = None
    cv_estimate: Estimate | None = None
    test_report: TestReport | None = None
    baselines: list[Baseline] = Field(default_factory=list)
    model: ModelRef | None = None

    @field_validator("modality")
    @classmethod
    def _registered(cls, name: str) -> str:
        """A modality this code knows (else every reader that asks it for its unit or predictions fails)."""
        known = MODALITIES.names()
        if name not in known:
            raise ValueError(
                f"{name!r} is not a modality this automl knows ({', '.join(known)}); upgrade automl to read it"
            )
        return name

    @classmethod
    def parse(cls, raw: Any, where: str = "study.json") -> Manifest:
        """The manifest in `raw` (a decoded study.json), upgraded to this schema; ManifestError says what
        is wrong with it, naming `where`."""
        if not isinstance(raw, dict):
            raise ManifestError(f"{where} is not a JSON object (it holds a {type(raw).__name__}).")
        version = raw.get("schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise ManifestError(f"{where} has schema_version {version!r}; expected a positive integer.")
        if version > SCHEMA_VERSION:
            raise ManifestError(
                f"{where} was written by a newer automl (manifest schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}). Upgrade automl to read it."
            )
        try:
            manifest = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise ManifestError(f"{where} does not hold a valid study manifest ({problems}).") from None
        manifest.schema_version = SCHEMA_VERSION  # version 1 has the same fields; it reads as is
        return manifest

    @classmethod
    def of(cls, manifest: Manifest | dict[str, Any]) -> Manifest:
        """`manifest` itself when it is typed, else parsed from the decoded study.json it is."""
        return manifest if isinstance(manifest, Manifest) else cls.parse(manifest)

    def dump(self) -> dict[str, Any]:
        """The JSON object to write: every key that was set or read, at the current schema version."""
        out = self.model_dump(mode="json", exclude_unset=True)
        out["schema_version"] = SCHEMA_VERSION
        return out

    @property
    def finished(self) -> bool:
        return self.status == "completed"

    @property
    def unit(self) -> str:
        """What one row of the study is called in messages."""
        return modality(self.modality).unit

    def headline(self) -> Estimate | None:
        """The estimate a study leads with, in `automl show` and on the dashboard alike: the out-of-fold
        one (bias-corrected for the choice), else `estimate`. A held-out test, when the study has one, is
        shown beside it (`test_report`), never in its place."""
        return self.cv_estimate or self.estimate


class ManifestError(StoreError):
    """A study.json that this code cannot read as a manifest."""
