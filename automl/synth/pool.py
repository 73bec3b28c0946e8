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
def _extract(data: Any, backbone: str, drop_stages: int, size: str):
    return data.frozen_features(backbone, drop_stages, size)


class TooSlow(RuntimeError):
    """A shared fit outlasted its share of the study's budget; the trial fails with this message."""


def fetch_shared(pool: Any, kind: str, *key: Any) -> Any | None:
    """The pool's shared result for `key` (`kind`: "get" or "features"), or None when the pool or
    the result was lost with its node: the caller then computes it itself.

    A pool with a cap gives each shared setting (a synthesizer's settings over every fold, a
    backbone's features) `cap_s` from the start of its first fit; a result not ready by then is
    abandoned: the pool cancels the fits and every later request for the setting fails at once."""
    if pool is None:
        return None
    try:
        ref, seconds_left = ray.get(getattr(pool, kind).remote(*key))
        if isinstance(ref, str):  # abandoned before: the reason
            raise TooSlow(ref)
        return ray.get(ref, timeout=None if seconds_left is None else max(0.0, seconds_left))
    except ray.exceptions.GetTimeoutError:
        reason = ray.get(pool.abandon.remote(kind, key))
        raise TooSlow(reason) from None
    except ray.exceptions.RayError:
        return None


def _setting(kind: str, key: tuple) -> tuple:
    """What one cap covers: a synthesizer's settings over all folds (`key`: fold, method, settings,
    seed), or one backbone's features (`key`: backbone, kept stages, input size policy)."""
    return ("get", key[1], tuple(sorted(dict(key[2]).items()))) if kind == "get" else ("features", *key)


def _setting_of_ref(key: tuple) -> tuple:
    """The setting of one of the pool's stored keys."""
    return _setting("features", key[1:]) if key[0] == "features" else _setting("get", key)


@ray.remote(num_cpus=0)
class SharedPool:
    """One object reference per key, computed once per study and shared by every trial on any node:
    a synthesizer's sampled rows per (fold, method, settings, seed), and frozen-backbone features of
    the search images per (backbone, kept stages) (the weights are fixed per study).

    `cap_s` (None: none) bounds what one setting may cost the study: a third of its budget, counted
    from the first fit of the setting, so that an expensive synthesizer cannot eat the search.
    `feature_gpus` (Resources.feature_gpus) is the GPU share of a feature extraction: Ray hides the
    GPUs from a task that asks for none."""

    def __init__(
        self,
        data_ref: list,
        max_ratio: float,
        cap_s: float | None = None,
        feature_gpus: float = 0.0,
        features: list | None = None,
    ) -> None:
        self._data_ref = data_ref[0]  # wrapped in a list so that Ray passes the reference, not the data
        self._max_ratio = max_ratio
        self._cap_s = cap_s
        self._feature_gpus = feature_gpus  # > 0: extraction asks Ray for this much of a GPU, and uses it
        self._refs: dict[tuple, ray.ObjectRef] = {}
        # Features another pool computed for the same images (`feature_refs`): they depend on no fold.
        for key, ref in features or []:
            self._refs[("features", *key)] = ref
        self._started: dict[tuple, float] = {}  # setting -> when its first fit started
        self._abandoned: dict[tuple, str] = {}  # setting -> why

    def _handle(self, setting: tuple, key: tuple, submit) -> list:
        if setting in self._abandoned:
            return [self._abandoned[setting], None]
        if key not in self._refs:
            self._refs[key] = submit()
        started = self._started.setdefault(setting, time.time())
        return [self._refs[key], None if self._cap_s is None else started + self._cap_s - time.time()]

    def get(self, fold_index: int, method: str, settings: dict, seed: int) -> list:
        key = (fold_index, method, tuple(sorted(settings.items())), seed)
        return self._handle(
            _setting("get", (fold_index, method, settings, seed)),
            key,
            lambda: _fit_fold.remote(self._data_ref, fold_index, method, settings, self._max_ratio, seed),
        )

    def features(self, backbone: str, drop_stages: int, size: str = "images") -> list:
        key = ("features", backbone, drop_stages, size)
        return self._handle(
            _setting("features", (backbone, drop_stages, size)),
            key,
            lambda: _extract.options(num_gpus=self._feature_gpus).remote(
                self._data_ref, backbone, drop_stages, size
            ),
        )

    def abandon(self, kind: str, key: tuple) -> str:
        """Cancel the fits of a setting past its cap, remember why, and return the reason."""
        setting = _setting(kind, key)
        if setting not in self._abandoned:
            what = f"synthesizer {key[1]!r} {key[2]}" if kind == "get" else f"{key[0]!r} feature extraction"
            self._abandoned[setting] = (
                f"The {what} did not finish within its cap of {self._cap_s:.0f} s (a third of --budget, at least "
                "30 s), so "
                "it is not tried again in this study. A longer --budget, fewer synthesizer epochs in the "
                "space or a smaller --image-size let it run."
            )
            for k, ref in list(self._refs.items()):
                if _setting_of_ref(k) == setting:
                    ray.cancel(ref, force=True)
                    del self._refs[k]
        return self._abandoned[setting]

    def feature_refs(self) -> list:
        """[(backbone, kept stages, size policy), reference] of every feature extraction started: another pool over the
        same images on other folds (the re-evaluation's) takes them instead of extracting again."""
        return [[list(key[1:]), ref] for key, ref in self._refs.items() if key[0] == "features"]

    def size(self) -> int:
        """Fits started and not abandoned."""
        return len(self._refs)
