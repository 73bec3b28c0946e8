"""Greedy ensemble selection with replacement (Caruana, Niculescu-Mizil, Crew, Ksikes, ICML 2004).

Starting from nothing, add the candidate whose inclusion gives the best out-of-fold score of the
averaged predictions, with replacement (a strong model can be added again, which weights it), for
a fixed number of rounds; keep the best prefix. It reads only out-of-fold predictions, so it can
run inside every bootstrap resample of the estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automl.evaluation.weighted import weighted_scores

if TYPE_CHECKING:
    from automl.metrics import Metric

ROUNDS = 25
MAX_CANDIDATES = 20  # the best trials by out-of-fold score; the rest rarely enter and cost time


def greedy_ensemble(
    predictions: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    metric: Metric,
    n_classes: int,
    rounds: int = ROUNDS,
) -> tuple[np.ndarray, float]:
    """Member counts (C,) over the candidates, and the ensemble's score under `weights`.

    `predictions`: (C, repeats, n[, k]) out-of-fold predictions of the candidates, best first (ties
    go to the earlier one); `weights`: (n,) row weights (bootstrap counts or ones)."""
    sign = metric.sign()
    C, R = predictions.shape[:2]
    preds = predictions.astype(np.float64)
    w = np.asarray(weights, dtype=np.float64)[None, :]
    counts = np.zeros(C, dtype=int)
    total = np.zeros_like(preds[0])
    best_counts, best_score = counts.copy(), -np.inf
    for m in range(rounds):
        trial_sums = (total[None] + preds) / (m + 1)  # each candidate added once more
        scores = np.mean(
            [weighted_scores(metric, y, trial_sums[:, r], w, n_classes)[:, 0] for r in range(R)], axis=0
        )
        scores = np.where(np.isfinite(scores), sign * scores, -np.inf)
        pick = int(np.argmax(scores))
        counts[pick] += 1
        total += preds[pick]
        if scores[pick] > best_score + 1e-12:
            best_score, best_counts = scores[pick], counts.copy()
    return best_counts, float(sign * best_score)
