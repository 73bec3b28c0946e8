"""BatchedFit trains every fold as its own NetworkFit would, in one stacked network."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from automl.errors import ConfigError
from automl.models import build_model, count_parameters
from automl.train.batched import BatchedFit, FoldArrays, supports_batching
from automl.train.loop import NetworkFit, TargetScale, model_output, validation_loss

N_CLASSES = 3


@pytest.fixture(autouse=True)
def one_thread():
    """Trials train with one thread each; on tiny tensors more threads only contend for shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_fold(
    rng: np.random.Generator, n_fit: int, task: str = "classification", n_val: int = 15
) -> FoldArrays:
    """Imbalanced 3-class rows (so class weights matter) or a noisy linear target in large units."""

    def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, 4)).astype(np.float32)
        if task == "classification":
            return X, np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.6, 0.9])
        return X, 50.0 + 10.0 * (X @ np.array([1.0, -2.0, 0.5, 0.0])) + rng.normal(0, 0.5, n)

    X_fit, y_fit = rows(n_fit)
    X_val, y_val = rows(n_val)
    n_real = max(2, n_fit // 2)  # the first rows are the "real" ones the train score uses
    return FoldArrays(X_fit, y_fit, X_fit[:n_real], y_fit[:n_real], X_val, y_val)


def batched(params, folds, task="classification", seeds=None, family="mlp") -> BatchedFit:
    n_classes = N_CLASSES if task == "classification" else 0
    seeds = seeds if seeds is not None else [11 + f for f in range(len(folds))]
    return BatchedFit(params, folds, task=task, n_classes=n_classes, seeds=seeds, model_family=family)


def train(fit: BatchedFit, epochs: int, schedule=None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`schedule(epoch)` gives the active folds (all by default)."""
    for e in range(epochs):
        fit.epoch(np.ones(fit.n_folds, bool) if schedule is None else schedule(e))
    return fit.outputs()


def loop_outputs(params, folds, task="classification", seeds=None, family="mlp", epochs=4, schedule=None):
    """What one NetworkFit per fold gives after the same epochs: [(train output, val output)]."""
    n_classes = N_CLASSES if task == "classification" else 0
    seeds = seeds if seeds is not None else [11 + f for f in range(len(folds))]
    fits = [
        NetworkFit(
            params, fold.X_fit, fold.y_fit, task=task, n_classes=n_classes, seed=s, model_family=family
        )
        for fold, s in zip(folds, seeds, strict=True)
    ]
    for e in range(epochs):
        active = np.ones(len(folds), bool) if schedule is None else schedule(e)
        for fit, on in zip(fits, active, strict=True):
            if on:
                fit.epoch()
    return [(fit.output(fold.X_train), fit.output(fold.X_val)) for fit, fold in zip(fits, folds, strict=True)]


def assert_outputs_close(a, b, atol=1e-5) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=atol)


def max_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


# Rows 40 and 80 at batch size 16: 3 and 5 mini-batches; 33 rows: 16 + 16 and a 1-row batch that is skipped.
ROWS = (40, 80, 33)
BASE = {"depth": 2, "width": 8, "batch_size": 16, "lr": 0.01}
VARIANTS = {
    "linear": {"depth": 0},
    "l1": {"l1": 0.01},
    "l2": {"l2": 0.5},
    "class_weight": {"class_weight": "balanced"},
    "label_smoothing": {"label_smoothing": 0.2},
    "weighted_smoothing": {"class_weight": "balanced", "label_smoothing": 0.4},
    "gelu": {"activation": "gelu"},
    "silu": {"activation": "silu"},
    "tanh": {"activation": "tanh"},
    "width": {"width": 5},
    "lr": {"lr": 0.05},
    "full_batch": {"batch_size": 500},
    "small_batch": {"batch_size": 7},
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_fold_trains_as_its_own_network_fit(name: str) -> None:
    """Every param key NetworkFit reads gives the same per-fold result here (and changes the result),
    with folds of 3, 5 and 2 mini-batches and the third fold stopped after two epochs."""
    rng = np.random.default_rng(0)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, **VARIANTS[name]}

    def schedule(e: int) -> np.ndarray:
        return np.array([True, True, e < 2])

    train_out, val_out = train(batched(params, folds), 4, schedule)
    expected = loop_outputs(params, folds, epochs=4, schedule=schedule)
    assert_outputs_close(train_out, [t for t, _ in expected])
    assert_outputs_close(val_out, [v for _, v in expected])
    _, base_val = train(batched(BASE, folds), 4, schedule)
    assert max_difference(val_out, base_val) > 1e-3  # the key is honoured, not ignored


@pytest.mark.parametrize("params", [{"depth": 0}, {"depth": 2, "width": 6, "l1": 0.01, "l2": 0.1}])
def test_regression_folds_match_network_fit_in_target_units(params: dict) -> None:
    rng = np.random.default_rng(1)
    folds = [make_fold(rng, n, "regression") for n in ROWS]
    params = {**params, "batch_size": 16, "lr": 0.01}
    train_out, val_out = train(batched(params, folds, "regression"), 4)
    expected = loop_outputs(params, folds, "regression", epochs=4)
    assert_outputs_close(val_out, [v for _, v in expected], atol=1e-3)
    assert_outputs_close(train_out, [t for t, _ in expected], atol=1e-3)
    assert abs(float(np.mean(val_out[0])) - 50.0) < 30  # in target units, not standardized ones


def test_image_head_matches_network_fit() -> None:
    rng = np.random.default_rng(2)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, "depth": 1}
    _, val_out = train(batched(params, folds, family="image_head"), 3)
    expected = loop_outputs(params, folds, family="image_head", epochs=3)
    assert_outputs_close(val_out, [v for _, v in expected])


def test_lr_zero_gives_the_initial_network_of_each_seed() -> None:
    """With lr = 0 one epoch changes nothing: the outputs are those of build_model after manual_seed."""
    rng = np.random.default_rng(3)
    fold = make_fold(rng, 30)
    params = {"depth": 2, "width": 8, "lr": 0.0}
    fit = batched(params, [fold], seeds=[5])
    train_out, val_out = train(fit, 1)
    torch.manual_seed(5)
    initial = build_model("mlp", 4, N_CLASSES, params)
    for X, out in ((fold.X_train, train_out[0]), (fold.X_val, val_out[0])):
        np.testing.assert_allclose(out, model_output(initial, X, "classification", TargetScale()), atol=1e-6)
        np.testing.assert_allclose(
            out, model_output(fit.fold_module(0), X, "classification", TargetScale()), atol=1e-6
        )
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        assert out.dtype == np.float64


@pytest.mark.parametrize("family", ["mlp", "image_head"])
def test_exported_fold_modules_reproduce_batched_outputs(family: str) -> None:
    """After training with batch norm and dropout, each fold's plain module gives its batched outputs."""
    rng = np.random.default_rng(4)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {"depth": 2, "width": 8, "batch_norm": True, "dropout": 0.3, "batch_size": 16, "lr": 0.02}
    fit = batched(params, folds, family=family)
    train_out, val_out = train(fit, 3)
    for f, fold in enumerate(folds):
        module = fit.fold_module(f)
        assert type(module) is type(build_model(family, 4, N_CLASSES, params))
        assert (
            count_parameters(module)
            == fit.n_params
            == count_parameters(build_model(family, 4, N_CLASSES, params))
        )
        np.testing.assert_allclose(
            model_output(module, fold.X_train, "classification", TargetScale()), train_out[f], atol=1e-6
        )
        np.testing.assert_allclose(
            model_output(module, fold.X_val, "classification", TargetScale()), val_out[f], atol=1e-6
        )


def test_batch_norm_statistics_are_per_fold_over_real_rows_only() -> None:
    """lr = 0 keeps the weights, so the running statistics must equal NetworkFit's exactly per fold, with
    padded rows of the shorter folds left out and PyTorch's momentum and unbiased running variance."""
    rng = np.random.default_rng(5)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {"depth": 1, "width": 6, "batch_norm": True, "batch_size": 16, "lr": 0.0}
    fit = batched(params, folds)
    train(fit, 2)
    fits = [
        NetworkFit(params, fold.X_fit, fold.y_fit, task="classification", n_classes=N_CLASSES, seed=11 + f)
        for f, fold in enumerate(folds)
    ]
    for f, network in enumerate(fits):
        network.epoch()
        network.epoch()
        ours, theirs = fit.fold_state_dict(f), network.model.state_dict()
        assert ours.keys() == theirs.keys()
        for key in theirs:
            torch.testing.assert_close(ours[key], theirs[key], rtol=1e-5, atol=1e-6)
    assert [int(fit.fold_state_dict(f)["1.num_batches_tracked"]) for f in range(3)] == [6, 10, 4]


def test_batch_norm_changes_the_result_and_stays_close_to_network_fit() -> None:
    rng = np.random.default_rng(6)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, "batch_norm": True}
    _, val_out = train(batched(params, folds), 4)
    _, base_val = train(batched(BASE, folds), 4)
    assert max_difference(val_out, base_val) > 1e-3
    # Not exact: Adam amplifies the float noise in the gradient of the bias before batch norm (truly 0).
    expected = loop_outputs(params, folds, epochs=4)
    assert max_difference(val_out, [v for _, v in expected]) < 0.02


def test_an_inactive_fold_is_frozen() -> None:
    """No parameter, moment, step-count, weight-decay or running-statistics change for a stopped fold."""
    rng = np.random.default_rng(7)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, "batch_norm": True, "l1": 0.01, "l2": 0.5, "dropout": 0.2}
    fit = batched(params, folds)
    train(fit, 1)
    before = [fit.fold_state_dict(f) for f in range(3)]
    moments = [fit.fold_optimizer_state(f) for f in range(3)]
    _, val_before = fit.outputs()
    fit.epoch(np.array([True, False, True]))
    after = [fit.fold_state_dict(f) for f in range(3)]
    for key in before[1]:
        assert torch.equal(before[1][key], after[1][key]), key
    moved = [fit.fold_optimizer_state(f) for f in range(3)]
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(moved[1][key], moments[1][key])
        assert not torch.equal(moved[0][key], moments[0][key]) and not torch.equal(
            moved[2][key], moments[2][key]
        )
    assert [m["step"] for m in moved] == [m["step"] + d for m, d in zip(moments, (3, 0, 2), strict=True)]
    _, val_after = fit.outputs()
    np.testing.assert_array_equal(val_after[1], val_before[1])
    assert not np.allclose(val_after[0], val_before[0])
    assert list(fit.epochs_done) == [2, 1, 2]


def test_dropout_is_independent_per_fold_and_input_dropout_is_honoured() -> None:
    """Two identical folds with the same seed train identically without dropout, differently with it."""
    rng = np.random.default_rng(8)
    fold = make_fold(rng, 40)
    same = [fold, fold]
    _, plain = train(batched(BASE, same, seeds=[3, 3]), 3)
    np.testing.assert_array_equal(plain[0], plain[1])
    _, dropped = train(batched({**BASE, "dropout": 0.3}, same, seeds=[3, 3]), 3)
    assert np.abs(dropped[0] - dropped[1]).max() > 1e-3
    assert np.abs(dropped[0] - plain[0]).max() > 1e-3
    head = {**BASE, "depth": 0}
    _, head_plain = train(batched(head, same, seeds=[3, 3], family="image_head"), 3)
    _, head_dropped = train(batched({**head, "dropout": 0.3}, same, seeds=[3, 3], family="image_head"), 3)
    assert np.abs(head_dropped[0] - head_plain[0]).max() > 1e-3  # image_head's dropout on the inputs


def test_seeds_reproduce_and_differ() -> None:
    rng = np.random.default_rng(9)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, "dropout": 0.2, "batch_norm": True}
    first = train(batched(params, folds, seeds=[1, 2, 3]), 3)
    again = train(batched(params, folds, seeds=[1, 2, 3]), 3)
    other = train(batched(params, folds, seeds=[4, 5, 6]), 3)
    for a, b, c in zip(first[1], again[1], other[1], strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.abs(a - c).max() > 1e-3


def test_global_random_state_is_left_alone() -> None:
    state = torch.random.get_rng_state()
    train(batched(BASE, [make_fold(np.random.default_rng(10), 20)]), 1)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_depth_zero_is_a_linear_model() -> None:
    fit = batched({"depth": 0}, [make_fold(np.random.default_rng(11), 20)])
    module = fit.fold_module(0)
    assert [type(m) for m in module] == [nn.Linear]
    assert fit.n_params == 4 * N_CLASSES + N_CLASSES


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_fold_learns_as_far_as_network_fit(task: str) -> None:
    """A separable problem and a linear target: each fold's validation loss falls well below its start,
    to what one NetworkFit per fold reaches in the same epochs."""
    rng = np.random.default_rng(12)
    folds = [make_fold(rng, n, task, n_val=30) for n in (48, 60, 64)]
    params = {"depth": 1, "width": 16, "lr": 0.05, "batch_size": 16}
    fit = batched(params, folds, task)
    start = fit.val_losses(fit.outputs()[1])
    _, val_out = train(fit, 20)
    end = fit.val_losses(val_out)
    assert np.all(end < 0.4 * start), (start, end)
    expected = [
        validation_loss(v, fold.y_val, task, TargetScale.fit(fold.y_fit, task))
        for (_, v), fold in zip(loop_outputs(params, folds, task, epochs=20), folds, strict=True)
    ]
    np.testing.assert_allclose(end, expected, rtol=1e-3, atol=1e-4)


def test_supported_families() -> None:
    assert supports_batching({}, "mlp") and supports_batching({"depth": 3}, "image_head")
    assert not supports_batching({}, "resnet")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'model_family' parameter of BatchedFit must be one of mlp, image_head. Got 'resnet' instead."
        ),
    ):
        batched(BASE, [make_fold(np.random.default_rng(13), 10)], family="resnet")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'seeds' parameter of BatchedFit must be one seed per fold (1). Got [1, 2] instead."
        ),
    ):
        batched(BASE, [make_fold(np.random.default_rng(13), 10)], seeds=[1, 2])


def test_keep_checkpoints_only_the_marked_folds() -> None:
    """Early stopping's best checkpoint: `keep` copies the marked folds' weights and batch-norm state."""
    rng = np.random.default_rng(14)
    folds = [make_fold(rng, n) for n in ROWS]
    fit = batched({**BASE, "batch_norm": True}, folds)
    message = "fold 1 has no kept checkpoint: call keep() with it marked first"
    with pytest.raises(ValueError, match=re.escape(message)):
        fit.fold_state_dict(1, kept=True)
    fit.epoch(np.ones(3, bool))
    fit.keep(np.array([True, False, False]))
    with pytest.raises(ValueError, match=re.escape(message)):
        fit.fold_module(1, kept=True)
    outputs = []
    for kept in ([False, True, True], [True, False, True], [False, False, False]):
        fit.epoch(np.ones(3, bool))
        fit.keep(np.array(kept))
        outputs.append(fit.outputs()[1])
    expected = {0: outputs[1][0], 1: outputs[0][1], 2: outputs[1][2]}  # each fold's last kept epoch
    for f, fold in enumerate(folds):
        module = fit.fold_module(f, kept=True)
        got = model_output(module, fold.X_val, "classification", TargetScale())
        np.testing.assert_allclose(got, expected[f], atol=1e-6)
        assert not np.allclose(got, outputs[2][f], atol=1e-4)  # the current weights moved on
    assert int(fit.fold_state_dict(1, kept=True)["1.num_batches_tracked"]) == 10  # two epochs of 5 batches


def test_a_diverged_fold_does_not_leak_into_the_others() -> None:
    """Folds share one summed loss and one optimizer step: a fold whose weights went to nan (stopped, as
    early stopping stops a non-finite validation loss) must leave the other folds' training as it was."""
    rng = np.random.default_rng(15)
    folds = [make_fold(rng, n) for n in ROWS]
    params = {**BASE, "batch_norm": True, "l1": 0.01, "l2": 0.1}
    clean, poisoned = batched(params, folds), batched(params, folds)
    for fit in (clean, poisoned):
        fit.epoch(np.ones(3, bool))
    with torch.no_grad():
        poisoned.theta[0] = float("nan")
    for fit in (clean, poisoned):
        fit.epoch(np.array([False, True, True]))
        fit.epoch(np.array([False, True, True]))
    _, clean_val = clean.outputs()
    _, poisoned_val = poisoned.outputs()
    assert np.isnan(poisoned_val[0]).all() and not np.isnan(poisoned.val_losses(poisoned_val)[1:]).any()
    for f in (1, 2):
        np.testing.assert_allclose(poisoned_val[f], clean_val[f], rtol=0, atol=1e-7)
