"""The Streamlit dashboard of automl: `ui/app.py` is the entry point, `ui/views/` the pages, `ui/lib/` the helpers.

Started by `automl dashboard --storage PATH` (see `automl/dashboard.py` and `docs/dashboard.md`).
"""
