"""Cost-frugal proposals (search/frugal.py): cheap values first, an expensive one only while it earns its time."""

from __future__ import annotations

import optuna
import pytest

from automl.config import StudyConfig
from automl.errors import ConfigError
from automl.modalities import modality
from automl.search.frugal import CostLedger, FrugalSampler
from automl.search.space import SearchSpace
from automl.search.tuner import build_searcher

optuna.logging.set_verbosity(optuna.logging.WARNING)
METHODS = ["none", "smote", "gaussian_copula", "ctgan", "tvae"]
EXPENSIVE = frozenset({"ctgan", "tvae"})


def _study(ledger: CostLedger, cheap_trials: int, seed: int = 0) -> optuna.Study:
    base = optuna.samplers.TPESampler(seed=seed, n_startup_trials=cheap_trials)
    return optuna.create_study(
        direction="maximize", sampler=FrugalSampler(base, ledger, cheap_trials=cheap_trials, seed=seed)
    )


def _run(study: optuna.Study, ledger: CostLedger, n: int, score, seconds) -> list[str]:
    """n trials of a toy objective; each finished trial is told to the ledger, as OrderedConcurrency does."""
    drawn = []
    for _ in range(n):
        trial = study.ask()
        method = trial.suggest_categorical("synth_method", METHODS)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        value = score(method, lr)
        study.tell(trial, value)
        ledger.record(
            {"synth_method": method, "lr": lr},
            {"objective": value, "val_score_std": 0.02, "n_folds": 5, "time_total_s": seconds(method)},
        )
        drawn.append(method)
    return drawn


def test_startup_trials_never_draw_an_expensive_value_and_tpe_may_afterwards() -> None:
    ledger = CostLedger({"synth_method": EXPENSIVE})
    study = _study(ledger, cheap_trials=10)
    # TVAE is the best value: once TPE models the results it must be free to find it.
    drawn = _run(study, ledger, 60, lambda m, lr: 0.9 if m == "tvae" else 0.6, lambda m: 1.0)
    assert not set(drawn[:10]) & EXPENSIVE
    assert len(set(drawn[:10])) == 3  # the cheap values are all explored
    assert "tvae" in drawn[10:]


def test_an_expensive_value_over_its_budget_share_is_dropped_unless_it_earns_it() -> None:
    # CTGAN is slow and poor; TVAE is as slow but the best: only CTGAN is cut once over a third of 300 s.
    ledger = CostLedger({"synth_method": EXPENSIVE}, budget_s=300.0)
    study = _study(ledger, cheap_trials=5)
    scores = {"tvae": 0.95, "ctgan": 0.5}
    drawn = _run(
        study,
        ledger,
        120,
        lambda m, lr: scores.get(m, 0.7),
        lambda m: 30.0 if m in EXPENSIVE else 0.1,
    )
    assert ledger.over_budget("synth_method", "ctgan") and not ledger.over_budget("synth_method", "tvae")
    ctgan_seconds = [30.0 * (m == "ctgan") for m in drawn]
    # No CTGAN trial starts once CTGAN alone has spent more than a third of the budget.
    spent, cut_at = 0.0, None
    for i, s in enumerate(ctgan_seconds):
        spent += s
        if spent > 100.0:
            cut_at = i
            break
    assert cut_at is not None and "ctgan" not in drawn[cut_at + 1 :]
    assert ledger.earned("synth_method", "tvae") and not ledger.earned("synth_method", "ctgan")


def test_an_unproven_expensive_value_runs_at_most_once_per_spacing_and_a_proven_one_freely() -> None:
    ledger = CostLedger({"synth_method": EXPENSIVE})
    study = _study(ledger, cheap_trials=6)
    scores = {"tvae": 0.95, "ctgan": 0.5}
    drawn = _run(study, ledger, 80, lambda m, lr: scores.get(m, 0.7), lambda m: 1.0)
    assert not set(drawn[:6]) & EXPENSIVE
    first_tvae = drawn.index("tvae")
    unproven = [i for i, m in enumerate(drawn) if m == "ctgan" or (m == "tvae" and i == first_tvae)]
    assert unproven and all(b - a >= 6 for a, b in zip(unproven, unproven[1:], strict=False))
    assert drawn[first_tvae + 1 :].count("tvae") > len(drawn[first_tvae + 1 :]) // 6  # earned: TPE's choice
    assert drawn.count("ctgan") <= 1 + (80 - 6) // 6


def test_every_expensive_value_is_tried_once_in_turn_after_the_startup() -> None:
    # A searcher that never proposes them on its own (every trial scores the same) still tries each.
    ledger = CostLedger({"synth_method": EXPENSIVE | {"gaussian_copula"}})
    study = _study(ledger, cheap_trials=6)
    drawn = _run(study, ledger, 6 + 3 * 6, lambda m, lr: 0.5, lambda m: 1.0)
    firsts = {m: drawn.index(m) for m in ("gaussian_copula", "ctgan", "tvae")}
    assert firsts == {"gaussian_copula": 6, "ctgan": 12, "tvae": 18}  # the space's order, a start-up apart


def test_a_budget_that_does_not_bind_changes_nothing_and_the_seed_reproduces() -> None:
    def proposals(budget_s: float) -> list[str]:
        ledger = CostLedger({"synth_method": EXPENSIVE}, budget_s=budget_s)
        return _run(_study(ledger, 8, seed=3), ledger, 40, lambda m, lr: lr, lambda m: 1.0)

    assert proposals(1e9) == proposals(1e9) == proposals(float("inf"))


def test_the_ledger_counts_failed_trials_time_but_not_their_score() -> None:
    ledger = CostLedger({"synth_method": EXPENSIVE}, budget_s=30.0)
    ledger.record({"synth_method": "tvae"}, {"time_total_s": 20.0})  # failed: no objective
    ledger.record({"synth_method": "none"}, {"objective": 0.8, "time_total_s": 0.1})
    ledger.record(None, None)
    assert ledger.seconds == {("synth_method", "tvae"): 20.0}
    assert ledger.over_budget("synth_method", "tvae") and not ledger.earned("synth_method", "tvae")


@pytest.mark.parametrize("cheap_trials", [0, 4])
def test_a_parameter_without_cheap_values_is_left_to_the_searcher(cheap_trials: int) -> None:
    ledger = CostLedger({"synth_method": frozenset(METHODS)})
    study = _study(ledger, cheap_trials)
    drawn = _run(study, ledger, 12, lambda m, lr: 0.5, lambda m: 1.0)
    assert set(drawn) <= set(METHODS) and len(set(drawn)) > 1


SIZES = {"n_rows": 120, "n_features": 8, "n_classes": 3}


def _space_starts(modality_name: str) -> list[dict]:
    return SearchSpace.load(None, modality_name).start_points("classification", SIZES)


def _proposals(modality_name: str, trials: int, expensive: bool, seed: int = 0) -> list[dict]:
    """The configurations the study's own searcher (OptunaSearch on the default define-by-run space,
    under OrderedConcurrency) proposes, each trial told a result before the next one is asked for."""
    space = SearchSpace.load(None, modality_name)
    config = StudyConfig(data="unused.csv", target="y", trials=trials, seed=seed)
    limiter, _ = build_searcher(
        config,
        space.to_tune("classification", SIZES),
        space.start_points("classification", SIZES),
        in_flight=1,
        expensive=modality(modality_name).expensive_choices() if expensive else None,
    )
    limiter.set_search_properties("objective", "max", {})
    proposed = []
    for k in range(trials):
        suggestion = limiter.suggest(f"t{k}")
        proposed.append(suggestion)
        result = {"objective": 0.5 + 0.01 * (k % 7), "val_score_std": 0.05, "n_folds": 5, "time_total_s": 1.0}
        limiter.on_trial_complete(f"t{k}", result=result)
    return proposed


@pytest.mark.parametrize("modality_name", ["tabular", "image"])
def test_the_study_searcher_proposes_only_cheap_values_in_its_startup_trials(modality_name: str) -> None:
    expensive = modality(modality_name).expensive_choices()
    trials = 30
    n_startup = len(_space_starts(modality_name)) + min(10, max(5, trials // 3))
    frugal = _proposals(modality_name, trials, expensive=True)
    plain = _proposals(modality_name, trials, expensive=False)
    starts = len(_space_starts(modality_name))

    def costly(config: dict) -> bool:
        return any(config.get(name) in values for name, values in expensive.items())

    assert not any(costly(c) for c in frugal[starts:n_startup])
    assert any(costly(c) for c in plain[starts:n_startup])  # what it replaces: uniform start-up draws
    assert frugal[:starts] == plain[:starts]  # the start points run as given
    assert frugal == _proposals(modality_name, trials, expensive=True)  # same seed, same proposals


def test_an_unproven_expensive_trial_runs_at_low_cost_and_an_earned_one_as_tpe_likes() -> None:
    # TVAE is the best value, and better with more epochs: its first trial (the unproven slot) must still
    # take the space's low-cost epochs; once TVAE has earned its cost, TPE may set the epochs freely.
    ledger = CostLedger({"synth_method": EXPENSIVE})
    base = optuna.samplers.TPESampler(seed=0, n_startup_trials=6)
    study = optuna.create_study(
        direction="maximize",
        sampler=FrugalSampler(base, ledger, cheap_trials=6, seed=0, low_cost={"synth_epochs": 50}),
    )
    drawn = []
    for _ in range(60):
        trial = study.ask()
        method = trial.suggest_categorical("synth_method", METHODS)
        epochs = trial.suggest_categorical("synth_epochs", [50, 150]) if method in EXPENSIVE else None
        value = {"tvae": 0.9 + 0.05 * (epochs == 150), "ctgan": 0.5}.get(method, 0.7)
        study.tell(trial, value)
        ledger.record(
            {"synth_method": method, "synth_epochs": epochs},
            {"objective": value, "val_score_std": 0.02, "n_folds": 5, "time_total_s": 1.0},
        )
        drawn.append((trial.number, method, epochs))
    slots = study.sampler.unproven
    assert slots and all(epochs == 50 for number, method, epochs in drawn if number in slots)
    earned_tvae = [epochs for number, method, epochs in drawn if method == "tvae" and number not in slots]
    assert 150 in earned_tvae  # TPE's own choice once TVAE earned its cost
    assert all(epochs is None for _, method, epochs in drawn if method not in EXPENSIVE)


def test_the_default_spaces_first_try_their_synthesizers_at_low_cost() -> None:
    for modality_name in ("tabular", "image"):
        space = SearchSpace.load(None, modality_name)
        low = space.low_cost("classification", SIZES)
        assert low["synth_epochs"] == min(space.choices("synth_epochs"))


def test_a_low_cost_value_outside_the_parameter_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("parameters:\n  synth_epochs: {type: choice, values: [50, 150], low_cost: 10}\n")
    with pytest.raises(
        ConfigError, match="'low_cost' of parameter 'synth_epochs'.*must be one of its own values"
    ):
        SearchSpace.load(path)
