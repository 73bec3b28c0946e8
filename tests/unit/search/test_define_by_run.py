"""The conditional space as Optuna define-by-run code, on the real default spaces and real Optuna:
only active parameters are sampled, inactive ones arrive with their inactive value, start points
come first and a seed reproduces the proposals."""

from __future__ import annotations

import math
import pickle
from typing import Any

import optuna
import pytest
from ray.tune.search.optuna import OptunaSearch

from automl.search.conditions import active_parameters, requirements
from automl.search.space import SearchSpace, TuneSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)

N_ASKS = 200
TABULAR_SIZES = {"n_rows": 200, "n_features": 6, "n_classes": 3}
IMAGE_SIZES = {"n_rows": 40, "n_features": 0, "n_classes": 4}
CASES = [("tabular", "classification"), ("tabular", "regression"), ("image", "classification")]


def resolved(modality: str, task: str) -> tuple[SearchSpace, dict[str, dict[str, Any]]]:
    space = SearchSpace.load(None, modality)
    return space, space.resolved(task, TABULAR_SIZES if modality == "tabular" else IMAGE_SIZES)


def score(config: dict[str, Any]) -> float:
    """A made-up objective that several parameters, conditional ones too, move (TPE has to learn)."""
    value = -abs(math.log10(config["lr"]) + 2.5)
    value += 0.1 * (config.get("synth_method") == "none") + 0.05 * (config.get("augment") == "randaugment")
    value += 0.02 * config.get("aug_magnitude", 0) + 0.01 * config.get("freeze_stages", 0)
    return value + 0.001 * config.get("width", config.get("head_width", 0)) / 16


def run_study(specs: dict[str, dict[str, Any]], seed: int, n: int = N_ASKS) -> list[tuple[dict, dict]]:
    """(the trial's sampled params, its whole configuration) for n ask-and-tell rounds of seeded TPE
    (random for the first 80, so that every choice is reached: the image space's `head_solver` is active
    only for a frozen pretrained backbone without augmentation, about 1 in 23 random configurations)."""
    define = TuneSpace({}, specs).define_by_run()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=80)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        fixed = define(trial)
        config = {**trial.params, **fixed}
        study.tell(trial, score(config))
        out.append((dict(trial.params), config))
    return out


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def studied(request) -> tuple[dict[str, dict[str, Any]], list[tuple[dict, dict]]]:
    _, specs = resolved(*request.param)
    return specs, run_study(specs, seed=0)


def test_only_active_parameters_are_sampled(studied) -> None:
    specs, trials = studied
    for sampled, config in trials:
        assert set(config) == set(specs)  # every configuration is complete
        active = active_parameters(specs, config)
        assert set(sampled) == active, sorted(set(sampled) ^ active)
        for name in set(specs) - active:
            assert config[name] == specs[name]["default"], name


def test_values_stay_inside_the_resolved_space(studied) -> None:
    specs, trials = studied
    for _, config in trials:
        for name, spec in specs.items():
            value = config[name]
            if spec["type"] == "choice":
                assert value in spec["values"], (name, value)
            else:
                assert spec["low"] <= value <= spec["high"], (name, value)
                assert type(value) is (int if spec["type"] == "int" else float), (name, value)


def test_every_conditional_parameter_is_explored_where_active(studied) -> None:
    """Each `when:` value is reached, and each conditional parameter takes several values there."""
    specs, trials = studied
    for name, spec in specs.items():
        if "when" not in spec:
            continue
        values = [sampled[name] for sampled, _ in trials if name in sampled]
        assert len(values) >= 5, f"{name} active in {len(values)} of {len(trials)} trials"
        assert len(set(map(str, values))) > 1, f"{name} took only {set(values)}"
        for other, allowed in requirements(spec).items():
            for value in allowed:
                if other in specs and value in specs[other].get("values", [value]):
                    assert any(c.get(other) == value for _, c in trials), (name, other, value)


def test_the_same_seed_gives_the_same_proposals() -> None:
    _, specs = resolved("image", "classification")
    first = run_study(specs, seed=7, n=60)
    assert run_study(specs, seed=7, n=60) == first
    _, again = resolved("image", "classification")  # a fresh load and resolve of the same file
    assert run_study(again, seed=7, n=60) == first
    assert run_study(specs, seed=8, n=60) != first


def test_a_space_without_conditions_samples_every_parameter() -> None:
    space, _ = resolved("tabular", "classification")
    flat = {
        name: {k: v for k, v in spec.items() if k not in ("when", "default")}
        for name, spec in space.parameters.items()
    }
    specs = SearchSpace(flat, "flat").resolved("classification", TABULAR_SIZES)
    for sampled, config in run_study(specs, seed=0, n=30):
        assert set(sampled) == set(config) == set(specs)


# --- through OptunaSearch, as build_tuner wires it ---------------------------------------------


def searcher(modality: str, seed: int) -> tuple[OptunaSearch, list[dict[str, Any]]]:
    space = SearchSpace.load(None, modality)
    sizes = TABULAR_SIZES if modality == "tabular" else IMAGE_SIZES
    points = space.start_points("classification", sizes)
    tune_space = space.to_tune("classification", sizes)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=len(points) + 5)
    search = OptunaSearch(
        space=tune_space.define_by_run(points),
        metric="objective",
        mode="max",
        sampler=sampler,
        points_to_evaluate=points,
    )
    return search, points


def proposals(search: OptunaSearch, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        config = search.suggest(f"t{i}")
        search.on_trial_complete(f"t{i}", {"objective": score(config)})
        out.append(config)
    return out


@pytest.mark.parametrize("modality", ["tabular", "image"])
def test_start_points_are_evaluated_first_exactly_as_given(modality: str) -> None:
    search, points = searcher(modality, seed=0)
    configs = proposals(search, len(points) + 10)
    assert configs[: len(points)] == points
    assert all(c not in points for c in configs[len(points) :])
    specs = SearchSpace.load(None, modality).parameters
    for trial, config in zip(search._ot_study.trials, configs, strict=True):
        assert set(trial.params) == active_parameters(specs, config)  # the start points' too


def test_a_start_point_keeps_the_inactive_value_it_names() -> None:
    search, points = searcher("image", seed=0)
    scratch = next(p for p in points if p["backbone"] == "small_cnn")
    assert scratch["transfer"] == "full"  # named in image.yaml: what small_cnn means
    configs = proposals(search, len(points))
    assert configs[points.index(scratch)] == scratch
    assert "transfer" not in search._ot_study.trials[points.index(scratch)].params


def test_seeded_searchers_propose_alike_and_survive_pickling() -> None:
    first, _ = searcher("image", seed=3)
    second, _ = searcher("image", seed=3)
    assert proposals(first, 20) == proposals(second, 20)
    # Tune checkpoints its searcher (restore after a crash): the define-by-run code must pickle
    restored = pickle.loads(pickle.dumps(first))
    assert proposals(restored, 5) == proposals(first, 5)


def test_to_tune_is_still_the_flat_domains() -> None:
    tune_space = SearchSpace.load().to_tune("classification", TABULAR_SIZES)
    assert isinstance(tune_space, dict) and set(tune_space) == set(SearchSpace.load().parameters)
    assert pickle.loads(pickle.dumps(tune_space)).specs == tune_space.specs
