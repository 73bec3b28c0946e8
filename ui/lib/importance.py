"""Parameter importance with optuna's fANOVA on an in-memory optuna study rebuilt from the leaderboard.

The distributions come from the study's resolved search space (`space.parameters` in study.json),
so importance is measured over the ranges the search actually explored. Trials without a score,
and parameters that did not vary, are left out. A blank cell is a setting that had no effect for
its trial (width at depth 0, a synthesizer's settings without one): it counts as its own choice,
"(no effect)", or as the range's low end for a number (no dropout, no synthetic rows, ...).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd

from ui.lib.formatting import plain

MIN_TRIALS = 5
NO_EFFECT = "(no effect)"


def _blank(raw: Any) -> bool:
    value = plain(raw)
    return value is None or (isinstance(value, float) and math.isnan(value))


def distribution(spec: dict[str, Any]) -> Any:
    """The optuna distribution of one resolved search-space entry (None when it cannot be built)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    kind = spec.get("type")
    try:
        if kind == "choice":
            return CategoricalDistribution([plain(v) for v in spec["values"]])
        if kind == "uniform":
            return FloatDistribution(float(spec["low"]), float(spec["high"]))
        if kind == "loguniform":
            return FloatDistribution(float(spec["low"]), float(spec["high"]), log=True)
        if kind == "int":
            return IntDistribution(int(spec["low"]), int(spec["high"]))
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _same(choice: Any, value: Any) -> bool:
    """Whether a stored cell equals a search-space choice (bools only equal bools)."""
    if isinstance(choice, bool) or isinstance(value, bool):
        return isinstance(choice, bool) and isinstance(value, bool) and choice == value
    if isinstance(choice, int | float) and isinstance(value, int | float):
        return float(choice) == float(value)
    return str(choice) == str(value)


def _value(raw: Any, dist: Any) -> Any:
    """A leaderboard cell as a value `dist` contains, or None."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    value = plain(raw)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(dist, CategoricalDistribution):
        # parquet may give 16.0 for 16, or numpy.bool_ for True
        return next((choice for choice in dist.choices if _same(choice, value)), None)
    value = int(round(value)) if isinstance(dist, IntDistribution) else float(value)
    return value if dist.low <= value <= dist.high else None


def param_importances(
    board: pd.DataFrame,
    space: dict[str, dict[str, Any]],
    greater_is_better: bool,
    min_trials: int = MIN_TRIALS,
) -> tuple[dict[str, float] | None, str]:
    """(importances, message): importances sum to 1, largest first; None with the reason when not computable."""
    import optuna

    dists = {name: d for name, spec in (space or {}).items() if (d := distribution(spec)) is not None}
    dists = {n: d for n, d in dists.items() if f"param_{n}" in board and not d.single()}
    if not dists:
        return None, "The study's manifest has no search space to measure importance over."
    from optuna.distributions import CategoricalDistribution

    scored = board.dropna(subset=["val_score"])
    for n, d in list(dists.items()):
        if isinstance(d, CategoricalDistribution) and scored[f"param_{n}"].map(_blank).any():
            dists[n] = CategoricalDistribution([*d.choices, NO_EFFECT])
    trials = []
    for _, row in scored.iterrows():
        params = {}
        for n, d in dists.items():
            raw = row[f"param_{n}"]
            if _blank(raw):
                params[n] = NO_EFFECT if isinstance(d, CategoricalDistribution) else d.low
            elif (v := _value(raw, d)) is not None:
                params[n] = v
        if len(params) != len(dists):
            continue
        trials.append(
            optuna.trial.create_trial(params=params, distributions=dists, value=float(row["val_score"]))
        )
    if len(trials) < min_trials:
        return None, (
            f"Parameter importance needs at least {min_trials} scored trials; this study has {len(trials)}. "
            "Run a study with more trials to see which settings mattered."
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if greater_is_better else "minimize")
    study.add_trials(trials)
    varied = [n for n in dists if len({str(t.params[n]) for t in trials}) > 1]
    if not varied:
        return None, "No parameter varied across the scored trials."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator, params=varied)
    return {
        k: float(v) for k, v in importances.items()
    }, f"fANOVA over {len(trials)} scored trials ({len(varied)} parameters varied)."
