"""The `automl` command: run a study, predict with its model, and look at stored studies.

Errors the user can fix print one message and exit with code 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from automl.config import ImageOptions, Resources, StudyConfig, parse_duration
from automl.dashboard import add_dashboard_parser
from automl.errors import AutoMLError, ConfigError, DataError, StoreError, invalid_parameter
from automl.names import RULE, check_study_id, is_study_id
from automl.summary import fmt, format_leaderboard, format_study

DEFAULT_STORAGE = os.environ.get("AUTOML_STORAGE", "studies")
DEFAULT_JOBS_ADDRESS = "http://127.0.0.1:8265"  # the head's Jobs API through `ray dashboard`'s tunnel


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    config = study_config(args)
    check_before_work(config)
    from automl.study import run_study  # torch, Ray and SDV: only once every option has passed

    study = run_study(config, log=lambda m: _err(f"[automl] {m}"))
    print(format_study(study.manifest, study.leaderboard()))
    new_data = "./new_images/" if study.manifest.get("modality") == "image" else "NEW.csv"
    print(
        f"predict with: automl predict {study.store.study_uri(study.study_id)} {new_data} -o predictions.csv"
    )
    return 0


def study_config(args: argparse.Namespace) -> StudyConfig:
    """The StudyConfig that `run` (and `submit`, for its checks) options describe."""
    return StudyConfig(
        data=args.data,
        target=args.target,
        task=args.task,
        metric=args.metric,
        trials=args.trials,
        budget_s=parse_duration(args.budget),
        seed=args.seed,
        test_size=args.test_size,
        n_folds=args.folds,
        max_epochs=args.max_epochs,
        grace_period=min(StudyConfig.grace_period, args.max_epochs),  # ASHA's grace fits in fewer epochs
        select=args.select,
        space=args.space,
        storage=args.storage,
        name=args.name,
        max_file_mb=args.max_file_mb,
        max_trial_retries=args.max_trial_retries,
        resources=Resources(
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_concurrent_trials=args.max_concurrent,
        ),
        images=ImageOptions(
            weights_dir=args.weights_dir,
            allow_hub=not args.no_hub,
            image_size=args.image_size,
            skip_bad=args.skip_bad,
            max_pixels=args.max_pixels,
            max_archive_mb=args.max_archive_mb,
        ),
    )


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
    if config.space:
        from automl.safe_yaml import read_yaml_file

        if not Path(config.space).is_file():
            kind = (
                "image" if Path(config.data).is_dir() or config.data.lower().endswith(".zip") else "tabular"
            )
            raise ConfigError(
                f"Search space file {config.space!r} does not exist. Copy search_spaces/{kind}.yaml and edit it."
            )
        read_yaml_file(config.space)  # size, nesting and alias limits; the full check follows in the study


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

    check_before_work(study_config(args), storage=False)  # fail here, not on the cluster
    run_args = []
    for option, attr in _FORWARDED:
        value = getattr(args, attr)
        if value is not None:
            run_args += [option, str(value)]
    study_id = jobs.new_study_id(args.storage, args.data, args.name)
    job_id = jobs.submit(
        args.address,
        args.data,
        run_args,
        storage=args.storage,
        study_id=study_id,
        space=args.space,
        max_upload_mb=args.max_upload_mb,
    )
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
    from automl.predict import predict_file, predict_images, resolve_model

    model = resolve_model(args.model, args.storage)
    if model.info.get("modality") == "image":
        predictions, notes = predict_images(model, args.data, args.output)
    else:
        predictions, notes = predict_file(
            model, args.data, args.output, max_bytes=int(args.max_file_mb * 1024 * 1024)
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


# (option, attribute) pairs that `automl submit` passes on to `automl run` on the cluster
_FORWARDED = [
    ("--target", "target"),
    ("--task", "task"),
    ("--metric", "metric"),
    ("--trials", "trials"),
    ("--budget", "budget"),
    ("--seed", "seed"),
    ("--test-size", "test_size"),
    ("--folds", "folds"),
    ("--max-epochs", "max_epochs"),
    ("--select", "select"),
    ("--max-file-mb", "max_file_mb"),
    ("--cpus-per-trial", "cpus_per_trial"),
    ("--gpus-per-trial", "gpus_per_trial"),
    ("--max-concurrent", "max_concurrent"),
    ("--max-trial-retries", "max_trial_retries"),
    ("--image-size", "image_size"),
    ("--max-pixels", "max_pixels"),
    ("--max-archive-mb", "max_archive_mb"),
]


def add_study_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "data",
        help="CSV or Parquet file (a table), or images: a folder with one subfolder per class, a .zip of one, "
        "or a CSV of path,label",
    )
    run.add_argument("--target", help="the column to predict (tables; images take their labels from folders)")
    run.add_argument(
        "--task", choices=["classification", "regression"], help="inferred from the target by default"
    )
    run.add_argument(
        "--metric", help="accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss; rmse, mae, r2"
    )
    run.add_argument("--trials", type=int, default=30, help="number of trials (default 30)")
    run.add_argument(
        "--budget",
        default="10m",
        help="wall-clock budget of the whole study, e.g. 90s, 10m, 1h (default 10m); no trial takes more "
        "than a tenth of it",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--test-size",
        type=float,
        default=None,
        help="hold out this fraction as a one-shot test (default: none below 2,000 rows, else 0.2; 0: none)",
    )
    run.add_argument("--folds", type=int, default=5, help="inner cross-validation folds (default 5)")
    run.add_argument("--max-epochs", type=int, default=100)
    run.add_argument(
        "--select",
        default="one_se_min_gap",
        help="selection rule: one_se_min_gap (default), best_validation or ensemble",
    )
    run.add_argument("--space", help="search space YAML (default: search_spaces/tabular.yaml)")
    run.add_argument("--name", help="study id (default: derived from the file name and time)")
    run.add_argument("--max-file-mb", type=float, default=200.0)
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="e.g. 0.25: four trials share one GPU (default: 0.25 when the cluster has GPUs, else 0)",
    )
    run.add_argument(
        "--max-concurrent", type=int, default=None, help="trials at once (default: CPUs / cpus-per-trial)"
    )
    run.add_argument(
        "--max-trial-retries", type=int, default=2, help="retries of a crashing trial (default 2)"
    )
    images = run.add_argument_group("images")
    images.add_argument(
        "--weights-dir",
        help="pretrained backbone weights: <backbone>.safetensors or .pth files, or <backbone>/ folders",
    )
    images.add_argument("--no-hub", action="store_true", help="never download weights from the timm/HF hub")
    images.add_argument("--image-size", type=int, help="cap on the backbones' input size, e.g. 128 on a CPU")
    images.add_argument("--skip-bad", action="store_true", help="skip unreadable images instead of stopping")
    images.add_argument(
        "--max-pixels", type=int, default=50_000_000, help="largest image accepted, in pixels"
    )
    images.add_argument("--max-archive-mb", type=float, default=2048.0, help="largest .zip accepted")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automl", description="AutoML for small datasets.")
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
    return parser


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
    sys.exit(main())
