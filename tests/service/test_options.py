"""A submission's options are `automl run`'s: the same names, read into the same StudyConfig with the same
defaults; and the rows sent to predict reach the modality as `automl predict` would read them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from automl.cli import build_parser
from automl.errors import DataError
from automl.run_args import study_config
from automl.service.options import SERVER_SIDE, option_names, study_config_from_options
from automl.service.predictions import Rows, records_from_json, write_source


def _cli(*argv: str):
    return replace(study_config(build_parser().parse_args(["run", "-", "--storage", "s", *argv])), data="")


def test_every_option_reads_as_the_cli_reads_it() -> None:
    options = {
        "target": "species", "task": "classification", "metric": "f1_macro", "trials": 7, "budget": "90s",
        "seed": 3, "test_size": 0.2, "folds": 4, "repeats": 2, "max_epochs": 9, "grace_period": 3,
        "select": "best_validation", "name": "x-1", "max_file_mb": 5.5, "max_trial_retries": 1,
        "cpus_per_trial": 0.5, "gpus_per_trial": 0.25, "max_concurrent": 2, "image_size": 64, "no_hub": True,
        "skip_bad": True, "max_pixels": 1000, "max_archive_mb": 10.0,
    }  # fmt: skip
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # noqa: SLF001
    cli_options = {a.dest for a in run._actions} - {"help", "data", *SERVER_SIDE}  # noqa: SLF001
    assert option_names() == sorted(cli_options)  # every option of `automl run` but the server-side ones
    assert set(options) <= cli_options
    argv = [
        "--target", "species", "--task", "classification", "--metric", "f1_macro", "--trials", "7", "--budget",
        "90s", "--seed", "3", "--test-size", "0.2", "--folds", "4", "--repeats", "2", "--max-epochs", "9",
        "--grace-period", "3", "--select", "best_validation", "--name", "x-1", "--max-file-mb", "5.5",
        "--max-trial-retries", "1", "--cpus-per-trial", "0.5", "--gpus-per-trial", "0.25", "--max-concurrent",
        "2", "--image-size", "64", "--no-hub", "--skip-bad", "--max-pixels", "1000", "--max-archive-mb", "10",
    ]  # fmt: skip
    assert study_config_from_options(options, "s") == _cli(*argv)
    assert study_config_from_options({}, "s") == _cli()  # the same defaults
    assert study_config_from_options({"max_epochs": 3}, "s") == _cli("--max-epochs", "3")  # grace fits
    assert set(SERVER_SIDE) == {"data", "space", "storage", "weights_dir"}


def test_rows_reach_the_modality_in_input_order(tmp_path: Path) -> None:
    files = [("z.png", b"1"), ("a.png", b"2"), ("../../m.png", b"3")]
    folder = write_source(Rows(kind="files", files=files), tmp_path, takes_folder=True)
    assert [p.read_bytes() for p in sorted(folder.iterdir())] == [b"1", b"2", b"3"]
    assert all(p.parent == folder for p in folder.iterdir())  # no name leaves the folder
    (tmp_path / "table").mkdir()
    table = write_source(Rows(kind="files", files=[("new rows.parquet", b"PAR1")]), tmp_path / "table", False)
    assert table.name == "new_rows.parquet"
    with pytest.raises(DataError, match="This model takes one table per request; 2 files were sent"):
        write_source(Rows(kind="files", files=files[:2]), tmp_path, takes_folder=False)
    records = records_from_json([{"a": 1, "b": "x"}, {"a": None, "b": "y"}])
    csv = write_source(records, tmp_path, takes_folder=False)
    assert csv.read_text() == "a,b\n1.0,x\n,y\n"
    for bad in ({"a": 1}, [], [1, 2], [{"a": [1]}]):
        with pytest.raises(DataError):
            records_from_json(bad)
