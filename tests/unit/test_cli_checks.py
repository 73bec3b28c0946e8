"""Options, names and stores are checked before any work: a clear message, exit code 2, under a second,
and nothing written (issue 13's hostile-user cases)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automl.cli import main
from automl.names import RULE
from automl.search.selection import available_rules
from automl.store import STORAGE_FIX, Store


def fails(argv: list[str], capsys) -> str:
    """`automl ARGV` exits 2 with one message and no traceback; returns the message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.removeprefix("error: ").rstrip("\n")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv"
    path.write_text("a,b,species\n1,2,x\n3,4,y\n")
    return path


@pytest.mark.parametrize("name", ["../../etc", "/tmp/x", ".hidden", "a/b", "x" * 101, ""])
def test_run_refuses_a_name_outside_the_rule(table: Path, tmp_path: Path, capsys, name: str) -> None:
    storage = tmp_path / "S" / "b" / "c"
    message = fails(
        ["run", str(table), "--target", "species", "--storage", str(storage), "--name", name], capsys
    )
    assert message == f"The 'name' parameter of StudyConfig must be {RULE}. Got {name!r} instead."
    assert files_under(tmp_path / "S") == []


def test_submit_refuses_a_name_outside_the_rule(table: Path, tmp_path: Path, capsys) -> None:
    argv = ["submit", str(table), "--target", "species", "--storage", str(tmp_path), "--name", "../x"]
    assert fails(argv, capsys) == f"The 'name' parameter of StudyConfig must be {RULE}. Got '../x' instead."


@pytest.mark.parametrize("command", ["show", "leaderboard", "resume"])
def test_study_commands_refuse_a_name_outside_the_rule(tmp_path: Path, capsys, command: str) -> None:
    message = fails([command, "../../etc", "--storage", str(tmp_path)], capsys)
    assert message == f"The 'study' parameter of automl {command} must be {RULE}. Got '../../etc' instead."


def test_predict_refuses_a_name_that_is_neither_a_path_nor_an_id(tmp_path: Path, capsys) -> None:
    message = fails(["predict", "../../nowhere", "x.csv", "--storage", str(tmp_path)], capsys)
    assert message == (
        f"The 'model' parameter of automl predict must be a study id ({RULE}), a study directory or a "
        "model directory. Got '../../nowhere' instead."
    )


def test_a_bogus_selection_rule_is_refused_before_the_search(table: Path, tmp_path: Path, capsys) -> None:
    argv = ["run", str(table), "--target", "species", "--storage", str(tmp_path / "s"), "--select", "bogus"]
    message = fails(argv, capsys)
    rules = ", ".join(available_rules())
    assert message == f"The 'select' parameter of StudyConfig must be one of {rules}. Got 'bogus' instead."
    assert files_under(tmp_path / "s") == []  # no "failed" study left behind


def test_storage_that_cannot_be_created(table: Path, capsys) -> None:
    message = fails(["run", str(table), "--target", "species", "--storage", "/proc/x"], capsys)
    assert message == f"Cannot write to the storage /proc/x: No such file or directory. {STORAGE_FIX}"


def test_storage_that_is_a_file(table: Path, tmp_path: Path, capsys) -> None:
    file = tmp_path / "store.txt"
    file.write_text("keep")
    message = fails(["run", str(table), "--target", "species", "--storage", str(file)], capsys)
    assert message == f"The storage {str(file)!r} is a file, not a directory. {STORAGE_FIX}"
    assert fails(["studies", "--storage", str(file)], capsys) == message
    assert file.read_text() == "keep"


def test_a_taken_name_is_refused_before_the_search(table: Path, tmp_path: Path, capsys) -> None:
    store = Store(tmp_path)
    store.write_manifest("taken", {"study_id": "taken", "status": "completed"})
    before = Path(tmp_path, "taken", "study.json").read_bytes()
    argv = ["run", str(table), "--target", "species", "--storage", str(tmp_path), "--name", "taken"]
    assert fails(argv, capsys) == f"Study 'taken' already exists in {tmp_path}. Choose another --name."
    assert Path(tmp_path, "taken", "study.json").read_bytes() == before


BILLION_LAUGHS = textwrap.dedent(
    """\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    parameters: *i
    """
)


def test_a_billion_laughs_space_is_refused(table: Path, tmp_path: Path, capsys) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(BILLION_LAUGHS)
    argv = ["run", str(table), "--target", "species", "--storage", str(tmp_path / "s"), "--space", str(space)]
    assert fails(argv, capsys) == (
        f"Search space file {str(space)!r} uses the YAML alias *a (line 2). Aliases are refused: a search "
        "space does not need them, and nested ones can expand a small file into billions of values. "
        "Write the values out instead."
    )


def test_a_missing_space_file(table: Path, tmp_path: Path, capsys) -> None:
    argv = ["run", str(table), "--target", "species", "--storage", str(tmp_path), "--space", "nope.yaml"]
    assert fails(argv, capsys) == (
        "Search space file 'nope.yaml' does not exist. Copy search_spaces/tabular.yaml and edit it."
    )


def test_show_of_a_manifest_that_is_not_an_object(tmp_path: Path, capsys) -> None:
    Path(tmp_path, "odd").mkdir()
    Path(tmp_path, "odd", "study.json").write_text("[]")
    assert fails(["show", "odd", "--storage", str(tmp_path)], capsys) == (
        f"study.json of study 'odd' is not a JSON object (it holds a list). The file {tmp_path}/odd/study.json "
        "is damaged; restore it or start a new study."
    )


def test_resume_refuses_a_study_another_user_can_write(tmp_path: Path, capsys) -> None:
    store = Store(tmp_path)
    store.write_manifest("s1", {"study_id": "s1", "status": "failed"})
    store.write_bytes("s1", "tune/exp/tuner.pkl", b"not a real pickle")
    pickle = Path(tmp_path, "s1", "tune", "exp", "tuner.pkl")
    os.chmod(pickle, 0o666)
    message = fails(["resume", "s1", "--storage", str(tmp_path)], capsys)
    assert message == (
        f"Refusing to resume study 's1': {pickle} can be written by another user, and resuming unpickles "
        "Ray Tune's state from it. Check the files and give --trust-store if they are yours, or start a new study."
    )
    assert pickle.read_bytes() == b"not a real pickle"


def test_resume_warns_that_it_unpickles(tmp_path: Path) -> None:
    from automl.cli import resume_trust_note

    store = Store(tmp_path)
    store.write_manifest("s1", {"study_id": "s1", "status": "failed"})
    assert resume_trust_note(store, "s1", trusted=False) == (
        f"resuming restores Ray Tune's pickled state from {tmp_path}/s1/tune; resume only studies in a store "
        "that only you (or people you trust) can write."
    )


PROBE = """
import sys, time
from automl.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(code, round(time.perf_counter() - start, 3), [m for m in ("torch", "ray", "sdv") if m in sys.modules])
"""


# The selection registry (automl/search/selection.py) imports sklearn through automl.metrics (0.9 s in
# a quiet moment, more on 2 busy cores): a bogus --select is still refused before torch, Ray and SDV.
@pytest.mark.parametrize(
    ("extra", "limit_s"),
    [
        (["--name", "../../etc"], 1.0),
        (["--storage", "/proc/x"], 1.0),
        (["--budget", "soon"], 1.0),
        (["--trials", "0"], 1.0),
        (["--select", "bogus"], 4.0),
    ],
)
def test_a_rejected_option_costs_under_a_second(
    table: Path, tmp_path: Path, extra: list[str], limit_s: float
) -> None:
    argv = ["run", str(table), "--target", "species", "--storage", str(tmp_path / "s"), *extra]
    if extra[0] == "--storage":
        argv = ["run", str(table), "--target", "species", *extra]
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60)
    code, seconds, heavy = proc.stdout.split(" ", 2)
    assert (code, heavy.strip()) == ("2", "[]"), proc.stderr
    assert float(seconds) < limit_s
    assert "Traceback" not in proc.stderr


def test_names_in_a_json_manifest_listing_are_never_followed(tmp_path: Path, capsys) -> None:
    """A folder named like a study but outside the rule is not listed (and so never opened)."""
    Path(tmp_path, ".hidden").mkdir()
    Path(tmp_path, ".hidden", "study.json").write_text(json.dumps({"study_id": ".hidden"}))
    assert main(["studies", "--storage", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"no studies in {tmp_path}\n"


def test_the_rule_is_the_one_in_the_message() -> None:
    assert re.fullmatch(r"1 to \d+ letters, digits, '-', '_' or '\.', not starting with a dot", RULE)


def test_a_folder_named_like_a_table_with_a_target(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "x.csv"
    (folder / "cat").mkdir(parents=True)
    argv = ["run", str(folder), "--target", "label", "--storage", str(tmp_path / "s")]
    assert fails(argv, capsys) == (
        f"Data {folder} is a folder, not a table file, although its name ends in '.csv'. A folder is read as "
        "images (one sub-folder per class), which take no --target: give the table's file, or drop --target "
        "to search the folder's images."
    )
