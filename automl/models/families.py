"""Table model families, looked up by name: `FAMILIES`. The search chooses one per trial (`family` in
search_spaces/tabular.yaml); every study technique (synthetic rows and class weights on each fold's
training part, early stopping, out-of-fold predictions, the fresh re-evaluation and the exported bag)
applies to each the same way.

- `linear`: L2-regularized logistic / ridge regression, fitted to convergence on each fold (a convex
  fit: one "epoch"), its strength `linear_c` searched; exported as a linear network;
- `mlp`: the fold-batched multilayer perceptron (automl/models/tabular.py; train/batched.py);
- `gbdt`: gradient-boosted trees (LightGBM), boosting rounds decided by early stopping on each fold.

A family is one class registered with `@register_family`: the search-space parameters it owns, whether
feature scaling or early stopping mean anything to it, which of its configurations are the simple model
(evaluation/paired.py), and `engine(folds, data, device)`: what trains a trial's folds an epoch at a time
(train/engines.py's interface: `step(active)`, `fold_network(f)`, `n_params`). A family without an
engine of its own (`mlp`) trains through the torch engines. Its module is named in `FAMILIES`' lazy table
(LightGBM and scikit-learn load on first use).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, TypeVar

from automl.registry import TASKS, Cost, Entry, Registry

DEFAULT_FAMILY = "mlp"  # a configuration without `family` (a space from before families): the network


class TableFamily(abc.ABC):
    """Base of the registered table families; see the module docstring."""

    name: ClassVar[str]
    description: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = TASKS
    cost: ClassVar[Cost] = "cheap"
    params: ClassVar[tuple[str, ...]] = ()  # the space's parameters that only this family reads
    scaled: ClassVar[bool] = True  # whether the feature scaler changes what it learns
    stops_early: ClassVar[bool] = True  # False: a fixed fit (`max_epochs`), patience means nothing
    max_epochs: ClassVar[int | None] = None  # a fit that is done after this many epochs (None: as the study)

    def is_simple(self, config: dict[str, Any]) -> bool:
        """Whether a configuration is the simple model a chosen one must beat beyond noise."""
        return False

    def engine(self, folds: list[dict[str, Any]], data: Any, device: str) -> Any | None:
        """What trains the folds of one trial (None: the torch engines of train/engines.py)."""
        return None


def _check(entry: Entry[TableFamily]) -> None:
    family = entry.obj
    if not isinstance(family, TableFamily) or family.name != entry.name:
        raise ValueError(
            f"The table family {entry.name!r} must be a TableFamily instance named {entry.name!r}."
        )


FAMILIES: Registry[TableFamily] = Registry(
    "table family",
    lazy={"linear": "automl.models.linear", "mlp": "automl.models.mlp", "gbdt": "automl.models.gbdt"},
    check=_check,
)

F = TypeVar("F", bound=type[TableFamily])


def register_family(cls: F) -> F:
    """Class decorator: register one instance of `cls` under `cls.name`."""
    FAMILIES.add(cls.name, cls(), description=cls.description, tasks=cls.tasks, cost=cls.cost)
    return cls


def family_of(config: dict[str, Any]) -> TableFamily:
    """The family a trial's configuration names (the network when it names none)."""
    return FAMILIES.entry(str(config.get("family", DEFAULT_FAMILY))).obj


def owned_params() -> dict[str, str]:
    """parameter -> the family that owns it, over every registered family."""
    return {p: name for name in FAMILIES.names() for p in FAMILIES[name].params}
