"""The re-evaluation on fresh folds (automl/reevaluate.py, train/fixed.py): fresh splits, the candidates,
their time, and the exported bag being exactly the networks whose predictions were measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.splits import fresh_folds, make_splits
from automl.data.tabular import coerce_features, infer_schema
from automl.metrics import get_metric
from automl.modalities import modality
from automl.reevaluate import (
    MAX_CANDIDATES,
    START,
    Candidate,
    Reevaluation,
    Result,
    fresh_repeats,
    pick_candidates,
    within_time,
)
from automl.train.fixed import run_fixed
from automl.train.table_folds import encode_folds
from automl.train.trainable import SearchData

NETWORK = dict(
    depth=1,
    width=16,
    activation="relu",
    batch_norm=False,
    dropout=0.1,
    lr=0.02,
    batch_size=16,
    l1=0.0,
    l2=1e-3,
    scaler="standard",
    patience=5,
    synth_method="none",
)
LINEAR = dict(
    depth=0, lr=0.05, batch_size=16, l1=0.0, l2=1e-3, scaler="standard", patience=5, synth_method="none"
)


def _data(n: int = 60, task: str = "classification", seed: int = 0) -> SearchData:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], size=n)}
    )
    frame.loc[0, "c"] = "rare"  # one fold's training part lacks it: that fold encodes one column narrower
    signal = frame["x"] + 0.5 * (frame["c"] == "a")
    y = (
        (signal + 0.3 * rng.normal(size=n) > 0.2).astype(np.int64).to_numpy()
        if task == "classification"
        else (signal + 0.1 * rng.normal(size=n)).to_numpy()
    )
    schema = infer_schema(frame)
    splits = make_splits(y, task, test_size=0.0, n_folds=3, n_repeats=2, seed=seed)
    metric = "accuracy" if task == "classification" else "rmse"
    return SearchData(
        coerce_features(frame, schema),
        y,
        schema,
        task,
        2 if task == "classification" else 0,
        splits.folds,
        metric,
        30,
        seed,
    )


def test_fresh_folds_are_new_splits_of_the_same_rows() -> None:
    data = _data()
    fresh = fresh_folds(data.y, data.task, n_folds=3, n_repeats=2, seed=0)
    again = fresh_folds(data.y, data.task, n_folds=3, n_repeats=2, seed=0)
    assert [v.tolist() for _, v in fresh] == [v.tolist() for _, v in again]  # seeded
    for repeat in range(2):
        rows = np.concatenate([val for _, val in fresh[3 * repeat : 3 * repeat + 3]])
        assert sorted(rows.tolist()) == list(range(len(data.y)))  # every row once per repeat
    search_vals = {tuple(val) for _, val in data.folds}
    assert not search_vals & {tuple(val) for _, val in fresh}  # not the search's folds
    other = fresh_folds(data.y, data.task, n_folds=3, n_repeats=2, seed=1)
    assert [v.tolist() for _, v in fresh] != [v.tolist() for _, v in other]


def test_fresh_repeats() -> None:
    assert fresh_repeats(80, 2) == 2 and fresh_repeats(300, 1) == 2 and fresh_repeats(5000, 1) == 1


def _board(rows: list[dict]) -> pd.DataFrame:
    base = dict(
        status="completed", val_std=0.01, n_folds=6, gap=0.01, n_params=10, seconds=1.0, best_epoch_mean=12.4
    )
    board = pd.DataFrame([{**base, **r} for r in rows])
    board["objective"] = board["val_score"]
    return board


def test_candidates_start_with_the_linear_model_and_are_distinct() -> None:
    rows = [
        dict(
            trial="t01",
            val_score=0.80,
            val_log_loss=0.50,
            val_log_loss_std=0.05,
            param_depth=0,
            param_l2=0.01,
        ),
        dict(
            trial="t02",
            val_score=0.90,
            val_log_loss=0.30,
            val_log_loss_std=0.05,
            param_depth=2,
            param_l2=0.01,
        ),
        dict(
            trial="t03",
            val_score=0.90,
            val_log_loss=0.30,
            val_log_loss_std=0.05,
            param_depth=2,
            param_l2=0.01,
        ),
        dict(
            trial="t04", val_score=0.85, val_log_loss=0.40, val_log_loss_std=0.05, param_depth=1, param_l2=0.1
        ),
        dict(
            trial="t05", val_score=0.85, val_log_loss=0.35, val_log_loss_std=0.05, param_depth=0, param_l2=0.1
        ),
    ]
    board = _board(rows)
    simple = modality("tabular").is_simple
    picked = pick_candidates(
        board, {"depth": 0, "l2": 0.01}, simple, has_oof=set(board["trial"]), rule="one_se_min_gap"
    )
    assert [c.trial for c in picked] == ["t01", "t02", "t05", "t04"]  # t03 repeats t02's configuration
    assert picked[0].why == "the linear start point" and picked[0].simple
    assert [c.simple for c in picked] == [True, False, True, False]
    assert picked[1].epochs == 12 and picked[1].config == {"depth": 2, "l2": 0.01}
    assert picked[1].search_objective == pytest.approx(-0.30)


def test_a_start_point_the_search_never_finished_still_runs() -> None:
    board = _board([dict(trial="t02", val_score=0.9, val_log_loss=0.3, val_log_loss_std=0.1, param_depth=2)])
    picked = pick_candidates(
        board, {"depth": 0}, modality("tabular").is_simple, has_oof={"t02"}, rule="one_se_min_gap"
    )
    assert picked[0].trial == START and picked[0].epochs is None and picked[0].simple
    nothing = pick_candidates(
        board.iloc[:0], {"depth": 0}, modality("tabular").is_simple, has_oof=set(), rule="one_se_min_gap"
    )
    assert [c.trial for c in nothing] == [START]  # no trial finished: the study still gets a model


def test_the_best_of_each_family_is_a_candidate_after_a_search_that_converged() -> None:
    rows = [
        dict(
            trial=f"t{i:02d}",
            val_score=0.9,
            val_log_loss=0.30 + i / 1000,
            val_log_loss_std=0.05,
            param_family="linear",
            param_linear_c=float(i),
        )
        for i in range(1, 16)
    ]
    rows.append(
        dict(
            trial="t16",
            val_score=0.8,
            val_log_loss=0.5,
            val_log_loss_std=0.05,
            param_family="gbdt",
            param_gbdt_lr=0.1,
        )
    )
    board = _board(rows)
    kind = modality("tabular")
    picked = pick_candidates(
        board, None, kind.is_simple, has_oof=set(board["trial"]), rule="best_validation", group=kind.kind_of
    )
    assert "t16" in [c.trial for c in picked]  # the converged search's only trees
    assert next(c for c in picked if c.trial == "t16").why == "the best gbdt of the search"


def test_candidates_are_capped() -> None:
    rows = [
        dict(
            trial=f"t{i:02d}",
            val_score=0.9 - i / 1000,
            val_log_loss=0.3 + i / 1000,
            val_log_loss_std=0.5,
            param_depth=1,
            param_l2=i / 100,
        )
        for i in range(1, 60)
    ]
    board = _board(rows)
    picked = pick_candidates(
        board, None, modality("tabular").is_simple, has_oof=set(board["trial"]), rule="one_se_min_gap"
    )
    assert len(picked) == MAX_CANDIDATES


def test_within_time_keeps_the_first_always() -> None:
    def candidates(*seconds):
        return [Candidate(f"t{i}", {}, 5, "x", estimated_s=s) for i, s in enumerate(seconds)]

    kept, skipped = within_time(candidates(30.0, 2.0), seconds=10.0, slots=2)
    assert [c.trial for c in kept] == ["t0"]  # alone over the time: it runs anyway
    kept, skipped = within_time(candidates(2.0, 5.0, 30.0, 2.0), seconds=10.0, slots=2)
    assert [c.trial for c in kept] == [
        "t0",
        "t1",
        "t3",
    ]  # a slow one does not keep out the cheap ones after it
    assert [c.trial for c, _ in skipped] == ["t2"] and "more than the time left" in skipped[0][1]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_exported_bag_is_the_networks_that_were_measured(task) -> None:
    """Every member of the bag, given its fold's validation rows, predicts exactly the fresh out-of-fold
    predictions the estimate was computed from; each member uses its own fold's preprocessor."""
    data = _data(task=task)
    folds = fresh_folds(data.y, task, n_folds=3, n_repeats=2, seed=0)
    fresh = data.with_folds(folds)
    encode_folds(fresh, ["standard"])
    run = run_fixed(NETWORK, fresh, epochs=7)
    assert run.epochs == 7 and len(run.networks) == len(folds) and np.isfinite(run.oof).all()
    widths = {encoded[1].shape[1] for key, encoded in fresh.encoded.items()}
    assert len(widths) == 2  # the folds' encodings differ: the batched network pads the narrower ones
    kind = modality("tabular")
    info = {
        "target": "y",
        "metric": data.metric,
        "study_id": "s",
        "classes": ["no", "yes"] if task == "classification" else None,
    }
    for f, (_, val) in enumerate(folds):
        member = kind.fold_model(fresh, f, NETWORK, run.networks[f], info, run.epochs)
        out = member.predict_output(fresh.features.iloc[val])
        np.testing.assert_allclose(out, run.oof[f // 3, val], rtol=1e-5, atol=1e-6)
    metric = get_metric(data.metric)
    for f, (_, val) in enumerate(folds):
        assert run.val_scores[f] == pytest.approx(metric(data.y[val], run.oof[f // 3, val], data.n_classes))


def test_the_summaries_read_the_fresh_runs() -> None:
    data = _data()
    folds = fresh_folds(data.y, "classification", n_folds=3, n_repeats=2, seed=0)
    fresh = data.with_folds(folds)
    runs = [
        Result(Candidate(t, c, 5, "x", simple=t == "t01"), run_fixed(c, fresh, 5, keep_networks=False))
        for t, c in [("t01", LINEAR), ("t02", NETWORK)]
    ]
    reev = Reevaluation(folds, 3, 2, fresh, runs)
    metric = get_metric("accuracy")
    summaries = reev.summaries(metric)
    assert [s.trial_id for s in summaries] == ["t01", "t02"] and reev.simple == {"t01"}
    assert summaries[0].val_score == pytest.approx(np.mean(runs[0].run.val_scores))
    assert summaries[0].gap == pytest.approx(np.mean(runs[0].run.train_scores) - summaries[0].val_score)
    oof = reev.oof(metric, 2)
    assert oof.trials == ["t01", "t02"] and oof.predictions.shape == (2, 2, 60, 2)


def test_a_bag_of_image_probes_is_one_backbone_under_the_fold_heads(tmp_path) -> None:
    """Linear probes on cached features export as one network whose heads are the fold heads: each head
    predicts its fold's fresh out-of-fold rows exactly, and the bag is the mean of their probabilities;
    the model reloads from its files."""
    from sklearn.datasets import load_digits

    from automl.artifact import load_model
    from automl.image.network import InputSize
    from automl.image.trainable import ImageSearchData, clear_caches

    digits = load_digits()
    pick = np.concatenate([np.flatnonzero(digits.target == d)[:9] for d in range(3)])
    grey = (digits.images[pick] * (255 / 16)).round().astype(np.uint8)
    images, y = np.repeat(grey[..., None], 3, axis=3), digits.target[pick]
    folds = fresh_folds(y, "classification", n_folds=3, n_repeats=2, seed=0, classes=None)
    data = ImageSearchData(
        images=images,
        y=y,
        classes=["0", "1", "2"],
        folds=folds,
        metric="accuracy",
        max_epochs=5,
        seed=0,
        weights={"pixels_grey_8": None},
        image_size=InputSize(native=8),
    )
    clear_caches()
    config = {
        "backbone": "pixels_grey_8",
        "transfer": "linear_probe",
        "head_depth": 0,
        "augment": "none",
        "lr": 0.05,
        "batch_size": 8,
        "l2": 1e-3,
        "synth_method": "none",
    }
    run = run_fixed(config, data, epochs=6)
    kind = modality("image")
    assert kind.is_simple(config)
    info = {"target": "label", "metric": "accuracy", "study_id": "s"}
    bag = kind.bag(data, config, run.networks, info, run.epochs, {"trial": "t01"})
    assert bag is not None and len(bag.network.head.heads) == len(folds) == bag.info["n_heads"]
    members = [kind.fold_model(data, f, config, n, info, run.epochs) for f, n in enumerate(run.networks)]
    for f, (_, val) in enumerate(folds):
        np.testing.assert_allclose(members[f].predict_output(images[val]), run.oof[f // 3, val], atol=1e-5)
    mean = np.mean([m.predict_output(images) for m in members], axis=0)
    np.testing.assert_allclose(bag.predict_output(images), mean, atol=1e-5)
    bag.save(tmp_path / "model")
    np.testing.assert_allclose(load_model(tmp_path / "model").predict_output(images), mean, atol=1e-5)
