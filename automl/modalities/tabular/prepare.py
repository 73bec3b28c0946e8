"""A table study before its search: load and check the table, hold out the test rows, and build what
the trials receive: a `prepared.Prepared` of `train.trainable.SearchData`."""

from __future__ import annotations

from automl.config import StudyConfig
from automl.data.preprocess import SCALERS
from automl.data.splits import make_splits, resolve_test_size
from automl.data.tabular import coerce_features, load_table, no_target_error
from automl.metrics import default_metric, get_metric
from automl.prepared import Prepared
from automl.search.space import SearchSpace
from automl.train.table_folds import MAX_SYNTH_RATIO, encode_folds
from automl.train.trainable import SearchData

MB = 1024 * 1024


def prepare_table(config: StudyConfig, log=print) -> Prepared:
    """What a table study's search receives (see `automl.prepared.Prepared`)."""
    if not config.target:
        raise no_target_error(config.data)
    dataset = load_table(config.data, config.target, config.task, max_bytes=int(config.max_file_mb * MB))
    for note in dataset.notes:
        log(f"note: {note}")
    metric = get_metric(config.metric or default_metric(dataset.task, dataset.class_counts), dataset.task)
    space = SearchSpace.load(config.space, "tabular")
    splits = make_splits(
        dataset.y,
        dataset.task,
        test_size=resolve_test_size(config.test_size, dataset.n_rows),
        n_folds=config.n_folds,
        n_repeats=config.n_repeats,
        seed=config.seed,
        classes=dataset.classes,
    )
    for note in splits.notes:
        log(f"note: {note}")
    features = coerce_features(dataset.features, dataset.schema)
    n_classes = len(dataset.classes) if dataset.classes else 0
    fold_rows = min(len(train) for train, _ in splits.folds)
    data = SearchData(
        features=features.iloc[splits.search].reset_index(drop=True),
        y=dataset.y[splits.search],
        schema=dataset.schema,
        task=dataset.task,
        n_classes=n_classes,
        folds=splits.folds,
        metric=metric.name,
        max_epochs=config.max_epochs,
        seed=config.seed,
        extra={
            "max_synth_ratio": space.max_value("synth_ratio", MAX_SYNTH_RATIO),
            "cpus_per_trial": config.resources.cpus_per_trial,
            "sizes": {"n_rows": fold_rows, "n_features": dataset.n_features, "n_classes": n_classes},
        },
    )
    scalers = [s for s in space.choices("scaler") if s in SCALERS] or ["standard"]
    return Prepared(dataset, metric, space, splits, features, data, lambda: encode_folds(data, scalers))
