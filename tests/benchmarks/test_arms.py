"""The benchmark's arms: each registered ablation is a valid copy of the tree's default space with its
parameters fixed, and an arm given on the command line changes only what it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from automl.errors import ConfigError
from automl.search.space import SearchSpace
from benchmarks.arms import ARMS, parse_arm, resolve


@pytest.mark.parametrize("name", [n for n, a in ARMS.items() if a.fixed])
def test_every_ablation_space_is_a_valid_copy_of_the_default(name, tmp_path):
    arm = ARMS[name]
    for family, fixed in arm.fixed.items():  # the registered ones name their families
        run = resolve(arm, family, 300.0, 1000, tmp_path)
        space = SearchSpace.load(run.space, "image" if family == "image" else "tabular")
        for parameter, value in fixed.items():
            assert space.choices(parameter) == [value], (name, family, parameter)
    if "table" not in arm.fixed:
        assert resolve(arm, "table", 300.0, 1000, tmp_path) is None


def test_the_budget_and_trial_arms_run_as_the_command_would():
    budget = resolve(ARMS["budget"], "table", 120.0, 1000, Path("."))
    trials = resolve(ARMS["trials"], "table", 120.0, 1000, Path("."))
    assert (budget.trials, budget.budget_s, budget.space, budget.settings) == (1000, 120.0, None, {})
    assert (trials.trials, trials.budget_s) == (20, 600.0)
    assert budget.identity() != trials.identity()


def test_an_arm_from_the_command_line(tmp_path):
    space = tmp_path / "no_gbdt.yaml"
    space.write_text("parameters: {}\n")
    arm = parse_arm(f"no_gbdt:space={space},budget=2m,select=ensemble,n_repeats=3")
    run = resolve(arm, "table", 300.0, 1000, tmp_path)
    assert (run.name, run.trials, run.budget_s, run.space) == ("no_gbdt", 1000, 120.0, str(space.resolve()))
    assert run.settings == {"select": "ensemble", "n_repeats": 3}
    first = run.identity()
    space.write_text("parameters: {depth: {type: int, low: 0, high: 1}}\n")
    assert run.identity() != first  # an edited space is another arm: its cached records are run again


def test_a_wrong_arm_stops_the_run():
    with pytest.raises(ValueError, match=re.escape("unknown arm 'nope'")):
        parse_arm("nope")
    with pytest.raises(ConfigError, match=re.escape("The 'n_folds' parameter of StudyConfig must be")):
        parse_arm("five:n_folds=1")
    with pytest.raises(ValueError, match=re.escape("no search space file")):
        parse_arm("x:space=/nope.yaml")


def test_an_arm_can_cut_a_parameter_to_some_of_its_values(tmp_path):
    arm = parse_arm("small:only.synth_method=none|smote,only.depth=0|1")
    table = resolve(arm, "table", 300.0, 1000, tmp_path)
    space = SearchSpace.load(table.space, "tabular")
    assert space.choices("synth_method") == ["none", "smote"] and space.choices("depth") == [0, 1]
    assert space.choices("synth_epochs") == [50]  # only CTGAN and TVAE train epochs: fixed while inactive
    assert resolve(arm, "image", 300.0, 1000, tmp_path) is None  # the image space has no `depth`
    with pytest.raises(ValueError, match=re.escape("'synth_method' takes")):
        resolve(parse_arm("x:only.synth_method=gan"), "table", 300.0, 1000, tmp_path)
