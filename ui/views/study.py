"""Study page: one study's leaderboard, curves, choice, what helped, estimate, synthetic data and model.

Image studies show their augmentation previews (and the VAE's loss) where tables show synthetic data quality.

A broken, failed or running study shows its state (and whatever it stored) instead of the sections.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from automl.errors import AutoMLError
from automl.manifest import Estimate
from ui.lib import catalog, estimate, image_views, loaders, report_views, study_views
from ui.lib import formatting as fmt
from ui.lib.settings import REFRESH_SECONDS, storage

location = storage()
try:
    entries = loaders.entries(location)
except AutoMLError as exc:
    st.error(str(exc))
    st.stop()
if not entries:
    st.title("Study")
    st.info(f"No studies in `{location}` yet.")
    st.stop()

ids = [e.study_id for e in entries]
wanted = st.query_params.get("study")
study_id = st.sidebar.selectbox(
    "Study",
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda i: f"{i} ({next(e.state for e in entries if e.study_id == i)})",
    key=f"study_select_{wanted}",
)
st.query_params["study"] = study_id
entry = loaders.entry(location, study_id)

st.title(f"Study {study_id}")
if entry.manifest is None:  # unreadable or incomplete
    st.error(f"**{entry.state.capitalize()}.** {entry.message}")
    st.stop()
manifest = entry.manifest
data, metric = manifest.data, fmt.metric_name(manifest, "?")

if fmt.is_image(manifest):
    size = data.get("image_size")
    described = (
        f"classification of {len(data.get('classes') or [])} classes from folders · "
        f"{data.get('n_images', data.get('n_rows', '?'))} images" + (f" ({size} px)" if size else "")
    )
else:
    described = (
        f"{data.get('task', '?')} of `{data.get('target', '?')}` · "
        f"{data.get('n_rows', '?')} rows, {data.get('n_features', '?')} features"
    )
st.caption(
    f"{entry.state} · {manifest.modality} · {described} · metric {metric} · "
    f"started {fmt.timestamp(manifest.created_at)}"
)


@st.fragment(run_every=REFRESH_SECONDS)
def live_progress() -> None:
    """Progress of a running study from its Tune experiment; reloads the page when it ends."""
    current = catalog.load_entry(loaders.store(location), study_id)
    if current.state != "running" or current.manifest is None:
        loaders.entries.clear()
        loaders.entry.clear()
        st.rerun()
    progress = loaders.progress(location, study_id, current.manifest)
    st.progress(progress.fraction, text=f"Running: {progress.text()}")
    if progress.best_val is not None:
        st.caption(f"Best validation {fmt.metric_name(manifest)} so far: {fmt.score(progress.best_val)}")
    if progress.trials:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "trial": f"#{t.number}",
                        "status": t.status.lower(),
                        "epochs": t.epochs,
                        "val_score": t.val_score,
                    }
                    for t in progress.trials
                ]
            ),
            hide_index=True,
            key="live_trials",
        )
    else:
        st.caption("No trial has reported yet (reading the data, starting Ray, fitting synthesizers).")
    budget = current.manifest.config.get("budget_s") or 0
    if budget and progress.elapsed_s > 2 * budget + 600:
        st.warning(
            "This study is still marked running long after its budget: its process may have died without "
            "recording a failure. Check the machine or cluster that ran it."
        )


if entry.state == "running":
    st.info(
        "The search is running. The leaderboard, curves and estimate appear when it ends; "
        "meanwhile this is what its trials have reported."
    )
    live_progress()
    st.stop()

if entry.state == "failed":
    st.error(f"**This study failed.** {entry.message or 'No error was recorded.'}")
    if manifest.traceback:
        with st.expander("Traceback recorded by the study"):
            st.code(manifest.traceback, language=None)
elif entry.state != "completed":
    st.warning(f"This study's status is {entry.state!r}; showing what it stored.")

updated = manifest.updated_at
try:
    board = loaders.leaderboard(location, study_id, updated)
    curves = loaders.curves(location, study_id, updated)
except AutoMLError as exc:
    st.error(f"The study's report files cannot be read: {exc}")
    st.stop()
if board is None:
    st.info("The study stored no leaderboard, so there is nothing more to show.")
    st.stop()
if entry.state == "failed":
    st.caption("The sections below show what the study stored before it failed.")

cols = st.columns([0.7, 1.1, 1.6, 1.1, 0.9])
cols[0].metric("trials", manifest.trials.get("total", len(board)))
found = estimate.headline(manifest)
head = found or Estimate()
cols[1].metric(
    "estimate",
    fmt.score(head.value),
    help=f"{head.metric or fmt.metric_name(manifest, '')}: {estimate.protocol_words(head)}, "
    f"{estimate.over(head, manifest)}"
    if found
    else None,
)
cols[2].metric(
    f"{head.level:.0%} interval" if fmt.is_number(head.level) else "95% interval",
    f"{fmt.score(head.ci_low, 3)} to {fmt.score(head.ci_high, 3)}",
)
best_baseline = estimate.verdict(manifest)
cols[3].metric(
    "beats the baselines",
    "-" if best_baseline is None else ("yes" if best_baseline[0] else "no"),
    help=None if best_baseline is None else best_baseline[1],
)
cols[4].metric("duration", fmt.duration(manifest.duration_s))
if found:
    st.caption(
        f"Estimate: {estimate.protocol_words(head)}, {estimate.over(head, manifest)}."
        + (
            " The Estimate tab has the held-out test beside the out-of-fold figure."
            if manifest.test_report and manifest.cv_estimate
            else ""
        )
    )
study_views.selection_note(manifest)

store = loaders.store(location)
image = fmt.is_image(manifest)
tabs = st.tabs(
    [
        "Leaderboard",
        "Learning curves",
        "Validation vs gap",
        "What helped",
        "Estimate",
        "Augmentation previews" if image else "Synthetic data",
        "Model",
    ]
)
with tabs[0]:
    study_views.leaderboard(board, manifest)
with tabs[1]:
    study_views.learning_curves(curves, board, manifest)
with tabs[2]:
    study_views.gap_scatter(board, manifest)
with tabs[3]:
    study_views.what_helped(board, manifest)
with tabs[4]:
    report_views.estimate_section(manifest)
with tabs[5]:
    if image:
        image_views.augmentation_previews(store, manifest, board)
    else:
        report_views.synthetic_quality(manifest)
with tabs[6]:
    report_views.model_section(store, manifest)
