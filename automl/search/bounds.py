"""Bounds of a search space that depend on the data size: a number, or a short arithmetic expression of
n_rows, n_features and n_classes with + - * / min max (`max: n_rows`, `high: min(n_rows / 2, 256)`).

A search space may come from a stranger, so an expression is parsed, never run: its length is bounded
(no parser recursion to exhaust), every node must be one of the few allowed, and every value it reaches
is a finite float (no 400-digit integer turned into an OverflowError, no inf). Anything else is a
ConfigError that quotes the bound.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from automl.errors import ConfigError

SIZE_NAMES = ("n_rows", "n_features", "n_classes")
MAX_BOUND_CHARS = 200  # a bound is a short formula; longer text is refused before it is parsed
MAX_BOUND = 1e15  # no setting needs more; every step of an expression stays within it (no overflow)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCS = {"min": min, "max": max}


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (YAML's `true` is not a bound)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_bound_number(value: Any) -> bool:
    """A number a bound may be: finite, within +-MAX_BOUND."""
    return is_number(value) and math.isfinite(value) and abs(value) <= MAX_BOUND


def parse_bound(text: str, names: tuple[str, ...] = SIZE_NAMES) -> ast.Expression:
    """The checked syntax tree of a bound expression: only numbers, the size `names`, + - * /, and min or
    max of one or more of those. A ConfigError says what is wrong."""
    if len(text) > MAX_BOUND_CHARS:
        raise ConfigError(
            f"The bound {_shown(text)} is {len(text):,} characters long; a bound expression may have at most "
            f"{MAX_BOUND_CHARS}. Write it more simply (e.g. min(n_rows / 2, 256))."
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"The bound {text!r} is not a valid expression: {exc.msg}.") from None
    except (ValueError, RecursionError, MemoryError):  # a NUL character; nesting the parser cannot hold
        raise ConfigError(f"The bound {_shown(text)} is not a valid expression.") from None
    for node in ast.walk(tree):  # iterative: no recursion to exhaust
        if not _allowed(node, names):
            raise ConfigError(
                f"The bound {text!r} must be a number or an expression of {', '.join(names)} with + - * / min max."
            )
    return tree


def _allowed(node: ast.AST, names: tuple[str, ...]) -> bool:
    if isinstance(node, ast.Expression | ast.operator | ast.Load):
        return isinstance(node, ast.Expression | ast.Load) or type(node) in _OPS
    if isinstance(node, ast.Constant):
        return is_number(node.value)
    if isinstance(node, ast.Name):
        return node.id in names or node.id in _FUNCS
    if isinstance(node, ast.BinOp):
        return type(node.op) in _OPS
    if isinstance(node, ast.Call):
        return (
            isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and bool(node.args)
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
        )
    return False


def evaluate_bound(value: Any, sizes: dict[str, float]) -> Any:
    """A number as given, or an expression's value for this data's `sizes` (an int when every step was
    one, as Python computes it), within +-MAX_BOUND."""
    if not isinstance(value, str):
        return value
    tree = parse_bound(value, tuple(sizes))

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return _sane(node.value)
        if isinstance(node, ast.Name):
            return sizes[node.id]
        if isinstance(node, ast.BinOp):
            return _sane(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)  # parse_bound checked it
        return _FUNCS[node.func.id](ev(a) for a in node.args)

    try:
        return ev(tree)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
        reason = (
            f"a value beyond the +-{MAX_BOUND:.0e} a bound may reach"
            if isinstance(exc, OverflowError)
            else str(exc)
        )
        raise ConfigError(
            f"The bound {_shown(value)} cannot be evaluated for this data ({sizes}): {reason}."
        ) from None


def _sane(number: float) -> float:
    """`number` itself when it is finite and within +-MAX_BOUND, else OverflowError."""
    if not (isinstance(number, int) or math.isfinite(number)) or abs(number) > MAX_BOUND:
        raise OverflowError
    return number


def _shown(text: str) -> str:
    """The bound as a message quotes it: a long one cut in the middle."""
    return repr(text) if len(text) <= 80 else repr(f"{text[:40]} ... {text[-20:]}")
