"""The reported estimate: Bootstrap Bias-Corrected cross-validation (BBC-CV).

Tsamardinos, Greasidou, Borboudakis, "Bootstrapping the out-of-sample predictions for efficient
and accurate cross-validation", Machine Learning 107 (2018). The best of many trials scores above
what it will score on new rows, because it was chosen on those same rows. BBC-CV prices that in:
resample the rows B times; in each resample apply the study's own selection rule to the in-bag
out-of-fold scores, and score the trial (or ensemble) it picks on the out-of-bag rows. The mean of
those out-of-bag scores is the estimate. Its interval is the spread of the chosen model's score
over full-size resamples of all n rows, centred on the estimate (the out-of-bag rows alone, about
37% of n, would make it 1.6 times too wide), and never narrower than the Wilson interval of a
proportion over n rows for scores in [0, 1], so a perfect score on a handful of rows is never
reported as certain.

The resampled rule sees what the study's rule saw, under the resample's row weights: the fold
means and spreads of the user's metric and, for classification, of the out-of-fold log loss (the
band's signal, search/selection.py), so the estimate prices in the real selection procedure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from automl.evaluation.oof import OutOfFold
from automl.evaluation.paired import Comparison, compare, row_losses
from automl.evaluation.row_losses import per_row_errors
from automl.metrics import PROPORTIONS, effective_rows, wilson_interval
from automl.search.selection import (
    LOG_LOSS_SIGNAL,
    METRIC_SIGNAL,
    Evidence,
    Selection,
    TrialSummary,
    band_signal,
    select,
)

N_BOOTSTRAP = 1000
N_BOOTSTRAP_ENSEMBLE = 200  # each resample reruns the greedy selection
CONTENDER_SE = 4.0  # a trial this many standard errors below the best is never a resample's choice
MIN_CONTENDERS = 20


@dataclass
class Estimate:
    metric: str
    value: float  # bias-corrected: the mean out-of-bag score of the resamples' choices
    ci_low: float
    ci_high: float
    protocol: str
    n_rows: int
    apparent: float  # the chosen model's out-of-fold score on all rows (before the correction)
    level: float = 0.95
    n_bootstrap: int = 0
    picked: dict[str, float] = field(default_factory=dict)  # trial -> share of resamples that chose it
    notes: list[str] = field(default_factory=list)
    folds: str = "search"  # "fresh": on the re-evaluation's folds, which the search never saw

    @property
    def bias(self) -> float:
        return self.apparent - self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "protocol": self.protocol,
            "n_rows": self.n_rows,
            "apparent": self.apparent,
            "bias": self.bias,
            "n_bootstrap": self.n_bootstrap,
            "picked": self.picked,
            "notes": self.notes,
            "folds": self.folds,
        }


def resample_weights(n_rows: int, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n) bootstrap counts: how often each row was drawn into each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_rows, size=(n_resamples, n_rows))
    offsets = (np.arange(n_resamples) * n_rows)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_rows).reshape(n_resamples, n_rows)


def _evidence(
    oof: OutOfFold, weights: np.ndarray, losses: np.ndarray | None = None, errors: np.ndarray | None = None
) -> Evidence:
    """What the rule reads under row `weights`; `losses`, `errors`: every trial's per-row losses and
    shares of the metric lost, computed once for every resample."""
    return Evidence(
        predictions=lambda ids: oof.predictions[[oof.index(t) for t in ids]],
        y=oof.y,
        weights=weights,
        metric=oof.metric,
        n_classes=oof.n_classes,
        losses=None if losses is None else (lambda ids: losses[[oof.index(t) for t in ids]]),
        errors=None if errors is None else (lambda ids: errors[[oof.index(t) for t in ids]]),
    )


def choose(
    oof: OutOfFold, base: list[TrialSummary], rule: str, simple: frozenset[str] = frozenset()
) -> Selection:
    """The rule applied to every row's out-of-fold scores: the study's choice. Where `simple` names the
    simpler models (the linear ones), a chosen model that is not one must beat the best of them beyond
    the noise of a paired comparison on the same rows (evaluation/paired.py), or that one is chosen."""
    summaries = rescored(oof, base)
    selection = select(summaries, rule, _evidence(oof, np.ones(oof.n_rows)))
    losses = row_losses(oof) if simple else None
    return prefer_simpler(selection, summaries, simple, oof, losses, None)


def prefer_simpler(
    selection: Selection,
    summaries: list[TrialSummary],
    simple: frozenset[str],
    oof: OutOfFold,
    losses: tuple[np.ndarray, str] | None,
    weights: np.ndarray | None,
) -> Selection:
    """`selection`, or the best simple model where the chosen one's paired advantage over it is within
    the noise; the comparison is recorded in `selection.comparison` and its reason."""
    if selection.is_ensemble or losses is None or selection.trial_id in simple:
        return selection
    pool = [t for t in summaries if t.trial_id in simple and np.isfinite(t.objective)]
    if not pool:
        return selection
    signal = band_signal(summaries)
    simpler = max(pool, key=lambda t: (signal.value(t), -t.n_params, t.trial_id))
    values, name = losses
    advantage, se = compare(values, oof.index(selection.trial_id), oof.index(simpler.trial_id), weights)
    comparison = Comparison(selection.trial_id, simpler.trial_id, advantage, se, oof.n_rows, name)
    reason = f"{selection.reason} {comparison.reason()}"
    if comparison.keeps_simpler:
        return replace(selection, trial_id=simpler.trial_id, reason=reason, comparison=comparison.to_dict())
    return replace(selection, reason=reason, comparison=comparison.to_dict())


def rescored(oof: OutOfFold, base: list[TrialSummary]) -> list[TrialSummary]:
    """`base` scored on every row's out-of-fold predictions: the user's metric and the log loss."""
    ones = np.ones((1, oof.n_rows))
    mean, std = oof.fold_summary(ones)
    return oof.summaries(base, mean, std, loss=oof.log_loss_summary(ones))


def _interval(
    oof: OutOfFold, model_preds: np.ndarray, value: float, apparent: float, W: np.ndarray, level: float
) -> tuple[float, float, list[str]]:
    """The spread of the model's score over full-size resamples, centred on `value`; for scores in
    [0, 1] at least the Wilson interval over the metric's effective rows (`metrics.effective_rows`: a
    bootstrap of a rare class that was always right out of fold cannot see how wrong it may be)."""
    n, metric = oof.n_rows, oof.metric
    in_bag = oof.pooled_scores(W, model_preds)[0]
    alpha = (1 - level) / 2
    deviations = in_bag[np.isfinite(in_bag)] - apparent
    low_dev, high_dev = np.quantile(deviations, [alpha, 1 - alpha]) if len(deviations) else (np.nan, np.nan)
    ci_low, ci_high = value + low_dev, value + high_dev
    notes = []
    if metric.name in PROPORTIONS:
        rows = effective_rows(metric.name, oof.y)
        w_low, w_high = wilson_interval(value, rows, level)
        if w_low < ci_low or w_high > ci_high:
            over = (
                f"{n} rows"
                if rows == n
                else f"{rows:.0f} rows (the weight of {n} rows in a class-balanced score)"
            )
            notes.append(f"interval widened to the Wilson interval of a proportion over {over}")
        ci_low, ci_high = max(0.0, min(ci_low, w_low)), min(1.0, max(ci_high, w_high))
        if apparent >= 1.0 - 1e-12:
            notes.append(
                f"every one of the {n} rows was predicted right out of fold; with this few rows that does "
                "not mean the model is perfect: the interval says how low its score may really be"
            )
    return float(ci_low), float(ci_high), notes


def fixed_model_estimate(
    oof: OutOfFold, trial: str, *, seed: int = 0, level: float = 0.95, n_resamples: int = N_BOOTSTRAP
) -> Estimate:
    """The out-of-fold score of one model that was not chosen among others (a baseline): no
    selection to correct for, the same interval."""
    preds = oof.predictions[[oof.index(trial)]]
    W = resample_weights(oof.n_rows, n_resamples, seed).astype(np.float64)
    value = float(oof.pooled_scores(np.ones((1, oof.n_rows)), preds)[0, 0])
    low, high, notes = _interval(oof, preds, value, value, W, level)
    return Estimate(
        oof.metric.name, value, low, high, "out_of_fold", oof.n_rows, value, level, n_resamples, {}, notes
    )


def contenders(
    base: list[TrialSummary], chosen: Selection, simple: frozenset[str] = frozenset()
) -> list[TrialSummary]:
    """The trials a resample's rule could plausibly pick: within CONTENDER_SE standard errors of
    the best (at least the MIN_CONTENDERS best) on the user's metric or on the log loss (the band's
    signal for classification), the simpler models, and the study's own choice. Scoring the others in
    every resample would only cost time (on 200 trials, most of it)."""
    signals = [METRIC_SIGNAL] + ([LOG_LOSS_SIGNAL] if band_signal(base) is LOG_LOSS_SIGNAL else [])
    kept = set(chosen.weights) | set(simple)
    for signal in signals:
        ranked = sorted(base, key=lambda t: (-signal.value(t), t.trial_id))
        floor = signal.value(ranked[0]) - CONTENDER_SE * max(signal.std_error(ranked[0]), 1e-9)
        kept.update(
            t.trial_id for i, t in enumerate(ranked) if i < MIN_CONTENDERS or signal.value(t) >= floor
        )
    return sorted((t for t in base if t.trial_id in kept), key=lambda t: (-t.objective, t.trial_id))


def _model_predictions(oof: OutOfFold, selection: Selection) -> np.ndarray:
    return oof.combine(selection.weights)


def bias_corrected_estimate(
    oof: OutOfFold,
    base: list[TrialSummary],
    rule: str,
    chosen: Selection,
    *,
    seed: int = 0,
    n_resamples: int | None = None,
    level: float = 0.95,
    protocol: str = "out_of_fold",
    simple: frozenset[str] = frozenset(),
) -> Estimate:
    """BBC-CV of `rule` over the trials in `oof` (`base`: their summaries; `chosen`: the rule's pick on
    all rows; `simple`: the simpler models the pick is compared with, as `choose` does)."""
    base = contenders(rescored(oof, base), chosen, simple)
    oof = oof.subset([t.trial_id for t in base])
    losses = row_losses(oof)
    errors = per_row_errors(
        oof.predictions, oof.y, oof.n_classes if oof.has_probabilities else 0, oof.metric.name
    )
    metric, n = oof.metric, oof.n_rows
    ensemble_rule = rule == "ensemble"
    B = n_resamples or (N_BOOTSTRAP_ENSEMBLE if ensemble_rule else N_BOOTSTRAP)
    W = resample_weights(n, B, seed).astype(np.float64)
    out_of_bag = (W == 0).astype(np.float64)
    mean, std = oof.fold_summary(W)  # (T, B) in-bag fold means and spreads
    loss = oof.log_loss_summary(W)  # the same for the out-of-fold log loss (classification)
    oob_scores = None if ensemble_rule else oof.pooled_scores(out_of_bag)  # (T, B)
    picked_scores, picked_names = np.full(B, np.nan), []
    for b in range(B):
        summaries = oof.summaries(base, mean, std, column=b, loss=loss)
        selection = select(summaries, rule, _evidence(oof, W[b], losses[0], errors))
        selection = prefer_simpler(selection, summaries, simple, oof, losses if simple else None, W[b])
        if selection.is_ensemble:
            picked_scores[b] = oof.pooled_scores(out_of_bag[b : b + 1], _model_predictions(oof, selection))[
                0, 0
            ]
        elif oob_scores is not None:
            picked_scores[b] = oob_scores[oof.index(selection.trial_id), b]
        else:
            single = oof.predictions[[oof.index(selection.trial_id)]]
            picked_scores[b] = oof.pooled_scores(out_of_bag[b : b + 1], single)[0, 0]
        picked_names.append(selection.trial_id)
    finite = np.isfinite(picked_scores)
    value = float(np.mean(picked_scores[finite])) if finite.any() else float("nan")

    model_preds = _model_predictions(oof, chosen)
    apparent = float(oof.pooled_scores(np.ones((1, n)), model_preds)[0, 0])
    ci_low, ci_high, notes = _interval(oof, model_preds, value, apparent, W, level)
    names, counts = np.unique(picked_names, return_counts=True)
    return Estimate(
        metric=metric.name,
        value=value,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        protocol=protocol,
        n_rows=n,
        apparent=apparent,
        level=level,
        n_bootstrap=B,
        picked={str(t): float(c / B) for t, c in zip(names, counts, strict=True)},
        notes=notes,
    )
