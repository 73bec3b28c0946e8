"""Helpers of the dashboard pages: reading the study store, charts, uploads, launching studies, auth.

Modules without `streamlit` in their imports are plain functions, unit-tested in `tests/ui/`.
"""
