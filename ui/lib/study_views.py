"""Study page sections about the search: leaderboard, learning curves, validation vs gap, what helped."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from automl.manifest import Manifest
from ui.lib import charts, estimate, importance, techniques
from ui.lib import formatting as fmt
from ui.lib import leaderboard as lb

TOP_CURVES = 3  # trials overlaid next to the chosen one by default


def _rule(manifest: Manifest) -> str:
    return manifest.selection.rule if manifest.selection else "?"


def selection_note(manifest: Manifest) -> None:
    """The chosen trial (or ensemble), the rule and the reason, as one highlighted block."""
    selection, best = manifest.selection, manifest.best
    if not best:
        return
    members = estimate.members(manifest)
    if len(members) > 1:
        chosen = f"**Chosen: an ensemble of {len(members)} trials** ({estimate.members_text(manifest)})"
    else:
        chosen = f"**Chosen: trial {best.trial}**"
    reason = (selection.reason if selection else None) or ""
    st.success(f"{chosen} (rule `{_rule(manifest)}`). {reason}")


def leaderboard(board: pd.DataFrame, manifest: Manifest) -> None:
    """Sortable, filterable table of every trial; the chosen row highlighted."""
    frame = lb.display_frame(board, manifest)
    metric = fmt.metric_name(manifest)
    left, right = st.columns([3, 1])
    statuses = left.multiselect(
        "Status", sorted(frame["status"].dropna().unique()), placeholder="all statuses", key="lb_status"
    )
    band_only = right.checkbox(
        "Only the 1-SE band", key="lb_band", help="Trials within one standard error of the best"
    )
    shown = lb.filter_frame(frame, statuses, band_only)
    st.caption(
        f"{len(shown)} of {len(frame)} trials. Click a column header to sort. `val_score` is the trial's {metric} "
        "out of fold (at the refit's epoch count), `gap` is train minus validation (> 0: overfitting). "
        + lb.estimate_caption(manifest)
    )
    st.dataframe(
        lb.highlight_chosen(shown),
        hide_index=True,
        width="stretch",
        column_config={
            "chosen": st.column_config.CheckboxColumn("chosen", width="small"),
            "in_band": st.column_config.CheckboxColumn("in 1-SE band", width="small"),
            "val_score": st.column_config.NumberColumn(f"val {metric}", format="%.4f"),
            "val_std": st.column_config.NumberColumn("± std", format="%.4f"),
            # no number format here: the Styler's (empty for the rows without a value) is kept
            "estimate": st.column_config.NumberColumn(f"estimate {metric}"),
            "weight": st.column_config.NumberColumn("ensemble weight"),
            "test_score": st.column_config.NumberColumn(f"test {metric}"),
        },
        key="leaderboard",
    )


def learning_curves(curves: pd.DataFrame | None, board: pd.DataFrame, manifest: Manifest) -> None:
    """Train and validation score per epoch: the chosen trial and the best few others."""
    if curves is None or curves.empty:
        st.info("This study stored no learning curves.")
        return
    chosen = manifest.best.trial if manifest.best else None
    ranked = [t for t in board.dropna(subset=["objective"])["trial"] if t != chosen]
    default = ([chosen] if chosen else []) + ranked[:TOP_CURVES]
    available = list(dict.fromkeys(curves["trial"]))
    picked = st.multiselect(
        "Trials", available, default=[t for t in default if t in available], key="curve_trials"
    )
    if not picked:
        st.info("Pick at least one trial.")
        return
    metric = fmt.metric_name(manifest)
    st.altair_chart(charts.curves_chart(curves, picked, chosen, metric), width="stretch")
    st.caption(
        f"Solid: validation, dashed: train (real {fmt.examples(manifest)} only, never synthetic ones); means "
        "over the inner folds. A fold that stopped early keeps its best epoch's scores. The chosen trial is "
        "drawn thicker."
    )


def gap_scatter(board: pd.DataFrame, manifest: Manifest) -> None:
    """Validation score against gap, the one-standard-error band and the chosen trial."""
    metric = fmt.metric_name(manifest)
    if board.dropna(subset=["val_score", "gap"]).empty:
        st.info("No trial has both a validation score and a gap.")
        return
    st.altair_chart(charts.gap_scatter(board, manifest, metric), width="stretch")
    bounds = lb.band_bounds(manifest, board)
    band = (
        f"The shaded band spans validation scores {fmt.score(bounds[0])} to {fmt.score(bounds[1])}: trials "
        "within one standard error of the best mean. "
        if bounds
        else ""
    )
    st.caption(
        f"One point per trial, with ± one standard deviation over folds. {band}"
        f"Rule `{_rule(manifest)}` chose the trial(s) marked with the diamond."
    )


def what_helped(board: pd.DataFrame, manifest: Manifest) -> None:
    """Validation score by technique, and fANOVA parameter importance."""
    name, greater = fmt.metric_name(manifest), fmt.greater_is_better(manifest)
    groups = techniques.technique_groups(board, manifest.modality)
    if groups.empty:
        st.info("No scored trials to compare.")
        return
    st.markdown("##### Validation score by technique")
    st.caption(
        "Each dot is a trial (red: the chosen one); the black tick is the group mean. Few trials per group means noisy means."
    )
    names = list(dict.fromkeys(groups["technique"]))
    columns = st.columns(2)
    for i, technique in enumerate(names):
        with columns[i % 2]:
            st.altair_chart(charts.technique_chart(groups, technique, name), width="stretch")
    with st.expander("Group means as a table"):
        st.dataframe(techniques.group_summary(groups, greater), hide_index=True, width="stretch")

    st.markdown("##### Parameter importance")
    space = manifest.space.get("parameters") or {}
    values, message = importance.param_importances(board, space, greater)
    if values is None:
        st.info(message)
        return
    st.altair_chart(charts.importance_chart(values), width="stretch")
    st.caption(
        f"{message} Importance says how much of the score's variation a parameter explains, not in which direction."
    )
