"""The service's guard: every route but /v1/health needs the bearer token, the token file must be private,
no address beyond loopback without a token, study ids follow the one rule, and no token reaches a log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from automl.cli import main
from automl.errors import ConfigError
from automl.names import RULE
from automl.service.auth import read_token_file
from tests.service.conftest import write_token

ROUTES = [
    ("GET", "/v1/studies"),
    ("POST", "/v1/studies"),
    ("GET", "/v1/studies/any"),
    ("GET", "/v1/studies/any/leaderboard"),
    ("GET", "/v1/studies/any/model"),
    ("POST", "/v1/studies/any/predict"),
    ("DELETE", "/v1/studies/any"),
]


def test_health_is_open_and_every_other_route_needs_the_token(service) -> None:
    assert service.client(token=None).get("/v1/health").json()["status"] == "ok"
    wrong = "not-the-token-0123456789"
    for token in (None, wrong, service.token + "x"):
        client = service.client(token=token)
        for method, path in ROUTES:
            answer = client.request(method, path)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.json()["error"] == "Unauthorized" and "Bearer <token>" in answer.json()["detail"]
            assert wrong not in answer.text and service.token not in answer.text
    assert service.client().get("/v1/studies").status_code == 200
    basic = service.client(token=None).get("/v1/studies", headers={"Authorization": f"Basic {service.token}"})
    assert basic.status_code == 401


def test_the_api_describes_itself(service) -> None:
    schema = service.client(token=None).get("/openapi.json").json()
    assert {"/v1/health", "/v1/studies", "/v1/studies/{study_id}/predict"} <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert service.client(token=None).get("/docs").status_code == 200


def test_study_ids_follow_the_one_rule(service) -> None:
    answer = service.client().get("/v1/studies/.hidden")
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        f"The 'study_id' parameter of /v1/studies/{{study_id}} must be {RULE}. Got '.hidden' instead."
    )


def test_no_token_reaches_the_log(service) -> None:
    wrong = "wrong-token-abcdefghijklmnop"
    service.client(token=wrong).get("/v1/studies")
    service.client().get("/v1/studies")
    service.client().get("/v1/studies/unknown")
    text = service.log_text()
    assert "GET /v1/studies HTTP/1.1" in text  # the access log is there
    assert service.token not in text and wrong not in text


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_token_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token"
    write_token(path)
    path.chmod(mode)
    message = f"The token file {path} may be read or written by other users (mode {mode:03o}). Make it private: chmod 600 {path}"
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_token_file(path)


def test_a_short_or_missing_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_token(path, "short")
    with pytest.raises(ConfigError, match="must be one word of at least 16 characters"):
        read_token_file(path)
    with pytest.raises(ConfigError, match=re.escape(f"Cannot read the token file {tmp_path / 'none'}")):
        read_token_file(tmp_path / "none")
    write_token(path)
    assert read_token_file(path) == "test-token-0123456789abcdef"


def test_serve_refuses_an_address_beyond_loopback_without_a_token(tmp_path: Path, capsys) -> None:
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        assert main(["serve", "--host", host, "--storage", str(tmp_path / "store")]) == 2
        err = capsys.readouterr().err
        assert f"error: Refusing to serve on {host} without a token" in err and "Traceback" not in err
    path = tmp_path / "token"
    write_token(path)
    path.chmod(0o644)
    assert main(["serve", "--host", "0.0.0.0", "--token-file", str(path)]) == 2
    assert "Make it private: chmod 600" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()  # refused before anything was created


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ["--idle", "soon"],
            "The 'idle' parameter of automl serve must be a duration such as 90s, 5m or 1h.",
        ),
        (["--port", "0"], "The 'port' parameter of automl serve must be 1 to 65535. Got 0 instead."),
        (["--max-running", "0"], "The 'max_running' parameter of automl serve must be a positive integer."),
        (
            ["--max-upload-mb", "-1"],
            "The 'max_upload_mb' parameter of automl serve must be a positive number.",
        ),
    ],
)
def test_serve_checks_its_options_before_starting(tmp_path: Path, capsys, option, message) -> None:
    assert main(["serve", "--storage", str(tmp_path / "store"), *option]) == 2
    assert f"error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
