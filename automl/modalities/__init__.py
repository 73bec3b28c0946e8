"""Modalities: what a kind of data (tables, images) brings to the core, looked up by name.

The core (study orchestration, splits, search, selection, estimate, store, the CLI, the text summary,
prediction) never asks which kind of data it has: it asks the study's modality. A modality is one
complete `Modality` subclass, registered under its `name` in `MODALITIES` by `@register_modality`; the
manifest and every model.json name theirs (a model.json without the field is a table's). A subclass
that leaves an abstract method out cannot be instantiated, so it fails when its module registers it,
not in the middle of a study. Each one declares:

- `name`, `unit` (what one row is called in messages: "rows", "images"), `new_data` (an example of
  new data for `automl predict`), the `description` and `tasks` of its registry entry, and
  `trial_modules` (what a trial imports, preloaded by a local Ray's workers);
- `claims(path, target)`: whether a source is this kind of data; `detect` asks every modality, the
  catch-all one (`catch_all`: tabular, any other file is read as a table) last;
- `prepare(config, log)`: load and validate the data, hold out the test rows and build what the trials
  receive (a `prepared.Prepared`; its default search space is search_spaces/<name>.yaml);
- `describe(dataset)`: the loaded data in a few words, and `data_line(summary)`: the data as the text
  summary shows it (from the manifest);
- `check(config)`: the checks of the data that need neither torch nor Ray (the CLI runs them first);
- `registered_choices()` and `usable_choices(name, values, task)`: the search-space parameters whose
  values must name registry entries, and the values this task can use; `setting_parameters()`: the
  parameters its entries' settings add to its default space's; `expensive_choices()`: the
  values the searcher tries only after cheap ones (search/frugal.py);
- `save_extras(store, study_id, prep)`: what it stores beside the manifest before the search (the
  image augmentation previews; nothing for tables), and `finish_reports(prep, chosen, seed)`: the
  report files it stores once the model is chosen, so that the dashboard reads them and fits nothing
  (a table's synthetic-data quality; nothing for images);
- `is_simple(config)`: whether a configuration is the simpler (linear) model others must beat beyond
  noise, and `prepare_fresh(fresh, configs, search)`: what the re-evaluation on fresh folds needs
  made before its data is shipped (automl/reevaluate.py), and `fold_model(...)`: one fold network of
  that re-evaluation as an exported model (a member of the exported bag);
- `refit(prep, config, epochs, seed, info)`: one configuration trained on every search row, and
  `test_inputs(prep)`: the held-out test rows as that model takes them;
- `model_files()` and `load_model(files, where)`: its exported model directory's files and the model
  they hold (ensembles of either are `automl/ensemble.py`'s);
- `predict(model, source, output, max_bytes)`: an exported model's predictions for new data.

A fold's setup is the search data's own `setup_fold` (`train/trainable.py` `SearchData`,
`image/trainable.py` `ImageSearchData`, which `prepare` builds), so a trial needs no lookup. The
entries' modules (`tabular/`, `image/`) import nothing heavy at module level: the CLI's checks and the
text summary load them, so torch, timm and SDV wait in the methods that train, load or predict.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from automl.errors import DataError
from automl.registry import TASKS, Entry, Registry

if TYPE_CHECKING:
    import pandas as pd

Log = Callable[[str], None]


class Modality(abc.ABC):
    """Base of the registered modalities; see the module docstring."""

    name: ClassVar[str]
    unit: ClassVar[str]
    new_data: ClassVar[str]
    description: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = TASKS
    catch_all: ClassVar[bool] = False  # asked last: claims whatever no other modality does
    # What a trial imports: a local Ray's workers import them as they start, before trials need them.
    trial_modules: ClassVar[tuple[str, ...]] = ("automl.train.trainable",)

    # ---- the data ----------------------------------------------------------------------------
    @abc.abstractmethod
    def claims(self, path: Path, target: str | None) -> bool:
        """Whether `path` (a file or folder, with the --target given, if any) is this kind of data."""

    @abc.abstractmethod
    def prepare(self, config: Any, log: Log) -> Any:
        """Load and validate the data of a validated StudyConfig and build a `prepared.Prepared`."""

    @abc.abstractmethod
    def describe(self, dataset: Any) -> str:
        """The loaded dataset in a few words, e.g. '90 rows, 4 features'."""

    @abc.abstractmethod
    def data_line(self, summary: dict[str, Any]) -> str:
        """The data as the text summary shows it, from the manifest's `data` entry."""

    # ---- the search space --------------------------------------------------------------------
    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        """Choice parameters whose values must name a registry entry: name -> (what, known values)."""
        return {}

    def usable_choices(self, name: str, values: list[Any], task: str) -> list[Any]:
        """The values of the choice parameter `name` that a study of `task` can use."""
        return values

    def setting_parameters(self) -> set[str]:
        """Search-space parameters its registered entries read beyond those of its default space (a
        synthesizer's `synth_<setting>`). A --space may name these and its default space's parameters;
        any other name is refused as a typo, with the nearest valid one."""
        return set()

    def check(self, config: Any) -> None:
        """The checks of the data (and of the options that depend on it) that need neither torch nor
        Ray: the CLI runs them before those are imported, so that a bad input is refused in a second."""
        return None

    def expensive_choices(self) -> dict[str, list[Any]]:
        """Per choice parameter, the values that cost far more than the others (an `expensive` registry
        entry): the searcher tries them only after cheap configurations, and stops proposing one that
        took a third of the budget without reaching the top band (search/frugal.py)."""
        return {}

    def is_simple(self, config: dict[str, Any]) -> bool:
        """Whether a configuration is the simpler model (a linear one) that a chosen model must beat
        beyond the noise of a paired comparison (evaluation/paired.py); none by default."""
        return False

    def kind_of(self, config: dict[str, Any]) -> str | None:
        """The kind of model a configuration is (a table's family): the re-evaluation always re-runs the
        best trial of each kind, so that a search that converged on one keeps its rivals. None: no kinds."""
        return None

    # ---- the study ---------------------------------------------------------------------------
    def prepare_fresh(self, fresh: Any, configs: list[dict[str, Any]], search: Any) -> None:
        """Ready the search data on fresh folds (`fresh`, from `search.with_folds`) for the re-evaluation of
        `configs` (automl/reevaluate.py), before it is shipped; a shared pool it sets as
        `fresh.shared_pool` is killed when the re-evaluation ends. Nothing by default."""
        return None

    @abc.abstractmethod
    def fold_model(
        self, fresh: Any, fold_index: int, config: dict[str, Any], network: Any, info: dict, epochs: int
    ) -> Any:
        """One fold's network of a fixed-epoch run on the fresh folds (train/fixed.py `FoldNetwork`) as an
        exported model of this modality: a member of the bag that a study exports."""

    def bag(
        self, fresh: Any, config: dict[str, Any], networks: list[Any], info: dict, epochs: int, bag: dict
    ) -> Any | None:
        """The fold networks of one configuration as one exported model, where the modality has a more
        compact form than an ensemble of `fold_model`s (None: the ensemble)."""
        return None

    def save_extras(self, store: Any, study_id: str, prep: Any) -> None:
        """Anything it stores for the dashboard before the search starts (nothing by default)."""
        return None

    def finish_reports(self, prep: Any, chosen: dict[str, Any], seed: int) -> dict[str, Any]:
        """{report path: JSON object} it stores for the dashboard once `chosen` is the model (none by default)."""
        return {}

    @abc.abstractmethod
    def refit(
        self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """One configuration trained on every search row: (the exported model, what the refit did)."""

    @abc.abstractmethod
    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        """The held-out test rows as the exported model takes them, and their targets."""

    # ---- the exported model ------------------------------------------------------------------
    @abc.abstractmethod
    def model_files(self) -> tuple[str, ...]:
        """The files of its exported model directory."""

    @abc.abstractmethod
    def load_model(self, files: dict[str, bytes], where: str) -> Any:
        """The exported model held by `files` (a ModelError naming `where` when they are broken)."""

    @abc.abstractmethod
    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        """An exported model's predictions for the new data at `source` (written to `output` if
        given), and notes about what was read."""


def _check(entry: Entry[Modality]) -> None:
    modality = entry.obj
    if not isinstance(modality, Modality) or modality.name != entry.name:
        raise ValueError(f"The modality {entry.name!r} must be a Modality instance named {entry.name!r}.")
    for attribute in ("unit", "new_data"):
        if not isinstance(getattr(modality, attribute, None), str) or not getattr(modality, attribute):
            raise ValueError(f"The modality {entry.name!r} needs a non-empty {attribute!r}.")


MODALITIES: Registry[Modality] = Registry(
    "modality",
    lazy={"tabular": "automl.modalities.tabular", "image": "automl.modalities.image"},
    check=_check,
)

M = TypeVar("M", bound=type[Modality])


def register_modality(cls: M) -> M:
    """Class decorator: register one instance of `cls` under `cls.name` (an incomplete subclass
    raises TypeError here, at import)."""
    MODALITIES.add(cls.name, cls(), description=cls.description, tasks=cls.tasks)
    return cls


def modality(name: str | None) -> Modality:
    """The registered modality `name` (None: tabular, as studies and models from before the field)."""
    return MODALITIES[name or "tabular"]


def detect(source: str | Path, target: str | None = None) -> Modality:
    """The modality that claims `source`: each is asked in registration order, the catch-all last."""
    path = Path(source)
    candidates = sorted(MODALITIES.entries(), key=lambda entry: entry.obj.catch_all)
    for entry in candidates:
        if entry.obj.claims(path, target):
            return entry.obj
    raise DataError(f"No modality reads {source}: give a table (CSV or Parquet) or images.")
