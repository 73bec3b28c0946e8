"""Search spaces as data: YAML files in `search_spaces/`, turned into Ray Tune distributions.

Bounds may depend on the data size (`max: n_rows`); `synth_method` values are checked against
the synthesizer registry and those that cannot serve the task are dropped. A parameter may be
conditional (`when:`, see search/conditions.py): it is sampled only where it has an effect.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from automl.errors import ConfigError
from automl.modalities import MODALITIES
from automl.safe_yaml import read_yaml_file
from automl.search.bounds import (
    MAX_BOUND,
    SIZE_NAMES,
    evaluate_bound,
    is_bound_number,
    parse_bound,
)
from automl.search.conditions import (
    DefineByRun,
    active_parameters,
    holds,
    inactive_value,
    parameter_order,
    possible_value,
    same_value,
    validate_conditions,
)

TYPES = ("choice", "uniform", "loguniform", "int")
TRANSFER_POLICIES = ("linear_probe", "partial", "full")  # frozen backbone / first stages frozen / all trained
SPACE_KEYS = ("parameters", "start")
SPEC_KEYS = ("type", "values", "low", "high", "max", "task", "when", "default", "low_cost")


def default_space_path(modality: str = "tabular") -> Path:
    """The packaged default space (inside an installed wheel) or the repository's `search_spaces/`."""
    packaged = resources.files("automl") / "_search_spaces" / f"{modality}.yaml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "search_spaces" / f"{modality}.yaml"


@dataclass
class SearchSpace:
    """Parameter specs as read from YAML; `to_tune` resolves them for one dataset."""

    parameters: dict[str, dict[str, Any]]
    source: str
    start: list[dict[str, Any]] = field(default_factory=list)
    modality: str = "tabular"

    @classmethod
    def load(cls, path: str | Path | None = None, modality: str = "tabular") -> SearchSpace:
        path = Path(path) if path else default_space_path(modality)
        check_space_file(path, modality)
        doc = read_yaml_file(path)  # limits on size, nesting and values; no aliases
        if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), dict) or not doc["parameters"]:
            raise ConfigError(f"Search space file {str(path)!r} must have a non-empty 'parameters:' mapping.")
        for key in doc:
            if key not in SPACE_KEYS:
                raise ConfigError(f"Unknown key {key!r} in {str(path)!r}.{_nearest(key, SPACE_KEYS)}")
        start = doc.get("start") or []
        if not isinstance(start, list) or not all(isinstance(p, dict) for p in start):
            raise ConfigError(
                f"The 'start' entry of {str(path)!r} must be a list of mappings. Got {start!r} instead."
            )
        space = cls(doc["parameters"], str(path), start, modality)
        space.validate()
        unknown = sorted({k for p in start for k in p} - set(doc["parameters"]), key=str)
        if unknown:
            raise ConfigError(
                f"The 'start' points of {str(path)!r} name unknown parameters: {', '.join(map(str, unknown))}."
                + _nearest(str(unknown[0]), list(doc["parameters"]))
            )
        return space

    def validate(self) -> None:
        known = known_parameters(self.modality)
        for name, spec in self.parameters.items():
            where = f"parameter {name!r} in {self.source}"
            if known is not None and name not in known:
                raise ConfigError(
                    f"Unknown parameter {name!r} in {self.source}: no {self.modality} trial reads it."
                    f"{_nearest(str(name), sorted(known))}"
                )
            if not isinstance(spec, dict) or spec.get("type") not in TYPES:
                raise ConfigError(
                    f"The 'type' of {where} must be one of {', '.join(TYPES)}. Got {spec!r} instead."
                )
            for key in spec:
                if key not in SPEC_KEYS:
                    raise ConfigError(f"Unknown key {key!r} of {where}.{_nearest(str(key), SPEC_KEYS)}")
            needed = ("values",) if spec["type"] == "choice" else ("low", "high")
            missing = [key for key in needed if key not in spec]
            if missing:
                raise ConfigError(f"The {where} needs {', '.join(missing)} for type {spec['type']!r}.")
            if spec["type"] == "choice":
                _check_choice(spec, where)
            else:
                for key in ("low", "high"):
                    _check_bound(spec[key], key, where)
            if spec["type"] == "loguniform" and not all(
                isinstance(spec[k], str) or spec[k] > 0 for k in ("low", "high")
            ):
                raise ConfigError(f"The bounds of {where} must be > 0 for loguniform.")
            if spec.get("task") not in (None, "classification", "regression"):
                raise ConfigError(
                    f"The 'task' of {where} must be classification or regression. Got {spec['task']!r} instead."
                )
        validate_conditions(self.parameters, self.source)
        for name, spec in self.parameters.items():
            if "low_cost" in spec and not possible_value(spec, spec["low_cost"]):
                own = spec["values"] if spec["type"] == "choice" else f"{spec['low']} to {spec['high']}"
                raise ConfigError(
                    f"The 'low_cost' of parameter {name!r} in {self.source} must be one of its own values "
                    f"({own}). Got {spec['low_cost']!r} instead: change it, or remove it."
                )
        for name, (what, known_values) in MODALITIES[self.modality].registered_choices().items():
            unknown = [v for v in self.parameters.get(name, {}).get("values", []) if v not in known_values]
            if unknown:
                raise ConfigError(
                    f"Unknown {what} {', '.join(map(str, unknown))} in {self.source}. "
                    f"Valid: {', '.join(known_values)}."
                )

    def without(self, name: str, values: list[Any]) -> SearchSpace:
        """This space with some values of the choice `name` removed (e.g. backbones without weights)."""
        spec = self.parameters.get(name)
        if not spec or spec["type"] != "choice":
            return self
        kept = [v for v in spec["values"] if v not in values]
        if not kept:
            raise ConfigError(
                f"No value of {name!r} in {self.source} is usable here (left out: {', '.join(map(str, values))})."
            )
        parameters = dict(self.parameters, **{name: dict(spec, values=kept)})
        return SearchSpace(parameters, self.source, self.start, self.modality)

    def active(self, config: dict[str, Any]) -> set[str]:
        """The parameters that had an effect in `config` (all but those whose `when:` does not hold)."""
        return active_parameters(self.parameters, config)

    def choices(self, name: str) -> list[Any]:
        spec = self.parameters.get(name)
        return list(spec["values"]) if spec and spec["type"] == "choice" else []

    def resolved(self, task: str, sizes: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Specs with task filters applied and bounds evaluated for this dataset."""
        out = {}
        for name, spec in self.parameters.items():
            if spec.get("task") not in (None, task):
                continue
            spec = dict(spec)
            if spec["type"] == "choice":
                values = list(spec["values"])
                values = MODALITIES[self.modality].usable_choices(name, values, task)
                if "max" in spec:
                    limit = evaluate_bound(spec["max"], sizes)
                    values = [v for v in values if v <= limit] or [min(spec["values"])]
                spec["values"] = values
            else:
                spec["low"], spec["high"] = (evaluate_bound(spec[k], sizes) for k in ("low", "high"))
                if spec["type"] == "int":  # the integers inside the bounds
                    spec["low"], spec["high"] = math.ceil(spec["low"]), math.floor(spec["high"])
                if spec["low"] > spec["high"]:
                    raise ConfigError(
                        f"Parameter {name!r} in {self.source} has low > high for this data: {spec}."
                    )
            if "when" in spec:  # the value while inactive, inside this dataset's range
                default = _inside(spec, inactive_value(spec))
                spec["default"] = spec["values"][0] if default is None else default
            out[name] = spec
        return out

    def low_cost(self, task: str, sizes: dict[str, float]) -> dict[str, Any]:
        """{parameter: value} of the parameters marked `low_cost:`: the value that makes a trial cheapest
        (a synthesizer's epochs). An expensive technique is first tried at it (search/frugal.py)."""
        specs = self.resolved(task, sizes)
        low = {name: _inside(spec, spec["low_cost"]) for name, spec in specs.items() if "low_cost" in spec}
        return {name: value for name, value in low.items() if value is not None}

    def to_tune(self, task: str, sizes: dict[str, float]) -> TuneSpace:
        """Ray Tune domains of every parameter, for this dataset (a `TuneSpace`: also its conditional,
        define-by-run form for Optuna)."""
        from ray import tune

        specs = self.resolved(task, sizes)
        space = {}
        for name, spec in specs.items():
            kind = spec["type"]
            if kind == "choice":
                space[name] = tune.choice(spec["values"])
            elif kind == "uniform":
                space[name] = tune.uniform(spec["low"], spec["high"])
            elif kind == "loguniform":
                space[name] = tune.loguniform(spec["low"], spec["high"])
            else:
                space[name] = tune.randint(int(spec["low"]), int(spec["high"]) + 1)
        return TuneSpace(space, specs)

    def start_points(self, task: str, sizes: dict[str, float]) -> list[dict[str, Any]]:
        """The `start:` configurations, completed and clamped to this dataset's resolved space.

        A key left out takes the first choice or the middle of the range, or, for a parameter that is
        inactive in the point (its `when:` does not hold), its inactive value. A number outside its
        range is clamped (a batch size above the rows takes the nearest one); a point naming a
        categorical value this dataset's space lacks (a backbone without weights here, a synthesizer
        that does not fit the task) is left out, and a repeated point is kept once."""
        specs = self.resolved(task, sizes)
        points: list[dict[str, Any]] = []
        for partial in self.start:
            point: dict[str, Any] | None = {}
            active: set[str] = set()
            for name in parameter_order(specs):  # a condition reads the values placed before it
                spec = specs[name]
                if holds(spec, point, active):
                    active.add(name)
                if name in partial:
                    value = _inside(spec, partial[name])
                else:
                    value = _middle(spec) if name in active else spec["default"]
                if value is None:
                    point = None
                    break
                point[name] = value
            if point is not None:
                point = {name: point[name] for name in specs}  # the file's order
                if point not in points:
                    points.append(point)
        return points

    def max_value(self, name: str, default: float) -> float:
        spec = self.parameters.get(name)
        if not spec:
            return default
        return float(max(spec["values"]) if spec["type"] == "choice" else spec["high"])


class TuneSpace(dict):
    """Tune's flat domains of a resolved space (what random search and the property tests sample),
    with `specs`, the resolved specs, for the conditional searcher `build_tuner` makes."""

    def __init__(self, domains: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
        super().__init__(domains)
        self.specs = specs

    def define_by_run(self, start: list[dict[str, Any]] | None = None) -> DefineByRun:
        """The space as Optuna define-by-run code; `start` as passed to OptunaSearch's points_to_evaluate."""
        return DefineByRun(self.specs, list(start or []))


def _inside(spec: dict[str, Any], value: Any) -> Any:
    """`value` clamped into a resolved spec: a number to the range or the nearest numeric choice;
    None for a categorical value the spec lacks."""
    if spec["type"] == "choice":
        if any(same_value(value, v) for v in spec["values"]):
            return value
        if not _numeric(value):
            return None
        return min(spec["values"], key=lambda v: abs(v - value))
    value = min(max(value, spec["low"]), spec["high"])
    return int(round(value)) if spec["type"] == "int" else float(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _middle(spec: dict[str, Any]) -> Any:
    if spec["type"] == "choice":
        return spec["values"][0]
    if spec["type"] == "loguniform":
        return float((spec["low"] * spec["high"]) ** 0.5)
    middle = (spec["low"] + spec["high"]) / 2
    return int(round(middle)) if spec["type"] == "int" else middle


def check_space_file(path: Path, modality: str) -> None:
    """A ConfigError unless `path` is a file (a folder, a missing file: each its own message)."""
    copy = f"Copy search_spaces/{modality}.yaml and edit it."
    if path.is_dir():
        raise ConfigError(
            f"Search space file {str(path)!r} is a folder, not a YAML file. Give the file itself. {copy}"
        )
    if not path.exists():
        raise ConfigError(f"Search space file {str(path)!r} does not exist. {copy}")


def known_parameters(modality: str) -> set[str] | None:
    """The parameter names a space of `modality` may use: those of its default space and the settings
    its registered entries read (a synthesizer's `synth_<setting>`); None without a default space."""
    path = default_space_path(modality)
    if not path.is_file():
        return None
    return set(read_yaml_file(path)["parameters"]) | MODALITIES[modality].setting_parameters()


def _nearest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """' Did you mean X? Valid: ...' for a misspelt name."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    guess = f" Did you mean {close[0]!r}?" if close else ""
    return f"{guess} Valid: {', '.join(valid)}."


def _check_bound(value: Any, key: str, where: str) -> None:
    """A bound is a number or a bound expression (search/bounds.py), checked before any data is seen."""
    if isinstance(value, str):
        parse_bound(value)
    elif not is_bound_number(value):
        raise ConfigError(
            f"The {key!r} of {where} must be a number (within +-{MAX_BOUND:.0e}) or an expression of "
            f"{', '.join(SIZE_NAMES)} such as 'n_rows / 2'. Got {value!r} instead."
        )


def _check_choice(spec: dict[str, Any], where: str) -> None:
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"The 'values' of {where} must be a non-empty list. Got {values!r} instead.")
    bad = [v for v in values if v is None or isinstance(v, dict | list)]
    if bad:
        raise ConfigError(
            f"The 'values' of {where} must be numbers, words or true/false. Got {bad[0]!r} instead."
        )
    if "max" in spec:
        _check_bound(spec["max"], "max", where)
        words = [v for v in values if not is_bound_number(v)]
        if words:
            raise ConfigError(
                f"The 'values' of {where} must all be numbers, since its 'max' drops those above it. "
                f"Got {words[0]!r} instead."
            )
