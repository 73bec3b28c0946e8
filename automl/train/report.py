"""The trial report: what a trial tells Tune every few seconds and at its end.

One typed contract between the trainable (`train/trainable.py` `run_trial`) and its readers: the searcher
reads `objective`, the successive halving `rung_objectives` (search/scheduler.py), the leaderboard
reads the fields its columns name (`search/results.py` `COLUMNS`, checked against this model by
tests/unit/train/test_report.py), and the dashboard reads the leaderboard. A report that breaks it
fails inside the trial, where the bug is, not later in a reader. Numbers a modality adds per fold
(`extra`: an image probe's `feature_seconds`, the VAE's `synth_recon_loss`, the exported network's
`model_params`) pass as extra float fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# In a trial's configuration: the successive-halving cutoff at each rung, {str(epoch): objective} (set
# at its proposal, search/scheduler.py; the trainable takes it out before training).
RUNG_CUTOFFS = "rung_cutoffs"
# In its reports: its objective at each rung reached so far, in rung order (the next proposals' cutoffs).
RUNG_OBJECTIVES = "rung_objectives"


class TrialReport(BaseModel):
    """Fold-averaged figures of the best epoch so far of each fold (the gap is train - validation in the
    metric's orientation, so positive means overfitting), and how the trial ran."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    epoch: int = Field(ge=1, description="epochs trained so far")
    curve_train: float = Field(description="this epoch's train score, averaged over the folds")
    curve_val: float = Field(description="this epoch's validation score, averaged over the folds")
    train_score: float = Field(description="train score at each fold's best epoch, averaged")
    val_score: float = Field(description="validation score at each fold's best epoch, averaged")
    gap: float = Field(description="train minus validation, larger = more overfitting")
    val_score_std: float = Field(ge=0, description="spread of val_score over the folds")
    gap_std: float = Field(ge=0, description="spread of the gap over the folds")
    objective: float = Field(
        description="the out-of-fold signal with larger = better (minus the log loss for classification, "
        "the study's metric for regression): what the search maximizes"
    )
    objective_std: float = Field(ge=0, description="spread of the objective over the folds")
    oof_score: float = Field(description="the study's metric of the same out-of-fold predictions")
    best_epoch_mean: float = Field(ge=0, description="mean best epoch over the folds (the refit's length)")
    folds_active: int = Field(ge=0, description="folds still training")
    n_folds: int = Field(ge=1, description="folds x repeats")
    n_params: int = Field(ge=0, description="parameters trained on this data")
    n_synthetic_mean: float = Field(ge=0, description="synthetic training rows per fold")
    synth_seconds: float = Field(ge=0, description="seconds of synthesizer fits or shared-pool fetches")
    setup_seconds: float = Field(ge=0, description="seconds before the first epoch")
    done_early: bool = Field(description="every fold stopped early")
    time_capped: bool = Field(description="ended at the per-trial time cap")
    max_epochs: int = Field(ge=1, description="the study's epoch limit")
    rung_objectives: list[float] = Field(description="the objective at each successive-halving rung reached")
    done: bool = Field(description="the trial's last report (Tune then stops it without asking again)")

    @classmethod
    def checked(cls, metrics: dict[str, Any]) -> dict[str, Any]:
        """`metrics` as a plain dict once they follow the contract (a ValidationError names the field)."""
        return cls.model_validate(metrics).model_dump()
