"""Tests of automl.search.space's validation: bound expressions (`evaluate_bound`: what they may say and the
values they give) and the errors a space file is rejected with, each by its exact text.

The sampled configurations, start points and the default search_spaces/tabular.yaml: test_space.py;
conditional parameters (`when:`): test_conditions.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.errors import ConfigError
from automl.search.space import SearchSpace, evaluate_bound

SIZES = {"n_rows": 1000, "n_features": 6, "n_classes": 3}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test inside its own tmp_path so file names in messages are short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


# --- evaluate_bound ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        (5, 5),
        (0.5, 0.5),
        ("n_rows", 1000),
        ("n_rows / 4", 250.0),
        ("n_rows - n_classes * 2", 994),
        ("(n_features + 2) * 3", 24),
        ("min(n_rows, 64)", 64),
        ("max(n_features * 2, 8, n_classes)", 12),
        ("min(n_rows / 10, max(16, n_features))", 16),
        ("1.5e2", 150.0),
    ],
)
def test_evaluate_bound(expression: Any, value: float) -> None:
    assert evaluate_bound(expression, SIZES) == value


@given(
    n_rows=st.integers(1, 100_000),
    n_features=st.integers(1, 500),
    n_classes=st.integers(1, 50),
    a=st.integers(0, 1000),
)
@settings(max_examples=50, deadline=None, database=None)
def test_evaluate_bound_matches_python_arithmetic(
    n_rows: int, n_features: int, n_classes: int, a: int
) -> None:
    sizes = {"n_rows": n_rows, "n_features": n_features, "n_classes": n_classes}
    expression = f"max(min(n_rows / n_classes, {a}), n_features * 2 - 1) + {a} - n_classes"
    assert (
        evaluate_bound(expression, sizes)
        == max(min(n_rows / n_classes, a), n_features * 2 - 1) + a - n_classes
    )


UNSAFE = (
    "The bound {!r} must be a number or an expression of n_rows, n_features, n_classes with + - * / min max."
)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "open('x')",
        "n_rows ** 2",
        "n_rows % 3",
        "-n_rows",
        "n_samples",
        "'text'",
        "[1, 2]",
        "abs(n_rows)",
        "(lambda: 1)()",
        "n_rows.bit_length()",
    ],
)
def test_evaluate_bound_rejects_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(UNSAFE.format(expression))):
        evaluate_bound(expression, SIZES)


@pytest.mark.parametrize(
    ("expression", "why"), [("n_rows +", "invalid syntax"), ("min(", "'(' was never closed")]
)
def test_evaluate_bound_syntax_error(expression: str, why: str) -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"The bound {expression!r} is not a valid expression: {why}.")
    ):
        evaluate_bound(expression, SIZES)


def test_evaluate_bound_division_by_zero_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        evaluate_bound("n_rows / n_classes", {"n_rows": 100, "n_features": 4, "n_classes": 0})


# --- YAML errors ---------------------------------------------------------------------------


def test_missing_file() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Search space file 'nope.yaml' does not exist. Copy search_spaces/tabular.yaml and edit it."
        ),
    ):
        SearchSpace.load("nope.yaml")


def test_a_directory_is_not_a_space_file() -> None:
    Path("spaces").mkdir()
    message = (
        "Search space file 'spaces' is a folder, not a YAML file. Give the file itself. "
        "Copy search_spaces/tabular.yaml and edit it."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        SearchSpace.load("spaces")


@pytest.mark.parametrize("text", ["parameters: [a\n", "parameters:\n  a: {type: int\n", "a: b: c\n"])
def test_bad_yaml(text: str) -> None:
    write("space.yaml", text)
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = str(exc)
    with pytest.raises(
        ConfigError, match=re.escape(f"Search space file 'space.yaml' is not valid YAML: {detail}") + "$"
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "- a\n- b\n",
        "parameters:\n",
        "parameters: {}\n",
        "parameters: [a, b]\n",
        "other: 1\n",
    ],
)
def test_no_parameters(text: str) -> None:
    write("space.yaml", text)
    with pytest.raises(
        ConfigError,
        match=re.escape("Search space file 'space.yaml' must have a non-empty 'parameters:' mapping."),
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("{type: normal, low: 0, high: 1}", "{'type': 'normal', 'low': 0, 'high': 1}"),
        ("{low: 0, high: 1}", "{'low': 0, 'high': 1}"),
        ("[1, 2]", "[1, 2]"),
        ("7", "7"),
    ],
)
def test_bad_type(spec: str, shown: str) -> None:
    write("space.yaml", f"parameters:\n  depth: {spec}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'type' of parameter 'depth' in space.yaml must be one of choice, uniform, loguniform, int. "
            f"Got {shown} instead."
        ),
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize(
    ("spec", "needs", "kind"),
    [
        ("{type: choice}", "values", "choice"),
        ("{type: uniform, low: 0}", "high", "uniform"),
        ("{type: loguniform, high: 1}", "low", "loguniform"),
        ("{type: int}", "low, high", "int"),
    ],
)
def test_missing_values_low_high(spec: str, needs: str, kind: str) -> None:
    write("space.yaml", f"parameters:\n  dropout: {spec}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(f"The parameter 'dropout' in space.yaml needs {needs} for type {kind!r}."),
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize(("values", "shown"), [("[]", "[]"), ("relu", "'relu'"), ("null", "None")])
def test_choice_values_must_be_a_non_empty_list(values: str, shown: str) -> None:
    write("space.yaml", f"parameters:\n  activation: {{type: choice, values: {values}}}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'values' of parameter 'activation' in space.yaml must be a non-empty list. Got {shown} instead."
        ),
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize("bounds", ["low: 0, high: 1", "low: 1.0e-3, high: -1"])
def test_loguniform_bounds_must_be_positive(bounds: str) -> None:
    write("space.yaml", f"parameters:\n  lr: {{type: loguniform, {bounds}}}\n")
    with pytest.raises(
        ConfigError, match=re.escape("The bounds of parameter 'lr' in space.yaml must be > 0 for loguniform.")
    ):
        SearchSpace.load("space.yaml")


def test_bad_task_filter() -> None:
    write("space.yaml", "parameters:\n  class_weight: {type: choice, values: [a], task: clustering}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'task' of parameter 'class_weight' in space.yaml must be classification or regression. Got 'clustering' instead."
        ),
    ):
        SearchSpace.load("space.yaml")


def test_unknown_synthesizer() -> None:
    write("space.yaml", "parameters:\n  synth_method: {type: choice, values: [none, gan, smote, copula]}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Unknown synthesizer(s) gan, copula in space.yaml. Valid: none, ctgan, gaussian_copula, smote, tvae."
        ),
    ):
        SearchSpace.load("space.yaml")


def test_unknown_start_key() -> None:
    write(
        "space.yaml",
        "parameters:\n  depth: {type: int, low: 0, high: 2}\nstart:\n  - {depth: 1, zeta: 2}\n  - {foo: 1}\n",
    )
    with pytest.raises(
        ConfigError, match=re.escape("The 'start' points of 'space.yaml' name unknown parameters: foo, zeta.")
    ):
        SearchSpace.load("space.yaml")


@pytest.mark.parametrize(
    ("start", "shown"), [("{depth: 1}", "{'depth': 1}"), ("[1, 2]", "[1, 2]"), ("7", "7")]
)
def test_start_must_be_a_list_of_mappings(start: str, shown: str) -> None:
    write("space.yaml", f"parameters:\n  depth: {{type: int, low: 0, high: 2}}\nstart: {start}\n")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"The 'start' entry of 'space.yaml' must be a list of mappings. Got {shown} instead."
        ),
    ):
        SearchSpace.load("space.yaml")


def test_low_above_high_for_this_data() -> None:
    write("space.yaml", "parameters:\n  width: {type: int, low: 8, high: n_features}\n")
    space = SearchSpace.load("space.yaml")
    assert space.resolved("regression", dict(SIZES, n_features=10))["width"]["high"] == 10
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Parameter 'width' in space.yaml has low > high for this data: {'type': 'int', 'low': 8, 'high': 3}."
        ),
    ):
        space.resolved("regression", dict(SIZES, n_features=3))


def test_a_bad_bound_expression_is_reported_when_loading() -> None:
    write("space.yaml", "parameters:\n  width: {type: int, low: 1, high: n_samples}\n")
    with pytest.raises(ConfigError, match=re.escape(UNSAFE.format("n_samples"))):
        SearchSpace.load("space.yaml")
