"""Conditional parameters of a search space (`when:`), and the define-by-run sampling they compile to.

A parameter with `when: {other: value}` or `when: {other: [v1, v2]}` is active only where every
parameter it names is itself active and holds one of the listed values (all keys must hold, so
conditions chain: `freeze_stages` needs `transfer: partial`, and `transfer` needs a pretrained
backbone). The searcher samples active parameters only; an inactive one has no effect on its trial,
which still gets a fixed value for it, its `default:` (without one: the first choice, or the low
bound), so every configuration the trainable receives is complete.

The functions here take specs as `SearchSpace.parameters` or `SearchSpace.resolved` hold them (the
manifest's `space.parameters` too), already validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automl.errors import ConfigError

CONDITION_TYPES = ("choice", "int")  # parameters a `when:` may name: their values can be listed


def validate_conditions(parameters: dict[str, dict[str, Any]], source: str) -> None:
    """Check every `when:` and `default:` of specs whose types are already valid; ConfigError else."""
    for name, spec in parameters.items():
        where = f"parameter {name!r} in {source}"
        if "when" not in spec:
            if "default" in spec:
                raise ConfigError(
                    f"The 'default' of {where} only applies with a 'when' condition. Add one or remove it."
                )
            continue
        when = spec["when"]
        if not isinstance(when, dict) or not when:
            raise ConfigError(
                f"The 'when' of {where} must be a non-empty mapping of parameter names to a value or "
                f"a list of values. Got {when!r} instead."
            )
        for other, values in when.items():
            if other not in parameters:
                valid = ", ".join(n for n in parameters if n != name)
                raise ConfigError(
                    f"The 'when' of {where} names an unknown parameter {other!r}. Valid: {valid}."
                )
            ref = parameters[other]
            if ref["type"] not in CONDITION_TYPES:
                raise ConfigError(
                    f"The 'when' of {where} must name a choice or int parameter. "
                    f"Got {other!r} ({ref['type']}) instead."
                )
            allowed = values if isinstance(values, list) else [values]
            if not allowed:
                raise ConfigError(
                    f"The 'when' of {where} must give {other!r} a value or a non-empty list of values. "
                    "Got [] instead."
                )
            for value in allowed:
                if not possible_value(ref, value):
                    raise ConfigError(
                        f"The 'when' of {where} must give values of {other!r} among {_describe(ref)}. "
                        f"Got {value!r} instead."
                    )
        if "default" in spec and not possible_value(spec, spec["default"]):
            raise ConfigError(
                f"The 'default' of {where} must be among {_describe(spec)}. Got {spec['default']!r} instead."
            )
    cycle = find_cycle(parameters)
    if cycle:
        raise ConfigError(f"The 'when' conditions in {source} form a cycle: {' -> '.join(cycle)}.")


def requirements(spec: dict[str, Any]) -> dict[str, list[Any]]:
    """A spec's `when:` as {parameter: allowed values} (a single value becomes a one-value list)."""
    return {
        name: list(values) if isinstance(values, list) else [values]
        for name, values in (spec.get("when") or {}).items()
    }


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal: bools only equal bools, numbers compare by value
    (a leaderboard may hold 16.0 for 16), anything else by ==."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return float(a) == float(b)
    return a == b


def find_cycle(specs: dict[str, dict[str, Any]]) -> list[str] | None:
    """A chain of `when:` references that comes back to its start (a -> b -> a), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for other in requirements(specs[name]):
            if other in specs and (cycle := visit(other, [*path, name])):
                return cycle
        done.add(name)
        return None

    for name in specs:
        if cycle := visit(name, []):
            return cycle
    return None


def parameter_order(specs: dict[str, dict[str, Any]]) -> list[str]:
    """The parameters with each one after those its `when:` names, otherwise in file order: the
    order they are sampled in (a condition reads values sampled before it). Specs must be acyclic."""
    order: list[str] = []

    def place(name: str) -> None:
        if name in order:
            return
        for other in requirements(specs[name]):
            if other in specs:
                place(other)
        order.append(name)

    for name in specs:
        place(name)
    return order


def active_parameters(specs: dict[str, dict[str, Any]], config: dict[str, Any]) -> set[str]:
    """The parameters of `specs` that had an effect in `config`: those without `when:`, and those
    whose every condition holds on an active parameter. A condition on a parameter the specs or the
    config lack (one a task filter removed, a blank leaderboard cell) does not hold."""
    active: set[str] = set()
    for name in parameter_order(specs):
        if holds(specs[name], config, active):
            active.add(name)
    return active


def inactive_value(spec: dict[str, Any]) -> Any:
    """What a trial gets for a parameter while it is inactive: its `default`, else the first choice or
    the low bound."""
    if "default" in spec:
        return spec["default"]
    return spec["values"][0] if spec["type"] == "choice" else spec["low"]


@dataclass
class DefineByRun:
    """The search space as Optuna define-by-run code, for `OptunaSearch(space=...)`.

    Called with an optuna trial, it samples the active parameters in dependency order and returns the
    inactive ones as constants (OptunaSearch merges both into the trial's configuration). `start` are
    the start points, which OptunaSearch enqueues as the study's first trials (numbers 0, 1, ...):
    their active values come from the enqueued point, and an inactive one they name is kept as named
    (a from-scratch backbone's start point may say `transfer: full`, what it means)."""

    specs: dict[str, dict[str, Any]]  # resolved for one dataset
    start: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.order = parameter_order(self.specs)

    def __call__(self, trial: Any) -> dict[str, Any]:
        number = getattr(trial, "number", -1)
        point = self.start[number] if 0 <= number < len(self.start) else {}
        values: dict[str, Any] = {}
        active: set[str] = set()
        fixed: dict[str, Any] = {}
        for name in self.order:
            spec = self.specs[name]
            if holds(spec, values, active):
                values[name] = _suggest(trial, name, spec)
                active.add(name)
            else:
                values[name] = fixed[name] = point.get(name, inactive_value(spec))
        return fixed


def _suggest(trial: Any, name: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "choice":
        return trial.suggest_categorical(name, list(spec["values"]))
    if kind == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=kind == "loguniform")


def holds(spec: dict[str, Any], config: dict[str, Any], active: set[str]) -> bool:
    """Whether a spec's every condition holds in `config`, given the parameters already found active."""
    return all(
        other in active and other in config and any(same_value(config[other], v) for v in allowed)
        for other, allowed in requirements(spec).items()
    )


def possible_value(spec: dict[str, Any], value: Any) -> bool:
    """Whether `value` is one the spec can take (bounds given as expressions are not checked here)."""
    if spec["type"] == "choice":
        return any(same_value(value, v) for v in spec["values"])
    if not _number(value) or (spec["type"] == "int" and not isinstance(value, int)):
        return False
    low, high = spec["low"], spec["high"]
    return (isinstance(low, str) or value >= low) and (isinstance(high, str) or value <= high)


def _describe(spec: dict[str, Any]) -> str:
    if spec["type"] == "choice":
        return ", ".join(map(str, spec["values"]))
    kind = "the integers" if spec["type"] == "int" else "the numbers"
    return f"{kind} from {spec['low']} to {spec['high']}"


def _plain(value: Any) -> Any:
    """A numpy scalar (from a parquet leaderboard) as the Python value it holds."""
    return value.item() if hasattr(value, "dtype") and hasattr(value, "item") else value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
