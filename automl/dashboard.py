"""`automl dashboard`: start the Streamlit dashboard (ui/app.py) on a study store.

The dashboard runs as `python -m streamlit run ui/app.py` in a child process. The store location
and the password travel in environment variables (AUTOML_STORAGE, AUTOML_DASHBOARD_PASSWORD), never
on the command line where `ps` shows them. It listens on 127.0.0.1 by default; any other address
needs a password, because Streamlit itself has no login. Streamlit is imported only by the child process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from automl.errors import ConfigError
from automl.hosts import is_loopback  # the one rule: 127.0.0.0/8, ::1 and localhost

STORAGE_ENV = "AUTOML_STORAGE"
PASSWORD_ENV = "AUTOML_DASHBOARD_PASSWORD"
MAX_UPLOAD_MB = 50  # ui/lib/settings.py checks the same limit itself


def secrets_protect() -> bool:
    """Whether a Streamlit secrets.toml (here or in ~/.streamlit) sets a password or an [auth] section."""
    for path in (Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        try:
            import tomllib  # Python 3.11+; on 3.10 the check fails closed (a password must be given)

            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (ImportError, OSError, ValueError):
            continue
        if doc.get("password") or doc.get("auth"):
            return True
    return False


def app_path() -> Path:
    """ui/app.py beside the automl package (a source checkout, or the wheel's top-level `ui` package)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_ui" / "app.py", package.parent / "ui" / "app.py"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "The dashboard files (ui/app.py) are not next to this automl installation. "
        "Reinstall the project (`pip install .` ships ui/ with it)."
    )


def _storage_location(storage: str) -> str:
    """A local store as an absolute path (the child may resolve relative paths elsewhere); URIs as given."""
    if "://" in storage and not storage.startswith("file://"):
        return storage
    return str(Path(storage.removeprefix("file://")).expanduser().resolve())


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    """The `streamlit run` command line: fixed address and port, no telemetry, XSRF protection left on."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def launch(storage: str, host: str = "127.0.0.1", port: int = 8501, password: str | None = None) -> int:
    """Run the dashboard on `storage` until it is stopped; returns Streamlit's exit code.

    Raises ConfigError when `host` is reachable from other machines and no password is set
    (argument, AUTOML_DASHBOARD_PASSWORD or Streamlit secrets), or when Streamlit is not installed.
    """
    password = password or os.environ.get(PASSWORD_ENV) or None
    if not is_loopback(host) and not password and not secrets_protect():
        raise ConfigError(
            f"Refusing to serve the dashboard on {host} without a password: anyone who can reach this "
            f"machine could read every study and start new ones. Set {PASSWORD_ENV} (or use "
            "--password-file), or keep the default --host 127.0.0.1 and reach it through an SSH tunnel "
            "or an authenticating reverse proxy (docs/dashboard.md)."
        )
    if not 0 < port < 65536:
        raise ConfigError(
            f"The 'port' parameter of automl dashboard must be 1 to 65535. Got {port!r} instead."
        )
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError(
            "The dashboard needs Streamlit, a dependency of automl: reinstall the project (pip install -e .)."
        )
    env = dict(os.environ, **{STORAGE_ENV: _storage_location(storage)})
    if password:
        env[PASSWORD_ENV] = password
    command = streamlit_command(app_path(), host, port)
    print(
        f"automl dashboard on http://{host}:{port} for {env[STORAGE_ENV]} (Ctrl+C stops it)", file=sys.stderr
    )
    process = subprocess.Popen(command, env=env)
    with _stop_on_sigterm():
        try:
            return process.wait()
        except KeyboardInterrupt:  # Ctrl+C, or SIGTERM through _stop_on_sigterm
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            return 130


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while the dashboard runs, so `kill` stops Streamlit too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """The `automl dashboard` subcommand."""
    password = None
    if args.password_file:
        try:
            password = Path(args.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the password file {args.password_file}: {exc.strerror}."
            ) from None
        if not password:
            raise ConfigError(f"The password file {args.password_file} is empty.")
    return launch(args.storage, host=args.host, port=args.port, password=password)


def add_dashboard_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `automl dashboard` to the CLI's subcommands."""
    parser = subparsers.add_parser("dashboard", help="browse studies and start new ones in a web dashboard")
    parser.add_argument(
        "--storage",
        default=os.environ.get(STORAGE_ENV, "studies"),
        help="study store: a directory or s3:// URI (default ./studies)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument(
        "--password-file",
        help=f"file holding the dashboard password (or set {PASSWORD_ENV}); required for a non-loopback --host",
    )
    parser.set_defaults(func=cmd_dashboard)
    return parser
