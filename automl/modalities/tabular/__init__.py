"""Tables (CSV or Parquet): one row per example, a target column. The catch-all modality: a source
that no other modality claims is read as a table, and the reader says what is wrong with it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.modalities import Log, Modality, register_modality
from automl.synth.base import setting_names
from automl.synth.registry import SYNTHESIZERS, available_synthesizers, synthesizer_class

if TYPE_CHECKING:
    import pandas as pd

EARLY_READ_BYTES = 32 * 1024 * 1024  # a table this small is read (again) by the checks: a few milliseconds


@register_modality
class Tabular(Modality):
    name = "tabular"
    unit = "rows"
    new_data = "NEW.csv"
    description = "tables: CSV or Parquet, one row per example, a target column"
    catch_all = True

    def claims(self, path: Path, target: str | None) -> bool:
        return True

    def check(self, config: Any) -> None:
        """The file, the search space and, for a small file (or to tell the task a --metric must fit), the
        table itself (pandas only): a bad table or metric is refused before torch and Ray start."""
        from automl.data.tabular import check_table_file, coerce_features, load_table, no_target_error
        from automl.metrics import get_metric
        from automl.search.space import SearchSpace

        if not config.target:
            raise no_target_error(config.data)
        max_bytes = int(config.max_file_mb * 1024 * 1024)
        check_table_file(config.data, max_bytes)
        if config.space:
            SearchSpace.load(config.space, self.name)
        task = config.task
        if (config.metric and not task) or Path(config.data).stat().st_size <= EARLY_READ_BYTES:
            with warnings.catch_warnings():  # the study reads it again and says what it dropped
                warnings.simplefilter("ignore", UserWarning)
                dataset = load_table(config.data, config.target, config.task, max_bytes=max_bytes)
            coerce_features(dataset.features, dataset.schema)  # e.g. inf or 1e308, with row and column
            task = dataset.task
        if config.metric:
            get_metric(config.metric, task)

    def prepare(self, config: Any, log: Log) -> Any:
        from automl.modalities.tabular.prepare import prepare_table  # torch, scikit-learn

        return prepare_table(config, log)

    def describe(self, dataset: Any) -> str:
        return f"{dataset.n_rows} rows, {dataset.n_features} features"

    def data_line(self, summary: dict[str, Any]) -> str:
        return (
            f"{summary.get('source')} ({summary.get('n_rows')} rows, {summary.get('n_features')} features, "
            f"{summary.get('task')}, target {summary.get('target')!r})"
        )

    def registered_choices(self) -> dict[str, tuple[str, list[str]]]:
        return {"synth_method": ("synthesizer(s)", ["none", *available_synthesizers()])}

    def setting_parameters(self) -> set[str]:
        return {
            f"synth_{setting}"
            for name in available_synthesizers()
            for setting in setting_names(synthesizer_class(name))
        }

    def usable_choices(self, name: str, values: list[Any], task: str) -> list[Any]:
        """Synthesizers that do not support the task (SMOTE for regression) are dropped."""
        if name != "synth_method":
            return values
        return [v for v in values if v == "none" or task in synthesizer_class(v).tasks]

    def expensive_choices(self) -> dict[str, list[Any]]:
        """The synthesizers that train a network per fold (CTGAN, TVAE), and any model family registered as
        expensive."""
        from automl.models.families import FAMILIES

        return {
            "synth_method": [e.name for e in SYNTHESIZERS.entries() if e.cost == "expensive"],
            "family": [e.name for e in FAMILIES.entries() if e.cost == "expensive"],
        }

    def is_simple(self, config: dict[str, Any]) -> bool:
        """The linear model: the `linear` family, or a network without hidden layers."""
        from automl.models.families import family_of

        return family_of(config).is_simple(config)

    def kind_of(self, config: dict[str, Any]) -> str | None:
        from automl.models.families import family_of

        return family_of(config).name

    def prepare_fresh(self, fresh: Any, configs: list[dict[str, Any]], search: Any) -> None:
        """The fresh folds encoded once for every scaler the candidates use."""
        from automl.train.table_folds import encode_folds

        encode_folds(fresh, sorted({str(c.get("scaler", "standard")) for c in configs}))

    def fold_model(
        self, fresh: Any, fold_index: int, config: dict[str, Any], network: Any, info: dict, epochs: int
    ) -> Any:
        """The fold's network with the fold's own preprocessor (fitted on its training part only)."""
        from automl.train.final import fold_model  # torch

        return fold_model(fresh, fold_index, config, network, info, epochs)

    def refit(
        self, prep: Any, config: dict[str, Any], epochs: int, seed: int, info: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
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

    def finish_reports(self, prep: Any, chosen: dict[str, Any], seed: int) -> dict[str, Any]:
        """The synthetic-data quality of the search rows, when the chosen configuration adds synthetic rows."""
        from automl.store import SYNTH_QUALITY
        from automl.synth.quality import study_quality  # SDV, when it is needed

        dataset = prep.dataset
        report = study_quality(
            prep.data.features,
            prep.data.y,
            chosen,
            task=dataset.task,
            classes=dataset.classes,
            target=dataset.target_name,
            seed=seed,
        )
        return {SYNTH_QUALITY: report}

    def test_inputs(self, prep: Any) -> tuple[Any, Any]:
        test = prep.splits.test
        return prep.features.iloc[test].reset_index(drop=True), prep.dataset.y[test]

    def model_files(self) -> tuple[str, ...]:
        from automl.artifact import MODEL_FILES  # torch

        return MODEL_FILES

    def load_model(self, files: dict[str, bytes], where: str) -> Any:
        from automl.artifact import TabularModel  # torch

        return TabularModel.from_files(files, where)

    def predict(
        self, model: Any, source: str, output: str | None, max_bytes: int
    ) -> tuple[pd.DataFrame, list[str]]:
        from automl.predict import predict_file  # torch

        return predict_file(model, source, output, max_bytes=max_bytes)
