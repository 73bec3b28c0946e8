"""Nothing fitted on data (scaler, encoders, SMOTE, SDV) ever sees a validation row of its fold.

Every row carries a unique `row_id` feature; spies wrap the real fit methods and record which rows
each fit saw. Fits happen fold by fold (preprocessor first, then synthesizer), so the k-th record
of each kind belongs to fold k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.preprocess import Preprocessor
from automl.data.splits import make_splits
from automl.data.tabular import coerce_features, infer_schema
from automl.synth.registry import synthesizer_class
from automl.train.trainable import SearchData, run_trial

BASE = dict(
    depth=1,
    width=8,
    activation="relu",
    batch_norm=False,
    dropout=0.0,
    l1=0.0,
    l2=0.0,
    lr=0.01,
    batch_size=16,
    patience=2,
    class_weight="none",
    synth_ratio=1.0,
)


def _data(n: int = 60) -> SearchData:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(n, dtype=float),
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    y = (frame["x"] > 0).astype(np.int64).to_numpy()
    schema = infer_schema(frame)
    splits = make_splits(y, "classification", n_folds=3, n_repeats=1, seed=0)
    features = coerce_features(frame, schema).iloc[splits.search].reset_index(drop=True)
    return SearchData(features, y[splits.search], schema, "classification", 2, splits.folds, "accuracy", 2, 0)


@pytest.fixture
def seen(monkeypatch):
    records: dict[str, list[set[float]]] = {"preprocessor": [], "synthesizer": []}
    real_fit = Preprocessor.fit

    def spy_pre(self, frame):
        records["preprocessor"].append(set(frame["row_id"]))
        return real_fit(self, frame)

    monkeypatch.setattr(Preprocessor, "fit", spy_pre)
    for method in ("smote", "gaussian_copula"):
        cls = synthesizer_class(method)
        real = cls._fit

        def spy_synth(self, X, y, *, _real=real, **kwargs):
            ids = X["row_id"] if isinstance(X, pd.DataFrame) else X[:, 0]  # scaler 'none': column 0 is row_id
            records["synthesizer"].append(set(np.asarray(ids, dtype=float)))
            return _real(self, X, y, **kwargs)

        monkeypatch.setattr(cls, "_fit", spy_synth)
    return records


@pytest.mark.parametrize("method", ["smote", "gaussian_copula"])
def test_fits_see_only_the_training_part_of_their_fold(seen, method):
    data = _data()
    run_trial(dict(BASE, scaler="none", synth_method=method), data, lambda r: None)
    search_ids = data.features["row_id"].to_numpy()
    for kind in ("preprocessor", "synthesizer"):
        assert len(seen[kind]) == len(data.folds), kind
        for fold_index, (train, val) in enumerate(data.folds):
            rows_seen = seen[kind][fold_index]
            assert rows_seen == set(search_ids[train]), (kind, fold_index)
            assert not rows_seen & set(search_ids[val]), f"{kind} saw validation rows of fold {fold_index}"


def test_shared_pool_fits_on_the_fold_training_rows_only(seen):
    from automl.synth.pool import _fit_fold

    data = _data()
    for fold_index, (train, _val) in enumerate(data.folds):
        rows, labels, _ = _fit_fold._function(data, fold_index, "gaussian_copula", {}, 1.0, 0)
        assert seen["synthesizer"][-1] == set(data.features["row_id"].to_numpy()[train])
        assert len(rows) == len(train) and len(labels) == len(train)


def test_a_trial_whose_shared_pool_is_lost_fits_the_same_rows_itself(ray_session):
    """A lost pool (its node died) must not fail the trial: it fits the synthesizer itself, with the same seed."""
    import ray

    from automl.synth.pool import HEAD_NODE_RESOURCE, SharedPool

    config = dict(BASE, scaler="standard", synth_method="gaussian_copula")
    data = _data()
    data_ref = ray.put(data)
    data.extra["max_synth_ratio"] = 1.0
    data.shared_pool = SharedPool.options(resources={HEAD_NODE_RESOURCE: 0.001}).remote([data_ref], 1.0)
    pooled_reports: list[dict] = []
    run_trial(config, data, pooled_reports.append)
    assert ray.get(data.shared_pool.size.remote()) == len(data.folds)

    ray.kill(data.shared_pool)
    fallback_reports: list[dict] = []
    run_trial(config, data, fallback_reports.append)
    assert [r["val_score"] for r in fallback_reports] == [r["val_score"] for r in pooled_reports]
