"""Entry point of the dashboard: `streamlit run ui/app.py` (or `automl dashboard`).

Sets up the import path, the page, the access gate, then the navigation between the three pages
in `ui/views/`. The study store comes from AUTOML_STORAGE.

The pages folder is deliberately not called `pages/`: next to the entry script, that name switches
a fresh Streamlit server to its legacy multipage mode, where a direct link to a page runs that page
WITHOUT this script, and so without the access gate.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])  # so that `ui.lib` imports from the repository
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from ui.lib import auth  # noqa: E402
from ui.lib.settings import storage  # noqa: E402

_PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="automl dashboard", page_icon=":material/query_stats:", layout="wide")

allowed = auth.require_access()
# Navigation is declared even before login, hidden, so that a deep link (/study?study=...) still
# resolves to its page once the password has been given.
navigation = st.navigation(
    [
        st.Page(_PAGES / "studies.py", title="Studies", icon=":material/list:", default=True),
        st.Page(_PAGES / "study.py", title="Study", icon=":material/insights:", url_path="study"),
        st.Page(_PAGES / "new_study.py", title="New study", icon=":material/add:", url_path="new"),
    ],
    position="sidebar" if allowed else "hidden",
)
if allowed:
    st.sidebar.caption(f"Store: `{storage()}`")
    auth.logout_button()
    navigation.run()
