"""The selection rule: which trial's configuration becomes the model.

"Smallest generalization gap" alone is degenerate (a constant predictor has gap 0), so the default
rule first keeps the trials whose mean validation score is within one standard error of the best
(Breiman's one-standard-error rule), then takes the smallest train-validation gap, and breaks ties
with the simpler model (fewer parameters trained on this data). A negative gap (validation above
train) is fold noise, not better generalization, so gaps count from zero: max(gap, 0). Rules are
looked up by name; the chosen rule and its reason are written to the manifest.

The band's signal. On folds of a few rows accuracy saturates: several trials score 1.00 on every
fold, with spread 0, and the band cannot tell the good from the lucky. For classification the band
is therefore drawn on a proper scoring rule, the out-of-fold log loss per fold (`val_log_loss`,
`val_log_loss_std`: mean and spread over folds), which still separates a trial that is right with
confidence from one that is right by a hair. The user's metric is reported beside it. The gap stays
in the user's metric: trials report their train side only in it (`train_score`, the curves), so a
like-for-like train log loss does not exist. Regression trials have no log loss (NaN) and are
banded on the user's metric (RMSE, MAE, R2), as are trials summarized without out-of-fold
predictions. `one_se_min_gap_metric` is the same rule banded on the user's metric always (the
signal before issue 12), kept for comparison.

The band's width. Where the trials' out-of-fold predictions are at hand (an `Evidence`: the fresh
re-evaluation and every resample of the estimate), `one_se_min_gap` keeps the trials whose per-row loss
exceeds the best's by at most one paired standard error on the same rows; without them, one standard
error of the best's fold scores.

The `ensemble` rule reads the trials' out-of-fold predictions (an `Evidence`) and returns several
members with weights; a single-model rule's selection is one member with weight 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import ConfigError
from automl.evaluation.ensemble import MAX_CANDIDATES, greedy_ensemble
from automl.evaluation.row_losses import excess_over, per_row_errors, per_row_losses
from automl.registry import Registry

if TYPE_CHECKING:
    from automl.metrics import Metric


@dataclass
class TrialSummary:
    """A trial as the rule sees it; `objective` is the validation score with larger = better.

    `val_log_loss` / `val_log_loss_std`: mean and spread over folds of the out-of-fold log loss
    (classification with out-of-fold predictions; NaN otherwise)."""

    trial_id: str
    objective: float
    val_score: float
    val_std: float
    n_folds: int
    gap: float
    n_params: int
    status: str  # "completed" | "stopped_early" | "failed"
    config: dict[str, Any] = field(default_factory=dict)
    val_log_loss: float = float("nan")
    val_log_loss_std: float = float("nan")

    @property
    def std_error(self) -> float:
        return self.val_std / math.sqrt(max(self.n_folds, 1))

    @property
    def has_log_loss(self) -> bool:
        return math.isfinite(self.val_log_loss)

    @property
    def log_loss_std_error(self) -> float:
        spread = self.val_log_loss_std if math.isfinite(self.val_log_loss_std) else 0.0
        return spread / math.sqrt(max(self.n_folds, 1))


@dataclass
class Selection:
    trial_id: str  # the chosen trial (an ensemble's heaviest member)
    rule: str
    reason: str
    # Objective (the user's metric, larger = better) at the bottom of the band (None for rules without
    # one). A band drawn on the log loss has its floor at its lowest-scoring member's objective, so the
    # band as the dashboard shows it in the user's metric holds every member; `candidates` is the band.
    band_floor: float | None
    candidates: list[str]
    members: dict[str, float] | None = None  # trial -> weight; None: the one trial `trial_id`
    band_log_loss: float | None = None  # the band's log loss ceiling, where it was drawn on the log loss
    # The paired comparison with the simpler model that confirmed or overturned the rule's choice
    # (evaluation/paired.py `Comparison.to_dict()`); None where none was made.
    comparison: dict[str, Any] | None = None

    @property
    def weights(self) -> dict[str, float]:
        return self.members or {self.trial_id: 1.0}

    @property
    def is_ensemble(self) -> bool:
        return len(self.weights) > 1


@dataclass
class Evidence:
    """What a rule that combines trials reads: their out-of-fold predictions and the row weights."""

    predictions: Callable[[list[str]], np.ndarray]  # trial ids -> (C, repeats, n[, k])
    y: np.ndarray
    weights: np.ndarray  # (n,): ones, or a bootstrap resample's counts
    metric: Metric
    n_classes: int
    # trial ids -> (C, n) per-row out-of-fold losses (evaluation/row_losses.py), where computed once for
    # many calls (the estimate's resamples); None: computed from `predictions` when a rule needs them
    losses: Callable[[list[str]], np.ndarray] | None = None
    # the same for each row's share of the user's metric lost (`per_row_errors`), where it has one
    errors: Callable[[list[str]], np.ndarray] | None = None


Rule = Callable[[list[TrialSummary], "Evidence | None"], Selection]
RULES: Registry[Rule] = Registry("selection rule", sort=True)
DEFAULT_RULE = "one_se_min_gap"


def register_rule(name: str, description: str | None = None) -> Callable[[Rule], Rule]:
    """Register `fn(trials, evidence)`; `evidence` is None where no out-of-fold predictions exist. The
    description (CLI help, dashboard) defaults to the first line of the function's docstring."""

    def decorator(fn: Rule) -> Rule:
        text = description or (fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        return RULES.register(name, description=" ".join(text.split()))(fn)

    return decorator


def available_rules() -> list[str]:
    return RULES.names()


def eligible(trials: list[TrialSummary]) -> list[TrialSummary]:
    """Trials that trained to the end (early stopping included); ASHA-stopped ones only if none did."""
    scored = [t for t in trials if t.status != "failed" and math.isfinite(t.objective)]
    completed = [t for t in scored if t.status == "completed"]
    return completed or scored


def select(
    trials: list[TrialSummary], rule: str = DEFAULT_RULE, evidence: Evidence | None = None
) -> Selection:
    if rule not in RULES:
        raise ConfigError(
            f"The 'select' parameter must be one of {', '.join(available_rules())}. Got {rule!r} instead."
        )
    pool = eligible(trials)
    if not pool:
        raise ConfigError(
            "No trial finished with a score, so no model can be chosen. Raise --budget or --trials."
        )
    return RULES[rule](pool, evidence)


def _log_loss() -> Metric:
    from automl.metrics import get_metric

    return get_metric("log_loss")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def overfit(trial: TrialSummary) -> float:
    return max(trial.gap, 0.0)


@register_rule("best_validation")
def best_validation(trials: list[TrialSummary], evidence: Evidence | None = None) -> Selection:
    """The highest mean validation score (ties: smaller gap, then fewer parameters)."""
    best = max(trials, key=lambda t: (t.objective, -t.gap, -t.n_params))
    reason = f"Trial {best.trial_id} has the best mean validation score ({_fmt(best.val_score)})."
    return Selection(best.trial_id, "best_validation", reason, None, [best.trial_id])


@dataclass(frozen=True)
class Signal:
    """What a band is drawn on: `value(t)` larger = better, `std_error(t)` in the same units."""

    name: str
    value: Callable[[TrialSummary], float]
    std_error: Callable[[TrialSummary], float]
    shown: Callable[[TrialSummary], float]  # the figure as the reason quotes it


METRIC_SIGNAL = Signal(
    "mean validation score", lambda t: t.objective, lambda t: t.std_error, lambda t: t.val_score
)
LOG_LOSS_SIGNAL = Signal(
    "out-of-fold log loss",
    lambda t: -t.val_log_loss,
    lambda t: t.log_loss_std_error,
    lambda t: t.val_log_loss,
)


def band_signal(trials: list[TrialSummary]) -> Signal:
    """Log loss where every trial has one (classification with out-of-fold predictions), else the
    user's metric."""
    return LOG_LOSS_SIGNAL if trials and all(t.has_log_loss for t in trials) else METRIC_SIGNAL


def _paired_band(trials: list[TrialSummary], best: TrialSummary, evidence: Evidence) -> list[TrialSummary]:
    """The trials the rows cannot tell from the best: per-row out-of-fold loss above the best's by at most
    one paired standard error on the same rows (evidence.weights: every row once, or a bootstrap
    resample's counts), and, for accuracy and balanced accuracy, the user's metric too (a model as sure
    as the best but pulled to the majority class loses balanced accuracy the log loss does not see)."""
    ids = [t.trial_id for t in trials]
    predictions = None
    if evidence.losses is not None:
        losses = evidence.losses(ids)
    else:
        predictions = evidence.predictions(ids)
        losses, _ = per_row_losses(predictions, evidence.y, evidence.n_classes, evidence.metric.name)
    signals = [losses]
    if evidence.errors is not None:
        signals.append(evidence.errors(ids))
    elif evidence.n_classes and evidence.metric.name in ("accuracy", "balanced_accuracy"):
        predictions = evidence.predictions(ids) if predictions is None else predictions
        signals.append(per_row_errors(predictions, evidence.y, evidence.n_classes, evidence.metric.name))
    inside = np.ones(len(trials), dtype=bool)
    for values in signals:
        excess, std_error = excess_over(values, ids.index(best.trial_id), evidence.weights)
        inside &= excess <= std_error + 1e-12
    return [t for t, keep in zip(trials, inside, strict=True) if t is best or keep]


def _one_se_min_gap(
    trials: list[TrialSummary], signal: Signal, rule: str, evidence: Evidence | None = None
) -> Selection:
    """Within one standard error of the best on `signal`, the smallest gap (within a quarter of the
    best's standard error in the user's metric, the gap's units); ties to the simpler model.

    With the trials' out-of-fold predictions (`evidence`), the standard error is that of the paired
    per-row differences from the best on the same rows: the trials the rows cannot tell from the best.
    The spread of the best's own fold scores would also let in every trial that is worse on most rows
    by less than the folds' noise, and among hundreds of trials the smallest gap in such a band is an
    underfitted model's."""
    best = max(trials, key=lambda t: (signal.value(t), -t.n_params))
    floor = signal.value(best) - signal.std_error(best)
    if evidence is not None and len(trials) > 1:
        band = _paired_band(trials, best, evidence)
        within = "within one paired standard error of it on the same rows"
    else:
        band = [t for t in trials if signal.value(t) >= floor - 1e-12]
        within = "within one standard error of it"
    smallest_gap = min(overfit(t) for t in band)
    tolerance = 0.25 * best.std_error
    tied = [t for t in band if overfit(t) <= smallest_gap + tolerance + 1e-12]
    chosen = min(tied, key=lambda t: (t.n_params, -signal.value(t), t.trial_id))
    beside = "" if signal is METRIC_SIGNAL else f"; mean validation score {_fmt(best.val_score)}"
    reason = (
        f"Best {signal.name} {_fmt(signal.shown(best))} (trial {best.trial_id}, standard error "
        f"{_fmt(signal.std_error(best))}{beside}); {len(band)} trial(s) score {within}. "
        f"Among them trial {chosen.trial_id} has the smallest train-validation gap ({_fmt(chosen.gap)}, "
        "counted from 0)"
    )
    if len(tied) > 1:
        reason += f", tied within {_fmt(tolerance)} with {len(tied) - 1} other(s) and the simplest ({chosen.n_params} parameters)"
    ids = [t.trial_id for t in band]
    lowest = min(t.objective for t in band)
    if signal is METRIC_SIGNAL:
        return Selection(chosen.trial_id, rule, reason + ".", lowest if evidence is not None else floor, ids)
    ceiling = max(t.val_log_loss for t in band) if evidence is not None else -floor
    return Selection(chosen.trial_id, rule, reason + ".", lowest, ids, band_log_loss=ceiling)


@register_rule("one_se_min_gap")
def one_se_min_gap(trials: list[TrialSummary], evidence: Evidence | None = None) -> Selection:
    """Within one standard error of the best out-of-fold log loss (classification; else the user's
    metric), the smallest gap; ties to the simpler model."""
    return _one_se_min_gap(trials, band_signal(trials), "one_se_min_gap", evidence)


@register_rule("one_se_min_gap_metric")
def one_se_min_gap_metric(trials: list[TrialSummary], evidence: Evidence | None = None) -> Selection:
    """The same rule banded on the user's metric always (the signal of earlier versions)."""
    return _one_se_min_gap(trials, METRIC_SIGNAL, "one_se_min_gap_metric")


@register_rule("ensemble")
def ensemble(trials: list[TrialSummary], evidence: Evidence | None = None) -> Selection:
    """Greedy ensemble selection with replacement over the best trials' out-of-fold predictions
    (without them, the best single trial)."""
    ranked = sorted(trials, key=lambda t: (-t.objective, t.n_params, t.trial_id))[:MAX_CANDIDATES]
    if evidence is None or len(ranked) < 2:
        single = best_validation(trials)
        return Selection(
            single.trial_id,
            "ensemble",
            single.reason + " (no out-of-fold predictions to ensemble)",
            None,
            single.candidates,
        )
    ids = [t.trial_id for t in ranked]
    # Classification steps on the log loss: averaging probabilities always moves it, where accuracy on a
    # few dozen rows is often already saturated and would stop at the first member.
    steer = evidence.metric if evidence.n_classes == 0 else _log_loss()
    counts, score = greedy_ensemble(
        evidence.predictions(ids), evidence.y, evidence.weights, steer, evidence.n_classes
    )
    members = {ids[i]: float(counts[i] / counts.sum()) for i in np.flatnonzero(counts)}
    heaviest = max(members, key=lambda t: (members[t], -ids.index(t)))
    listing = ", ".join(f"{t} x{int(counts[ids.index(t)])}" for t in sorted(members, key=ids.index))
    reason = (
        f"Greedy ensemble selection over the {len(ids)} best trials' out-of-fold predictions: {listing}; "
        f"its out-of-fold {steer.name} is {_fmt(score)}"
        + (
            f", the best single trial's {_fmt(ranked[0].val_log_loss)}."
            if steer is not evidence.metric
            else f", the best single trial's {_fmt(ranked[0].val_score)}."
        )
    )
    return Selection(heaviest, "ensemble", reason, None, ids, members if len(members) > 1 else None)
