"""New study page: upload a table (and choose its target) or a zip of images, set a budget, start the study.

The form submits the way the HTTP API does (`automl.service.submission.submit_study`, through
ui/lib/launcher.py): the file is stored inside the study store (`_uploads/`), checked exactly as
`automl run` checks it, queued, and started at once; the study then appears on the Studies page with live
progress. A zip is an image folder with one sub-folder per class: its labels come from the folder names,
so there is no target to choose.
"""

from __future__ import annotations

import os

import streamlit as st

from automl.config import ImageOptions, Resources, StudyConfig, parse_duration
from automl.errors import AutoMLError
from automl.metrics import METRICS, metrics_for
from automl.names import check_study_id
from automl.search.selection import DEFAULT_RULE, available_rules
from automl.service import uploads
from ui.lib import launcher, loaders
from ui.lib.settings import MAX_UPLOAD_MB, RAY_ADDRESS_ENV, storage

BY_SIZE = "by size"
TEST_SIZES = [BY_SIZE, 0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]


def _test_size_label(choice: str | float) -> str:
    if choice == BY_SIZE:
        return "by size (none below 2,000 rows)"
    return "0 (none)" if choice == 0 else f"{choice:g}"


location = storage()
st.title("New study")
store = loaders.store(location)
if not store.local:
    st.warning(
        f"This dashboard shows `{location}`, which is not a local directory. Uploads are local-only for now: "
        f"start studies with `automl run DATA --target COLUMN --storage {location}` (or as a cluster job); "
        "they appear on the Studies page as they run."
    )
    st.stop()

st.caption(
    f"Upload (up to {MAX_UPLOAD_MB} MB) a CSV or Parquet table with one row per example and the column to "
    "predict, or a .zip of an image folder with one sub-folder per class (`<class>/<image>`: the folder "
    "names are the labels). It is saved inside the study store and checked like `automl run` checks it."
)
upload = st.file_uploader(
    "Table, or zip of images",
    type=[ext.lstrip(".") for ext in uploads.EXTENSIONS],
    key="upload",
    max_upload_size=MAX_UPLOAD_MB,
)
if upload is None:
    st.info("Choose a file to start.")
    st.stop()

data = upload.getvalue()
image = uploads.is_image_upload(upload.name)
columns = [] if image else uploads.peek_columns(upload.name, data)
last = st.session_state.get("last_started")

with st.form("new_study"):
    target: str | None = None
    if image:
        st.markdown(
            "**Images**: an image classification study. The labels come from the class folders in the zip, "
            "so there is no target column to choose."
        )
    elif columns:
        target = st.selectbox(
            "Target column (what to predict)", columns, index=len(columns) - 1, key="target"
        )
    else:
        target = st.text_input(
            "Target column (the header could not be read; type its name)", key="target_text"
        )
    left, right = st.columns(2)
    if image:
        task = "classification"
        metrics = [m.name for m in metrics_for("classification")]
    else:
        task = left.selectbox("Task", ["infer from the target", "classification", "regression"], key="task")
        metrics = list(METRICS)
    metric = right.selectbox("Metric", ["default for the task", *metrics], key="metric")
    budget = left.text_input(
        "Budget (wall clock of the study)", value="5m", key="budget", help="e.g. 90s, 10m, 1h"
    )
    trials = right.number_input("Trials", min_value=1, max_value=500, value=30, step=1, key="trials")
    with st.expander("Advanced options"):
        a, b = st.columns(2)
        folds = a.number_input("Inner folds", min_value=2, max_value=20, value=5, key="folds")
        max_epochs = b.number_input(
            "Max epochs per trial", min_value=1, max_value=2000, value=100, key="max_epochs"
        )
        test_choice = a.selectbox(
            "Held-out test fraction",
            TEST_SIZES,
            format_func=_test_size_label,
            key="test_size",
            help="By size: none below 2,000 rows (every row goes to the search and its out-of-fold estimate), "
            "0.2 from 2,000 rows on. A fraction also scores the chosen model once on that share of the rows.",
        )
        seed = b.number_input("Seed", min_value=0, value=0, step=1, key="seed")
        rules = available_rules()
        select = a.selectbox("Selection rule", rules, index=rules.index(DEFAULT_RULE), key="select")
        concurrent = b.number_input(
            "Trials at once (0: as many as CPUs allow)", min_value=0, value=0, key="concurrent"
        )
        name = a.text_input("Study name (optional)", key="name")
        image_size = (
            b.number_input(
                "Largest image side in pixels (0: each backbone's own)",
                min_value=0,
                max_value=1024,
                value=0,
                step=16,
                key="image_size",
                help="e.g. 128 to keep a CPU-only search quick",
            )
            if image
            else 0
        )
    submitted = st.form_submit_button("Start study", type="primary")

if submitted:
    try:
        config = StudyConfig(
            data="",
            target=None if image else str(target).strip(),
            task=None if image or task.startswith("infer") else task,
            metric=None if metric.startswith("default") else metric,
            trials=int(trials),
            budget_s=parse_duration(budget),
            seed=int(seed),
            test_size=None if test_choice == BY_SIZE else float(test_choice),
            n_folds=int(folds),
            max_epochs=int(max_epochs),
            grace_period=min(5, int(max_epochs)),
            select=select,
            storage=location,
            name=check_study_id(name.strip(), "name", "the new-study form") if name.strip() else None,
            resources=Resources(max_concurrent_trials=int(concurrent) or None),
            images=ImageOptions(image_size=int(image_size) or None),
        )
        entry = launcher.submit(store, upload.name, data, config)
        record = launcher.start(store, entry)
    except AutoMLError as exc:
        st.error(f"error: {exc}")
    except Exception as exc:  # e.g. the Ray cluster cannot be reached
        st.error(f"The study could not be started: {type(exc).__name__}: {exc}")
    else:
        st.session_state["last_started"] = record
        loaders.entries.clear()
        last = record

if last:
    where = "on the Ray cluster" if last.get("kind") == "ray" else "in the background on this machine"
    st.success(
        f"Started study **{last['study_id']}** {where}. It appears on the Studies page with live progress."
    )
    st.page_link("views/study.py", label=f"Open {last['study_id']}", query_params={"study": last["study_id"]})
    st.page_link("views/studies.py", label="All studies")
    st.caption(f"Command: `{last.get('command')}`")
if os.environ.get(RAY_ADDRESS_ENV):
    st.caption(f"Studies are submitted as Ray Jobs to {os.environ[RAY_ADDRESS_ENV]} ({RAY_ADDRESS_ENV}).")
