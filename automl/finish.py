"""The end of a study: choose on out-of-fold predictions, estimate honestly, refit on every row, export.

1. The trials' out-of-fold predictions rescore the leaderboard (at the refit's epoch count).
2. The selection rule picks a trial (or an ensemble) on them.
3. The estimate is the bias-corrected bootstrap of that same rule (evaluation/bbc.py); the
   baselines are scored on the same folds.
4. The choice is refitted on every search row; with a held-out test set (large data, or
   --test-size), that model is scored once on it too.
5. The model, the leaderboard, the curves and the out-of-fold predictions go to the store.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from automl.ensemble import EnsembleModel
from automl.evaluation.baselines import held_out_baselines, out_of_fold_baselines
from automl.evaluation.bbc import Estimate, bias_corrected_estimate, choose
from automl.evaluation.oof import OutOfFold, rescored_board
from automl.modalities import modality
from automl.report import chance_level, scored, test_report
from automl.search.results import collect_trials, summaries, trial_config
from automl.search.selection import eligible, select


def effective_board(board, effective) -> Any:
    """The leaderboard's parameters as each trial's network used them: a setting without effect for
    its configuration (say, width at depth 0) is blank, so it is neither shown nor counted in the
    parameters' importance."""
    params = [c for c in board.columns if c.startswith("param_")]
    board = board.copy()
    for c in params:  # a blank in a column of booleans (batch_norm) needs room for None
        if board[c].dtype == bool:
            board[c] = board[c].astype(object)
    for at, row in board.iterrows():
        sampled = {c.removeprefix("param_"): v for c, v in row[params].items() if v is not None and v == v}
        if not sampled:  # a trial the budget ended before it started has no configuration
            continue
        used = effective(sampled)
        for c in params:
            key = c.removeprefix("param_")
            if key not in used:
                board.at[at, c] = None
            elif used[key] != sampled.get(key):
                board.at[at, c] = used[key]
    return board


def _cv_fallback(chosen, metric_name: str, n_rows: int) -> dict[str, Any]:
    """Without out-of-fold predictions (every trial stopped early): the fold mean, uncorrected."""
    half = 1.96 * float(chosen["val_std"]) / np.sqrt(max(int(chosen["n_folds"]), 1))
    value = float(chosen["val_score"])
    return {
        "metric": metric_name,
        "value": value,
        "ci_low": value - half,
        "ci_high": value + half,
        "level": 0.95,
        "protocol": "cv_mean_uncorrected",
        "n_rows": n_rows,
        "notes": [
            "no trial finished with out-of-fold predictions: the fold mean, not corrected for selection"
        ],
    }


def finish(config, prep, store, study_id: str, manifest: dict, grid, search_seconds: float, log) -> Any:
    metric, data = prep.metric, prep.data
    timings: dict[str, float] = {"search_s": search_seconds}
    started = time.perf_counter()
    board, curves, payloads = collect_trials(grid, metric)
    n_outputs = data.n_classes if data.task == "classification" else 0
    oof = OutOfFold.from_payloads(payloads, data.y, data.folds, metric, n_outputs)
    board = effective_board(rescored_board(board, oof), data.effective_config)
    trials = summaries(board)
    base = [t for t in eligible(trials) if t.trial_id in oof]
    estimate: Estimate | None = None
    if base:
        selection = choose(oof, base, config.select)
        estimate = bias_corrected_estimate(oof, base, config.select, selection, seed=config.seed)
    else:
        selection = select(trials, config.select)
    weights = selection.weights
    board["chosen"] = board["trial"].isin(list(weights))
    board["ensemble_weight"] = board["trial"].map(weights).fillna(0.0)
    timings["estimate_s"] = time.perf_counter() - started
    log(f"chosen {'ensemble' if selection.is_ensemble else 'trial'} {selection.trial_id}: {selection.reason}")

    started = time.perf_counter()
    baselines, baseline_oof = out_of_fold_baselines(data, metric, config.seed)
    timings["baselines_s"] = time.perf_counter() - started
    store.write_table(study_id, "report/trials.parquet", board)
    store.write_table(study_id, "report/curves.parquet", curves)
    store.write_table(study_id, "report/oof.parquet", oof.to_frame())
    store.write_table(study_id, "report/baselines_oof.parquet", baseline_oof.to_frame())

    # Refit every member on every search row, for its folds' mean best epoch.
    started = time.perf_counter()
    info = {
        "target": getattr(prep.dataset, "target_name", "label"),
        "metric": metric.name,
        "study_id": study_id,
    }
    members, refits = [], []
    for trial, _ in sorted(weights.items(), key=lambda item: -item[1]):
        row = board.loc[board["trial"] == trial].iloc[0]
        epochs = max(1, int(round(row["best_epoch_mean"])))
        model, refit = modality(prep.modality).refit(prep, trial_config(row), epochs, config.seed, info)
        members.append(model)
        refits.append({"trial": trial, **refit})
    ordered = sorted(weights, key=lambda t: -weights[t])
    model = members[0] if len(members) == 1 else EnsembleModel.of(members, [weights[t] for t in ordered])
    timings["refit_s"] = time.perf_counter() - started

    chance = chance_level(metric, data.y, data.n_classes)
    cv_estimate = (
        estimate.to_dict()
        if estimate is not None
        else _cv_fallback(board.loc[board["trial"] == selection.trial_id].iloc[0], metric.name, len(data.y))
    )
    cv_estimate["chance_level"] = chance
    report = None
    headline = dict(cv_estimate)
    if len(prep.splits.test):
        test_inputs, y_test = modality(prep.modality).test_inputs(prep)
        report = test_report(
            metric,
            y_test,
            model.predict_output(test_inputs),
            task=data.task,
            classes=getattr(prep.dataset, "classes", None),
            seed=config.seed,
        )
        report["chance_level"] = chance

        def score(y, output):
            return scored(metric, y, output, data.n_classes, config.seed)

        tested = {b["name"]: b for b in held_out_baselines(data, test_inputs, y_test, score)}
        for entry in baselines:
            entry["test"] = {k: tested[entry["name"]][k] for k in ("value", "ci_low", "ci_high", "level")}
        headline = {
            "metric": metric.name,
            **{k: report[k] for k in ("value", "ci_low", "ci_high", "level")},
            "protocol": "held_out_test",
            "n_rows": int(report["n_test"]),
            "chance_level": chance,
        }
    started = time.perf_counter()
    for name, payload in model.files().items():
        store.write_bytes(study_id, f"model/{name}", payload)
    store.write_json(
        study_id,
        "report/test_report.json",
        {"model": report, "estimate": cv_estimate, "baselines": baselines},
    )
    timings["export_s"] = time.perf_counter() - started

    chosen = board.loc[board["trial"] == selection.trial_id].iloc[0]
    counts = board["status"].value_counts().to_dict()
    manifest.update(
        status="completed",
        finished_at=time.time(),
        duration_s=time.time() - manifest["created_at"],
        search_seconds=search_seconds,
        timings=timings,
        selection={
            "rule": selection.rule,
            "trial": selection.trial_id,
            "reason": selection.reason,
            "band_floor": selection.band_floor,
            "band_log_loss": selection.band_log_loss,
            "candidates": selection.candidates,
            "members": weights,
        },
        best={
            "trial": selection.trial_id,
            "config": trial_config(chosen),
            "val_score": float(chosen["val_score"]),
            "val_std": float(chosen["val_std"]),
            "gap": float(chosen["gap"]),
            "n_params": int(chosen["n_params"]),
            "refit": refits[0] if len(refits) == 1 else {"members": refits},
            "members": weights,
        },
        trials={"total": len(board), **{k: int(v) for k, v in counts.items()}},
        estimate=headline,
        cv_estimate=cv_estimate,
        test_report=report,
        baselines=baselines,
        model={
            "uri": f"{store.study_uri(study_id)}/model",
            "kind": "ensemble" if selection.is_ensemble else "single",
        },
    )
    store.write_manifest(study_id, manifest)
    return model
