"""Re-run a search's best candidates on fresh folds: what the study selects, estimates and exports from.

Hundreds of trials steered by, and selected on, one split of a few hundred rows find configurations that
are lucky on that split (overtuning: Schneider, Bischl & Feurer, AutoML 2025). So when the search ends,
its best distinct candidates are re-run on folds drawn with a split seed the search never used (Nagler et
al., NeurIPS 2024), each for the epoch count its search trial found (train/fixed.py), and the selection
rule, the bias-corrected estimate and the export read only these fresh runs:

- the candidates (`pick_candidates`): the best trials by the search's own signal (out-of-fold log loss for
  classification, the metric for regression), the linear start point (always: it is the simpler model
  that a network must beat beyond noise, and it gives a study a model even when its search finished
  nothing), the best simple trial, and the rest of the search rule's band; distinct configurations only;
- each candidate's fresh run keeps every fold's network: the chosen one's are the bag that is exported,
  so the out-of-fold estimate measures the predictor that ships;
- the re-evaluation has its own share of the budget (`REEVALUATION_SHARE`): candidates run in order on
  Ray's slots while that time lasts (the linear start point first, and always to its end).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.data.splits import fresh_folds
from automl.evaluation.oof import OutOfFold
from automl.metrics import Metric
from automl.search.results import summaries, trial_config
from automl.search.selection import TrialSummary, band_signal, eligible, select
from automl.train.fixed import FixedRun

REEVALUATION_SHARE = 0.12  # of a budget-bound study's time, kept for the re-evaluation and the finish
TOP_BY_SIGNAL = 12  # the best trials by the search's signal that are always candidates (cost permitting)
MAX_CANDIDATES = 20
FRESH_REPEAT_ROWS = 1000  # below this many search rows the fresh folds are repeated at least twice
START = "s01"  # the name of the linear start point when no search trial ran it


@dataclass
class Candidate:
    """A configuration to re-run on the fresh folds."""

    trial: str  # its search trial (t07), or START when the search never ran it
    config: dict[str, Any]
    epochs: int | None  # its search trial's mean best epoch; None: found on the fresh folds first
    why: str
    search_objective: float = float("nan")  # the search's signal, larger = better
    simple: bool = False  # the simpler model (a linear one) that others must beat beyond noise
    estimated_s: float = 0.0  # what its fresh run should take, from its search trial


@dataclass
class Result:
    candidate: Candidate
    run: FixedRun


@dataclass
class Reevaluation:
    """The fresh folds and what each candidate scored on them."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    n_folds: int
    n_repeats: int
    data: Any  # the search data on the fresh folds (baselines are scored on them too)
    results: list[Result]
    skipped: list[tuple[Candidate, str]] = field(default_factory=list)
    seconds: float = 0.0

    def oof(self, metric: Metric, n_classes: int) -> OutOfFold:
        """The candidates' fresh out-of-fold predictions side by side."""
        payloads = {r.candidate.trial: r.run.oof for r in self.results}
        return OutOfFold.from_payloads(payloads, self.data.y, self.folds, metric, n_classes)

    def summaries(self, metric: Metric) -> list[TrialSummary]:
        """Each candidate as the rule sees it: its fresh fold scores and its fresh train-validation gap."""
        sign = metric.sign()
        out = []
        for r in self.results:
            val = float(np.mean(r.run.val_scores))
            train = float(np.mean(r.run.train_scores))
            out.append(
                TrialSummary(
                    trial_id=r.candidate.trial,
                    objective=sign * val,
                    val_score=val,
                    val_std=float(np.std(r.run.val_scores, ddof=1)) if len(r.run.val_scores) > 1 else 0.0,
                    n_folds=len(r.run.val_scores),
                    gap=sign * (train - val),
                    n_params=r.run.n_params,
                    status="completed",
                    config=r.candidate.config,
                )
            )
        return out

    @property
    def simple(self) -> frozenset[str]:
        return frozenset(r.candidate.trial for r in self.results if r.candidate.simple)

    def result(self, trial: str) -> Result:
        return next(r for r in self.results if r.candidate.trial == trial)


def fresh_repeats(n_rows: int, search_repeats: int) -> int:
    """Repeats of the fresh folds: at least two below FRESH_REPEAT_ROWS rows (a steadier comparison, and a
    bag of twice as many networks), else as many as the search had."""
    return max(search_repeats, 2) if n_rows < FRESH_REPEAT_ROWS else search_repeats


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def pick_candidates(
    board: pd.DataFrame,
    start_point: dict[str, Any] | None,
    is_simple,
    *,
    has_oof: set[str],
    rule: str,
    cost_ratio: float = 1.0,
    group=None,
) -> list[Candidate]:
    """The configurations to re-run, in the order they run: the linear start point, then the best of the
    search by its signal, the best simple trial, the best trial of each group (`group(config)`: a table's
    model family), and the rest of the search rule's band, distinct, at most MAX_CANDIDATES. `board` is
    the study's leaderboard with the search's out-of-fold scores (`val_log_loss` for classification) and blank cells for settings without effect; only trials with
    out-of-fold predictions (`has_oof`) are candidates. `is_simple(config)` says which configurations
    are the simpler model; `cost_ratio` scales a search trial's seconds to its fresh run's."""
    pool = [t for t in eligible(summaries(board)) if t.trial_id in has_oof]
    rows = {row["trial"]: row for _, row in board.iterrows()}
    picked: list[Candidate] = []
    seen: set[str] = set()

    def add(trial: TrialSummary, why: str, signal_value: float) -> None:
        row = rows[trial.trial_id]
        config = trial_config(row)
        key = _key(config)
        if key in seen or len(picked) >= MAX_CANDIDATES:
            return
        seen.add(key)
        epochs = row.get("best_epoch_mean")
        seconds = float(row.get("seconds")) if pd.notna(row.get("seconds")) else 1.0
        picked.append(
            Candidate(
                trial=trial.trial_id,
                config=config,
                epochs=max(1, int(round(float(epochs)))) if pd.notna(epochs) else None,
                why=why,
                search_objective=signal_value,
                simple=bool(is_simple(config)),
                estimated_s=seconds * cost_ratio,
            )
        )

    signal = band_signal(pool) if pool else None
    ranked = sorted(pool, key=lambda t: (-signal.value(t), t.trial_id)) if signal else []
    start_key = None if start_point is None else _key(start_point)
    start = next((t for t in ranked if _key(trial_config(rows[t.trial_id])) == start_key), None)
    if start is not None:
        add(start, "the linear start point", signal.value(start))
    elif start_point is not None:  # the search never finished it: it runs anyway, found afresh
        seen.add(start_key)
        picked.append(
            Candidate(
                START,
                dict(start_point),
                None,
                "the linear start point (not finished in the search)",
                simple=bool(is_simple(start_point)),
                estimated_s=1.0,
            )
        )
    for t in ranked[:TOP_BY_SIGNAL]:
        add(t, "among the best by the search's signal", signal.value(t))
    simple = next((t for t in ranked if is_simple(trial_config(rows[t.trial_id]))), None)
    if simple is not None:
        add(simple, "the best simple model of the search", signal.value(simple))
    # the best of each kind (a table's model family): a search that converged on one keeps its rivals
    if group is not None:
        best: dict[Any, TrialSummary] = {}
        for t in ranked:
            best.setdefault(group(trial_config(rows[t.trial_id])), t)
        for kind, t in best.items():
            if kind is not None:
                add(t, f"the best {kind} of the search", signal.value(t))
    if ranked:
        band = select(pool, rule).candidates
        for t in ranked:
            if t.trial_id in band:
                add(t, "in the search rule's band", signal.value(t))
    return picked


def within_time(candidates: list[Candidate], seconds: float, slots: int) -> tuple[list[Candidate], list]:
    """The candidates whose fresh runs fit in `seconds` on `slots` slots, by their search trials' cost, in
    order; the first (the linear start point) always. The others: (candidate, why it was left out)."""
    kept, skipped, load = [], [], 0.0
    for i, c in enumerate(candidates):
        if i == 0 or (load + c.estimated_s) / max(slots, 1) <= seconds:
            kept.append(c)
            load += c.estimated_s
        else:
            skipped.append(
                (c, f"its fresh run would take about {c.estimated_s:.0f} s, more than the time left")
            )
    return kept, skipped


def _task(config: dict[str, Any], data: Any, epochs: int | None, cpus: float) -> FixedRun:
    """One candidate's fresh run (a Ray task); without an epoch count, its early stopping on the fresh
    folds finds one first (the linear start point when the search never finished it)."""
    import ray
    import torch

    from automl.train.fixed import run_fixed
    from automl.train.trainable import run_trial

    torch.set_num_threads(max(1, int(cpus)))
    device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
    if epochs is None:
        reports: list[dict[str, Any]] = []
        run_trial(config, data, reports.append, device)
        epochs = max(1, int(round(float(reports[-1]["best_epoch_mean"])))) if reports else 1
    return run_fixed(config, data, epochs, device)


def reevaluate(
    candidates: list[Candidate],
    data: Any,
    *,
    n_folds: int,
    n_repeats: int,
    seed: int,
    classes: list[str] | None,
    seconds: float,
    resources: dict[str, float],
    slots: int,
    prepare_fresh=None,
    log=print,
) -> Reevaluation:
    """Run `candidates` on fresh folds of `data`'s rows as Ray tasks (`resources` each, `slots` at once)
    for at most `seconds` (the first candidate always to its end). `prepare_fresh(fresh_data, configs)`
    readies the fresh data before it is shipped (a table: its folds encoded; images: a pool that holds
    the features), and a pool it leaves in `fresh_data.shared_pool` is killed at the end."""
    import ray

    started = time.time()
    folds = fresh_folds(data.y, data.task, n_folds=n_folds, n_repeats=n_repeats, seed=seed, classes=classes)
    fresh = data.with_folds(folds)
    kept, skipped = within_time(candidates, seconds, slots)
    try:
        if prepare_fresh is not None:
            prepare_fresh(fresh, [c.config for c in kept])
        results = _run(kept, skipped, fresh, started + seconds, resources)
    finally:
        if fresh.shared_pool is not None:  # its synthetic rows and features die with it
            ray.kill(fresh.shared_pool)
            fresh.shared_pool = None
    spent = time.time() - started
    log(
        f"re-evaluated {len(results)} candidate(s) on fresh {n_folds}x{n_repeats} folds in {spent:.0f}s"
        + (f" ({len(skipped)} left out)" if skipped else "")
    )
    return Reevaluation(folds, n_folds, n_repeats, fresh, results, skipped, spent)


def _run(
    kept: list[Candidate], skipped: list, fresh: Any, deadline: float, resources: dict[str, float]
) -> list[Result]:
    """The fresh runs of `kept` as Ray tasks, until `deadline` (the first always to its end); what is
    left out is added to `skipped` with the reason."""
    import ray

    ref = ray.put(fresh)
    remote = ray.remote(_task).options(
        num_cpus=resources.get("cpu", 1.0), num_gpus=resources.get("gpu", 0.0), max_retries=0
    )
    cpus = resources.get("cpu", 1.0)
    pending = {remote.remote(c.config, ref, c.epochs, cpus): i for i, c in enumerate(kept)}
    runs: dict[int, FixedRun] = {}
    failed: dict[int, str] = {}
    while pending:
        first_open = 0 in pending.values()
        timeout = None if first_open else max(0.0, deadline - time.time())
        done, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
        if not done:
            break
        index = pending.pop(done[0])
        try:
            runs[index] = ray.get(done[0])
        except Exception as exc:  # a candidate that fails is left out, with its error
            failed[index] = str(exc).strip().splitlines()[-1][:300]
    for ref_left, index in pending.items():
        ray.cancel(ref_left, force=True)
        skipped.append((kept[index], "its fresh run did not finish within the re-evaluation's time"))
    for index, error in failed.items():
        skipped.append((kept[index], f"its fresh run failed: {error}"))
    results = [Result(kept[i], runs[i]) for i in sorted(runs) if np.all(np.isfinite(runs[i].oof))]
    for i in sorted(runs):
        if not np.all(np.isfinite(runs[i].oof)):
            skipped.append((kept[i], "its fresh run diverged (non-finite predictions)"))
    return results


def describe(reevaluation: Reevaluation, budget_s: float | None) -> dict[str, Any]:
    """The manifest's `reevaluation` entry."""
    share = reevaluation.seconds / budget_s if budget_s and math.isfinite(budget_s) else None
    return {
        "n_folds": reevaluation.n_folds,
        "n_repeats": reevaluation.n_repeats,
        "seconds": reevaluation.seconds,
        "budget_share": share,
        "candidates": [
            {
                "trial": r.candidate.trial,
                "why": r.candidate.why,
                "epochs": r.run.epochs,
                "simple": r.candidate.simple,
                "search_objective": r.candidate.search_objective
                if math.isfinite(r.candidate.search_objective)
                else None,
                "seconds": r.run.seconds,
            }
            for r in reevaluation.results
        ],
        "skipped": [{"trial": c.trial, "why": c.why, "reason": reason} for c, reason in reevaluation.skipped],
    }
