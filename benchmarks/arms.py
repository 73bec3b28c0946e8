"""The arms of the benchmark: the ways a study is run on every task and seed.

- `budget`: the budget-bound study a user buys, `automl run train.csv --target y --budget 5m --trials 1000`
  (the run's `--budget` and `--budget-trials`);
- `trials`: a 20-trial study of the same seed with the command's default budget (10 minutes), which the
  trial count ends;
- ablations: the budget-bound study with one technique switched off in a copy of the default search space
  of the tree under test (`fixed`: parameters fixed to one value), e.g. `no_synthetic`.

An arm given on the command line (`--arm NAME:key=value,...`) is the budget-bound study with its own
`trials`, `budget` (seconds, or 5m), `space` (a YAML file), `only.PARAM=v1|v2` (the default space with
PARAM's choices cut to those: issue 21's family ablations, e.g. `no_gbdt:only.family=linear|mlp`; the arm
runs on the task families whose default space has PARAM) or any other `StudyConfig` field
(`select=ensemble`, `n_repeats=3`, ...).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ANY = "*"
DEFAULT_TRIALS = 1000  # the budget-bound study's trial cap: the budget ends it
CLI_DEFAULT_BUDGET_S = 600.0  # `automl run`'s default budget (10m)


@dataclass(frozen=True)
class Arm:
    name: str
    about: str
    trials: int | None = None  # None: the run's --budget-trials
    budget_s: float | None = None  # None: the run's --budget
    space: str | None = None  # a YAML search space; None: the default one (or `fixed` applied to it)
    # family ("table", "image", or ANY: every family whose default space has the parameters) ->
    # {parameter: its one value, or a list of the values left}
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # other StudyConfig fields

    def applies_to(self, family: str) -> bool:
        if not self.fixed or family in self.fixed:
            return True
        return ANY in self.fixed and set(self.fixed[ANY]) <= set(_default_space(family)["parameters"])

    def fixed_for(self, family: str) -> dict[str, Any]:
        return self.fixed.get(family, self.fixed.get(ANY, {}))


@dataclass(frozen=True)
class ArmRun:
    """An arm resolved for one task family: what the study is given, and its identity in the cache."""

    name: str
    trials: int
    budget_s: float
    space: str | None
    settings: dict[str, Any]

    def identity(self) -> dict[str, Any]:
        text = Path(self.space).read_text() if self.space else None
        return {
            "trials": self.trials,
            "budget_s": self.budget_s,
            "space_sha256": hashlib.sha256(text.encode()).hexdigest()[:16] if text else None,
            "settings": dict(sorted(self.settings.items())),
        }


ARMS: dict[str, Arm] = {
    a.name: a
    for a in [
        Arm("budget", "budget-bound study (`automl run --budget B --trials 1000`)"),
        Arm(
            "trials",
            "trial-bound study of the same seed (`automl run --trials 20`, the default budget)",
            trials=20,
            budget_s=CLI_DEFAULT_BUDGET_S,
        ),
        Arm(
            "no_synthetic",
            "budget-bound, synthetic rows off (synth_method fixed to none)",
            fixed={"table": {"synth_method": "none"}, "image": {"synth_method": "none"}},
        ),
        Arm(
            "no_regularization_search",
            "budget-bound, dropout / L1 / L2 fixed to 0 and early stopping off",
            fixed={
                "table": {"dropout": 0.0, "l1": 0.0, "l2": 0.0, "patience": 1000},
                "image": {"dropout": 0.0, "drop_path": 0.0, "l1": 0.0, "l2": 0.0, "label_smoothing": 0.0},
            },
        ),
        Arm(
            "no_augmentation",
            "budget-bound, augmentation off (augment fixed to none)",
            fixed={"image": {"augment": "none"}},
        ),
        Arm(
            "no_transfer",
            "budget-bound, no pretrained backbone (backbone fixed to small_cnn)",
            fixed={"image": {"backbone": "small_cnn"}},
        ),
    ]
}
DEFAULT_ARMS = ("budget", "trials")


def label(name: str, about: str, identity: dict[str, Any] | None) -> str:
    """The arm as a report names it: its description and the budget and trial cap it ran with."""
    if not identity:
        return f"**{name}**: {about}"
    return f"**{name}**: {about}; {identity['budget_s']:.0f} s, at most {identity['trials']} trials"


def labels(records: list[dict[str, Any]], arms: list[dict[str, Any]]) -> dict[str, str]:
    """{arm: its label} for the arms of a setup (as `Setup.describe` lists them), from their records."""
    identity = {r["name"]: r.get("identity") for r in records if r["kind"] == "arm"}
    return {a["name"]: label(a["name"], a["about"], identity.get(a["name"])) for a in arms}


def _value(text: str, none: bool = True) -> Any:
    """A number, a boolean, None (`none`, `null`; with `none`) or the text itself."""
    lowered = text.strip().lower()
    if none and lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_arm(text: str) -> Arm:
    """`NAME` (a registered arm) or `NAME:key=value,...` (the budget-bound study with those changes)."""
    from automl.config import StudyConfig, parse_duration

    name, _, rest = text.partition(":")
    name = name.strip()
    if not rest:
        if name not in ARMS:
            raise ValueError(
                f"unknown arm {name!r}; choose from {', '.join(ARMS)} or give NAME:key=value,..."
            )
        return ARMS[name]
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"an arm's name is letters, digits, '_' or '-'; got {name!r}")
    arm = Arm(name, f"budget-bound, {rest}")
    settings: dict[str, Any] = {}
    for item in rest.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"arm {name!r}: {item!r} is not key=value")
        if key == "trials":
            arm = replace(arm, trials=int(value))
        elif key == "budget":
            arm = replace(arm, budget_s=parse_duration(value))
        elif key.startswith("only."):
            values = [_value(v, none=False) for v in value.split("|")]  # `none` is a choice there
            arm = replace(arm, fixed={ANY: {**arm.fixed.get(ANY, {}), key[len("only.") :]: values}})
        elif key == "space":
            if not Path(value).is_file():
                raise ValueError(f"arm {name!r}: no search space file {value}")
            arm = replace(arm, space=str(Path(value).resolve()))
        else:
            settings[key] = _value(value)
    if settings:
        StudyConfig(data="train.csv", **settings).validate()  # a wrong key or value stops the run now
    return replace(arm, settings=settings)


# ---- spaces with parameters fixed --------------------------------------------------------------------
def _prune_conditions(parameters: dict[str, dict[str, Any]]) -> None:
    """Conditions (`when:`) on a parameter an arm fixed keep only the values it can still take; a
    parameter whose condition can no longer hold is fixed to its inactive value."""
    from automl.search.conditions import inactive_value

    changed = True
    while changed:
        changed = False
        for name, spec in parameters.items():
            when = spec.get("when")
            if not when:
                continue
            kept, never = {}, False
            for other, values in when.items():
                ref = parameters[other]
                allowed = values if isinstance(values, list) else [values]
                if ref["type"] == "choice":
                    allowed = [v for v in allowed if v in ref["values"]]
                never = never or not allowed
                kept[other] = allowed
            if never:
                parameters[name] = {"type": "choice", "values": [inactive_value(spec)]}
                changed = True
            elif kept != when:
                parameters[name] = {**spec, "when": kept}


def _default_space(family: str) -> dict[str, Any]:
    from automl.search.space import default_space_path

    return yaml.safe_load(default_space_path("image" if family == "image" else "tabular").read_text())


def fixed_space(family: str, fixed: dict[str, Any], path: Path) -> Path:
    """A copy of the tree's default space for `family` with each `fixed` parameter cut to one value (or to
    the listed values)."""
    doc = _default_space(family)
    for name, value in fixed.items():
        if name not in doc["parameters"]:
            raise KeyError(f"{name!r} is not a parameter of the default {family} space")
        spec, values = doc["parameters"][name], value if isinstance(value, list) else [value]
        if spec["type"] == "choice" and not set(values) <= set(spec["values"]):
            raise ValueError(f"{name!r} takes {spec['values']} in the default {family} space; got {values}")
        kept = {k: spec[k] for k in ("when", "task") if k in spec}  # where the parameter applies
        if spec.get("default") in values:
            kept["default"] = spec["default"]
        doc["parameters"][name] = {"type": "choice", "values": values, **kept}
    _prune_conditions(doc["parameters"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def resolve(arm: Arm, family: str, budget_s: float, trials: int, folder: Path) -> ArmRun | None:
    """The arm for a task of `family` (None when it does not apply), its space written under `folder`."""
    if not arm.applies_to(family):
        return None
    space = arm.space
    if arm.fixed:
        space = str(fixed_space(family, arm.fixed_for(family), folder / f"{arm.name}-{family}.yaml"))
    return ArmRun(
        arm.name,
        arm.trials if arm.trials is not None else trials,
        arm.budget_s if arm.budget_s is not None else budget_s,
        space,
        dict(arm.settings),
    )
