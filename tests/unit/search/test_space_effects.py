"""The default spaces' `when:` conditions agree with the code that reads a configuration: a parameter the
space makes inactive has no effect there (the trainable's `effective_config` drops it or fixes it
whatever its value), and an active one is used as sampled."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from automl.image.backbones import backbone_spec
from automl.image.trainable import ImageSearchData
from automl.search.conditions import active_parameters
from automl.search.space import SearchSpace, TuneSpace
from automl.train.trainable import SearchData

optuna.logging.set_verbosity(optuna.logging.WARNING)

SIZES = {"n_rows": 200, "n_features": 6, "n_classes": 3}
# Inactive image settings that effective_config keeps but the code further on ignores: the head's
# width at depth 0 (an MLP without hidden layers), RandAugment's settings under another policy, and
# stochastic depth on the project's own from-scratch backbone (it has none).
IGNORED_DOWNSTREAM = {"head_width", "aug_ops", "aug_magnitude", "drop_path"}


def effective(modality: str):
    """The trainable's effective_config; it reads only the configuration, so no data is needed."""
    data = object.__new__(ImageSearchData if modality == "image" else SearchData)
    return data.effective_config


def samples(modality: str, task: str, n: int = 300) -> tuple[dict[str, dict[str, Any]], list[dict]]:
    specs = SearchSpace.load(None, modality).resolved(task, SIZES)
    define = TuneSpace({}, specs).define_by_run()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = []
    for _ in range(n):
        trial = study.ask()
        fixed = define(trial)  # samples the active parameters into trial.params
        configs.append({**trial.params, **fixed})
        study.tell(trial, 0.0)
    return specs, configs


def other_value(spec: dict[str, Any], value: Any) -> Any:
    if spec["type"] == "choice":
        return next(v for v in spec["values"] if v != value)
    return spec["high"] if value != spec["high"] else spec["low"]


@pytest.mark.parametrize(
    ("modality", "task"),
    [("tabular", "classification"), ("tabular", "regression"), ("image", "classification")],
)
def test_inactive_parameters_have_no_effect_and_active_ones_are_used(modality: str, task: str) -> None:
    specs, configs = samples(modality, task)
    used = effective(modality)
    for config in configs:
        active = active_parameters(specs, config)
        kept = used(config)
        for name in active:
            assert kept.get(name) == config[name], (name, config)
        for name in set(specs) - active:
            if modality == "image" and name in IGNORED_DOWNSTREAM:
                continue
            changed = dict(config, **{name: other_value(specs[name], config[name])})
            assert used(changed).get(name) == kept.get(name), (name, config)


def test_the_image_settings_ignored_downstream_are_inactive_where_ignored() -> None:
    specs, configs = samples("image", "classification")
    for config in configs:
        active = active_parameters(specs, config)
        if "head_width" in active:
            assert config["head_depth"] > 0
        if {"aug_ops", "aug_magnitude"} & active:
            assert config["augment"] == "randaugment"
        if "drop_path" in active:
            assert backbone_spec(config["backbone"]).pretrained and config["transfer"] != "linear_probe"


def test_the_tabular_space_drops_exactly_what_the_trainable_drops() -> None:
    specs, configs = samples("tabular", "classification")
    used = effective("tabular")
    for config in configs:
        assert set(used(config)) == active_parameters(specs, config), config
