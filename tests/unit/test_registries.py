"""The contract of every registry (automl/registry.py), run over every entry: a new synthesizer, selection
rule, metric, augmentation policy, modality, backbone, model family or image synthesizer is covered here
the moment it is registered, with no test written for it, and a registry missing from `REGISTRIES` fails
`test_every_registry_is_covered`. (Synthesizers also get their fit/sample contract in
tests/unit/synth/test_synthesizers.py, backbones their truncation and weights in
tests/unit/image/test_backbones.py, both parametrized over the same registries.)"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from automl.errors import ConfigError
from automl.image.augment import POLICIES, build_policy
from automl.image.backbone_specs import BACKBONES, BackboneSpec
from automl.image.vae import IMAGE_SYNTHESIZERS, create_image_synthesizer
from automl.metrics import METRICS
from automl.modalities import MODALITIES, Modality
from automl.models import MODELS, build_model
from automl.models.families import FAMILIES
from automl.registry import TASKS, Registry
from automl.search.selection import RULES, Evidence, TrialSummary
from automl.synth.registry import SYNTHESIZERS

REGISTRIES: dict[str, Registry] = {
    "synthesizer": SYNTHESIZERS,
    "selection rule": RULES,
    "metric": METRICS,
    "augmentation policy": POLICIES,
    "modality": MODALITIES,
    "backbone": BACKBONES,
    "model family": MODELS,
    "table family": FAMILIES,
    "image synthesizer": IMAGE_SYNTHESIZERS,
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


def test_every_registry_is_covered():
    """Every module-level `NAME = Registry(...)` / `NAME: Registry[...] = Registry(...)` in automl/ is one
    of `REGISTRIES`, so its entries get the contract above."""
    root = Path(__file__).resolve().parents[2]
    declared = re.compile(r"^(\w+)\s*(?::[^=]+)?=\s*Registry\(", re.MULTILINE)
    found = {}
    for path in sorted((root / "automl").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for name in declared.findall(path.read_text(encoding="utf-8")):
            found[f"{module}.{name}"] = getattr(importlib.import_module(module), name)
    assert len(found) >= len(REGISTRIES)
    covered = [key for key, registry in found.items() if any(registry is r for r in REGISTRIES.values())]
    assert sorted(covered) == sorted(found), "add the missing registries to REGISTRIES"


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


def test_a_trial_keeps_the_declared_entries_it_first_imported(tmp_path, monkeypatch):
    (tmp_path / "lazy_things.py").write_text(
        'from automl.registry import Registry\nTHINGS = Registry("thing", lazy={"built_in": "lazy_things_entries"})\n'
    )
    (tmp_path / "lazy_things_entries.py").write_text(
        'from lazy_things import THINGS\nTHINGS.add("built_in", 1, description="a built-in thing")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    things = importlib.import_module("lazy_things").THINGS
    with things.trial():
        assert things["built_in"] == 1  # its module is imported here, inside the block
        things.add("extra", 2, description="a thing for this block only")
    assert list(things) == ["built_in"] and things["built_in"] == 1


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


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_spec_is_buildable(name):
    """The spec is what its entry says; a timm model exists in timm (and has its pretrained config where
    pretrained); the project's own backbones (cheap to build) give features of their width on tiny input.
    The timm ones are built in tests/unit/image/test_backbones.py."""
    import timm
    from timm.models import get_pretrained_cfg

    from automl.image.backbones import build_backbone, data_config

    entry = BACKBONES.entry(name)
    spec = entry.obj
    assert isinstance(spec, BackboneSpec) and spec.name == name and spec.description == entry.description
    assert dict(entry.meta) == {k: v for k, v in asdict(spec).items() if k not in ("name", "description")}
    assert entry.tasks == ("classification",)
    assert (entry.cost == "cheap") == (not spec.trainable)
    assert data_config(name)["input_size"] >= 8
    if spec.timm_name is not None:
        assert timm.is_model(spec.timm_name), f"timm has no model {spec.timm_name!r}"
        assert not spec.pretrained or get_pretrained_cfg(spec.timm_name) is not None
        return
    backbone = build_backbone(name, pretrained=False)
    with torch.no_grad():
        features = backbone.eval()(torch.zeros(2, 3, 16, 16))
    assert features.shape == (2, backbone.out_dim)


@pytest.mark.parametrize(("name", "task"), [(n, t) for n in MODELS.names() for t in MODELS.entry(n).tasks])
def test_every_model_family_builds_a_network_for_its_tasks(name, task):
    n_outputs = 3 if task == "classification" else 1
    network = build_model(name, 5, n_outputs, {})  # every architecture param has a default
    with torch.no_grad():
        out = network.eval()(torch.zeros(2, 5))
    assert isinstance(network, torch.nn.Module) and out.shape == (2, n_outputs)


@pytest.mark.parametrize("name", IMAGE_SYNTHESIZERS.names())
def test_every_image_synthesizer_fits_and_samples_a_tiny_fold(name):
    """The API the image trial uses (image/trainable.py `sample_synthetic`), at the cheapest settings the
    synthesizer has among `epochs` and `resolution`."""
    settings = IMAGE_SYNTHESIZERS.entry(name).settings
    cheap = {k: v for k, v in {"epochs": 1, "resolution": 16}.items() if k in settings}
    images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    y = np.array([0, 1, 0, 1, 0, 1])
    synth = create_image_synthesizer(name, **cheap).fit(images, y, 2, seed=0)
    sampled, labels = synth.sample(4, seed=0)
    assert sampled.shape == (4, 16, 16, 3) and sampled.dtype == np.uint8
    assert labels.shape == (4,) and set(labels.tolist()) <= {0, 1}
    assert synth.fit_seconds >= 0 and math.isfinite(synth.reconstruction_loss)
