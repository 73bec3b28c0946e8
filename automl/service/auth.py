"""The bearer token: read from a private file, compared in constant time, never logged.

A token file must be a regular file of this user that no one else may read or write (mode 600 or
stricter), holding at least TOKEN_MIN_CHARS characters. Without a token the service listens on loopback
only, as the dashboard does without a password (automl/hosts.py is the one rule for "loopback").
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

from automl.errors import ConfigError
from automl.hosts import is_loopback

TOKEN_MIN_CHARS = 16
MAKE_ONE = "Make one with: (umask 077; python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path})"


def read_token_file(path: str | os.PathLike) -> str:
    """The token in `path`, once the file is shown to be private; a ConfigError says what to fix."""
    where = os.fspath(path)
    try:
        info = os.stat(where)
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the token file {where}: {exc.strerror}. {MAKE_ONE.format(path=where)}"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"The token file {where} is not a regular file. {MAKE_ONE.format(path=where)}")
    if info.st_uid != os.getuid():
        raise ConfigError(
            f"The token file {where} belongs to another user (uid {info.st_uid}). Use a file of your own, "
            "readable by you alone (chmod 600)."
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            f"The token file {where} may be read or written by other users (mode "
            f"{stat.S_IMODE(info.st_mode):03o}). Make it private: chmod 600 {where}"
        )
    try:
        token = Path(where).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the token file {where}: {exc}.") from None
    if len(token) < TOKEN_MIN_CHARS or any(c.isspace() for c in token):
        raise ConfigError(
            f"The token in {where} must be one word of at least {TOKEN_MIN_CHARS} characters (it has "
            f"{len(token)}, or holds spaces). {MAKE_ONE.format(path=where)}"
        )
    return token


def check_bind(host: str, token: str | None) -> None:
    """Refuse an address beyond loopback when no token protects the service."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"Refusing to serve on {host} without a token: anyone who can reach this machine could read "
            "every study, start new ones and use the models. Give --token-file FILE (mode 600), or keep "
            "the default --host 127.0.0.1 and reach it through an SSH tunnel (docs/service.md)."
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the answer's timing does not tell how much of a guess was right."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
