"""Tests of automl.store on a local directory: files, atomic writes, manifests and study ids."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.errors import StoreError
from automl.names import is_study_id
from automl.store import MANIFEST, STORAGE_FIX, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "studies")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- locations -----------------------------------------------------------------------------


def test_local_location_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for location in ("studies", "./studies", f"file://{tmp_path}/studies", tmp_path / "studies"):
        s = Store(location)
        assert s.local
        assert s.root == s.uri == str(tmp_path / "studies")
    s = Store("studies")
    assert s.study_uri("abc") == f"{tmp_path}/studies/abc"
    assert s.local_path("abc", "model", "model.json") == tmp_path / "studies" / "abc" / "model" / "model.json"


def test_bad_uri_is_a_store_error() -> None:
    with pytest.raises(
        StoreError,
        match=r"^Cannot open storage 'nope://bucket/x': .+\. Check the URI and your cloud credentials\.$",
    ):
        Store("nope://bucket/x")


# --- bytes, JSON and tables ----------------------------------------------------------------


def test_write_and_read_bytes(store: Store) -> None:
    data = bytes(range(256)) * 10
    store.write_bytes("s1", "model/weights.safetensors", data)
    assert store.read_bytes("s1", "model/weights.safetensors") == data
    assert Path(store.root, "s1", "model", "weights.safetensors").read_bytes() == data
    assert store.exists("s1", "model/weights.safetensors")
    assert not store.exists("s1", "model/other")


def test_write_and_read_json_with_numpy_values(store: Store) -> None:
    obj = {
        "a": 1,
        "b": [1.5, "x", None],
        "c": {"nested": True},
        "i": np.int64(7),
        "f": np.float32(0.5),
        "nan": np.float32("nan"),
        "arr": np.arange(3),
        "path": Path("/tmp/x"),
    }
    store.write_json("s1", "report/test.json", obj)
    assert store.read_json("s1", "report/test.json") == {
        "a": 1,
        "b": [1.5, "x", None],
        "c": {"nested": True},
        "i": 7,
        "f": 0.5,
        "nan": None,
        "arr": [0, 1, 2],
        "path": "/tmp/x",
    }


@pytest.mark.parametrize("value", [np.float64("nan"), float("nan"), np.float64("inf"), float("-inf")])
def test_write_json_writes_strict_json_for_non_finite_floats(store: Store, value: float) -> None:
    store.write_json("s1", "report/test_report.json", {"ci_low": value})

    def reject(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    text = store.read_bytes("s1", "report/test_report.json").decode()
    assert json.loads(text, parse_constant=reject) == {"ci_low": None}


def test_write_json_rejects_unknown_objects(store: Store) -> None:
    with pytest.raises(TypeError, match=re.escape("object is not JSON serializable")):
        store.write_json("s1", "x.json", {"bad": object()})


def test_write_and_read_table(store: Store) -> None:
    frame = pd.DataFrame(
        {
            "trial": ["a", "b", "c"],
            "score": [0.5, np.nan, 0.75],
            "epochs": np.array([1, 2, 3], dtype=np.int64),
            "chosen": [False, True, False],
        }
    )
    store.write_table("s1", "report/trials.parquet", frame)
    back = store.read_table("s1", "report/trials.parquet")
    pd.testing.assert_frame_equal(back, frame)
    assert store.read_bytes("s1", "report/trials.parquet")[:4] == b"PAR1"


def test_overwrite_replaces_the_content(store: Store) -> None:
    store.write_bytes("s1", "a.txt", b"first version, longer")
    store.write_bytes("s1", "a.txt", b"second")
    assert store.read_bytes("s1", "a.txt") == b"second"


def test_read_missing_file(store: Store) -> None:
    with pytest.raises(
        StoreError, match=r"^Cannot read report/x\.json of study 's1' in " + re.escape(store.uri) + ": "
    ):
        store.read_bytes("s1", "report/x.json")


def test_read_json_of_invalid_json(store: Store) -> None:
    store.write_bytes("s1", "bad.json", b"{not json")
    with pytest.raises(
        StoreError,
        match=re.escape(
            "bad.json of study 's1' is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))."
        ),
    ):
        store.read_json("s1", "bad.json")


# --- atomic writes -------------------------------------------------------------------------


def test_write_leaves_no_temporary_files(store: Store) -> None:
    store.write_bytes("s1", "a/b/c.bin", b"x")
    store.write_json("s1", MANIFEST, {"status": "running"})
    store.write_table("s1", "report/t.parquet", pd.DataFrame({"a": [1]}))
    store.write_json("s1", MANIFEST, {"status": "completed"})
    assert files_under(Path(store.root)) == ["s1/a/b/c.bin", "s1/report/t.parquet", "s1/study.json"]
    assert not Path(store.root, "s1", ".tmp").exists()  # the staging folder goes once empty


def test_write_goes_through_a_temporary_file_and_a_rename(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str, bytes]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        # when the rename happens, the whole content is already in the temporary file
        renames.append((src, dst, Path(src).read_bytes()))
        assert not Path(dst).exists() or Path(dst).read_bytes() != b"new content"
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.write_bytes("s1", "a.bin", b"new content")
    target = f"{store.root}/s1/a.bin"
    assert len(renames) == 1
    src, dst, content = renames[0]
    assert dst == target
    assert re.fullmatch(re.escape(f"{store.root}/s1/.tmp/a.bin") + r"\.tmp-[0-9a-f]{8}", src)
    assert content == b"new content"


def test_a_failed_rename_keeps_the_old_content(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write_json("s1", MANIFEST, {"status": "completed", "study_id": "s1"})

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    message = (
        f"Cannot write study.json of study 's1' to the storage {store.uri}: No space left on device. "
        f"{STORAGE_FIX}"
    )
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.write_json("s1", MANIFEST, {"status": "running"})
    monkeypatch.undo()
    assert store.read_json("s1", MANIFEST) == {"status": "completed", "study_id": "s1"}
    assert files_under(Path(store.root)) == ["s1/study.json"]  # no temporary file left behind


def test_a_write_killed_before_its_rename_leaves_nothing_beside_the_model(tmp_path: Path) -> None:
    """A SIGKILL between the temporary file and the rename: model/ holds only whole files."""
    import signal
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from automl.store import Store\n"
        "os.replace = lambda src, dst: os.kill(os.getpid(), 9)\n"
        "Store(sys.argv[1]).write_bytes('s1', 'model/weights.safetensors', b'new')\n"
    )
    store = Store(tmp_path / "studies")
    store.write_bytes("s1", "model/weights.safetensors", b"old")
    proc = subprocess.run([sys.executable, "-c", script, store.root], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in Path(store.root, "s1", "model").iterdir()) == ["weights.safetensors"]
    assert store.read_bytes("s1", "model/weights.safetensors") == b"old"
    assert [p.parent.name for p in Path(store.root).rglob("*.tmp-*")] == [".tmp"]


# --- manifests -----------------------------------------------------------------------------


def test_write_manifest_stamps_updated_at(store: Store) -> None:
    store.write_manifest("s1", {"study_id": "s1", "status": "running"})
    manifest = store.read_manifest("s1")
    assert manifest["status"] == "running"
    assert isinstance(manifest["updated_at"], float)


def test_update_manifest(store: Store) -> None:
    store.write_manifest("s1", {"study_id": "s1", "status": "running", "created_at": 1.0})
    updated = store.update_manifest("s1", status="completed", score=0.9)
    assert updated["status"] == "completed" and updated["score"] == 0.9 and updated["created_at"] == 1.0
    assert store.read_manifest("s1")["status"] == "completed"


def test_read_manifest_of_a_missing_study(store: Store) -> None:
    with pytest.raises(
        StoreError,
        match=re.escape(
            f"Study 'nope' is not in {store.uri}. Recent studies there: none. "
            "List them with `automl studies --storage ...`."
        ),
    ):
        store.read_manifest("nope")


def test_read_manifest_of_a_missing_study_names_recent_ones(store: Store) -> None:
    for i in range(7):
        store.write_manifest(f"s{i}", {"study_id": f"s{i}", "status": "completed"})
    with pytest.raises(
        StoreError,
        match=re.escape(f"Study 'nope' is not in {store.uri}. Recent studies there: s2, s3, s4, s5, s6. "),
    ):
        store.read_manifest("nope")


def test_update_manifest_of_a_missing_study(store: Store) -> None:
    with pytest.raises(StoreError, match=re.escape("Study 'nope' is not in")):
        store.update_manifest("nope", status="x")


def test_study_ids_ignore_folders_without_a_manifest(store: Store) -> None:
    assert store.study_ids() == []  # the storage folder does not exist yet
    store.write_manifest("b", {"study_id": "b", "status": "completed"})
    store.write_manifest("a", {"study_id": "a", "status": "completed"})
    store.write_bytes("half", "tune/x.json", b"{}")  # a folder without study.json
    Path(store.root, "empty").mkdir()
    Path(store.root, "file.json").write_text("{}")
    assert store.study_ids() == ["a", "b"]


def test_list_studies_oldest_first(store: Store) -> None:
    store.write_manifest("x", {"study_id": "x", "status": "completed", "created_at": 30.0})
    store.write_manifest("y", {"study_id": "y", "status": "completed", "created_at": 10.0})
    store.write_manifest("z", {"study_id": "z", "status": "completed", "created_at": 20.0})
    assert [m["study_id"] for m in store.list_studies()] == ["y", "z", "x"]


def test_list_studies_reports_a_corrupt_manifest_instead_of_raising(store: Store) -> None:
    store.write_manifest("good", {"study_id": "good", "status": "completed", "created_at": 5.0})
    Path(store.root, "bad").mkdir()
    Path(store.root, "bad", MANIFEST).write_text('{"study_id": "bad", "status": ')
    rows = store.list_studies()
    assert [r["study_id"] for r in rows] == ["bad", "good"]  # no created_at sorts first
    bad = rows[0]
    assert bad["status"] == "unreadable"
    assert bad["error"] == (
        "study.json of study 'bad' is not valid JSON (Expecting value: line 1 column 31 (char 30)). "
        f"The file {store.root}/bad/study.json is damaged; restore it or start a new study."
    )
    assert set(bad) == {"study_id", "status", "error"}


def test_list_studies_with_a_manifest_that_is_not_an_object(store: Store) -> None:
    store.write_manifest("good", {"study_id": "good", "status": "completed", "created_at": 5.0})
    Path(store.root, "odd").mkdir()
    Path(store.root, "odd", MANIFEST).write_text("[]")
    rows = store.list_studies()
    assert [(r["study_id"], r.get("status")) for r in rows] == [("odd", "unreadable"), ("good", "completed")]


# --- study ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("penguins", "penguins"),
        ("my data.csv", "my-data.csv"),
        ("../../etc/passwd", "etc-passwd"),
        (".hidden", "hidden"),
        ("a/b\\c:d*e?f", "a-b-c-d-e-f"),
        ("---x---", "x"),
        ("", "study"),
        ("///", "study"),
        ("ünïcödé", "n-c-d"),
        ("x" * 60, "x" * 40),
    ],
)
def test_new_study_id_sanitizes_names(store: Store, name: str, stem: str) -> None:
    study_id = store.new_study_id(name)
    assert re.fullmatch(re.escape(stem) + r"-\d{8}-\d{6}-[0-9a-f]{4}", study_id), study_id
    assert "/" not in study_id and "\\" not in study_id
    assert is_study_id(study_id)


def test_new_study_ids_are_unique(store: Store) -> None:
    ids = {store.new_study_id("same") for _ in range(50)}
    assert len(ids) > 40  # 4 random hex digits per id within one second


def test_json_is_indented_and_readable(store: Store) -> None:
    store.write_json("s1", "x.json", {"a": [1, 2]})
    text = Path(store.root, "s1", "x.json").read_text()
    assert text == json.dumps({"a": [1, 2]}, indent=2)


# --- names and keys that would leave the store ---------------------------------------------

NAME_RULE = "1 to 100 letters, digits, '-', '_' or '.', not starting with a dot"


@pytest.mark.parametrize("study_id", ["../../etc", "..", ".", ".hidden", "a/b", "a\\b", "", "x" * 101, "é"])
def test_store_refuses_study_ids_outside_the_rule(store: Store, study_id: str) -> None:
    message = f"The 'study_id' parameter of Store must be {NAME_RULE}. Got {study_id!r} instead."
    for call in (
        lambda: store.write_json(study_id, MANIFEST, {}),
        lambda: store.read_manifest(study_id),
        lambda: store.exists(study_id),
        lambda: store.tune_storage(study_id),
    ):
        with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
            call()
    assert not Path(store.root).exists() or files_under(Path(store.root).parent) == []


@pytest.mark.parametrize("key", ["../x.json", "model/../../x", "/etc/passwd", "a//b", "a\\..\\b", "./x"])
def test_store_refuses_keys_that_leave_the_study_folder(store: Store, key: str) -> None:
    message = f"Refusing the path {key!r} of study 's1': it would resolve outside the study's folder."
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.write_bytes("s1", key, b"x")
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.read_bytes("s1", key)
    assert not Path(store.root).exists()


def test_store_refuses_a_symlink_out_of_the_study_folder(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.write_json("s1", MANIFEST, {"study_id": "s1"})
    Path(store.root, "s1", "model").symlink_to(outside)
    Path(store.root, "evil").symlink_to(outside)
    message = (
        f"Refusing the path 'model/model.json' of study 's1': it resolves to {outside}/model.json, "
        f"outside the study's folder in {store.uri}."
    )
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.write_bytes("s1", "model/model.json", b"{}")
    (outside / MANIFEST).write_text("{}")
    with pytest.raises(
        StoreError,
        match=f"^{re.escape(f'Refusing study {chr(39)}evil{chr(39)}: its folder resolves to {outside}, outside the store {store.uri}.')}$",
    ):
        store.read_manifest("evil")
    assert store.study_ids() == ["s1"]  # the symlinked folder is not listed
    assert sorted(p.name for p in outside.iterdir()) == [MANIFEST]


# --- storage that cannot be used -------------------------------------------------------------


def test_storage_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "afile"
    file.write_text("keep me")
    message = f"The storage {str(file)!r} is a file, not a directory. {STORAGE_FIX}"
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        Store(file)
    assert file.read_text() == "keep me"


def test_storage_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("keep me")
    store = Store(tmp_path / "afile" / "studies")
    message = f"Cannot write to the storage {store.uri}: Not a directory. {STORAGE_FIX}"
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.check_writable()
    assert store.study_ids() == []
    assert (tmp_path / "afile").read_text() == "keep me"


def test_storage_that_cannot_be_created() -> None:
    store = Store("/proc/automl-studies")
    message = f"Cannot write to the storage /proc/automl-studies: No such file or directory. {STORAGE_FIX}"
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.check_writable()
    with pytest.raises(StoreError, match=re.escape("Cannot write study.json of study 's1' to the storage")):
        store.write_manifest("s1", {"study_id": "s1", "status": "running"})


def test_check_writable_leaves_nothing_behind(store: Store) -> None:
    store.write_json("s1", MANIFEST, {"study_id": "s1"})
    before = files_under(Path(store.root))
    store.check_writable()
    assert files_under(Path(store.root)) == before


def test_a_manifest_that_is_not_an_object(store: Store) -> None:
    Path(store.root, "odd").mkdir(parents=True)
    Path(store.root, "odd", MANIFEST).write_text("[]")
    message = (
        f"study.json of study 'odd' is not a JSON object (it holds a list). The file {store.root}/odd/study.json "
        "is damaged; restore it or start a new study."
    )
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        store.read_manifest("odd")


def test_a_damaged_table(store: Store) -> None:
    store.write_bytes("s1", "report/trials.parquet", b"PAR1 not really")
    with pytest.raises(
        StoreError, match=r"^report/trials\.parquet of study 's1' is not a readable Parquet table"
    ):
        store.read_table("s1", "report/trials.parquet")


def test_check_writable_of_a_new_storage_leaves_no_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "new" / "studies")
    store.check_writable()
    assert list(tmp_path.iterdir()) == []


def test_foreign_writers_of_a_study(store: Store, tmp_path: Path) -> None:
    store.write_manifest("s1", {"study_id": "s1", "status": "completed"})
    store.write_bytes("s1", "tune/exp/tuner.pkl", b"state")
    store.write_bytes("s1", "tune/exp/searcher.pkl", b"state")
    tune = Path(store.root, "s1", "tune", "exp")
    os.chmod(tune / "searcher.pkl", 0o664)  # group-writable: with one group per user, still the owner's
    assert store.foreign_writers("s1") == []
    os.chmod(tune / "tuner.pkl", 0o646)
    (tmp_path / "elsewhere.pkl").write_bytes(b"x")
    (tune / "linked.pkl").symlink_to(tmp_path / "elsewhere.pkl")
    assert sorted(store.foreign_writers("s1")) == [str(tune / "linked.pkl"), str(tune / "tuner.pkl")]


def test_foreign_writers_cover_the_tune_folder_itself(store: Store) -> None:
    """Every file under tune/ may be the user's own, yet a tune/ folder every user may write lets anyone
    add or swap a pickle there before the resume (issue 24)."""
    store.write_manifest("s1", {"study_id": "s1", "status": "failed"})
    store.write_bytes("s1", "tune/exp/tuner.pkl", b"state")
    tune = Path(store.root, "s1", "tune")
    assert store.foreign_writers("s1") == []
    os.chmod(tune, 0o777)
    os.chmod(tune / "exp", 0o757)
    assert store.foreign_writers("s1") == [str(tune), str(tune / "exp")]
    assert store.foreign_writers("s1", limit=1) == [str(tune)]


def test_an_s3_bucket_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server = pytest.importorskip("moto.server")
    import socket

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        store = Store(f"s3://missing/team?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1")
        message = "Cannot write to the storage s3://missing/team: Bucket 'missing' not found"
        with pytest.raises(StoreError, match=f"^{re.escape(message)}.*{re.escape(STORAGE_FIX)}$"):
            store.check_writable()
    finally:
        server.stop()
