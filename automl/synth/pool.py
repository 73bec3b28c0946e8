"""Fit each expensive synthesizer once per (fold, method, settings) and share its rows across trials
(and, for image studies, compute frozen-backbone features once and share them).

A synthesizer depends only on its fold's training rows and its own settings, never on the
network a trial trains, so refitting it per trial would waste most of a study on CTGAN/TVAE fits.
The pool is a Ray actor: the first trial that needs a key starts one fit task, and every trial
(on any node) gets the same object reference. The task samples `max_rows` rows once; a trial
takes the first `ratio * n_train` of them, so the same ratio always gives the same rows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd
import ray

from automl.synth.registry import create_synthesizer

HEAD_NODE_RESOURCE = "node:__internal_head__"  # a resource only Ray's head node has


def fit_and_sample(
    method: str,
    settings: dict[str, Any],
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    n_rows: int,
    seed: int,
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """Fit `method` on the given training rows and sample `n_rows`; returns (rows, labels, fit seconds)."""
    start = time.perf_counter()
    synthesizer = create_synthesizer(method, **settings).fit(frame, y, task=task, seed=seed)
    fit_seconds = time.perf_counter() - start
    rows, labels = synthesizer.sample(n_rows, seed=seed)
    return rows, labels, fit_seconds


@ray.remote(num_cpus=0)
def _fit_fold(data: Any, fold_index: int, method: str, settings: dict, max_ratio: float, seed: int):
    import torch

    torch.set_num_threads(1)
    return data.fit_fold_synthesizer(fold_index, method, settings, max_ratio, seed)


@ray.remote(num_cpus=0)
def _extract(data: Any, backbone: str, drop_stages: int):
    return data.frozen_features(backbone, drop_stages)


class TooSlow(RuntimeError):
    """A shared fit outlasted the study's per-trial time cap; the trial fails with this message."""


_trial_deadline: ContextVar[tuple[float, float] | None] = ContextVar("trial_deadline", default=None)


@contextlib.contextmanager
def trial_deadline(cap_s: float | None) -> Iterator[None]:
    """While a trial runs: the time its shared fits may still take (`cap_s` from its start)."""
    token = _trial_deadline.set(None if cap_s is None else (time.monotonic() + cap_s, cap_s))
    try:
        yield
    finally:
        _trial_deadline.reset(token)


def fetch_shared(pool: Any, kind: str, *key: Any) -> Any | None:
    """The pool's shared result for `key` (`kind`: "get" or "features"), or None when the pool or
    the result was lost with its node: the caller then computes it itself.

    Inside `trial_deadline(cap)`, a result not ready by the trial's deadline is abandoned: the
    pool cancels the fit and every later request for the same key fails at once, with TooSlow."""
    if pool is None:
        return None
    deadline = _trial_deadline.get()
    timeout = None if deadline is None else max(0.0, deadline[0] - time.monotonic())
    try:
        handle = ray.get(getattr(pool, kind).remote(*key))
        if isinstance(handle[0], str):  # abandoned before: the reason
            raise TooSlow(handle[0])
        return ray.get(handle[0], timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        timeout = deadline[1]
        what = f"synthesizer {key[1]!r} {key[2]}" if kind == "get" else f"{key[0]!r} feature extraction"
        reason = (
            f"The {what} did not finish within the trial time cap of {timeout:.0f} s (a tenth of --budget), "
            "so it is not tried again in this study. A longer --budget, fewer synthesizer epochs in the "
            "space or a smaller --image-size let it run."
        )
        ray.get(pool.abandon.remote(kind, key, reason))
        raise TooSlow(reason) from None
    except ray.exceptions.RayError:
        return None


@ray.remote(num_cpus=0)
class SharedPool:
    """One object reference per key, computed once per study and shared by every trial on any node:
    a synthesizer's sampled rows per (fold, method, settings, seed), and frozen-backbone features of
    the search images per (backbone, kept stages) (the weights are fixed per study)."""

    def __init__(self, data_ref: list, max_ratio: float, n_folds: int = 1) -> None:
        self._data_ref = data_ref[0]  # wrapped in a list so that Ray passes the reference, not the data
        self._max_ratio = max_ratio
        self._n_folds = n_folds
        self._refs: dict[tuple, ray.ObjectRef | str] = {}  # a str: abandoned, and why

    def get(self, fold_index: int, method: str, settings: dict, seed: int) -> list:
        key = (fold_index, method, tuple(sorted(settings.items())), seed)
        if key not in self._refs:
            self._refs[key] = _fit_fold.remote(
                self._data_ref, fold_index, method, settings, self._max_ratio, seed
            )
        return [self._refs[key]]

    def features(self, backbone: str, drop_stages: int) -> list:
        key = ("features", backbone, drop_stages)
        if key not in self._refs:
            self._refs[key] = _extract.remote(self._data_ref, backbone, drop_stages)
        return [self._refs[key]]

    def abandon(self, kind: str, key: tuple, reason: str) -> None:
        """Cancel a fit that outlasted a trial's cap (every fold's, for a synthesizer) and remember why."""
        if kind == "get":
            fold, method, settings, seed = key
            keys = [
                (f, method, tuple(sorted(settings.items())), seed - fold + f) for f in range(self._n_folds)
            ]
        else:
            keys = [("features", *key)]
        for k in keys:
            ref = self._refs.get(k)
            if isinstance(ref, ray.ObjectRef):
                ray.cancel(ref, force=True)
            self._refs[k] = reason

    def size(self) -> int:
        return len(self._refs)
