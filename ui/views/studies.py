"""Studies page: every study in the store with its state; running ones refresh live with their progress."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from automl.errors import AutoMLError
from ui.lib import catalog, launcher, loaders
from ui.lib.settings import REFRESH_SECONDS, storage

location = storage()
st.title("Studies")
st.caption(
    f"Every study in `{location}`: from the command line, the Python API, a cluster or this dashboard."
)


def _rows(entries: list[catalog.StudyEntry]) -> pd.DataFrame:
    rows = []
    now = time.time()
    for entry in entries:
        progress_text, fraction = "", None
        if entry.state == "running":
            progress = loaders.progress(location, entry.study_id, entry.manifest)
            progress_text, fraction = progress.text(), progress.fraction
        row = catalog.summary_row(entry, progress_text, now)
        row["progress"] = (
            fraction if entry.state == "running" else (1.0 if entry.state == "completed" else None)
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _pending(known: set[str]) -> None:
    store = loaders.store(location)
    if not store.local:
        return
    for job in launcher.pending_jobs(store, known):
        box = st.warning if job["state"] == "exited" else st.info
        box(f"**{job['study_id']}**: {launcher.describe(job)}")
        if job.get("log_tail"):
            st.code(job["log_tail"], language=None)


def studies_table() -> None:
    """The table (and pending starts); rerun on a timer by the fragment while something is running."""
    try:
        entries = loaders.entries(location)
    except AutoMLError as exc:
        st.error(str(exc))
        return
    _pending({e.study_id for e in entries})
    if not entries:
        st.info(
            f"No studies in `{location}` yet. Start one on the **New study** page, or with "
            f"`automl run data.csv --target COLUMN --storage {location}` (or, for images, "
            f"`automl run ./photos/ --storage {location}` on a folder with one sub-folder per class)."
        )
        return
    frame = _rows(entries)
    counts = frame["status"].value_counts()
    st.caption(
        " · ".join(f"{n} {state}" for state, n in counts.items())
        + f" · refreshed {time.strftime('%H:%M:%S')}"
    )
    event = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="studies_table",
        column_config={
            "study": st.column_config.TextColumn("study", width="medium"),
            "progress": st.column_config.ProgressColumn(
                "progress", min_value=0.0, max_value=1.0, format="percent"
            ),
            "note": st.column_config.TextColumn("note", width="large"),
        },
    )
    selected = event.selection.rows if event is not None and hasattr(event, "selection") else []
    if selected:
        st.switch_page("views/study.py", query_params={"study": str(frame.iloc[selected[0]]["study"])})
    st.caption("Select a row to open the study.")


def _is_active() -> bool:
    """Whether anything here is running or starting, so the table should refresh itself."""
    try:
        entries = loaders.entries(location)
        store = loaders.store(location)
    except AutoMLError:
        return False
    if any(e.state == "running" for e in entries):
        return True
    return store.local and bool(launcher.pending_jobs(store, {e.study_id for e in entries}))


active = _is_active()
if active:
    st.caption(f"Live: running studies refresh every {REFRESH_SECONDS} s.")
st.fragment(studies_table, run_every=REFRESH_SECONDS if active else None)()
