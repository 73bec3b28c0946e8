"""Modalities: what a kind of data (tables, images) brings to the core, looked up by name.

The core (the CLI, the text summary, the search space, prediction) asks the study's modality instead of
testing `modality == "image"`; a modality is one `Modality` subclass registered in `MODALITIES`, and the
manifest and every model.json name theirs. Each one declares:

- `unit`: what one row is called in messages ("rows", "images"), and `new_data`: an example of new data
  for `automl predict`;
- `registered_choices()`: the search-space parameters whose values must name registry entries;
- `usable_choices(name, values, task)`: the values of a choice parameter this task can use;
- `data_line(summary)`: the data as the text summary shows it;
- `predict(model, source, output, max_bytes)`: an exported model's predictions for new data;
- `refit(prep, config, epochs, seed, info)`: one configuration trained on every search row, and
  `test_inputs(prep)`: the held-out test rows as that model takes them.

Reading the data, preparing the search, the fold setup, the refit and the export still live in
`automl/prepared.py`, `automl/image/` and `automl/train/`; they move behind this interface next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from automl.registry import Registry

if TYPE_CHECKING:
    import pandas as pd


class Modality:
    """Base of the registered modalities; see the module docstring."""

    name: ClassVar[str]
    unit: ClassVar[str]
    new_data: ClassVar[str]

    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        """Choice parameters whose values must name a registry entry: name -> (what, known values)."""
        return {}

    def usable_choices(self, name: str, values: list[Any], task: str) -> list[Any]:
        return values

    def data_line(self, summary: dict[str, Any]) -> str:
        raise NotImplementedError

    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        raise NotImplementedError

    def refit(self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]):
        """One configuration trained on every search row: (the exported model, what the refit did)."""
        raise NotImplementedError

    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        """The held-out test rows as the exported model takes them, and their targets."""
        raise NotImplementedError


MODALITIES: Registry[Modality] = Registry(
    "modality", lazy={"tabular": "automl.modalities.tabular", "image": "automl.modalities.image"}
)


def modality(name: str | None) -> Modality:
    """The registered modality `name` (None: tabular, as studies from before the field)."""
    return MODALITIES[name or "tabular"]
