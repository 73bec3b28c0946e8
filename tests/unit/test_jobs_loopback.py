"""One loopback rule (automl.hosts) for `automl submit`'s address, `automl dashboard --host` and the
dashboard's own access check: 127.0.0.0/8, ::1 and localhost are this machine; nothing else is."""

from __future__ import annotations

from pathlib import Path

import pytest

import automl.dashboard
import automl.jobs as jobs
from automl.config import StudyConfig
from automl.errors import ConfigError
from automl.hosts import is_loopback, is_loopback_url

LOOPBACK = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "localhost",
    "LocalHost",
    "localhost.",
    "::1",
    "[::1]",
]
LOOPBACK += ["0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", " 127.0.0.1 "]
REMOTE = ["10.0.0.1", "0.0.0.0", "::", "192.168.1.5", "128.0.0.1", "8.8.8.8", "fe80::1", "::ffff:10.0.0.1"]
REMOTE += ["", None, "127.evil.example", "127.0.0.1.nip.io", "localhost.example", "example.com", "[::1", "1"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", REMOTE)
def test_hosts_other_machines_reach(host: str | None) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("http://127.0.0.1:8265", True),
        ("http://127.0.0.2:8265", True),
        ("http://localhost:8265", True),
        ("http://[::1]:8265", True),
        ("ray://127.0.0.3:10001", True),
        ("127.0.0.1:8265", True),
        ("http://10.0.0.1:8265", False),
        ("http://127.evil.example:8265", False),
        ("http://[::1:8265", False),
        ("", False),
    ],
)
def test_loopback_urls(address: str, local: bool) -> None:
    assert is_loopback_url(address) is local


def test_every_place_uses_the_one_rule() -> None:
    pytest.importorskip("streamlit")
    import ui.lib.auth

    assert automl.dashboard.is_loopback is is_loopback
    assert ui.lib.auth.is_loopback is is_loopback


def _request(address: str, tmp_path: Path) -> dict:
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    config = StudyConfig(data=str(data), target="y", storage=str(tmp_path / "store"))
    return jobs.job_request(address, config, study_id="s", staging=staging)


@pytest.mark.parametrize("address", ["http://127.0.0.2:8265", "http://[::1]:8265", "http://localhost:8265"])
def test_a_local_store_is_fine_for_a_cluster_on_this_machine(address: str, tmp_path: Path) -> None:
    assert _request(address, tmp_path)["metadata"]["storage"] == str((tmp_path / "store").resolve())


def test_a_local_store_is_refused_for_a_remote_cluster(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="is a local directory, which the nodes of a remote cluster do not share"
    ):
        _request("http://10.0.0.1:8265", tmp_path)


def test_the_dashboard_refuses_127_0_0_2_only_if_it_were_remote(tmp_path: Path, monkeypatch) -> None:
    """127.0.0.2 is loopback: no password needed. 10.0.0.1 is not: refused without one."""
    monkeypatch.delenv(automl.dashboard.PASSWORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="Refusing to serve the dashboard on 10.0.0.1 without a password"):
        automl.dashboard.launch(str(tmp_path), host="10.0.0.1")
    monkeypatch.setattr(
        automl.dashboard.importlib.util, "find_spec", lambda name: None
    )  # stop before Streamlit
    with pytest.raises(ConfigError, match="The dashboard needs Streamlit"):
        automl.dashboard.launch(str(tmp_path), host="127.0.0.2")
