"""Bound expressions from strangers (automl/search/bounds.py): what they may say, what they evaluate to,
and that no text, however long, deep or large its numbers, gets past them as anything but a number or
a ConfigError (issue 24: a 30,000-term bound raised RecursionError, a 400-digit one OverflowError)."""

from __future__ import annotations

import math
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl.errors import ConfigError
from automl.search.bounds import MAX_BOUND, MAX_BOUND_CHARS, SIZE_NAMES, evaluate_bound, parse_bound

SIZES = {"n_rows": 1000, "n_features": 6, "n_classes": 3}
EXAMPLES = int(os.environ.get("AUTOML_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("AUTOML_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow],
)


def test_a_30000_term_bound_is_refused_by_its_length_not_a_recursion_error() -> None:
    text = " + ".join(["n_rows"] * 30_000)
    message = (
        f"The bound {text[:40] + ' ... ' + text[-20:]!r} is {len(text):,} characters long; a bound expression "
        f"may have at most {MAX_BOUND_CHARS}. Write it more simply (e.g. min(n_rows / 2, 256))."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        evaluate_bound(text, SIZES)


def test_a_400_digit_bound_divided_by_3_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("is 404 characters long")):
        evaluate_bound("9" * 400 + " / 3", SIZES)
    short = "9" * 150 + " / 3"  # within the length: its value is beyond any bound
    message = f"cannot be evaluated for this data ({SIZES}): a value beyond the +-{MAX_BOUND:.0e} a bound may reach."
    with pytest.raises(ConfigError, match=re.escape(message) + "$"):
        evaluate_bound(short, SIZES)


@pytest.mark.parametrize("text", ["1e308 * 10", "n_rows * 1e300", "max(1e200, n_rows) * 1e200", "2e15"])
def test_values_beyond_the_bound_range_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"The bound {text!r} cannot be evaluated for this data")):
        evaluate_bound(text, SIZES)


@pytest.mark.parametrize(
    "text", ["min()", "max(*[1])", "min(n_rows, key=abs)", "n_rows if 1 else 2", "n_rows < 3", "True"]
)
def test_calls_and_constructs_outside_the_grammar_are_refused(text: str) -> None:
    message = f"The bound {text!r} must be a number or an expression of n_rows, n_features, n_classes with + - * / min max."
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse_bound(text)


def test_deep_nesting_within_the_length_is_a_config_error() -> None:
    text = "(" * 99 + "n_rows" + ")" * 95
    with pytest.raises(ConfigError, match=re.escape("is not a valid expression")):
        evaluate_bound(text, SIZES)


# --- property tests -------------------------------------------------------------------------------

_LEAF = st.one_of(
    st.sampled_from(SIZE_NAMES),
    st.integers(0, 10**6).map(str),
    st.floats(1e-3, 1e6, allow_nan=False).map(lambda x: f"{x:.3g}"),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from("+-*/"), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    call = st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})"
    )
    return st.one_of(binary, call)


EXPRESSIONS = st.recursive(_LEAF, _combine, max_leaves=12)


def _reference(text: str, sizes: dict[str, float]) -> float:
    """Python's own value of a grammar expression (generated here, so safe to evaluate)."""
    functions = {"min": lambda *args: min(args), "max": lambda *args: max(args)}  # min(x) is x
    return eval(text, {"__builtins__": {}, **functions}, dict(sizes))  # noqa: S307


@FUZZ
@given(
    text=EXPRESSIONS,
    n_rows=st.integers(1, 100_000),
    n_features=st.integers(0, 500),
    n_classes=st.integers(0, 50),
)
def test_grammar_expressions_give_pythons_value_or_a_config_error(
    text, n_rows, n_features, n_classes
) -> None:
    sizes = {"n_rows": n_rows, "n_features": n_features, "n_classes": n_classes}
    try:
        value = evaluate_bound(text, sizes)
    except ConfigError:  # too long, a division by zero, or a step beyond +-MAX_BOUND
        return
    assert isinstance(value, int | float) and not isinstance(value, bool)
    assert math.isfinite(value) and abs(value) <= MAX_BOUND
    assert value == pytest.approx(_reference(text, sizes), rel=1e-9, abs=1e-9)


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.text(alphabet="n_rowsfeatclimax()+-*/%.,0123456789e ", max_size=300),
        st.builds(lambda n, op: f" {op} ".join(["n_rows"] * n), st.integers(1, 200), st.sampled_from("+*/-")),
        st.builds(lambda digits: "9" * digits + " / 3", st.integers(1, 400)),
        st.builds(lambda depth: "(" * depth + "n_rows" + ")" * depth, st.integers(1, 300)),
    )
)
def test_any_text_is_a_finite_number_or_a_config_error(text: str) -> None:
    try:
        value = evaluate_bound(text, SIZES)
    except ConfigError:
        return
    assert isinstance(value, int | float) and not isinstance(value, bool)
    assert math.isfinite(value) and abs(value) <= MAX_BOUND
