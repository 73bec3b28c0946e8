"""Cached reads of the store for the pages: a finished study's tables never change, so they are
cached by (storage, study, manifest update time); listings and live progress are cached briefly.

A study's manifest is read (and validated) once, into its `catalog.StudyEntry` as a typed
`automl.manifest.Manifest`: the cached entries hold it as is (it pickles), and `progress` takes it as a
cache key (Streamlit hashes a pydantic model by its JSON).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from automl.manifest import Manifest
from automl.store import Store
from ui.lib import catalog, oof_view
from ui.lib.progress import Progress, read_progress
from ui.lib.settings import REFRESH_SECONDS


@st.cache_resource(show_spinner=False)
def store(location: str) -> Store:
    """One Store per location for the whole server (opening s3 costs a round trip)."""
    return Store(location)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def entries(location: str) -> list[catalog.StudyEntry]:
    return catalog.list_entries(store(location))


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def entry(location: str, study_id: str) -> catalog.StudyEntry:
    return catalog.load_entry(store(location), study_id)


@st.cache_data(show_spinner=False, max_entries=64)
def leaderboard(location: str, study_id: str, updated_at: Any) -> pd.DataFrame | None:
    return catalog.leaderboard(store(location), study_id)


@st.cache_data(show_spinner=False, max_entries=64)
def curves(location: str, study_id: str, updated_at: Any) -> pd.DataFrame | None:
    return catalog.curves(store(location), study_id)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def progress(location: str, study_id: str, manifest: Manifest) -> Progress:
    return read_progress(store(location), study_id, manifest)


@st.cache_data(show_spinner=False, max_entries=16)
def oof_predictions(location: str, study_id: str, updated_at: Any) -> pd.DataFrame | None:
    return oof_view.read_oof(store(location), study_id)


@st.cache_data(show_spinner=False, max_entries=16)
def true_labels(location: str, study_id: str, updated_at: Any) -> tuple[np.ndarray | None, str]:
    """The search rows' labels the study stored beside its out-of-fold predictions."""
    return oof_view.true_labels(store(location), study_id)
