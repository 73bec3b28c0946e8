"""Seconds the bias-corrected estimate takes at the issue's size: 200 trials x 2,000 rows x B = 1,000.

`python -m benchmarks.estimate_speed` prints, per metric and rule, the seconds of choosing on the
out-of-fold predictions and running BBC-CV (evaluation/bbc.py) on synthetic predictions of 200 trials
whose skill varies. Run it alone: on 2 shared cores the figures are noisy.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from automl.evaluation.bbc import bias_corrected_estimate, choose
from automl.evaluation.oof import OutOfFold
from automl.metrics import get_metric
from automl.search.selection import TrialSummary


def synthetic_study(n_trials: int = 200, n_rows: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_rows)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(n_rows), y))
    logits = rng.normal(size=(n_trials, 1, n_rows, 2))
    logits[..., 1] += (2 * y - 1) * rng.uniform(0, 1.5, size=(n_trials, 1, 1))
    proba = np.exp(logits)
    return (proba / proba.sum(-1, keepdims=True)).astype(np.float32), y, folds


def main() -> None:
    proba, y, folds = synthetic_study()
    ids = [f"t{i:03d}" for i in range(len(proba))]
    for metric_name, rules in [
        ("accuracy", ["one_se_min_gap", "ensemble"]),
        ("balanced_accuracy", ["one_se_min_gap"]),
        ("log_loss", ["one_se_min_gap"]),
        ("roc_auc", ["one_se_min_gap"]),
    ]:
        oof = OutOfFold(ids, proba, y, folds, get_metric(metric_name), 2)
        raw = [TrialSummary(t, 0.0, 0.0, 0.0, 5, 0.0, 100 + i, "completed") for i, t in enumerate(ids)]
        mean, std = oof.fold_summary(np.ones((1, len(y))))
        base = oof.summaries(raw, mean, std)
        for rule in rules:
            start = time.perf_counter()
            chosen = choose(oof, base, rule)
            estimate = bias_corrected_estimate(oof, base, rule, chosen, seed=0)
            seconds = time.perf_counter() - start
            print(
                f"{metric_name:>17} {rule:>15}: {seconds:5.2f} s (B={estimate.n_bootstrap}); "
                f"apparent {estimate.apparent:.4f}, estimate {estimate.value:.4f} "
                f"[{estimate.ci_low:.4f}, {estimate.ci_high:.4f}]"
            )


if __name__ == "__main__":
    main()
