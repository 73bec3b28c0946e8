"""Parameter importance with optuna's fANOVA on an in-memory optuna study rebuilt from the leaderboard.

The distributions come from the study's resolved search space (`space.parameters` in study.json),
so importance is measured over the ranges the search actually explored. Trials without a score,
and parameters that did not vary, are left out. A blank cell is a setting that had no effect for
its trial (width at depth 0, a synthesizer's settings without one): it counts as its own choice,
"(no effect)", or as the range's low end for a number (no dropout, no synthetic rows, ...). A
conditional parameter of the space (`when:`) counts only over the trials where it was active.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from automl.search.conditions import active_parameters, parameter_order, requirements
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
    """(importances, message): importances sum to 1, largest first; None with the reason when not computable.

    One fANOVA over every scored trial, where a parameter inactive in a trial (its `when:` does not
    hold) is "(no effect)", or its range's low end. A conditional parameter's own share is then
    measured over the trials where it was active only (see `_conditional_shares`)."""
    dists = {name: d for name, spec in (space or {}).items() if (d := distribution(spec)) is not None}
    dists = {n: d for n, d in dists.items() if f"param_{n}" in board and not d.single()}
    if not dists:
        return None, "The study's manifest has no search space to measure importance over."
    trials = _scored_trials(board, space, dists)
    if len(trials) < min_trials:
        return None, (
            f"Parameter importance needs at least {min_trials} scored trials; this study has {len(trials)}. "
            "Run a study with more trials to see which settings mattered."
        )
    varied = _varied(trials, dists)
    if not varied:
        return None, "No parameter varied across the scored trials."
    overall = _fanova(trials, varied, dists, greater_is_better)
    importances = {n: float(overall.get(n, 0.0)) for n in varied}
    conditional = [n for n in varied if any(n not in active for _, active, _ in trials)]
    left_out = _conditional_shares(
        importances, conditional, trials, space, dists, greater_is_better, min_trials
    )
    total = sum(importances.values())
    if not total > 0:
        return None, "No parameter varied across the scored trials."
    ranked = sorted(importances.items(), key=lambda item: -item[1])
    message = f"fANOVA over {len(trials)} scored trials ({len(importances)} parameters varied)."
    if conditional:
        message += (
            " A conditional parameter counts only the trials where it was active; what its being"
            " inactive explains counts for the parameters its condition names."
        )
    if left_out:
        message += f" Active in fewer than {min_trials} of them: {', '.join(left_out)}."
    return {k: float(v / total) for k, v in ranked}, message


def _conditional_shares(
    importances: dict[str, float],
    conditional: list[str],
    trials: list[tuple[dict[str, Any], set[str], float]],
    space: dict[str, dict[str, Any]],
    dists: dict[str, Any],
    greater_is_better: bool,
    min_trials: int,
) -> list[str]:
    """Replace each conditional parameter's share in `importances` by its own, and return those left
    out (active in fewer than `min_trials` trials).

    Its own share is its fANOVA share over the trials where it was active, scaled by those trials'
    part of the study's score variation (their sum of squares about their own mean over all trials'
    about theirs). The rest of its overall share is what its "(no effect)" column explained, that
    is what its condition did: that goes to the parameters its `when:` names (children first, so a
    chain passes it on up), and so a setting is not credited with what the one it depends on did."""
    everything = _sum_of_squares(trials)
    own: dict[str, float] = {}
    left_out: list[str] = []
    cache: dict[tuple[int, ...], dict[str, float]] = {}  # fANOVA shares by the trials they are over
    for name in conditional:
        where = tuple(i for i, (_, active, _) in enumerate(trials) if name in active)
        own[name] = 0.0
        if len(where) < min_trials:
            left_out.append(name)
            continue
        subset = [trials[i] for i in where]
        varied = _varied(subset, dists)
        if name in varied and everything > 0:
            if where not in cache:
                cache[where] = _fanova(subset, varied, dists, greater_is_better)
            own[name] = float(cache[where].get(name, 0.0)) * _sum_of_squares(subset) / everything
    for name in reversed([n for n in parameter_order(space) if n in own]):
        extra = max(0.0, importances[name] - own[name])
        importances[name] = own[name]
        parents = [n for n in requirements(space[name]) if n in importances]
        for parent in parents:
            importances[parent] += extra / len(parents)
    for name in left_out:
        if importances[name] == 0.0:
            del importances[name]
    return left_out


def _varied(trials: list[tuple[dict[str, Any], set[str], float]], dists: dict[str, Any]) -> list[str]:
    return [n for n in dists if len({str(values[n]) for values, _, _ in trials}) > 1]


def _scored_trials(
    board: pd.DataFrame, space: dict[str, dict[str, Any]], dists: dict[str, Any]
) -> list[tuple[dict[str, Any], set[str], float]]:
    """(values, active parameters, score) of each scored trial whose active parameters' values fit
    their distributions. An inactive parameter, or a blank cell (a setting without effect for its
    trial, such as a synthesizer's setting it does not take), is its own choice, "(no effect)", or
    the range's low end for a number; `dists` gains the "(no effect)" choice where it is needed."""
    from optuna.distributions import CategoricalDistribution

    scored = board.dropna(subset=["val_score"])
    rows = []
    for _, row in scored.iterrows():
        config = {n: plain(row[f"param_{n}"]) for n in space if f"param_{n}" in row}
        config = {n: v for n, v in config.items() if not _blank(v)}
        rows.append((config, active_parameters(space, config) & set(dists), float(row["val_score"])))
    for n, d in list(dists.items()):
        if isinstance(d, CategoricalDistribution) and any(n not in a or n not in c for c, a, _ in rows):
            dists[n] = CategoricalDistribution([*d.choices, NO_EFFECT])
    trials = []
    for config, active, score in rows:
        values = {}
        for n, d in dists.items():
            if n not in active or n not in config:
                values[n] = NO_EFFECT if isinstance(d, CategoricalDistribution) else d.low
            elif (v := _value(config[n], d)) is not None:
                values[n] = v
        if len(values) == len(dists):
            trials.append((values, active, score))
    return trials


def _sum_of_squares(trials: list[tuple[dict[str, Any], set[str], float]]) -> float:
    scores = np.array([score for _, _, score in trials], dtype=float)
    return float(((scores - scores.mean()) ** 2).sum())


def _fanova(
    trials: list[tuple[dict[str, Any], set[str], float]],
    varied: list[str],
    dists: dict[str, Any],
    greater_is_better: bool,
) -> dict[str, float]:
    """fANOVA shares of the `varied` parameters over these trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if greater_is_better else "minimize")
    study.add_trials(
        [
            optuna.trial.create_trial(params=values, distributions=dists, value=score)
            for values, _, score in trials
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return optuna.importance.get_param_importances(study, evaluator=evaluator, params=varied)
