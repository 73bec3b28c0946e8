"""A bad submission is refused as `automl run` refuses it: 400 (data), 413 (size), 422 (settings), with
the CLI's own message text and no traceback, and nothing of it is kept or queued."""

from __future__ import annotations

import json

import pytest

from automl.cli import main

MB = 1024 * 1024


def _uploads(service) -> set[str]:
    folder = service.storage / "_uploads"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _submit(client, name: str, data: bytes, options: dict | str | None):
    form = (
        {"options": options if isinstance(options, str) else json.dumps(options)}
        if options is not None
        else {}
    )
    return client.post("/v1/studies", files={"file": (name, data, "text/csv")}, data=form)


def _cli_error(argv: list[str], capsys) -> str:
    """What `automl ARGV` prints after 'error: ' (exit code 2, no traceback)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1].removeprefix("error: ")


@pytest.fixture
def unchanged(service):
    """The test leaves no upload folder and no queue entry behind."""
    before, queued = _uploads(service), set((service.storage / "_queue").glob("*.json"))
    yield
    assert _uploads(service) == before, "a rejected upload was kept"
    assert set((service.storage / "_queue").glob("*.json")) == queued, "a rejected study was queued"


def test_a_misspelt_target_is_400_with_the_cli_text(service, penguins_upload, tmp_path, capsys, monkeypatch,
                                                    unchanged) -> None:  # fmt: skip
    path, target = penguins_upload
    answer = _submit(service.client(), path.name, path.read_bytes(), {"target": target[:-2] + target[-1:]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "DataError"
    monkeypatch.chdir(path.parent)  # the CLI, given the file by its name
    cli = _cli_error(
        ["run", path.name, "--target", target[:-2] + target[-1:], "--storage", str(tmp_path)], capsys
    )
    assert answer.json()["detail"] == cli
    assert "Did you mean" in cli and str(service.storage) not in answer.text


def test_a_bad_setting_is_422_with_the_cli_text(
    service, penguins_upload, tmp_path, capsys, unchanged
) -> None:
    path, target = penguins_upload
    client = service.client()
    for options, argv in [
        ({"target": target, "trials": 0}, ["--trials", "0"]),
        ({"target": target, "folds": 1}, ["--folds", "1"]),
        ({"target": target, "budget": "soon"}, ["--budget", "soon"]),
        (
            {"target": target, "max_epochs": 3, "grace_period": 4},
            ["--max-epochs", "3", "--grace-period", "4"],
        ),
        ({"target": target, "select": "luck"}, ["--select", "luck"]),
        ({"target": target, "name": "../escape"}, ["--name", "../escape"]),
    ]:
        answer = _submit(client, path.name, path.read_bytes(), options)
        assert answer.status_code == 422, (options, answer.text)
        cli = _cli_error(["run", str(path), "--target", target, *argv, "--storage", str(tmp_path)], capsys)
        assert answer.json() == {"detail": cli, "error": "ConfigError"}, options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trails": 3}, "Unknown study option 'trails'. The options are automl run's: budget, "),
        ({"storage": "/etc"}, "The option 'storage' cannot be set through the service"),
        ({"space": "/etc/passwd"}, "The option 'space' cannot be set through the service"),
        ({"trials": "3"}, "The 'trials' parameter of automl run must be an integer. Got '3' instead."),
        ("[1, 2]", "The 'options' parameter of POST /v1/studies must be a JSON object of study settings."),
        (
            "{target: x}",
            "The 'options' part must be a JSON object of study settings (Expecting property name",
        ),
    ],
)
def test_options_that_are_not_automl_run_s_are_422(
    service, penguins_upload, options, message, unchanged
) -> None:
    path, _ = penguins_upload
    answer = _submit(service.client(), path.name, path.read_bytes(), options)
    assert answer.status_code == 422 and answer.json()["error"] == "ConfigError"
    assert answer.json()["detail"].startswith(message), answer.json()["detail"]


def test_a_request_without_its_file_is_422(service) -> None:
    answer = service.client().post("/v1/studies", data={"options": "{}"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "POST /v1/studies needs the multipart part 'file' (a CSV or Parquet table, or a .zip of images)."
    )


def test_an_oversized_upload_is_413(
    service, penguins_upload, tmp_path, capsys, monkeypatch, unchanged
) -> None:
    path, target = penguins_upload
    client = service.client()
    big = path.read_bytes() * (int(1.5 * MB) // path.stat().st_size + 1)  # over the service's 1 MB
    answer = _submit(client, "big.csv", big, {"target": target})
    assert answer.status_code == 413 and answer.json()["error"] == "UploadTooLarge"
    assert "over the limit of 1.0 MB" in answer.json()["detail"]

    huge = big * 3  # declared length far over the limit: answered without reading it all
    assert _submit(client, "huge.csv", huge, {"target": target}).status_code == 413

    body = _multipart(big, target)  # no Content-Length (chunked): counted as it streams
    streamed = client.post("/v1/studies", content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
                           headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})  # fmt: skip
    assert streamed.status_code == 413, streamed.text

    # under the service's limit, over the study's own --max-file-mb: the CLI's reader says so
    answer = _submit(client, path.name, path.read_bytes(), {"target": target, "max_file_mb": 0.001})
    assert answer.status_code == 413
    monkeypatch.chdir(path.parent)
    cli = _cli_error(["run", path.name, "--target", target, "--max-file-mb", "0.001", "--storage", str(tmp_path)],
                     capsys)  # fmt: skip
    assert answer.json()["detail"] == cli and "Raise the limit with --max-file-mb 1" in cli


BOUNDARY = "automl-test-boundary"


def _multipart(data: bytes, target: str) -> bytes:
    options = json.dumps({"target": target}).encode()
    return b"".join([
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="options"\r\n\r\n'.encode(), options, b"\r\n",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode(), data, f"\r\n--{BOUNDARY}--\r\n".encode(),
    ])  # fmt: skip


def test_unknown_studies_are_404(service) -> None:
    client = service.client()
    for method, path in [("GET", "/v1/studies/nothing-here"), ("GET", "/v1/studies/nothing-here/leaderboard"),
                         ("GET", "/v1/studies/nothing-here/model"), ("POST", "/v1/studies/nothing-here/predict"),
                         ("DELETE", "/v1/studies/nothing-here")]:  # fmt: skip
        answer = client.request(method, path)
        assert answer.status_code == 404 and answer.json()["error"] == "UnknownStudy", (method, path)
        assert str(service.storage) not in answer.text  # no path of the server in what a client reads
