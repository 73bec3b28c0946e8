"""Tables (CSV or Parquet): one row per example, a target column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.modalities import MODALITIES, Modality

if TYPE_CHECKING:
    import pandas as pd


class Tabular(Modality):
    name = "tabular"
    unit = "rows"
    new_data = "NEW.csv"

    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        from automl.synth.registry import available_synthesizers

        return {"synth_method": ("synthesizer(s)", ["none", *available_synthesizers()])}

    def usable_choices(self, name: str, values: list[Any], task: str) -> list[Any]:
        """Synthesizers that do not support the task (SMOTE for regression) are dropped."""
        if name != "synth_method":
            return values
        from automl.synth.registry import synthesizer_class

        return [v for v in values if v == "none" or task in synthesizer_class(v).tasks]

    def data_line(self, summary: dict[str, Any]) -> str:
        return (
            f"{summary.get('source')} ({summary.get('n_rows')} rows, {summary.get('n_features')} features, "
            f"{summary.get('task')}, target {summary.get('target')!r})"
        )

    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        from automl.predict import predict_file

        return predict_file(model, source, output, max_bytes=max_bytes)

    def refit(self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]):
        from automl.train.final import fit_final  # torch

        data, dataset = prep.data, prep.dataset
        return fit_final(
            config,
            data.features,
            data.y,
            epochs=epochs,
            schema=dataset.schema,
            task=dataset.task,
            classes=dataset.classes,
            seed=seed,
            info=info,
        )

    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        test = prep.splits.test
        return prep.features.iloc[test].reset_index(drop=True), prep.dataset.y[test]


MODALITIES.add(
    Tabular.name, Tabular(), description="tables: CSV or Parquet, one row per example, a target column"
)
