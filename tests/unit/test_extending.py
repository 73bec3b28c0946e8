"""Extending the system, one test per extension kind: each adds a new entry the documented way (one
registered definition), inside `registry.trial()` so that it is gone after the test, and shows that the
rest of the system picks it up: a YAML search space may name it, the CLI help and the names lists show
it, and it works on tiny data. docs/architecture.md ("How to add ...") points at these tests.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from automl.errors import ConfigError
from automl.image.augment import POLICIES, PolicySpec, available_policies, build_policy
from automl.image.backbones import BACKBONES, available_backbones, build_backbone, register_backbone
from automl.image.network import build_network
from automl.image.vae import IMAGE_SYNTHESIZERS, available_image_synthesizers
from automl.metrics import METRICS, Metric, get_metric
from automl.modalities import MODALITIES, Modality, detect, modality, register_modality
from automl.models import MODELS, available_models, build_model, register_model
from automl.search.selection import RULES, Selection, TrialSummary, register_rule, select
from automl.search.space import SearchSpace
from automl.synth.base import Synthesizer
from automl.synth.registry import (
    SYNTHESIZERS,
    available_synthesizers,
    create_synthesizer,
    register_synthesizer,
)

IMAGES = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
LABELS = np.array([0, 1] * 4)


def _space(tmp_path, modality_name: str, parameters: dict) -> SearchSpace:
    """The YAML space holding `parameters`, loaded (and so validated) as a study loads its --space."""
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return SearchSpace.load(path, modality_name)


def _cli_help() -> str:
    from automl.run_args import add_study_options

    parser = argparse.ArgumentParser()
    add_study_options(parser)
    return " ".join(parser.format_help().split())


# ---------------------------------------------------------------------------------------- backbone


def test_a_new_backbone_is_one_register_backbone_call(tmp_path):
    """A timm model needs only its timm name: it is built, truncated and frozen like the others."""
    with BACKBONES.trial():
        register_backbone("test_resnet", timm_name="test_resnet", description="timm's tiny test ResNet")
        assert "test_resnet" in available_backbones()
        space = _space(
            tmp_path, "image", {"backbone": {"type": "choice", "values": ["test_resnet", "pixels_8"]}}
        )
        assert space.choices("backbone") == ["test_resnet", "pixels_8"]
        backbone = build_backbone("test_resnet", pretrained=False, drop_stages=1)
        backbone.freeze_first(1)
        assert backbone(torch.zeros(2, 3, 32, 32)).shape == (2, backbone.out_dim)
        network = build_network({"backbone": "test_resnet", "head_depth": 0}, 3, image_size=32)
        assert network(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    assert "test_resnet" not in available_backbones()
    with pytest.raises(ConfigError, match=re.escape("Unknown backbone(s) test_resnet in")):
        _space(tmp_path, "image", {"backbone": {"type": "choice", "values": ["test_resnet"]}})


# ---------------------------------------------------------------------------------------- policy


def test_a_new_augmentation_policy_is_one_decorated_builder(tmp_path):
    with POLICIES.trial():

        @POLICIES.register("mirror", description="every image mirrored left to right")
        def _mirror(spec: PolicySpec) -> list:
            import albumentations as A

            return [A.HorizontalFlip(p=1.0)]

        assert "mirror" in available_policies()
        space = _space(tmp_path, "image", {"augment": {"type": "choice", "values": ["none", "mirror"]}})
        assert space.choices("augment") == ["none", "mirror"]
        out = build_policy("mirror", size=16, seed=0)(IMAGES[0])
        np.testing.assert_array_equal(out, IMAGES[0][:, ::-1])
    assert "mirror" not in available_policies()


# ---------------------------------------------------------------------------------------- tabular synthesizer


def test_a_new_tabular_synthesizer_is_one_decorated_class(tmp_path):
    from automl.modalities.tabular import Tabular
    from automl.train.table_folds import synth_settings

    with SYNTHESIZERS.trial():

        @register_synthesizer("jitter")
        class JitterSynthesizer(Synthesizer):
            """Training rows resampled with Gaussian jitter on the encoded features."""

            space, tasks, expensive = "encoded", ("classification", "regression"), False

            def __init__(self, scale: float = 0.1) -> None:
                self.scale = scale

            def _fit(self, X, y, *, task, seed):
                self._rows, self._labels = X, y

            def _sample(self, n, *, seed):
                rng = np.random.default_rng(seed)
                idx = rng.integers(0, len(self._rows), n)
                return self._rows[idx] + rng.normal(0, self.scale, (n, self._rows.shape[1])), self._labels[
                    idx
                ]

        assert "jitter" in available_synthesizers()
        values = ["none", "jitter"]
        space = _space(tmp_path, "tabular", {"synth_method": {"type": "choice", "values": values}})
        assert space.choices("synth_method") == values
        assert Tabular().usable_choices("synth_method", values, "regression") == values
        settings = synth_settings(
            "jitter", {"synth_method": "jitter", "synth_ratio": 1.0, "synth_scale": 0.5}
        )
        assert settings == {"scale": 0.5}
        X, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
        rows, labels = (
            create_synthesizer("jitter", **settings)
            .fit(X, y, task="classification", seed=0)
            .sample(6, seed=0)
        )
        assert rows.shape == (6, 3) and set(labels.tolist()) <= {0, 1}
    assert "jitter" not in available_synthesizers()


# ---------------------------------------------------------------------------------------- image synthesizer


def test_a_new_image_synthesizer_is_one_decorated_class(tmp_path):
    from automl.image.trainable import sample_synthetic, synth_settings

    with IMAGE_SYNTHESIZERS.trial():

        @IMAGE_SYNTHESIZERS.register(
            "class_mean", description="each class's mean image plus Gaussian noise", tasks=("classification",)
        )
        class ClassMeanSynthesizer:
            def __init__(self, *, noise: float = 10.0) -> None:
                self.noise = noise

            def fit(self, images, y, n_classes, *, seed, device="cpu"):
                start = time.perf_counter()
                self.means = np.stack([images[y == c].mean(axis=0) for c in range(n_classes)])
                self.reconstruction_loss = float(np.mean(((images - self.means[y]) / 255.0) ** 2))
                self.fit_seconds = time.perf_counter() - start
                return self

            def sample(self, n, *, seed, y=None):
                rng = np.random.default_rng(seed)
                labels = rng.integers(0, len(self.means), n) if y is None else np.asarray(y)
                noisy = self.means[labels] + rng.normal(0, self.noise, (n, *self.means.shape[1:]))
                return np.clip(noisy, 0, 255).astype(np.uint8), labels.astype(np.int64)

        assert "class_mean" in available_image_synthesizers()
        parameters = {
            "synth_method": {"type": "choice", "values": ["none", "class_mean"]},
            "synth_noise": {
                "type": "uniform",
                "low": 1.0,
                "high": 20.0,
                "when": {"synth_method": "class_mean"},
            },
        }
        assert _space(tmp_path, "image", parameters).choices("synth_method") == ["none", "class_mean"]
        settings = synth_settings({"synth_method": "class_mean", "synth_ratio": 0.5, "synth_noise": 5.0})
        assert settings == {"noise": 5.0}
        images, labels, seconds, loss = sample_synthetic("class_mean", settings, IMAGES, LABELS, 2, 0.5, 0)
        assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8 and set(labels) <= {0, 1}
        assert seconds >= 0 and loss >= 0
    assert available_image_synthesizers() == ["vae"]


# ---------------------------------------------------------------------------------------- model family


def test_a_new_model_family_is_one_decorated_builder():
    from automl.train.loop import NetworkFit

    with MODELS.trial():

        @register_model("two_layer", description="two linear layers with a tanh between them")
        def two_layer(n_inputs: int, n_outputs: int, params: dict) -> torch.nn.Module:
            width = int(params.get("width", 8))
            return torch.nn.Sequential(
                torch.nn.Linear(n_inputs, width), torch.nn.Tanh(), torch.nn.Linear(width, n_outputs)
            )

        assert "two_layer" in available_models()
        assert build_model("two_layer", 3, 2, {"width": 4})[0].out_features == 4
        X, y = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32), np.arange(12) % 2
        fit = NetworkFit(
            {"lr": 0.01}, X, y, task="classification", n_classes=2, seed=0, model_family="two_layer"
        )
        assert np.isfinite(fit.epoch()) and fit.output(X).shape == (12, 2)
    with pytest.raises(ConfigError, match=re.escape("Unknown model family 'two_layer'. Valid names are: ")):
        build_model("two_layer", 3, 2, {})


# ---------------------------------------------------------------------------------------- selection rule


def test_a_new_selection_rule_is_one_decorated_function():
    from automl.config import StudyConfig

    trials = [
        TrialSummary("big", 0.9, 0.9, 0.02, 5, 0.05, 5000, "completed"),
        TrialSummary("small", 0.8, 0.8, 0.02, 5, 0.01, 50, "completed"),
    ]
    with RULES.trial():

        @register_rule("fewest_parameters")
        def fewest_parameters(trials: list[TrialSummary], evidence=None) -> Selection:
            """The trial with the fewest trained parameters."""
            pick = min(trials, key=lambda t: t.n_params)
            return Selection(pick.trial_id, "fewest_parameters", "the smallest model", None, [pick.trial_id])

        assert select(trials, "fewest_parameters").trial_id == "small"
        assert "fewest_parameters: The trial with the fewest trained parameters" in _cli_help()
        StudyConfig(data="data.csv", select="fewest_parameters").validate()
    assert "fewest_parameters" not in _cli_help()


# ---------------------------------------------------------------------------------------- metric


def test_a_new_metric_is_one_added_entry():
    def worst_error(y, pred, n_classes):
        return float(np.max(np.abs(y - pred)))

    with METRICS.trial():
        METRICS.add(
            "max_error",
            Metric("max_error", "regression", False, worst_error),
            description="the largest absolute error",
            tasks=("regression",),
        )
        metric = get_metric("max_error", "regression")
        assert metric(np.array([1.0, 2.0]), np.array([1.5, 4.0])) == 2.0 and metric.sign() == -1.0
        assert "max_error" in METRICS.names("regression") and "max_error" not in METRICS.names(
            "classification"
        )
        assert re.search(r"regression: [^;(]*\bmax_error\b", _cli_help())
    assert "max_error" not in METRICS


# ---------------------------------------------------------------------------------------- modality


def _audio_modality() -> type[Modality]:
    """A modality registered the documented way (`@register_modality` on a complete subclass); only what
    the registry-level lookups ask is real, the rest a study would need is left unimplemented here."""

    @register_modality
    class Audio(Modality):
        name = "audio"
        unit = "clips"
        new_data = "./new_clips/"
        description = "sound clips: .wav files"
        tasks = ("classification",)

        def claims(self, path: Path, target: str | None) -> bool:
            return path.suffix.lower() == ".wav"

        def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
            return {"synth_method": ("audio synthesizer(s)", ["none"])}

        def describe(self, dataset: Any) -> str:
            return f"{len(dataset)} clips"

        def data_line(self, summary: dict[str, Any]) -> str:
            return f"{summary.get('source')} ({summary.get('n_clips')} clips)"

        def prepare(self, config: Any, log: Any) -> Any:
            raise NotImplementedError

        def refit(
            self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]
        ) -> Any:
            raise NotImplementedError

        def fold_model(
            self, fresh: Any, fold_index: int, config: dict[str, Any], network: Any, info: dict, epochs: int
        ) -> Any:
            raise NotImplementedError

        def test_inputs(self, prep: Any) -> tuple[Any, Any]:
            raise NotImplementedError

        def model_files(self) -> tuple[str, ...]:
            return ("audio_model.pt",)

        def load_model(self, files: dict[str, bytes], where: str) -> Any:
            raise NotImplementedError

        def predict(self, model: Any, source: str, output: str | None, max_bytes: int) -> Any:
            raise NotImplementedError

    return Audio


def test_a_new_modality_is_one_registered_class(tmp_path):
    """At the registry level: the lookups, source detection and search-space validation accept it."""
    with MODALITIES.trial():
        _audio_modality()
        assert "audio" in MODALITIES.names() and "audio" not in MODALITIES.names("regression")
        assert modality("audio").unit == "clips"
        assert modality("audio").data_line({"source": "clips/", "n_clips": 3}) == "clips/ (3 clips)"
        (tmp_path / "clip.wav").write_bytes(b"RIFF")
        assert detect(tmp_path / "clip.wav").name == "audio"
        assert (
            _space(tmp_path, "audio", {"synth_method": {"type": "choice", "values": ["none"]}}).modality
            == "audio"
        )
        with pytest.raises(ConfigError, match=re.escape("Unknown audio synthesizer(s) vae in")):
            _space(tmp_path, "audio", {"synth_method": {"type": "choice", "values": ["none", "vae"]}})
    assert "audio" not in MODALITIES
    with pytest.raises(ConfigError, match=re.escape("Unknown modality 'audio'. Valid names are: ")):
        MODALITIES.entry("audio")
