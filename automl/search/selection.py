"""The selection rule: which trial's configuration becomes the model.

"Smallest generalization gap" alone is degenerate (a constant predictor has gap 0), so the default
rule first keeps the trials whose mean validation score is within one standard error of the best
(Breiman's one-standard-error rule), then takes the smallest train-validation gap, and breaks ties
with the simpler model (fewer parameters). A negative gap (validation above train) is fold noise,
not better generalization, so gaps count from zero: max(gap, 0). Rules are looked up by name; the chosen rule and its
reason are written to the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automl.errors import ConfigError


@dataclass
class TrialSummary:
    """A trial as the rule sees it; `objective` is the validation score with larger = better."""

    trial_id: str
    objective: float
    val_score: float
    val_std: float
    n_folds: int
    gap: float
    n_params: int
    status: str  # "completed" | "stopped_early" | "failed"
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def std_error(self) -> float:
        return self.val_std / math.sqrt(max(self.n_folds, 1))


@dataclass
class Selection:
    trial_id: str
    rule: str
    reason: str
    band_floor: float | None  # objective value at the bottom of the band (None for rules without one)
    candidates: list[str]


Rule = Callable[[list[TrialSummary]], Selection]
_RULES: dict[str, Rule] = {}
DEFAULT_RULE = "one_se_min_gap"


def register_rule(name: str) -> Callable[[Rule], Rule]:
    def decorator(fn: Rule) -> Rule:
        _RULES[name] = fn
        return fn

    return decorator


def available_rules() -> list[str]:
    return sorted(_RULES)


def eligible(trials: list[TrialSummary]) -> list[TrialSummary]:
    """Trials that trained to the end (early stopping included); ASHA-stopped ones only if none did."""
    scored = [t for t in trials if t.status != "failed" and math.isfinite(t.objective)]
    completed = [t for t in scored if t.status == "completed"]
    return completed or scored


def select(trials: list[TrialSummary], rule: str = DEFAULT_RULE) -> Selection:
    if rule not in _RULES:
        raise ConfigError(
            f"The 'select' parameter must be one of {', '.join(available_rules())}. Got {rule!r} instead."
        )
    pool = eligible(trials)
    if not pool:
        raise ConfigError(
            "No trial finished with a score, so no model can be chosen. Raise --budget or --trials."
        )
    return _RULES[rule](pool)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def overfit(trial: TrialSummary) -> float:
    return max(trial.gap, 0.0)


@register_rule("best_validation")
def best_validation(trials: list[TrialSummary]) -> Selection:
    """The highest mean validation score (ties: smaller gap, then fewer parameters)."""
    best = max(trials, key=lambda t: (t.objective, -t.gap, -t.n_params))
    reason = f"Trial {best.trial_id} has the best mean validation score ({_fmt(best.val_score)})."
    return Selection(best.trial_id, "best_validation", reason, None, [best.trial_id])


@register_rule("one_se_min_gap")
def one_se_min_gap(trials: list[TrialSummary]) -> Selection:
    """Within one standard error of the best validation score, the smallest gap; ties to the simpler model."""
    best = max(trials, key=lambda t: (t.objective, -t.n_params))
    floor = best.objective - best.std_error
    band = [t for t in trials if t.objective >= floor - 1e-12]
    smallest_gap = min(overfit(t) for t in band)
    tolerance = 0.25 * best.std_error
    tied = [t for t in band if overfit(t) <= smallest_gap + tolerance + 1e-12]
    chosen = min(tied, key=lambda t: (t.n_params, -t.objective, t.trial_id))
    reason = (
        f"Best mean validation score {_fmt(best.val_score)} (trial {best.trial_id}, standard error "
        f"{_fmt(best.std_error)}); {len(band)} trial(s) score within one standard error of it. Among them trial "
        f"{chosen.trial_id} has the smallest train-validation gap ({_fmt(chosen.gap)}, counted from 0)"
    )
    if len(tied) > 1:
        reason += f", tied within {_fmt(tolerance)} with {len(tied) - 1} other(s) and the simplest ({chosen.n_params} parameters)"
    return Selection(chosen.trial_id, "one_se_min_gap", reason + ".", floor, [t.trial_id for t in band])
