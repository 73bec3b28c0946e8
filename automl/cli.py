"""The `automl` command: run a study, predict with its model, and look at stored studies.

Errors the user can fix print one message and exit with code 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import NoReturn

from automl.config import StudyConfig
from automl.dashboard import add_dashboard_parser
from automl.errors import AutoMLError, DataError, StoreError, invalid_parameter
from automl.modalities import detect, modality
from automl.names import RULE, check_study_id, is_study_id
from automl.run_args import add_study_options, study_config
from automl.service.command import add_serve_parser
from automl.summary import fmt, format_leaderboard, format_study

DEFAULT_STORAGE = os.environ.get("AUTOML_STORAGE", "studies")
DEFAULT_JOBS_ADDRESS = "http://127.0.0.1:8265"  # the head's Jobs API through `ray dashboard`'s tunnel


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    started = time.time()  # --budget counts from here: the imports below are part of the study
    config = study_config(args)
    check_before_work(config)
    from automl.study import run_study  # torch, Ray and SDV: only once every option has passed

    study = run_study(config, log=lambda m: _err(f"[automl] {m}"), started=started)
    print(format_study(study.manifest, study.leaderboard()))
    new_data = modality(study.manifest.get("modality")).new_data
    print(
        f"predict with: automl predict {study.store.study_uri(study.study_id)} {new_data} -o predictions.csv"
    )
    return 0


def check_before_work(config: StudyConfig, *, storage: bool = True) -> None:
    """Every option, the search-space file and the store, checked before anything heavy (torch, Ray,
    SDV) is imported, so that a bad option never costs a search or leaves a "failed" study behind."""
    if config.name is not None:
        check_study_id(config.name, "name", "StudyConfig")
    if storage:  # before validate(): the selection registry's imports are the slowest part of the checks
        from automl.store import Store

        store = Store(config.storage)
        store.check_writable()
        if config.name and store.exists(config.name):
            raise StoreError(f"Study {config.name!r} already exists in {store.uri}. Choose another --name.")
    config.validate()
    data = Path(config.data)
    if data.is_dir() and config.target is not None:
        from automl.data.tabular import SUPPORTED_EXTENSIONS

        if data.suffix.lower() in SUPPORTED_EXTENSIONS:
            raise DataError(
                f"Data {config.data} is a folder, not a table file, although its name ends in {data.suffix!r}. "
                "A folder is read as images (one sub-folder per class), which take no --target: give the "
                "table's file, or drop --target to search the folder's images."
            )
    source = detect(config.data, config.target)
    if config.space:
        from automl.safe_yaml import read_yaml_file
        from automl.search.space import check_space_file

        check_space_file(Path(config.space), source.name)
        read_yaml_file(config.space)  # size, nesting and alias limits; the full check follows in the study
    source.check(config)  # the data itself, as far as it goes without torch or Ray


def check_study_arg(study: str, command: str) -> str:
    """A study id given on the command line, checked before anything is read."""
    return check_study_id(study, "study", f"automl {command}")


def cmd_resume(args: argparse.Namespace) -> int:
    from automl.store import Store

    check_study_arg(args.study, "resume")
    store = Store(args.storage)
    store.read_manifest(args.study)  # a missing or damaged study is reported before Ray starts
    _err(f"warning: {resume_trust_note(store, args.study, args.trust_store)}")
    from automl.study import resume_study

    study = resume_study(args.study, args.storage, log=lambda m: _err(f"[automl] {m}"))
    print(format_study(study.manifest, study.leaderboard()))
    return 0


def resume_trust_note(store, study_id: str, trusted: bool) -> str:
    """Resuming restores Ray Tune's own pickles (tuner.pkl, the searcher's state) from the store, so
    whoever can write the store can run code here. Refuse a local study that another user can write
    (unless --trust-store), and say so in every case."""
    note = (
        f"resuming restores Ray Tune's pickled state from {store.study_uri(study_id)}/tune; "
        "resume only studies in a store that only you (or people you trust) can write."
    )
    writers = [] if trusted else store.foreign_writers(study_id)
    if writers:
        more = f" (and {len(writers) - 1} more)" if len(writers) > 1 else ""
        raise StoreError(
            f"Refusing to resume study {study_id!r}: {writers[0]}{more} can be "
            "written by another user, and resuming unpickles Ray Tune's state from it. Check the files and "
            "give --trust-store if they are yours, or start a new study."
        )
    return note


def cmd_submit(args: argparse.Namespace) -> int:
    from automl import jobs

    config = study_config(args)
    check_before_work(config, storage=False)  # fail here, not on the cluster
    study_id = jobs.new_study_id(config.storage, config.data, config.name)
    # the job runs `automl run` with every option given here (automl.run_args.run_arguments)
    job_id = jobs.submit(args.address, config, study_id=study_id, max_upload_mb=args.max_upload_mb)
    print(job_id)
    _err(f"submitted study {study_id} as job {job_id} to {args.address}")
    _err(
        f"follow it: automl wait {job_id} --address {args.address}; then automl show {study_id} --storage {args.storage}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from automl import jobs

    print(jobs.status(args.address, args.job))
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    from automl import jobs

    state = jobs.wait(args.address, args.job, args.timeout)
    print(state)
    return 0 if state == "SUCCEEDED" else 1


def cmd_logs(args: argparse.Namespace) -> int:
    from automl import jobs

    print(jobs.logs(args.address, args.job), end="")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from automl import jobs

    print("stopped" if jobs.cancel(args.address, args.job) else "already finished")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if not Path(args.model).exists() and not is_study_id(args.model):
        raise invalid_parameter(
            "model",
            "automl predict",
            f"a study id ({RULE}), a study directory or a model directory",
            args.model,
        )
    from automl.data.special_files import check_output

    check_output(args.output)  # before the model and the data are read
    from automl.predict import resolve_model

    model = resolve_model(args.model, args.storage)
    predictions, notes = modality(model.info.get("modality")).predict(
        model, args.data, args.output, int(args.max_file_mb * 1024 * 1024)
    )
    for note in notes:
        _err(f"note: {note}")
    if args.output:
        _err(f"wrote {len(predictions)} predictions to {args.output}")
    else:
        print(predictions.to_csv(index=False), end="")
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    from automl.store import Store

    rows = Store(args.storage).list_studies()
    if not rows:
        print(f"no studies in {args.storage}")
        return 0
    for m in rows:
        estimate = m.get("estimate") or m.get("test_report") or {}
        print(
            f"{m['study_id']:<45} {m.get('status', '?'):<10} {m.get('metric', {}).get('name', ''):<18} "
            f"estimate {fmt(estimate.get('value', '-'))} ({estimate.get('protocol', 'held_out_test') if estimate else '-'})"
        )
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    check_study_arg(args.study, "leaderboard")
    from automl.study import Study

    board = Study.load(args.study, args.storage).leaderboard()
    print(board.to_csv(index=False) if args.csv else format_leaderboard(board, args.limit))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    check_study_arg(args.study, "show")
    from automl.study import Study

    study = Study.load(args.study, args.storage)
    if args.json:
        print(json.dumps(study.manifest, indent=2))
    else:
        board = study.leaderboard() if study.status == "completed" else None
        print(format_study(study.manifest, board))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose error for an unknown option names the nearest known one."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            known = [o for p in _parsers(self) for a in p._actions for o in a.option_strings]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
                if word.startswith("--") and close:
                    message += f" (did you mean {close[0]}?)"
                    break
        super().error(message)


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and every sub-command's parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="automl", description="AutoML for small datasets.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a study on a table (CSV, Parquet) or on images (folder, .zip)")
    add_study_options(run)
    run.set_defaults(func=cmd_run)

    predict = sub.add_parser("predict", help="predict with a study's model")
    predict.add_argument("model", help="study id, study directory or model directory")
    predict.add_argument("data", help="CSV or Parquet file with the feature columns, or a folder of images")
    predict.add_argument("-o", "--output", help="write predictions to this CSV (default: stdout)")
    predict.add_argument("--max-file-mb", type=float, default=200.0)
    predict.set_defaults(func=cmd_predict)

    resume = sub.add_parser("resume", help="continue a study whose run was interrupted")
    resume.add_argument("study")
    resume.add_argument(
        "--trust-store",
        action="store_true",
        help="resume even if another user can write the study's files (they are unpickled)",
    )
    resume.set_defaults(func=cmd_resume)

    submit = sub.add_parser("submit", help="run a study on a Ray cluster as a Ray Job")
    add_study_options(submit)
    submit.add_argument(
        "--max-upload-mb", type=float, default=100.0, help="largest data file a job may carry"
    )
    submit.set_defaults(func=cmd_submit)
    job_commands = []
    for name, func, text in [
        ("status", cmd_status, "a submitted job's status"),
        ("wait", cmd_wait, "wait for a submitted job to end; exit 0 if it succeeded"),
        ("logs", cmd_logs, "a submitted job's logs"),
        ("cancel", cmd_cancel, "stop a submitted job"),
    ]:
        job = sub.add_parser(name, help=text)
        job.add_argument("job", help="the job id printed by `automl submit`")
        job.set_defaults(func=func)
        job_commands.append(job)
    job_commands[1].add_argument(
        "--timeout", type=float, default=None, help="give up after this many seconds"
    )
    for command in (submit, *job_commands):
        command.add_argument(
            "--address",
            default=os.environ.get("RAY_API_SERVER_ADDRESS", DEFAULT_JOBS_ADDRESS),
            help="Ray dashboard / Jobs API address (default http://127.0.0.1:8265, e.g. through an SSH tunnel)",
        )

    studies = sub.add_parser("studies", help="list the studies in a store")
    studies.set_defaults(func=cmd_studies)

    board = sub.add_parser("leaderboard", help="a study's trials, best first")
    board.add_argument("study")
    board.add_argument("--limit", type=int, default=30)
    board.add_argument("--csv", action="store_true", help="print every column as CSV")
    board.set_defaults(func=cmd_leaderboard)

    show = sub.add_parser("show", help="a study's summary, chosen configuration and test report")
    show.add_argument("study")
    show.add_argument("--json", action="store_true", help="print the manifest")
    show.set_defaults(func=cmd_show)

    for command in (run, predict, studies, board, show, resume, submit):
        command.add_argument(
            "--storage",
            default=DEFAULT_STORAGE,
            help="study store: a directory or s3:// URI (default ./studies)",
        )
    add_dashboard_parser(sub)  # adds its own --storage, --host, --port, --password-file
    add_serve_parser(sub)  # the HTTP service (automl/service/): its own --storage, --host, --token-file
    return parser


def entry() -> None:
    """The `automl` console command: `main()`, then exit without Python's module teardown.

    Every exit handler still runs (Ray's shutdown, log flushing, file locks); only the teardown after
    them is skipped, which with torch and Ray loaded takes 1-2 s once the work is done."""
    status = [1]  # an uncaught exception exits with 1, as Python's own exit would
    atexit.register(_exit_now, status)  # registered first, so it runs after every other handler
    try:
        status[0] = main()
    except SystemExit as exc:  # argparse: 0 after --help, 2 for a bad option (os._exit would lose it)
        status[0] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BrokenPipeError:  # the reader went away (`automl studies | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush there
    sys.exit(status[0])


def _exit_now(status: list[int]) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`automl studies | head`)
            stream.flush()
    os._exit(status[0])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        return args.func(args)
    except AutoMLError as exc:
        _err(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    entry()
