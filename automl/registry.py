"""One registry type for every pluggable kind: synthesizers, selection rules, metrics, augmentation
policies, image synthesizers, backbones, model families.

An entry is one decorated definition that carries its own metadata: a one-line description (the CLI's
help and the dashboard show it), the tasks it serves, its settings with their defaults (read from the
definition's signature, so they cannot drift from it) and a cost class. Lookups of unknown names raise a
`ConfigError` that lists the valid ones. Entries whose module is heavy to import can be declared by
module (`lazy`): the module is imported, and so registers them, on their first lookup.

    RULES = Registry("selection rule")

    @RULES.register("best_validation", description="the highest mean validation score")
    def best_validation(trials, evidence=None): ...

A registry is a read-only mapping name -> registered object, so `RULES["best_validation"]`,
`list(RULES)` and `name in RULES` work as with a dict. `tests/unit/test_registries.py` runs a contract
test over every entry of every registry.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from automl.errors import ConfigError

T = TypeVar("T")
TASKS = ("classification", "regression")
Cost = Literal["cheap", "expensive"]


@dataclass(frozen=True)
class Setting:
    """One setting an entry takes: its name, default (`inspect.Parameter.empty`: required) and type."""

    name: str
    default: Any
    annotation: str

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    description: str
    tasks: tuple[str, ...] = TASKS
    cost: Cost = "cheap"
    meta: Mapping[str, Any] = field(default_factory=dict)  # what one kind adds (e.g. a backbone's spec)

    @property
    def settings(self) -> dict[str, Setting]:
        """Keyword settings of the definition (a class's constructor, a function's keyword-only
        parameters), from its signature."""
        target = self.obj.__init__ if inspect.isclass(self.obj) else self.obj
        try:
            parameters = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):  # a builtin or a callable object without a signature
            return {}
        kinds = (
            (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            if inspect.isclass(self.obj)
            else (inspect.Parameter.KEYWORD_ONLY,)
        )
        return {
            p.name: Setting(p.name, p.default, str(p.annotation) if p.annotation is not p.empty else "")
            for p in parameters
            if p.kind in kinds and p.name != "self"
        }


class Registry(Mapping[str, T]):
    """Name -> entry; see the module docstring."""

    def __init__(
        self,
        kind: str,
        *,
        lazy: Mapping[str, str] | None = None,
        reserved: tuple[str, ...] = (),
        check: Callable[[Entry[T]], None] | None = None,
        hint: str = "",
        sort: bool = False,
    ) -> None:
        self.kind = kind
        self._sort = sort  # names() sorted, else in registration order
        self._lazy = dict(lazy or {})  # name -> module that registers it
        self._reserved = frozenset(reserved)
        self._check = check
        self._hint = hint  # ends the unknown-name message, e.g. "(or 'none' to turn it off)"
        self._entries: dict[str, Entry[T]] = {}

    # ---- registration ------------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        description: str,
        tasks: tuple[str, ...] = TASKS,
        cost: Cost = "cheap",
        **meta: Any,
    ) -> Callable[[T], T]:
        """Decorator form of `add`; returns the definition unchanged."""

        def decorator(obj: T) -> T:
            self.add(name, obj, description=description, tasks=tasks, cost=cost, **meta)
            return obj

        return decorator

    def add(
        self,
        name: str,
        obj: T,
        *,
        description: str,
        tasks: tuple[str, ...] = TASKS,
        cost: Cost = "cheap",
        **meta: Any,
    ) -> Entry[T]:
        """Register `obj` as `name`. A malformed entry fails here, at import time, not mid-study."""
        if not isinstance(name, str) or not name or name in self._reserved:
            reserved = f" other than {', '.join(map(repr, sorted(self._reserved)))}" if self._reserved else ""
            raise ValueError(f"A {self.kind} name must be a non-empty string{reserved}; got {name!r}.")
        if self._check is not None:  # the kind's own contract first: what the study relies on
            self._check(Entry(name, obj, str(description), tuple(tasks), cost, dict(meta)))
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"The {self.kind} {name!r} needs a one-line description.")
        if not tasks or not set(tasks) <= set(TASKS):
            raise ValueError(
                f"The {self.kind} {name!r} must serve a non-empty subset of {TASKS}; got {tasks!r}."
            )
        if cost not in ("cheap", "expensive"):
            raise ValueError(f"The {self.kind} {name!r} has cost {cost!r}; expected 'cheap' or 'expensive'.")
        previous = self._entries.get(name)
        if previous is not None and _qualname(previous.obj) != _qualname(obj):
            raise ValueError(f"The {self.kind} name {name!r} is already taken by {_qualname(previous.obj)}.")
        entry = Entry(name, obj, description.strip(), tuple(tasks), cost, dict(meta))
        self._entries[name] = entry
        return entry

    @contextlib.contextmanager
    def trial(self) -> Iterator[Registry[T]]:
        """Entries added inside the block are gone after it (tests add entries this way). Declared
        (`lazy`) entries whose module was first imported inside the block stay: the import is not undone."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            loaded = {n: e for n, e in self._entries.items() if n in self._lazy and n not in saved}
            self._entries = {**saved, **loaded}

    # ---- lookup ------------------------------------------------------------------------------
    def entry(self, name: str) -> Entry[T]:
        """The entry `name`, importing its module on first use; ConfigError listing the valid names."""
        if isinstance(name, str) and name not in self._entries and name in self._lazy:
            importlib.import_module(self._lazy[name])
            if name not in self._entries:  # a bug in this package, not a user mistake
                raise RuntimeError(f"Importing {self._lazy[name]} did not register the {self.kind} {name!r}.")
        if not isinstance(name, str) or name not in self._entries:
            raise self.unknown(name)
        return self._entries[name]

    def unknown(self, name: Any, task: str | None = None) -> ConfigError:
        valid = ", ".join(repr(n) for n in self.names(task))
        for_task = f" for {task}" if task else ""
        hint = f" {self._hint}" if self._hint else ""
        return ConfigError(f"Unknown {self.kind} {name!r}. Valid names{for_task} are: {valid}{hint}.")

    def names(self, task: str | None = None) -> list[str]:
        """Every registered (or declared) name, in registration order; for `task`, those serving it
        (which imports the lazily declared ones)."""
        names = list(dict.fromkeys([*self._entries, *self._lazy]))
        if self._sort:
            names.sort()
        if task is None:
            return names
        return [n for n in names if task in self.entry(n).tasks]

    def entries(self) -> list[Entry[T]]:
        """Every entry, importing the lazily declared ones."""
        return [self.entry(n) for n in self.names()]

    def describe(self, name: str) -> str:
        return self.entry(name).description

    def __getitem__(self, name: str) -> T:
        try:
            return self.entry(name).obj
        except ConfigError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._lazy)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"
