"""The study as text: the leaderboard and the summary that `automl run` and `automl show` print."""

from __future__ import annotations

from typing import Any

from automl.manifest import Estimate, Manifest
from automl.modalities import modality
from automl.search.conditions import active_parameters
from automl.search.costs import format_costs, technique_costs

# The parameters shown beside each trial (those the study's space has), tables' then images'.
MAIN_PARAMS = (
    "backbone",
    "transfer",
    "augment",
    "family",
    "depth",
    "width",
    "head_depth",
    "dropout",
    "l2",
    "scaler",
    "synth_method",
    "synth_ratio",
)
FRESH = "out of fold on fresh folds the search never saw, bias-corrected for the choice among the candidates (BBC-CV)"
PROTOCOLS = {
    "out_of_fold": "out of fold, bias-corrected for the choice among the trials (BBC-CV)",
    "held_out_test": "one-shot held-out test",
    "cv_mean_uncorrected": "mean over the folds, NOT corrected for the choice (no trial finished)",
}


def fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def format_leaderboard(board, limit: int = 15) -> str:
    main = [f"param_{p}" for p in MAIN_PARAMS if f"param_{p}" in board.columns]
    fresh = "fresh_val_score" in board.columns and board["fresh_val_score"].notna().any()
    scores = ["fresh_val_score", "fresh_gap", "val_score"] if fresh else ["val_score", "val_std", "gap"]
    cols = ["trial", "status", *scores, "n_params", *main]
    shown = board.head(limit)[cols].copy()
    shown.columns = [
        {"fresh_val_score": "fresh", "fresh_gap": "gap", "val_score": "search" if fresh else "val_score"}.get(
            c, c.removeprefix("param_")
        )
        for c in cols
    ]
    shown.insert(0, "", ["*" if chosen else "" for chosen in board.head(limit)["chosen"]])
    text = shown.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep="-")
    more = f"\n... {len(board) - limit} more trial(s)" if len(board) > limit else ""
    legend = (
        "(* = chosen)  fresh: out of fold on the fresh folds of the re-evaluation (what the choice and the "
        "estimate read), gap: its train minus validation; search: out of fold on the search's folds"
        if fresh
        else "(* = chosen)  val_score: out of fold, at the epoch count the refit uses"
    )
    return text + more + "\n" + legend


def protocol_text(estimate: Estimate) -> str:
    """How the estimate was made, in words."""
    if estimate.protocol == "out_of_fold" and estimate.folds == "fresh":
        return FRESH
    return PROTOCOLS.get(estimate.protocol, estimate.protocol)


def _interval(entry: Estimate) -> str:
    return f"{fmt(entry.value)}  (95% CI {fmt(entry.ci_low)} to {fmt(entry.ci_high)})"


def _typed(manifest: Manifest | dict[str, Any]) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else Manifest.parse(manifest)


def format_estimate(manifest: Manifest | dict[str, Any]) -> list[str]:
    """The headline number: which protocol made it, over how many rows, beside the baselines."""
    manifest = _typed(manifest)
    estimate = manifest.headline()
    if not estimate:
        return []
    lines = [
        "",
        f"estimate on new data ({protocol_text(estimate)}; {estimate.n_rows} {manifest.unit}):",
        f"  {estimate.metric}: {_interval(estimate)}",
    ]
    if estimate.apparent is not None:
        lines.append(
            f"  before the correction: {fmt(estimate.apparent)} (the chosen model's own out-of-fold score)"
        )
    if estimate.chance_level is not None:
        lines.append(f"  chance level: {fmt(estimate.chance_level)}")
    for base in manifest.baselines:
        if base.value is not None:
            lines.append(f"  baseline {base.name}: {_interval(base)} - {base.description}")
    lines += [f"  note: {note}" for note in estimate.notes]
    return lines


def format_test(manifest: Manifest | dict[str, Any]) -> list[str]:
    manifest = _typed(manifest)
    report = manifest.test_report
    if not report:
        return []
    lines = [
        "",
        f"held-out test ({report.n_test} {manifest.unit} never seen by the search):",
        f"  {report.metric}: {_interval(report)}",
    ]
    for base in manifest.baselines:
        if base.test is not None:
            lines.append(f"  baseline {base.name}: {_interval(base.test)}")
    others = ", ".join(f"{k} {fmt(v)}" for k, v in report.all_metrics.items() if k != report.metric)
    lines.append(f"  other metrics: {others}")
    return lines


def format_choice(manifest: Manifest | dict[str, Any]) -> list[str]:
    manifest = _typed(manifest)
    sel, best = manifest.selection, manifest.best
    if not best:
        return []
    rule, reason = (sel.rule, sel.reason) if sel else (None, None)
    members = (sel.members if sel else None) or {best.trial: 1.0}
    if len(members) > 1:
        listed = ", ".join(f"{t} ({w:.2f})" for t, w in sorted(members.items(), key=lambda item: -item[1]))
        lines = [f"chosen (rule {rule}): an ensemble of {len(members)} trials: {listed}"]
        lines.append(f"  why: {reason}")
        lines.append(f"  heaviest member {best.trial}:")
    else:
        lines = [f"chosen configuration (rule {rule}): trial {best.trial}", f"  why: {reason}"]
    lines.append("  " + ", ".join(f"{k}={fmt(v, 3)}" for k, v in _effective(manifest, best.config).items()))
    return lines


def format_reevaluation(manifest: Manifest | dict[str, Any]) -> list[str]:
    """How the choice was made: the candidates re-run on fresh folds, their share of the budget, and the
    paired comparison with the simpler model."""
    manifest = _typed(manifest)
    reev = manifest.reevaluation
    if reev is None:
        return []
    share = f", {reev.budget_share:.0%} of the budget" if reev.budget_share is not None else ""
    lines = [
        "",
        f"re-evaluation: {len(reev.candidates)} candidate(s) of the search re-run on fresh "
        f"{reev.n_folds}x{reev.n_repeats} folds in {reev.seconds:.0f} s{share}; the choice and the estimate "
        "read only these runs",
    ]
    if reev.skipped:
        left = ", ".join(f"{entry.get('trial')} ({entry.get('reason')})" for entry in reev.skipped[:3])
        lines.append(f"  left out: {left}")
    comparison = manifest.selection.comparison if manifest.selection else None
    if comparison is not None:
        verdict = "kept the simpler model" if comparison.keeps_simpler else "kept the chosen model"
        lines.append(
            f"  against the simpler model {comparison.simpler}: {comparison.chosen}'s out-of-fold {comparison.loss} "
            f"lower by {fmt(comparison.advantage)} per row (paired standard error {fmt(comparison.std_error)}): "
            f"{verdict}"
        )
    kind = manifest.model.kind if manifest.model else None
    if kind == "bag" and manifest.best:
        refit = manifest.best.refit
        lines.append(
            f"  exported: the bag of {manifest.best.trial}'s {refit.get('members', '?')} fresh fold networks "
            f"({_epochs(refit.get('epochs'))} each), their outputs averaged: the predictor the estimate measured"
        )
    return lines


def _epochs(epochs: Any) -> str:
    return f"{epochs} epoch" if epochs == 1 else f"{epochs} epochs"


def _effective(manifest: Manifest, config: dict[str, Any]) -> dict[str, Any]:
    """The settings of `config` that had an effect: those whose `when:` holds in the study's space."""
    specs = manifest.space.get("parameters") or {}
    if any(isinstance(spec, dict) and "when" in spec for spec in specs.values()):
        active = active_parameters(specs, config)
        return {k: v for k, v in config.items() if k in active or k not in specs}
    return _legacy_effective(config)


def _legacy_effective(config: dict[str, Any]) -> dict[str, Any]:
    """Legacy: a manifest from before `when:` existed has no conditions to read, so the one known case is
    spelled out here (the synth_* settings have no effect without a synthesizer). Remove this once such
    manifests need no longer be read."""
    if config.get("synth_method") != "none":
        return dict(config)
    return {k: v for k, v in config.items() if not k.startswith("synth_") or k == "synth_method"}


def format_study(manifest: Manifest | dict[str, Any], board=None) -> str:
    manifest = _typed(manifest)
    lines = [f"study {manifest.study_id}: {manifest.status}"]
    lines.append(f"  data: {modality(manifest.modality).data_line(manifest.data)}")
    if manifest.status == "failed":
        lines.append(f"  error: {manifest.error}")
        return "\n".join(lines)
    if manifest.trials:
        lines.append("  trials: " + ", ".join(f"{v} {k}" for k, v in manifest.trials.items()))
    if board is not None:
        lines += ["", format_leaderboard(board), ""]
    lines += format_choice(manifest) + format_reevaluation(manifest)
    if board is not None and "seconds" in board.columns:
        band = manifest.selection.band_floor if manifest.selection else None
        lines += format_costs(technique_costs(board, band))
    lines += format_estimate(manifest) + format_test(manifest)
    if manifest.model:
        lines.append(f"\nmodel: {manifest.model.uri}")
    return "\n".join(lines)
