"""A trial's out-of-fold predictions: every row once per repeat, from a network that never trained on
it, at an epoch count that row's own fold did not choose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.splits import make_splits
from automl.data.tabular import coerce_features, infer_schema
from automl.metrics import get_metric
from automl.train import engines
from automl.train.engines import fold_repeats, out_of_fold, out_of_fold_epochs
from automl.train.trainable import SearchData, run_trial, should_report

CONFIG = dict(depth=0, lr=0.05, batch_size=16, patience=3, l1=0.0, l2=0.0, scaler="standard")


def _data(n: int = 48, repeats: int = 2, max_epochs: int = 15) -> SearchData:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    y = (frame["x"] + 0.3 * rng.normal(size=n) > 0).astype(np.int64).to_numpy()
    schema = infer_schema(frame)
    splits = make_splits(y, "classification", test_size=0.0, n_folds=3, n_repeats=repeats, seed=0)
    return SearchData(
        coerce_features(frame, schema),
        y,
        schema,
        "classification",
        2,
        splits.folds,
        "accuracy",
        max_epochs,
        0,
    )


def test_leave_one_fold_out_epochs() -> None:
    # fold 0 stopped best at 2, the others at 10: its predictions come from epoch 10, not its own 2
    assert out_of_fold_epochs([2, 10, 10], [12, 15, 15]) == [10, 6, 6]
    assert out_of_fold_epochs([2, 10, 10], [5, 15, 15])[0] == 5  # never past the epochs it ran
    assert out_of_fold_epochs([1, 1], [1, 1]) == [1, 1]


def test_fold_repeats_follow_the_rows() -> None:
    data = _data(n=30, repeats=3)
    assert fold_repeats(data.folds, 30) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_out_of_fold_assembles_each_fold_at_its_epoch() -> None:
    folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    per_epoch = [[np.full((2, 2), e, np.float32) for e in (1, 2, 3)] for _ in folds]
    oof = out_of_fold(per_epoch, folds, [3, 1], n_rows=4, n_classes=2)
    assert oof.shape == (1, 4, 2)
    assert oof[0, :2].tolist() == [[3, 3], [3, 3]] and oof[0, 2:].tolist() == [[1, 1], [1, 1]]


def test_run_trial_returns_predictions_for_every_row_and_repeat() -> None:
    data = _data()
    reports: list[dict] = []
    run_trial(CONFIG, data, reports.append)
    final = reports[-1]
    payload = final["payload"]
    assert all("payload" not in r for r in reports[:-1])
    oof = payload["oof"]
    assert oof.shape == (2, 48, 2) and np.isfinite(oof).all()
    assert np.allclose(oof.sum(axis=-1), 1.0, atol=1e-5)
    assert (oof.argmax(-1) == data.y[None]).mean() > 0.7  # it learned
    assert len(payload["curve_epoch"]) == final["epoch"]  # every epoch's curve, once
    assert len(payload["oof_epochs"]) == len(data.folds)


def test_no_fold_predicts_at_the_epoch_it_chose_itself(monkeypatch) -> None:
    """A planted leak: had each fold's own best epoch been used, a fold whose best epoch differs
    from the others' would give other predictions. The payload matches the other folds' choice."""
    data = _data(repeats=1, max_epochs=20)
    outputs: list[list[np.ndarray]] = [[] for _ in data.folds]
    real_step = engines.Batched.step  # tabular folds train as one batched network

    def recording_step(self, active):
        stepped = real_step(self, active)
        for f, (_, out_val, _, _) in stepped.items():
            outputs[f].append(out_val)
        return stepped

    monkeypatch.setattr(engines.Batched, "step", recording_step)
    reports: list[dict] = []
    run_trial(dict(CONFIG, lr=0.2, patience=4), data, reports.append)
    payload = reports[-1]["payload"]
    best = [int(b) for b in _best_epochs(outputs, data)]
    expected = out_of_fold_epochs(best, [len(o) for o in outputs])
    assert payload["oof_epochs"].tolist() == expected
    for f, (_, val) in enumerate(data.folds):
        np.testing.assert_allclose(payload["oof"][0, val], outputs[f][expected[f] - 1], rtol=1e-6)


def test_the_search_is_steered_by_the_out_of_fold_log_loss() -> None:
    """The objective the searcher and the successive halving compare is minus the mean over folds of the
    log loss of the out-of-fold predictions (the band's signal), not the best-epoch score of each fold;
    `oof_score` is the study's metric of the same predictions."""
    data = _data(repeats=1, max_epochs=20)
    reports: list[dict] = []
    run_trial(dict(CONFIG, lr=0.2, patience=4), data, reports.append)
    final = reports[-1]
    oof = final["payload"]["oof"][0]
    log_loss, accuracy = get_metric("log_loss"), get_metric("accuracy")
    losses = [log_loss(data.y[val], oof[val], 2) for _, val in data.folds]
    scores = [accuracy(data.y[val], oof[val], 2) for _, val in data.folds]
    assert final["objective"] == pytest.approx(-np.mean(losses), rel=1e-5)
    assert final["objective_std"] == pytest.approx(np.std(losses, ddof=1), rel=1e-4)
    assert final["oof_score"] == pytest.approx(np.mean(scores))
    assert final["objective"] != pytest.approx(final["val_score"])  # not the best-epoch accuracy


def _best_epochs(outputs, data) -> list[int]:
    """Each fold's best epoch by validation log loss, as EarlyStopping finds it."""
    best = []
    for (_, val), per_epoch in zip(data.folds, outputs, strict=True):
        y = data.y[val]
        losses = [-np.mean(np.log(np.clip(o[np.arange(len(y)), y], 1e-7, 1))) for o in per_epoch]
        first_best, lowest = 1, np.inf
        for e, loss in enumerate(losses, start=1):
            if loss < lowest - 1e-7:
                first_best, lowest = e, loss
        best.append(first_best)
    return best


@pytest.mark.parametrize(
    ("finished", "seconds", "expected"),
    [(False, 0, False), (False, 1.9, False), (False, 2.5, True), (True, 0, True)],
)
def test_reports_every_few_seconds_and_at_the_end(finished, seconds, expected):
    assert should_report(finished, seconds) is expected
