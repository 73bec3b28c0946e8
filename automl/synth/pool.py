"""Fit each expensive synthesizer once per (fold, method, settings) and share its rows across trials
(and, for image studies, compute frozen-backbone features once and share them).

A synthesizer depends only on its fold's training rows and its own settings, never on the
network a trial trains, so refitting it per trial would waste most of a study on CTGAN/TVAE fits.
The pool is a Ray actor: the first trial that needs a key starts one fit task, and every trial
(on any node) gets the same object reference. The task samples `max_rows` rows once; a trial
takes the first `ratio * n_train` of them, so the same ratio always gives the same rows.
"""

from __future__ import annotations

import time
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


def fetch_shared(pool: Any, kind: str, *key: Any) -> Any | None:
    """The pool's shared result for `key` (`kind`: "get" or "features"), or None when the pool or
    the result was lost with its node: the caller then computes it itself."""
    if pool is None:
        return None
    try:
        return ray.get(ray.get(getattr(pool, kind).remote(*key))[0])
    except ray.exceptions.RayError:
        return None


@ray.remote(num_cpus=0)
class SharedPool:
    """One object reference per key, computed once per study and shared by every trial on any node:
    a synthesizer's sampled rows per (fold, method, settings, seed), and frozen-backbone features of
    the search images per (backbone, kept stages) (the weights are fixed per study)."""

    def __init__(self, data_ref: list, max_ratio: float) -> None:
        self._data_ref = data_ref[0]  # wrapped in a list so that Ray passes the reference, not the data
        self._max_ratio = max_ratio
        self._refs: dict[tuple, ray.ObjectRef] = {}

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

    def size(self) -> int:
        return len(self._refs)
