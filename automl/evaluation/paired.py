"""A simpler model keeps the ties it deserves: a paired comparison with the linear model on the same rows.

On a few hundred rows a network's out-of-fold advantage over a linear model is often smaller than the
noise of the rows: choosing the network then buys variance, not accuracy. After the selection rule has
chosen, a chosen model that is not itself simple is compared with the best simple candidate (the linear
model) row by row on their out-of-fold losses (log loss for classification, squared or absolute error
for regression, averaged over the CV repeats). Both predicted the same rows from the same folds, so
the per-row differences are paired: their mean, over its standard error, says whether the advantage is
beyond noise. Within `SIMPLER_Z` standard errors the simpler model is chosen. The estimate's bootstrap
(evaluation/bbc.py) repeats the comparison in every resample, under its row weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automl.evaluation.oof import OutOfFold
from automl.evaluation.row_losses import compare, per_row_losses

__all__ = ["SIMPLER_Z", "Comparison", "compare", "row_losses"]

SIMPLER_Z = 1.0  # the advantage must exceed this many paired standard errors to beat the simpler model


def row_losses(oof: OutOfFold) -> tuple[np.ndarray, str]:
    """(T, n) per-row out-of-fold loss of every trial, averaged over the repeats, and its name."""
    return per_row_losses(
        oof.predictions, oof.y, oof.n_classes if oof.has_probabilities else 0, oof.metric.name
    )


@dataclass
class Comparison:
    """The chosen model against the simpler one on the same rows: `advantage` is the simpler model's mean
    loss minus the chosen model's (> 0: the chosen one is better), with its paired standard error."""

    chosen: str
    simpler: str
    advantage: float
    std_error: float
    n_rows: int
    loss: str
    z: float = SIMPLER_Z

    @property
    def keeps_simpler(self) -> bool:
        return not self.advantage > self.z * self.std_error

    def reason(self) -> str:
        ratio = self.advantage / self.std_error if self.std_error > 0 else float("inf")
        verdict = (
            f"within the noise ({ratio:.2g} paired standard errors, at most {self.z:g}), so the simpler "
            f"model {self.simpler} is chosen"
            if self.keeps_simpler
            else f"beyond the noise ({ratio:.2g} paired standard errors, more than {self.z:g}), so "
            f"{self.chosen} is kept"
        )
        return (
            f"Against the simpler model {self.simpler} on the same {self.n_rows} rows, {self.chosen}'s out-of-fold "
            f"{self.loss} is lower by {self.advantage:.4g} per row (paired standard error {self.std_error:.4g}): "
            f"{verdict}."
        )

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "simpler": self.simpler,
            "advantage": self.advantage,
            "std_error": self.std_error,
            "n_rows": self.n_rows,
            "loss": self.loss,
            "z": self.z,
            "keeps_simpler": self.keeps_simpler,
        }
