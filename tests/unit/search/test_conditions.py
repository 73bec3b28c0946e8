"""Conditional parameters (`when:` / `default:`): validation, which parameters are active, the order
they are sampled in, and how start points and resolving treat them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from automl.errors import ConfigError
from automl.search.conditions import active_parameters, find_cycle, parameter_order, same_value
from automl.search.space import SearchSpace

SIZES = {"n_rows": 1000, "n_features": 6, "n_classes": 3}
BASE = (
    "parameters:\n"
    "  depth: {type: int, low: 0, high: 3}\n"
    "  activation: {type: choice, values: [a, b, c]}\n"
    "  lr: {type: loguniform, low: 1.0e-4, high: 1.0e-1}\n"
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(extra: str, start: str = "") -> SearchSpace:
    Path("space.yaml").write_text(BASE + extra + start, encoding="utf-8")
    return SearchSpace.load("space.yaml")


def fails(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message) + "$"):
        load(extra)


# --- validation ------------------------------------------------------------------------------


def test_a_valid_condition_loads() -> None:
    space = load(
        "  width: {type: choice, values: [8, 16], when: {depth: [1, 2, 3]}}\n"
        "  dropout: {type: uniform, low: 0.0, high: 1.0, default: 0.5, when: {activation: b, depth: 2}}\n"
    )
    assert space.parameters["dropout"]["when"] == {"activation": "b", "depth": 2}


def test_unknown_referenced_parameter() -> None:
    fails(
        "  width: {type: choice, values: [8, 16], when: {dept: 1}}\n",
        "The 'when' of parameter 'width' in space.yaml names an unknown parameter 'dept'. "
        "Valid: depth, activation, lr.",
    )


def test_value_not_among_the_choices() -> None:
    fails(
        "  width: {type: choice, values: [8, 16], when: {activation: [a, d]}}\n",
        "The 'when' of parameter 'width' in space.yaml must give values of 'activation' among a, b, c. "
        "Got 'd' instead.",
    )


@pytest.mark.parametrize("value", ["4", "-1", "1.5", "one", "true"])
def test_value_outside_an_int_range(value: str) -> None:
    shown = {"4": "4", "-1": "-1", "1.5": "1.5", "one": "'one'", "true": "True"}[value]
    fails(
        f"  width: {{type: choice, values: [8, 16], when: {{depth: {value}}}}}\n",
        "The 'when' of parameter 'width' in space.yaml must give values of 'depth' among the integers "
        f"from 0 to 3. Got {shown} instead.",
    )


def test_a_condition_on_a_continuous_parameter() -> None:
    fails(
        "  width: {type: choice, values: [8, 16], when: {lr: 0.01}}\n",
        "The 'when' of parameter 'width' in space.yaml must name a choice or int parameter. "
        "Got 'lr' (loguniform) instead.",
    )


@pytest.mark.parametrize(("when", "shown"), [("{}", "{}"), ("[depth]", "['depth']"), ("depth", "'depth'")])
def test_when_must_be_a_non_empty_mapping(when: str, shown: str) -> None:
    fails(
        f"  width: {{type: choice, values: [8, 16], when: {when}}}\n",
        "The 'when' of parameter 'width' in space.yaml must be a non-empty mapping of parameter names "
        f"to a value or a list of values. Got {shown} instead.",
    )


def test_an_empty_list_of_values() -> None:
    fails(
        "  width: {type: choice, values: [8, 16], when: {activation: []}}\n",
        "The 'when' of parameter 'width' in space.yaml must give 'activation' a value or a non-empty list "
        "of values. Got [] instead.",
    )


def test_bools_are_not_integers_nor_the_other_way_round() -> None:
    fails(
        "  batch_norm: {type: choice, values: [false, true]}\n  width: {type: choice, values: [8], when: {batch_norm: 1}}\n",
        "The 'when' of parameter 'width' in space.yaml must give values of 'batch_norm' among False, True. "
        "Got 1 instead.",
    )


def test_cycles() -> None:
    fails(
        "  scaler: {type: choice, values: [x, y], when: {class_weight: x}}\n"
        "  class_weight: {type: choice, values: [x, y], when: {synth_method: x}}\n"
        "  synth_method: {type: choice, values: [x, y], when: {scaler: y}}\n",
        "The 'when' conditions in space.yaml form a cycle: scaler -> class_weight -> synth_method -> scaler.",
    )
    fails(
        "  scaler: {type: choice, values: [x, y], when: {scaler: x}}\n",
        "The 'when' conditions in space.yaml form a cycle: scaler -> scaler.",
    )


@pytest.mark.parametrize(
    ("spec", "among", "shown"),
    [
        ("{type: choice, values: [8, 16], default: 32", "8, 16", "32"),
        ("{type: int, low: 1, high: 4, default: 0", "the integers from 1 to 4", "0"),
        ("{type: int, low: 1, high: 4, default: 2.5", "the integers from 1 to 4", "2.5"),
        ("{type: uniform, low: 0.0, high: 1.0, default: none", "the numbers from 0.0 to 1.0", "'none'"),
    ],
)
def test_a_default_outside_the_parameter(spec: str, among: str, shown: str) -> None:
    fails(
        f"  width: {spec}, when: {{depth: 1}}}}\n",
        f"The 'default' of parameter 'width' in space.yaml must be among {among}. Got {shown} instead.",
    )


def test_a_default_without_a_condition() -> None:
    fails(
        "  width: {type: choice, values: [8, 16], default: 8}\n",
        "The 'default' of parameter 'width' in space.yaml only applies with a 'when' condition. "
        "Add one or remove it.",
    )


@pytest.mark.parametrize("modality", ["tabular", "image"])
def test_the_default_spaces_are_acyclic_and_conditional(modality: str) -> None:
    space = SearchSpace.load(None, modality)
    assert find_cycle(space.parameters) is None
    assert sum("when" in spec for spec in space.parameters.values()) >= 6


# --- active parameters and their order ------------------------------------------------------

CHAINED = {
    "backbone": {"type": "choice", "values": ["net", "cnn", "pixels"]},
    "freeze": {"type": "int", "low": 1, "high": 3, "when": {"transfer": "partial"}},  # before its condition
    "transfer": {"type": "choice", "values": ["probe", "partial"], "when": {"backbone": ["net"]}},
    "depth": {"type": "int", "low": 0, "high": 2},
    "width": {"type": "choice", "values": [8, 16], "when": {"depth": [1, 2], "backbone": ["net", "cnn"]}},
}


def test_parameter_order_puts_conditions_first_and_keeps_the_file_order_otherwise() -> None:
    assert parameter_order(CHAINED) == ["backbone", "transfer", "freeze", "depth", "width"]


@pytest.mark.parametrize(
    ("config", "active"),
    [
        ({"backbone": "net", "transfer": "partial", "depth": 1}, {"transfer", "freeze", "width"}),
        ({"backbone": "net", "transfer": "probe", "depth": 0}, {"transfer"}),
        (
            {"backbone": "cnn", "transfer": "partial", "depth": 2},
            {"width"},
        ),  # transfer inactive: so is freeze
        ({"backbone": "pixels", "depth": 2}, set()),
        ({"backbone": "net", "depth": 2.0}, {"transfer", "width"}),  # a leaderboard's float
        ({"depth": 1}, set()),  # a condition on a missing (blank) value does not hold
    ],
)
def test_active_parameters(config: dict, active: set[str]) -> None:
    assert active_parameters(CHAINED, config) == {"backbone", "depth"} | active


def test_a_condition_on_a_parameter_the_task_removed_never_holds() -> None:
    space = load(
        "  class_weight: {type: choice, values: [none, balanced], task: classification}\n"
        "  l2: {type: uniform, low: 0.5, high: 1.0, when: {class_weight: balanced}}\n"
    )
    regression = space.resolved("regression", SIZES)
    assert "class_weight" not in regression
    assert "l2" not in active_parameters(regression, {"class_weight": "balanced"})
    assert "l2" in space.active({"class_weight": "balanced"})


def test_same_value() -> None:
    assert same_value(16, 16.0) and same_value("a", "a") and same_value(True, True)
    assert not same_value(True, 1) and not same_value(0, False) and not same_value("16", 16)


# --- resolving and start points ---------------------------------------------------------------


def test_resolved_specs_carry_the_condition_and_an_inactive_value_inside_the_data() -> None:
    space = load(
        "  batch_size: {type: choice, values: [16, 32, 64], max: n_rows, default: 64, when: {activation: a}}\n"
        "  patience: {type: int, low: 1, high: n_rows, default: 50, when: {activation: b}}\n"
        "  width: {type: choice, values: [8, 16], when: {depth: [1, 2, 3]}}\n"
        "  dropout: {type: uniform, low: 0.1, high: 0.9, when: {depth: 2}}\n"
    )
    specs = space.resolved("classification", dict(SIZES, n_rows=20))
    assert specs["batch_size"] == {
        "type": "choice",
        "values": [16],
        "max": "n_rows",
        "default": 16,  # 64 is above the rows here: the nearest allowed one
        "when": {"activation": "a"},
    }
    assert specs["patience"]["default"] == 20
    assert specs["width"]["default"] == 8  # no default: the first choice
    assert specs["dropout"]["default"] == 0.1  # or the low bound
    assert "default" not in specs["depth"] and "default" not in space.parameters["width"]


def test_start_points_may_leave_out_inactive_parameters() -> None:
    space = load(
        "  width: {type: choice, values: [8, 16, 32], when: {depth: [1, 2, 3]}}\n"
        "  synth_ratio: {type: uniform, low: 0.0, high: 2.0, default: 0.0, when: {activation: [b, c]}}\n",
        "start:\n  - {depth: 0, activation: a}\n  - {depth: 2, activation: b}\n  - {depth: 0, activation: a, width: 32}\n",
    )
    linear, network, named = space.start_points("classification", SIZES)
    assert linear == {
        "depth": 0,
        "activation": "a",
        "lr": pytest.approx(3.16e-3, rel=1e-2),
        "width": 8,
        "synth_ratio": 0.0,
    }
    # active and left out: the first choice or the middle, as for any parameter
    assert (network["width"], network["synth_ratio"]) == (8, 1.0)
    # an inactive value the point names is kept as named (it has no effect)
    assert named["width"] == 32
    assert list(linear) == list(space.parameters)


def test_without_keeps_conditions_on_the_values_left() -> None:
    space = SearchSpace(dict(CHAINED), "chained", modality="tabular").without("backbone", ["net"])
    assert space.choices("backbone") == ["cnn", "pixels"]
    assert space.active({"backbone": "cnn", "transfer": "partial", "depth": 1}) == {
        "backbone",
        "depth",
        "width",
    }
