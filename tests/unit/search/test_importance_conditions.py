"""Parameter importance (ui/lib/importance.py) counts a conditional parameter only over the trials where
it was active, with real optuna fANOVA on made-up leaderboards."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from ui.lib.importance import distribution, param_importances

SPACE = {
    "depth": {"type": "int", "low": 0, "high": 2},
    "width": {"type": "choice", "values": [16, 32, 64], "when": {"depth": [1, 2]}, "default": 16},
    "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
}
FLAT = {name: {k: v for k, v in spec.items() if k not in ("when", "default")} for name, spec in SPACE.items()}


def board(
    n: int = 60, seed: int = 0, blank_inactive: bool = True, width_matters: bool = False
) -> pd.DataFrame:
    """The score jumps with depth 0 (a linear model wins) and barely moves with lr; width, where it
    is active, does nothing (or, `width_matters`, 64 is much better). At depth 0 the leaderboard
    blanks width, as finish.effective_board does (or holds the inactive value Tune's config had, with
    `blank_inactive=False`)."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(0, 3, n)
    width = rng.choice([16, 32, 64], n)
    lr = 10 ** rng.uniform(-4, -1, n)
    score = np.where(depth == 0, 0.9, 0.6) + 0.01 * rng.standard_normal(n) + 0.005 * np.log10(lr)
    if width_matters:
        score += np.where((depth > 0) & (width == 64), 0.3, 0.0)
    cells = [
        None if d == 0 and blank_inactive else (16 if d == 0 else int(w))
        for d, w in zip(depth, width, strict=True)
    ]
    return pd.DataFrame(
        {
            "param_depth": depth,
            "param_width": pd.Series(cells, dtype=object),
            "param_lr": lr,
            "val_score": score,
        }
    )


def test_an_inactive_parameter_does_not_take_credit_for_its_condition() -> None:
    values, message = param_importances(board(), SPACE, True)
    assert values and sum(values.values()) == pytest.approx(1.0)
    assert values["depth"] > 0.9 and values["width"] < 0.01
    assert message == (
        "fANOVA over 60 scored trials (3 parameters varied). A conditional parameter counts only the "
        "trials where it was active; what its being inactive explains counts for the parameters its "
        "condition names."
    )
    # the same board read without the condition: width's blank "(no effect)" at depth 0 tracks depth
    legacy, _ = param_importances(board(), FLAT, True)
    assert legacy["width"] > 0.3


def test_a_conditional_parameter_that_matters_where_active_gets_its_share() -> None:
    """Depth 0 and width 64 both score 0.9, the rest 0.6: width explains about 60% of the variance
    (within the networks), depth the other 40% (linear vs the mean network); without the condition
    width's "(no effect)" column takes nearly all of it."""
    values, _ = param_importances(board(width_matters=True), SPACE, True)
    assert 0.5 < values["width"] < 0.75 and 0.25 < values["depth"] < 0.5 and values["lr"] < 0.05
    legacy, _ = param_importances(board(width_matters=True), FLAT, True)
    assert legacy["width"] > 0.9


def test_blank_or_inactive_value_cells_give_the_same_importances() -> None:
    blank, _ = param_importances(board(), SPACE, True)
    filled, _ = param_importances(board(blank_inactive=False), SPACE, True)
    assert filled == pytest.approx(blank)


def test_without_conditions_it_is_one_fanova_over_every_scored_trial() -> None:
    frame = board(blank_inactive=False)
    values, message = param_importances(frame, FLAT, True)
    assert message == "fANOVA over 60 scored trials (3 parameters varied)."
    dists = {name: distribution(spec) for name, spec in FLAT.items()}
    study = optuna.create_study(direction="maximize")
    for _, row in frame.iterrows():
        params = {
            "depth": int(row["param_depth"]),
            "width": int(row["param_width"]),
            "lr": float(row["param_lr"]),
        }
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=row["val_score"]))
    expected = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0), params=list(dists)
    )
    assert values == pytest.approx(dict(expected))


def test_a_parameter_active_in_too_few_trials_is_left_out() -> None:
    frame = board()
    deep = frame.index[frame["param_depth"] > 0]
    frame.loc[deep[3:], "param_depth"] = 0  # width now active in 3 trials only
    frame.loc[deep[3:], "param_width"] = None
    values, message = param_importances(frame, SPACE, True)
    assert "width" not in values and set(values) == {"depth", "lr"}
    assert message.endswith("Active in fewer than 5 of them: width.")


def test_the_importances_are_reproducible() -> None:
    assert param_importances(board(seed=4), SPACE, True) == param_importances(board(seed=4), SPACE, True)
