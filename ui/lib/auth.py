"""Access control: Streamlit has no login of its own, so every page sits behind this gate.

- A password (AUTOML_DASHBOARD_PASSWORD, or `password` in .streamlit/secrets.toml), compared in
  constant time with hmac.compare_digest.
- OIDC through `st.login` when an `[auth]` section is configured in secrets (Streamlit's own
  OpenID Connect support; needs the Authlib package).
- Without either, the dashboard only opens when it listens on a loopback address: a dashboard
  reachable from other machines and open to anyone is refused, not started.
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Any

import streamlit as st

from automl.hosts import is_loopback
from ui.lib.settings import PASSWORD_ENV

SESSION_KEY = "automl_authenticated"
FAILED_DELAY_S = 0.5  # slows down guessing


def _secret(name: str) -> Any:
    """A value of st.secrets, or None when there is no secrets file or no such key."""
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets.toml at all raises; an unreadable one too
        return None


def configured_password() -> str | None:
    """The dashboard password: the environment first, then secrets."""
    value = os.environ.get(PASSWORD_ENV) or _secret("password")
    return str(value) if value else None


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response times do not leak how much of a guess was right."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def oidc_configured() -> bool:
    """Whether `[auth]` is set in secrets and this Streamlit has st.login / st.user."""
    return bool(_secret("auth")) and hasattr(st, "login") and hasattr(st, "user")


def _oidc_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:
        return False


def require_access() -> bool:
    """Draw the login when needed; True when the current session may see the dashboard."""
    if st.session_state.get(SESSION_KEY):
        return True
    password, oidc = configured_password(), oidc_configured()
    if oidc and _oidc_logged_in():
        return True
    if not password and not oidc:
        address = st.get_option("server.address")
        if is_loopback(address):
            return True
        where = f"address {address}" if address else "every network interface (server.address is not set)"
        st.error(
            f"This dashboard listens on {where} and has no password, so it would be open to anyone who "
            f"can reach it. Set {PASSWORD_ENV} (or `password` in .streamlit/secrets.toml), configure "
            "`[auth]` for OIDC login, or listen on 127.0.0.1 only (`automl dashboard` does by default)."
        )
        return False
    st.title("automl dashboard")
    if oidc:
        st.button("Log in with your identity provider", on_click=st.login, type="primary")
    if password:
        with st.form("login"):
            given = st.text_input("Password", type="password")
            if st.form_submit_button("Open dashboard"):
                if password_matches(given, password):
                    st.session_state[SESSION_KEY] = True
                    st.rerun()
                time.sleep(FAILED_DELAY_S)
                st.error("Wrong password.")
    return False


def logout_button() -> None:
    """A sidebar button that ends this session's access."""
    if st.session_state.get(SESSION_KEY) and st.sidebar.button("Log out"):
        st.session_state[SESSION_KEY] = False
        st.rerun()
    if oidc_configured() and _oidc_logged_in():
        st.sidebar.button("Log out", key="oidc_logout", on_click=st.logout)
