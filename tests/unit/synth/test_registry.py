"""The synthesizer registry: names, lazy imports, settings validation and error messages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from automl.errors import ConfigError
from automl.synth import (
    Synthesizer,
    available_synthesizers,
    create_synthesizer,
    register_synthesizer,
    registry,
    synthesizer_class,
)

# Every synthesizer the project ships. A new one must be added here (and gets the contract
# tests in test_synthesizers.py for free); an unlisted registration fails this suite.
EXPECTED_NAMES = {"smote", "gaussian_copula", "ctgan", "tvae"}

EXPECTED_ATTRIBUTES = {
    "smote": ("encoded", ("classification",), False),
    "gaussian_copula": ("raw", ("classification", "regression"), True),
    "ctgan": ("raw", ("classification", "regression"), True),
    "tvae": ("raw", ("classification", "regression"), True),
}

EXPECTED_DEFAULT_SETTINGS = {
    "smote": {"k_neighbors": 5},
    "gaussian_copula": {"default_distribution": "norm"},
    "ctgan": {"epochs": 100, "batch_size": None},
    "tvae": {"epochs": 100, "batch_size": None},
}

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_available_synthesizers_is_exactly_the_expected_set() -> None:
    assert set(available_synthesizers()) == EXPECTED_NAMES
    assert available_synthesizers() == sorted(available_synthesizers())


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_registered_class_declares_its_space_tasks_and_cost(name: str) -> None:
    cls = synthesizer_class(name)
    assert issubclass(cls, Synthesizer)
    assert cls.name == name
    assert (cls.space, cls.tasks, cls.expensive) == EXPECTED_ATTRIBUTES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_create_synthesizer_uses_default_settings(name: str) -> None:
    synth = create_synthesizer(name)
    assert isinstance(synth, synthesizer_class(name))
    assert synth.get_settings() == EXPECTED_DEFAULT_SETTINGS[name]


def test_none_is_not_a_synthesizer() -> None:
    assert "none" not in available_synthesizers()
    with pytest.raises(ConfigError, match="Unknown synthesizer 'none'"):
        synthesizer_class("none")
    with pytest.raises(ConfigError, match=re.escape("a lowercase identifier other than 'none'")):
        register_synthesizer("none")


def test_importing_the_package_imports_no_heavy_library() -> None:
    code = (
        "import sys; import automl.synth; "
        "heavy = [m for m in ('sdv', 'torch', 'imblearn', 'automl.synth.sdv') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_smote_lookup_does_not_import_sdv() -> None:
    code = (
        "import sys; from automl.synth import create_synthesizer; create_synthesizer('smote'); "
        "assert 'sdv' not in sys.modules and 'automl.synth.sdv' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_unknown_name_lists_the_valid_names() -> None:
    msg = (
        "Unknown synthesizer 'smoot'. Valid names are: 'ctgan', 'gaussian_copula', 'smote', 'tvae' "
        "(or 'none' to turn synthesis off)."
    )
    with pytest.raises(ConfigError, match=re.escape(msg)):
        create_synthesizer("smoot")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        synthesizer_class("smoot")


def test_unknown_setting_lists_the_valid_settings() -> None:
    msg = "Unknown setting(s) 'epoch' for synthesizer 'ctgan'. Valid settings are: epochs, batch_size."
    with pytest.raises(ConfigError, match=re.escape(msg)):
        create_synthesizer("ctgan", epoch=5)


@pytest.mark.parametrize(
    ("name", "settings", "msg"),
    [
        (
            "ctgan",
            {"epochs": 0},
            "The 'epochs' parameter of synthesizer 'ctgan' must be an int >= 1. Got 0 instead.",
        ),
        (
            "tvae",
            {"epochs": "many"},
            "The 'epochs' parameter of synthesizer 'tvae' must be an int >= 1. Got 'many' instead.",
        ),
        (
            "ctgan",
            {"batch_size": 15},
            "The 'batch_size' parameter of synthesizer 'ctgan' must be a positive multiple of 10 "
            "(or None for automatic). Got 15 instead.",
        ),
        (
            "smote",
            {"k_neighbors": 0},
            "The 'k_neighbors' parameter of synthesizer 'smote' must be an int >= 1. Got 0 instead.",
        ),
        (
            "smote",
            {"k_neighbors": True},
            "The 'k_neighbors' parameter of synthesizer 'smote' must be an int >= 1. Got True instead.",
        ),
        (
            "gaussian_copula",
            {"default_distribution": "normal"},
            "The 'default_distribution' parameter of synthesizer 'gaussian_copula' must be one of "
            "'norm', 'beta', 'truncnorm', 'gamma', 'uniform', 'gaussian_kde'. Got 'normal' instead.",
        ),
    ],
)
def test_bad_setting_values_raise_config_error(name: str, settings: dict, msg: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(msg)):
        create_synthesizer(name, **settings)


def test_valid_non_default_settings_are_kept() -> None:
    assert create_synthesizer("ctgan", epochs=5.0, batch_size=20).get_settings() == {
        "epochs": 5,
        "batch_size": 20,
    }
    assert create_synthesizer("tvae", batch_size=7).get_settings() == {"epochs": 100, "batch_size": 7}
    assert create_synthesizer("gaussian_copula", default_distribution="beta").default_distribution == "beta"


def test_gaussian_copula_distribution_names_match_sdv() -> None:
    from sdv.single_table import GaussianCopulaSynthesizer

    from automl.synth.sdv import GAUSSIAN_COPULA_DISTRIBUTIONS

    assert set(GAUSSIAN_COPULA_DISTRIBUTIONS) == set(GaussianCopulaSynthesizer._DISTRIBUTIONS)


@pytest.mark.parametrize(("n_rows", "expected"), [(3, 10), (10, 10), (64, 60), (499, 490), (5000, 500)])
def test_default_batch_size_is_a_multiple_of_ctgan_pac(n_rows: int, expected: int) -> None:
    from automl.synth.sdv import _default_batch_size

    assert _default_batch_size(n_rows) == expected


def test_register_synthesizer_adds_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.SYNTHESIZERS, "_entries", dict(registry.SYNTHESIZERS._entries))

    @register_synthesizer("copy_rows")
    class CopyRows(Synthesizer):
        """Copies of training rows."""

        space = "encoded"
        tasks = ("classification", "regression")
        expensive = False

        def _fit(self, X, y, *, task, seed):  # pragma: no cover - never fitted here
            pass

        def _sample(self, n, *, seed):  # pragma: no cover
            raise NotImplementedError

    assert "copy_rows" in available_synthesizers()
    assert synthesizer_class("copy_rows") is CopyRows
    assert CopyRows.name == "copy_rows"
    with pytest.raises(ConfigError, match=re.escape("It takes no settings.")):
        create_synthesizer("copy_rows", k=1)


def test_register_synthesizer_rejects_a_malformed_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.SYNTHESIZERS, "_entries", dict(registry.SYNTHESIZERS._entries))

    class NoSpace(Synthesizer):
        tasks = ("regression",)
        expensive = False

    with pytest.raises(TypeError, match=re.escape("NoSpace.space must be one of ('encoded', 'raw').")):
        register_synthesizer("no_space")(NoSpace)
    assert "no_space" not in available_synthesizers()
