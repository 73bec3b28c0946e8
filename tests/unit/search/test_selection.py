"""Tests of automl.search.selection: the one-standard-error rule, best validation and the eligible pool."""

from __future__ import annotations

import math
import re

import pytest

from automl.errors import ConfigError
from automl.search.selection import (
    DEFAULT_RULE,
    Selection,
    TrialSummary,
    available_rules,
    eligible,
    select,
)


def trial(
    trial_id: str,
    objective: float,
    *,
    std: float = 0.04,
    folds: int = 4,
    gap: float = 0.05,
    n_params: int = 100,
    status: str = "completed",
) -> TrialSummary:
    """A summary whose standard error is std / sqrt(folds) (0.02 by default)."""
    return TrialSummary(trial_id, objective, objective, std, folds, gap, n_params, status)


def test_rules_and_default() -> None:
    assert DEFAULT_RULE == "one_se_min_gap"
    assert available_rules() == ["best_validation", "ensemble", "one_se_min_gap", "one_se_min_gap_metric"]


def test_std_error() -> None:
    assert trial("a", 0.5, std=0.1, folds=4).std_error == pytest.approx(0.05)
    assert trial("a", 0.5, std=0.1, folds=0).std_error == pytest.approx(0.1)


# --- one_se_min_gap ------------------------------------------------------------------------


def test_picks_the_smallest_gap_within_one_standard_error() -> None:
    trials = [
        trial("best", 0.90, gap=0.10),
        trial("close", 0.885, gap=0.02),  # within 0.02 of the best
        trial("edge", 0.88, gap=0.04),  # exactly one standard error below
        trial("far", 0.87, gap=0.0),  # outside the band
    ]
    chosen = select(trials)
    assert isinstance(chosen, Selection)
    assert chosen.trial_id == "close"
    assert chosen.rule == "one_se_min_gap"
    assert chosen.band_floor == pytest.approx(0.88)
    assert chosen.candidates == ["best", "close", "edge"]
    assert chosen.reason == (
        "Best mean validation score 0.9 (trial best, standard error 0.02); 3 trial(s) score within one "
        "standard error of it. Among them trial close has the smallest train-validation gap (0.02, counted from 0)."
    )


def test_a_constant_predictor_is_not_chosen() -> None:
    # gap 0 but a poor validation score: the degenerate choice of "smallest gap" alone
    trials = [
        trial("constant", 0.50, std=0.0, gap=0.0, n_params=0),
        trial("network", 0.85, gap=0.08),
        trial("linear", 0.84, gap=0.03),
    ]
    chosen = select(trials)
    assert chosen.trial_id == "linear"
    assert "constant" not in chosen.candidates


def test_ties_in_gap_go_to_fewer_parameters() -> None:
    trials = [
        trial("big", 0.90, gap=0.010, n_params=5000),
        trial("small", 0.89, gap=0.012, n_params=50),  # gap within 0.25 standard errors (0.005)
        trial("medium", 0.895, gap=0.010, n_params=500),
    ]
    chosen = select(trials)
    assert chosen.trial_id == "small"
    assert chosen.reason.endswith(", tied within 0.005 with 2 other(s) and the simplest (50 parameters).")


def test_negative_gaps_count_as_zero() -> None:
    # validation above train is fold noise, not better generalization: it ties with a gap of 0
    trials = [
        trial("noisy", 0.90, gap=-0.08, n_params=5000),
        trial("simple", 0.89, gap=0.0, n_params=20),
        trial("over", 0.895, gap=0.03, n_params=1),
    ]
    chosen = select(trials)
    assert chosen.trial_id == "simple"
    assert "has the smallest train-validation gap (0, counted from 0), tied within 0.005 with 1 other(s)" in (
        chosen.reason
    )
    # only negative gaps in the band: all tie, the simplest wins
    assert (
        select([trial("a", 0.9, gap=-0.1, n_params=50), trial("b", 0.9, gap=-0.01, n_params=5)]).trial_id
        == "b"
    )


def test_a_gap_outside_the_tie_tolerance_is_not_a_tie() -> None:
    trials = [trial("big", 0.90, gap=0.010, n_params=5000), trial("small", 0.89, gap=0.016, n_params=50)]
    assert select(trials).trial_id == "big"


def test_equal_parameters_and_gap_go_to_the_better_score_then_the_id() -> None:
    assert select([trial("b", 0.89, gap=0.0), trial("a", 0.90, gap=0.0)]).trial_id == "a"
    assert select([trial("b", 0.90, gap=0.0), trial("a", 0.90, gap=0.0)]).trial_id == "a"


def test_best_uses_fewer_parameters_on_equal_scores() -> None:
    # the standard error comes from the simpler of two equally good trials
    trials = [trial("wide", 0.9, std=0.2, n_params=900), trial("narrow", 0.9, std=0.0, n_params=10, gap=0.5)]
    chosen = select(trials)
    assert chosen.band_floor == pytest.approx(0.9)
    assert chosen.reason.startswith("Best mean validation score 0.9 (trial narrow, standard error 0);")


def test_negative_objectives_for_loss_metrics() -> None:
    # rmse: objective = -rmse, val_score = rmse
    trials = [
        TrialSummary("a", -1.00, 1.00, 0.2, 4, 0.30, 10, "completed"),
        TrialSummary("b", -1.05, 1.05, 0.2, 4, 0.05, 10, "completed"),
        TrialSummary("c", -1.20, 1.20, 0.2, 4, 0.00, 10, "completed"),
    ]
    chosen = select(trials)
    assert chosen.trial_id == "b"
    assert chosen.band_floor == pytest.approx(-1.1)
    assert chosen.reason.startswith("Best mean validation score 1 (trial a, standard error 0.1)")


def test_a_single_trial_is_chosen() -> None:
    chosen = select([trial("only", 0.7)])
    assert chosen.trial_id == "only"
    assert chosen.candidates == ["only"]


# --- best_validation -----------------------------------------------------------------------


def test_best_validation_picks_the_highest_score() -> None:
    trials = [trial("a", 0.80, gap=0.0), trial("b", 0.90, gap=0.3), trial("c", 0.85)]
    chosen = select(trials, "best_validation")
    assert chosen == Selection(
        "b", "best_validation", "Trial b has the best mean validation score (0.9).", None, ["b"]
    )


def test_best_validation_ties_go_to_smaller_gap_then_fewer_parameters() -> None:
    trials = [
        trial("a", 0.9, gap=0.2, n_params=1),
        trial("b", 0.9, gap=0.1, n_params=100),
        trial("c", 0.9, gap=0.1, n_params=10),
    ]
    assert select(trials, "best_validation").trial_id == "c"


# --- the eligible pool ---------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["one_se_min_gap", "best_validation"])
def test_failed_trials_are_never_chosen(rule: str) -> None:
    trials = [trial("failed", 0.99, gap=0.0, n_params=1, status="failed"), trial("ok", 0.6)]
    chosen = select(trials, rule)
    assert chosen.trial_id == "ok"
    assert "failed" not in chosen.candidates


def test_trials_without_a_finite_score_are_not_eligible() -> None:
    trials = [trial("nan", math.nan), trial("inf", math.inf), trial("ok", 0.5)]
    assert [t.trial_id for t in eligible(trials)] == ["ok"]
    assert select(trials).trial_id == "ok"


@pytest.mark.parametrize("rule", ["one_se_min_gap", "best_validation"])
def test_asha_stopped_trials_are_used_only_when_none_completed(rule: str) -> None:
    stopped = trial("stopped", 0.99, gap=0.0, n_params=1, status="stopped_early")
    completed = trial("completed", 0.60)
    assert [t.trial_id for t in eligible([stopped, completed])] == ["completed"]
    assert select([stopped, completed], rule).trial_id == "completed"
    # with no completed trial, the stopped ones are the pool
    other = trial("other", 0.5, status="stopped_early")
    failed = trial("failed", 0.999, status="failed")
    assert [t.trial_id for t in eligible([stopped, other, failed])] == ["stopped", "other"]
    assert select([stopped, other, failed], rule).trial_id == "stopped"


def test_unknown_rule() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'select' parameter must be one of best_validation, ensemble, one_se_min_gap, one_se_min_gap_metric. Got 'smallest_gap' instead."
        ),
    ):
        select([trial("a", 0.5)], "smallest_gap")


@pytest.mark.parametrize(
    "trials",
    [[], [trial("f", 0.9, status="failed")], [trial("n", math.nan, status="stopped_early")]],
)
def test_empty_pool(trials: list[TrialSummary]) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "No trial finished with a score, so no model can be chosen. Raise --budget or --trials."
        ),
    ):
        select(trials)


def test_unknown_rule_is_reported_before_the_empty_pool() -> None:
    with pytest.raises(ConfigError, match=re.escape("The 'select' parameter must be one of")):
        select([], "nope")
