"""The contract of every registry (automl/registry.py), run over every entry: a new synthesizer, selection
rule, metric or augmentation policy is covered here the moment it is registered, with no test written for
it. (Synthesizers also get their fit/sample contract in tests/unit/synth/test_synthesizers.py, which is
parametrized over the same registry.)"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from automl.errors import ConfigError
from automl.image.augment import POLICIES, build_policy
from automl.metrics import METRICS
from automl.modalities import MODALITIES, Modality
from automl.registry import TASKS, Registry
from automl.search.selection import RULES, Evidence, TrialSummary
from automl.synth.registry import SYNTHESIZERS

REGISTRIES: dict[str, Registry] = {
    "synthesizer": SYNTHESIZERS,
    "selection rule": RULES,
    "metric": METRICS,
    "augmentation policy": POLICIES,
    "modality": MODALITIES,
}
ENTRIES = [(kind, name) for kind, registry in REGISTRIES.items() for name in registry.names()]


@pytest.mark.parametrize(("kind", "name"), ENTRIES)
def test_every_entry_carries_its_metadata(kind, name):
    entry = REGISTRIES[kind].entry(name)
    assert entry.name == name and REGISTRIES[kind][name] is entry.obj
    assert entry.description and entry.description[0].isalnum() and "\n" not in entry.description
    assert entry.tasks and set(entry.tasks) <= set(TASKS)
    assert entry.cost in ("cheap", "expensive")
    for setting in entry.settings.values():  # every setting of a registered definition has a default
        assert not setting.required, f"{kind} {name!r}: setting {setting.name!r} has no default"


@pytest.mark.parametrize("kind", REGISTRIES)
def test_an_unknown_name_lists_the_valid_ones(kind):
    registry = REGISTRIES[kind]
    with pytest.raises(ConfigError, match=re.escape(f"Unknown {kind} 'no_such_entry'. Valid names are: ")):
        registry.entry("no_such_entry")
    assert "no_such_entry" not in registry


def _trials(task: str) -> list[TrialSummary]:
    rng = np.random.default_rng(0)
    return [
        TrialSummary(f"t{i}", float(s), float(s), 0.05, 5, float(g), int(p), "completed")
        for i, (s, g, p) in enumerate(
            zip(rng.uniform(0.6, 0.9, 6), rng.uniform(0, 0.2, 6), [10, 50] * 3, strict=True)
        )
    ]


def _evidence(trials: list[TrialSummary], task: str) -> Evidence:
    """Out-of-fold predictions of every trial on 40 rows (one repeat), as the study hands a rule."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40) if task == "classification" else rng.normal(size=40)
    outputs = {}
    for t in trials:
        if task == "classification":
            logits = rng.normal(size=(40, 3)) + 2 * np.eye(3)[y] * t.val_score
            outputs[t.trial_id] = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        else:
            outputs[t.trial_id] = y + rng.normal(scale=1 - t.val_score, size=40)
    metric = METRICS["accuracy" if task == "classification" else "rmse"]
    return Evidence(
        predictions=lambda ids: np.stack([outputs[i][None] for i in ids]),
        y=y,
        weights=np.ones(40),
        metric=metric,
        n_classes=3 if task == "classification" else 0,
    )


@pytest.mark.parametrize("name", RULES.names())
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("with_predictions", [False, True])
def test_every_rule_chooses_among_the_trials_and_says_why(name, task, with_predictions):
    trials = _trials(task)
    evidence = _evidence(trials, task) if with_predictions else None
    selection = RULES[name](trials, evidence)
    assert selection.trial_id in {t.trial_id for t in trials}
    assert set(selection.weights) <= {t.trial_id for t in trials}
    assert math.isclose(sum(selection.weights.values()), 1.0)
    assert selection.reason and selection.rule == name


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_scores_a_perfect_and_a_poor_model_apart(name):
    metric = METRICS[name]
    rng = np.random.default_rng(0)
    if metric.task == "classification":
        y = np.tile([0, 1, 2], 10)
        perfect = np.eye(3)[y] * 0.98 + 0.01 / 1.5
        poor = np.full((30, 3), 1 / 3)
        args = (3,)
    else:
        y = rng.normal(size=30)
        perfect, poor, args = y.copy(), np.zeros(30) + y.mean() + 1.0, ()
    good, bad = metric(y, perfect, *args), metric(y, poor, *args)
    assert math.isfinite(good) and math.isfinite(bad)
    assert metric.sign() * good > metric.sign() * bad


@pytest.mark.parametrize("name", POLICIES.names())
def test_every_policy_keeps_the_image_shape_and_type(name):
    image = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    augmenter = build_policy(name, size=24, seed=0)
    out = augmenter(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert augmenter.batch(np.stack([image, image])).shape == (2, 24, 24, 3)


def test_a_new_entry_is_one_decorated_definition():
    rules = Registry("selection rule")
    with pytest.raises(ValueError, match="needs a one-line description"):
        rules.add("silent", lambda trials, evidence=None: None, description=" ")

    @rules.register("first", description="the first trial")
    def first(trials, evidence=None):
        return trials[0]

    assert list(rules) == ["first"] and rules.describe("first") == "the first trial"
    with rules.trial():
        rules.add("second", lambda trials, evidence=None: trials[1], description="the second trial")
        assert "second" in rules
    assert "second" not in rules
    with pytest.raises(ValueError, match="already taken"):
        rules.add("first", lambda trials, evidence=None: trials[1], description="another")


SUMMARIES = {  # the data summary each modality's studies store in their manifest (prepared.py)
    "tabular": {"source": "t.csv", "n_rows": 90, "n_features": 4, "task": "regression", "target": "y"},
    "image": {"source": "photos/", "n_images": 40, "classes": ["a", "b"], "image_size": 64},
}


@pytest.mark.parametrize("name", MODALITIES.names())
def test_every_modality_describes_its_data_and_names_its_choices(name):
    modality = MODALITIES[name]
    assert isinstance(modality, Modality) and modality.name == name
    assert modality.unit and modality.new_data
    line = modality.data_line(SUMMARIES[name])
    assert SUMMARIES[name]["source"] in line and "None" not in line
    for parameter, (what, known) in modality.registered_choices().items():
        assert what and known and all(isinstance(v, str) for v in known), parameter
        for task in MODALITIES.entry(name).tasks:
            assert set(modality.usable_choices(parameter, known, task)) <= set(known)
