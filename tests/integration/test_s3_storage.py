"""`--storage s3://...` works end to end (Ray Tune's experiment included) against a local S3 server (moto)."""

from __future__ import annotations

import socket

import pyarrow.fs as pafs
import pytest

from automl.cli import main
from automl.store import Store
from automl.study import Study, run_study
from tests.helpers import small_config

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture(scope="module")
def s3_uri(monkeypatch_module):
    moto_server = pytest.importorskip("moto.server")
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch_module.setenv(key, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}").create_bucket(Bucket="studies")
    yield f"s3://studies/team?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_study_on_s3(s3_uri, penguins_csv, fast_space, capsys):
    path, target = penguins_csv
    study = run_study(
        small_config(path, target, s3_uri, fast_space, trials=2, name="on-s3"), log=lambda m: None
    )
    assert study.status == "completed"
    store = Store(s3_uri)
    assert store.uri == "s3://studies/team"
    assert store.study_ids() == ["on-s3"]
    files = store.fs.get_file_info(pafs.FileSelector("studies/team/on-s3", recursive=True))
    names = {info.path.removeprefix("studies/team/on-s3/") for info in files}
    assert {"study.json", "model/weights.safetensors", "report/trials.parquet"} <= names
    assert any(name.startswith("tune/") and "experiment_state" in name for name in names), sorted(names)[:20]

    reloaded = Study.load("on-s3", s3_uri)
    assert len(reloaded.leaderboard()) == 2
    assert reloaded.best_model.info["target"] == target
    assert main(["studies", "--storage", s3_uri]) == 0
    assert "on-s3" in capsys.readouterr().out
