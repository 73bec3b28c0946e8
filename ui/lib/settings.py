"""Dashboard settings read from the environment, so `automl dashboard` can pass them to Streamlit.

The storage location travels in AUTOML_STORAGE (the same variable the CLI reads), the password in
AUTOML_DASHBOARD_PASSWORD (never on a command line, where `ps` would show it).
"""

from __future__ import annotations

import os

STORAGE_ENV = "AUTOML_STORAGE"
PASSWORD_ENV = "AUTOML_DASHBOARD_PASSWORD"
RAY_ADDRESS_ENV = "AUTOML_RAY_ADDRESS"

DEFAULT_STORAGE = "studies"
MAX_UPLOAD_MB = 50  # also passed to Streamlit as server.maxUploadSize by automl.dashboard
REFRESH_SECONDS = 5  # how often pages showing a running study reload it
UPLOADS_DIR = "_uploads"  # inside the store; not a study (the store lists only folders with study.json)


def storage() -> str:
    """The study store this dashboard shows: a directory or an s3:// URI."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
