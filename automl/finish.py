"""The end of a study: re-run the best candidates on fresh folds, choose and estimate on them, export.

1. The trials' out-of-fold predictions rescore the leaderboard (the search's own view).
2. The best distinct candidates (and the linear start point) are re-run on fresh folds the search never
   saw (automl/reevaluate.py), each for its search trial's epoch count.
3. The selection rule picks among them on those fresh out-of-fold predictions; a chosen model that is
   not the simple one must beat it beyond the noise of a paired comparison (evaluation/paired.py).
4. The estimate is the bias-corrected bootstrap of that same choice on the same fresh predictions
   (evaluation/bbc.py); the baselines are scored on the same fresh folds.
5. The export is the bag of the chosen candidate's fresh fold networks (`--export bag`, the default: the
   predictor the estimate measured), or a refit on every search row (`--export refit`); with a held-out
   test set (large data, or --test-size) the exported model is also scored once on it.
6. The model, the leaderboard, the curves, the out-of-fold predictions with the search rows' labels, and
   the modality's own reports (a table's synthetic-data quality) go to the store: the dashboard reads
   them and refits or re-reads nothing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from automl.ensemble import EnsembleModel
from automl.errors import ConfigError
from automl.evaluation.baselines import held_out_baselines, out_of_fold_baselines
from automl.evaluation.bbc import Estimate, bias_corrected_estimate, choose
from automl.evaluation.oof import OutOfFold, rescored_board
from automl.modalities import modality
from automl.reevaluate import (
    REEVALUATION_SHARE,
    Reevaluation,
    describe,
    fresh_repeats,
    pick_candidates,
    reevaluate,
)
from automl.report import chance_level, scored, test_report
from automl.search.results import collect_trials, summaries, trial_config
from automl.search.selection import Selection, eligible, select
from automl.store import LABELS

MIN_REEVALUATION_S = 10.0  # the re-evaluation's time when the search left less (its first run: always)


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


def reevaluation_seconds(config, deadline: float | None) -> float:
    """What the re-evaluation may take: what is left before the study's deadline (less the finish's
    fixed part), at least MIN_REEVALUATION_S; a resumed study (no deadline) gets its share of the budget."""
    from automl.search.tuner import FINISH_FIXED_S

    if deadline is None:
        return max(MIN_REEVALUATION_S, REEVALUATION_SHARE * config.budget_s)
    return max(MIN_REEVALUATION_S, deadline - time.time() - FINISH_FIXED_S)


def _fresh_board(board: pd.DataFrame, reev: Reevaluation, oof: OutOfFold, metric) -> pd.DataFrame:
    """The leaderboard with each re-evaluated candidate's fresh scores beside its search ones, re-evaluated
    candidates first (by their fresh score), then the rest (by the search's); a candidate the search never
    finished gets a row of its own."""
    board = board.copy()
    ones = np.ones((1, oof.n_rows))
    mean, std = oof.fold_summary(ones)
    loss = oof.log_loss_summary(ones)
    sign = metric.sign()
    for column in ("fresh_val_score", "fresh_val_std", "fresh_val_log_loss", "fresh_gap"):
        board[column] = np.nan
    board["reevaluated"] = False
    for r in reev.results:
        trial, run = r.candidate.trial, r.run
        if trial not in set(board["trial"]):
            extra = {"trial": trial, "status": "reevaluated", "n_params": run.n_params, "n_folds": 0}
            extra.update({f"param_{k}": v for k, v in r.candidate.config.items()})
            board = pd.concat([board, pd.DataFrame([extra])], ignore_index=True)
        at = board.index[board["trial"] == trial]
        i = oof.index(trial)
        board.loc[at, "fresh_val_score"] = mean[i, 0]
        board.loc[at, "fresh_val_std"] = std[i, 0]
        board.loc[at, "fresh_gap"] = sign * (float(np.mean(run.train_scores)) - mean[i, 0])
        if loss is not None:
            board.loc[at, "fresh_val_log_loss"] = loss[0][i, 0]
        board.loc[at, "reevaluated"] = True
    fresh_rank = sign * board["fresh_val_score"].astype(float)
    board["_rank"] = np.where(board["reevaluated"], 0, 1)
    board["_fresh"] = fresh_rank.fillna(-np.inf)
    board["_search"] = board["objective"].astype(float).fillna(-np.inf)
    board = board.sort_values(["_rank", "_fresh", "_search", "trial"], ascending=[True, False, False, True])
    return board.drop(columns=["_rank", "_fresh", "_search"]).reset_index(drop=True)


def _bag(kind, reev: Reevaluation, trial: str, info: dict[str, Any]) -> Any:
    """The chosen candidate's fresh fold networks, averaged with equal weights: the predictor its fresh
    out-of-fold estimate measured (the modality's compact form where it has one, else an ensemble)."""
    result = reev.result(trial)
    config, run = result.candidate.config, result.run
    bag = {"trial": trial, "n_folds": reev.n_folds, "n_repeats": reev.n_repeats, "epochs": run.epochs}
    compact = kind.bag(reev.data, config, run.networks, info, run.epochs, bag)
    if compact is not None:
        return compact
    members = [
        kind.fold_model(reev.data, f, config, network, info, run.epochs)
        for f, network in enumerate(run.networks)
    ]
    return EnsembleModel.of(members, [1.0] * len(members), bag=bag)


def finish(
    config,
    prep,
    store,
    study_id: str,
    manifest: dict,
    grid,
    search_seconds: float,
    log,
    *,
    deadline: float | None = None,
    resources: dict[str, float] | None = None,
    slots: int = 1,
) -> Any:
    metric, data = prep.metric, prep.data
    kind = modality(prep.modality)
    timings: dict[str, float] = {"search_s": search_seconds}
    started = time.perf_counter()
    board, curves, payloads = collect_trials(grid, metric)
    n_outputs = data.n_classes if data.task == "classification" else 0
    search_oof = OutOfFold.from_payloads(payloads, data.y, data.folds, metric, n_outputs)
    board = effective_board(rescored_board(board, search_oof), data.effective_config)
    points = prep.space.start_points(data.task, prep.sizes)
    start = data.effective_config(points[0]) if points else None
    n_search = max(1, len(data.folds))
    repeats = fresh_repeats(len(data.y), prep.splits.n_repeats)
    candidates = pick_candidates(
        board,
        start,
        kind.is_simple,
        has_oof=set(search_oof.trials),
        rule=config.select,
        cost_ratio=prep.splits.n_folds * repeats / n_search,
        group=kind.kind_of,
    )
    timings["candidates_s"] = time.perf_counter() - started
    info = {
        "target": getattr(prep.dataset, "target_name", "label"),
        "metric": metric.name,
        "study_id": study_id,
        "classes": getattr(prep.dataset, "classes", None),
    }
    reev = reevaluate(
        candidates,
        data,
        n_folds=prep.splits.n_folds,
        n_repeats=repeats,
        seed=config.seed,
        classes=getattr(prep.dataset, "classes", None),
        seconds=reevaluation_seconds(config, deadline),
        resources=resources or {"cpu": config.resources.cpus_per_trial},
        slots=slots,
        prepare_fresh=lambda fresh, configs: kind.prepare_fresh(fresh, configs, data),
        log=log,
    )
    timings["reevaluation_s"] = reev.seconds

    started = time.perf_counter()
    estimate: Estimate | None = None
    if reev.results:
        oof = reev.oof(metric, n_outputs)
        base = reev.summaries(metric)
        selection = choose(oof, base, config.select, simple=reev.simple)
        estimate = bias_corrected_estimate(
            oof, base, config.select, selection, seed=config.seed, simple=reev.simple
        )
        estimate.folds = "fresh"
        board = _fresh_board(board, reev, oof, metric)
        baseline_data = reev.data
    else:  # not even the linear start point ran on the fresh folds: the search's own view, refitted
        oof, selection, estimate = _search_choice(config, board, search_oof)
        baseline_data = data
    weights = selection.weights
    board["chosen"] = board["trial"].isin(list(weights))
    board["ensemble_weight"] = board["trial"].map(weights).fillna(0.0)
    timings["estimate_s"] = time.perf_counter() - started
    log(f"chosen {'ensemble' if selection.is_ensemble else 'trial'} {selection.trial_id}: {selection.reason}")

    started = time.perf_counter()
    baselines, baseline_oof = out_of_fold_baselines(baseline_data, metric, config.seed)
    timings["baselines_s"] = time.perf_counter() - started
    store.write_table(study_id, "report/trials.parquet", board)
    store.write_table(study_id, "report/curves.parquet", curves)
    store.write_table(study_id, "report/oof.parquet", search_oof.to_frame())
    if reev.results:
        store.write_table(study_id, "report/fresh_oof.parquet", oof.to_frame())
    store.write_table(study_id, "report/baselines_oof.parquet", baseline_oof.to_frame())

    started = time.perf_counter()
    bagged = config.export == "bag" and bool(reev.results)
    members, exported = [], []
    for trial, _ in sorted(weights.items(), key=lambda item: -item[1]):
        row = board.loc[board["trial"] == trial].iloc[0]
        if bagged:
            members.append(_bag(kind, reev, trial, info))
            run = reev.result(trial).run
            exported.append(
                {"trial": trial, "kind": "bag", "members": len(run.networks), "epochs": run.epochs}
            )
        else:
            epochs = (
                reev.result(trial).run.epochs if reev.results else max(1, int(round(row["best_epoch_mean"])))
            )
            model, refit = kind.refit(prep, trial_config(row), epochs, config.seed, info)
            members.append(model)
            exported.append({"trial": trial, "kind": "refit", **refit})
    ordered = sorted(weights, key=lambda t: -weights[t])
    model = members[0] if len(members) == 1 else EnsembleModel.of(members, [weights[t] for t in ordered])
    timings["export_fit_s"] = time.perf_counter() - started

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
        test_inputs, y_test = kind.test_inputs(prep)
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
    chosen_config = (
        trial_config(chosen) if not reev.results else reev.result(selection.trial_id).candidate.config
    )
    started = time.perf_counter()
    store.write_table(study_id, LABELS, labels_frame(data.y))
    for name, payload in kind.finish_reports(prep, chosen_config, config.seed).items():
        store.write_json(study_id, name, payload)
    timings["reports_s"] = time.perf_counter() - started
    counts = board.loc[board["status"] != "reevaluated", "status"].value_counts().to_dict()
    fresh = bool(reev.results) and bool(chosen.get("reevaluated"))
    manifest.update(
        status="completed",
        finished_at=time.time(),
        duration_s=time.time() - manifest["created_at"],
        search_seconds=search_seconds,
        timings=timings,
        reevaluation=describe(reev, config.budget_s),
        selection={
            "rule": selection.rule,
            "trial": selection.trial_id,
            "reason": selection.reason,
            "band_floor": selection.band_floor,
            "band_log_loss": selection.band_log_loss,
            "candidates": selection.candidates,
            "members": weights,
            "comparison": selection.comparison,
            "on": "fresh folds" if reev.results else "search folds",
        },
        best={
            "trial": selection.trial_id,
            "config": chosen_config,
            "val_score": float(chosen["fresh_val_score"] if fresh else chosen["val_score"]),
            "val_std": float(chosen["fresh_val_std"] if fresh else chosen["val_std"]),
            "gap": float(chosen["fresh_gap"] if fresh else chosen["gap"]),
            "n_params": int(chosen["n_params"]),
            "refit": exported[0] if len(exported) == 1 else {"members": exported},
            "members": weights,
        },
        trials={"total": int(sum(counts.values())), **{k: int(v) for k, v in counts.items()}},
        estimate=headline,
        cv_estimate=cv_estimate,
        test_report=report,
        baselines=baselines,
        model={
            "uri": f"{store.study_uri(study_id)}/model",
            "kind": "ensemble" if selection.is_ensemble else ("bag" if bagged else "single"),
        },
    )
    store.write_manifest(study_id, manifest)
    return model


def labels_frame(y: np.ndarray) -> pd.DataFrame:
    """The search rows' targets (class codes or values) by row: what the dashboard's out-of-fold figure
    sets the stored predictions against, so that it never reads the user's data file again."""
    return pd.DataFrame({"row": np.arange(len(y)), "y": np.asarray(y)})


def _search_choice(config, board, search_oof: OutOfFold) -> tuple[OutOfFold, Selection, Estimate | None]:
    """The choice on the search's own out-of-fold predictions, where no candidate ran on fresh folds."""
    trials = summaries(board)
    base = [t for t in eligible(trials) if t.trial_id in search_oof]
    if not base:
        if not eligible(trials):
            raise ConfigError(
                "No trial finished with a score and the linear start point could not be trained either, so "
                "no model can be chosen. Raise --budget, or check the data and the trials' errors "
                "(automl leaderboard STUDY_ID)."
            )
        return search_oof, select(trials, config.select), None
    selection = choose(search_oof, base, config.select)
    estimate = bias_corrected_estimate(search_oof, base, config.select, selection, seed=config.seed)
    return search_oof, selection, estimate
