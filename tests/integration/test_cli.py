"""The `automl` command: a study from the CLI, the other commands, clear errors with exit code 2."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

import automl.finish as finish_module
from automl.cli import main
from automl.study import run_study
from tests.helpers import assert_every_dimension_varies, fails_with, run_cli, small_config

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture(scope="module")
def cli_study(penguins_csv, fast_space, tmp_path_factory):
    path, target = penguins_csv
    storage = tmp_path_factory.mktemp("cli-store")
    argv = [
        "run",
        str(path),
        "--target",
        target,
        "--trials",
        "3",
        "--budget",
        "3m",
        "--folds",
        "3",
        "--max-epochs",
        "10",
        "--space",
        str(fast_space),
        "--storage",
        str(storage),
        "--name",
        "cli-study",
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return storage, code, out.getvalue()


def test_run_prints_leaderboard_choice_estimate_and_model(cli_study):
    storage, code, out = cli_study
    assert code == 0
    assert "held-out test" not in out
    for text in [
        "study cli-study: completed",
        "(* = chosen)",
        "chosen configuration (rule one_se_min_gap)",
        "why: ",
        "estimate on new data (out of fold on fresh folds the search never saw, bias-corrected for the choice "
        "among the candidates (BBC-CV); 120 rows)",
        "re-evaluation: ",
        "exported: the bag of ",
        "95% CI",
        "before the correction:",
        "baseline majority",
        "baseline logistic_regression",
        f"model: {storage}/cli-study/model",
    ]:
        assert text in out, text


def test_other_commands(cli_study, penguins_csv, capsys, tmp_path):
    storage, _, _ = cli_study
    path, _ = penguins_csv
    assert main(["studies", "--storage", str(storage)]) == 0
    assert "cli-study" in capsys.readouterr().out
    assert main(["leaderboard", "cli-study", "--storage", str(storage)]) == 0
    assert "(* = chosen)" in capsys.readouterr().out
    assert main(["show", "cli-study", "--storage", str(storage), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    out_csv = tmp_path / "predictions.csv"
    assert main(["predict", "cli-study", str(path), "-o", str(out_csv), "--storage", str(storage)]) == 0
    assert "Ignored the target column 'species'." in capsys.readouterr().err
    predictions = pd.read_csv(out_csv)
    assert len(predictions) == 120 and predictions["prediction"].isin(["Adelie", "Chinstrap", "Gentoo"]).all()


def test_errors_exit_2_with_a_clear_message(cli_study, penguins_csv, capsys, tmp_path):
    storage, _, _ = cli_study
    path, _ = penguins_csv
    fails_with(["run", "nope.csv", "--target", "y"], capsys, "error: Data file nope.csv does not exist.")
    fails_with(["run", str(path), "--target", "specie"], capsys, "Did you mean 'species'?")
    fails_with(
        ["run", str(path), "--target", "species", "--budget", "soon"],
        capsys,
        "The 'budget' parameter of automl run must be a duration such as 90s, 10m or 1h. Got 'soon' instead.",
    )
    fails_with(
        ["run", str(path), "--target", "species", "--metric", "rmse"],
        capsys,
        "The 'metric' parameter must be one of accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss for classification. Got 'rmse' instead.",
    )
    fails_with(
        ["show", "no-such-study", "--storage", str(storage)], capsys, "Study 'no-such-study' is not in"
    )
    broken = tmp_path / "broken.csv"
    pd.read_csv(path).drop(columns=["island"]).to_csv(broken, index=False)
    fails_with(
        ["predict", "cli-study", str(broken), "--storage", str(storage)],
        capsys,
        "The data lacks the feature column 'island'.",
    )
    typed = tmp_path / "typed.csv"
    frame = pd.read_csv(path)
    frame["bill_length_mm"] = frame["bill_length_mm"].astype(object)
    frame.loc[0, "bill_length_mm"] = "long"
    frame.to_csv(typed, index=False)
    fails_with(
        ["predict", "cli-study", str(typed), "--storage", str(storage)],
        capsys,
        "Column 'bill_length_mm' should hold numbers, but data row 1 holds 'long'.",
    )


def test_a_crashing_study_is_recorded_as_failed_and_nothing_stored_is_lost(
    cli_study, penguins_csv, fast_space, monkeypatch
):
    storage, _, _ = cli_study
    before = (storage / "cli-study" / "study.json").read_bytes()
    path, target = penguins_csv

    def broken_select(*args, **kwargs):
        raise RuntimeError("selection exploded")

    monkeypatch.setattr(finish_module, "choose", broken_select)
    with pytest.raises(RuntimeError, match="selection exploded"):
        run_study(
            small_config(path, target, storage, fast_space, trials=2, name="crashes"), log=lambda m: None
        )
    manifest = json.loads((storage / "crashes" / "study.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["error"] == "RuntimeError: selection exploded"
    assert (storage / "crashes" / "tune").is_dir()  # the search results stay
    assert (storage / "cli-study" / "study.json").read_bytes() == before
    with pytest.raises(Exception, match="already exists"):
        run_study(small_config(path, target, storage, fast_space, name="cli-study"), log=lambda m: None)
    assert (storage / "cli-study" / "study.json").read_bytes() == before


@pytest.mark.slow
def test_twenty_trials_on_100_rows_within_five_minutes_cover_the_space(tmp_path):
    """The acceptance run: `automl run` as a user types it, default space, 20 trials, 100 rows, 2 cores."""
    from automl.datasets import write

    data = tmp_path / "penguins100.csv"
    target = write("penguins", data, n_rows=100, seed=0)
    argv = ["run", str(data), "--target", target, "--trials", "20", "--budget", "5m"]
    proc, elapsed = run_cli(
        [*argv, "--storage", str(tmp_path / "store"), "--name", "acceptance"], timeout=420
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 300, f"took {elapsed:.0f}s"
    board = pd.read_parquet(tmp_path / "store" / "acceptance" / "report" / "trials.parquet")
    assert len(board) == 20
    assert_every_dimension_varies(tmp_path / "store" / "acceptance", "tabular")
