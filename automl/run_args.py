"""The one conversion between a StudyConfig and the `automl run` command line, both ways.

- `add_study_options(parser)` declares the study's options (shared by `automl run` and `automl submit`);
- `study_config(args)` reads the parsed options into a StudyConfig;
- `run_arguments(config)` writes the `automl run` arguments that parse back to an equal StudyConfig.

`automl submit` builds its job's entrypoint with `run_arguments`, the dashboard's launcher builds its
`automl run` command with it, and the tests check that the two directions agree for every field.
"""

from __future__ import annotations

import argparse
import math
from decimal import Decimal

from automl.config import ImageOptions, Resources, StudyConfig, parse_duration
from automl.errors import invalid_parameter
from automl.metrics import METRICS
from automl.search.selection import DEFAULT_RULE, RULES


def add_study_options(run: argparse.ArgumentParser) -> None:
    """The options of `automl run` (and `automl submit`) that describe one study, less --storage."""
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
        "--metric",
        help="classification: "
        + ", ".join(METRICS.names("classification"))
        + "; regression: "
        + ", ".join(METRICS.names("regression"))
        + " (default: accuracy, balanced_accuracy when the classes are imbalanced, rmse)",
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
    run.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repetitions of the inner folds (default: repeated when the data is tiny)",
    )
    run.add_argument("--max-epochs", type=int, default=100)
    run.add_argument(
        "--grace-period",
        type=int,
        default=None,
        help=f"epochs every trial gets before ASHA may stop it (default {StudyConfig.grace_period}, "
        "at most --max-epochs)",
    )
    run.add_argument(
        "--select",
        default=DEFAULT_RULE,
        help="selection rule (default %(default)s): "
        + "; ".join(f"{e.name}: {e.description.rstrip('.')}" for e in RULES.entries()).replace("%", "%%"),
    )
    run.add_argument(
        "--export",
        choices=("bag", "refit"),
        default="bag",
        help="the exported model (default %(default)s): bag = the chosen candidate's networks of the fresh "
        "folds, averaged (the predictor its estimate measured); refit = trained again on every row",
    )
    run.add_argument("--space", help="search space YAML (default: search_spaces/tabular.yaml)")
    run.add_argument("--name", help="study id (default: derived from the file name and time)")
    run.add_argument("--max-file-mb", type=float, default=200.0)
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="e.g. 0.25: four trials share one GPU (default: 0.24 when the cluster has GPUs, leaving room for the shared feature extraction, else 0)",
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


def study_config(args: argparse.Namespace) -> StudyConfig:
    """The StudyConfig that the parsed `run` (or `submit`) options describe."""
    grace = args.grace_period
    if grace is None:  # ASHA's grace fits in fewer epochs
        grace = min(StudyConfig.grace_period, args.max_epochs)
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
        n_repeats=args.repeats,
        max_epochs=args.max_epochs,
        grace_period=grace,
        select=args.select,
        export=getattr(args, "export", "bag"),
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


def study_options(config: StudyConfig) -> list[str]:
    """`run_arguments(config)` without the data file: the options alone (`--option value`).

    An unset field (None) is left out, so `automl run` applies its own default (a study that decides
    its test set by size, say); every other field is written, whatever its value.
    """
    res, img = config.resources, config.images
    valued = [
        ("--target", config.target),
        ("--task", config.task),
        ("--metric", config.metric),
        ("--trials", _integer("trials", config.trials)),
        ("--budget", _duration(config.budget_s)),
        ("--seed", _integer("seed", config.seed)),
        ("--test-size", _number("test_size", config.test_size)),
        ("--folds", _integer("n_folds", config.n_folds)),
        ("--repeats", _integer("n_repeats", config.n_repeats)),
        ("--max-epochs", _integer("max_epochs", config.max_epochs)),
        ("--grace-period", _integer("grace_period", config.grace_period)),
        ("--select", config.select),
        ("--export", config.export),
        ("--space", config.space),
        ("--storage", config.storage),
        ("--name", config.name),
        ("--max-file-mb", _number("max_file_mb", config.max_file_mb)),
        ("--max-trial-retries", _integer("max_trial_retries", config.max_trial_retries)),
        ("--cpus-per-trial", _number("cpus_per_trial", res.cpus_per_trial)),
        ("--gpus-per-trial", _number("gpus_per_trial", res.gpus_per_trial)),
        ("--max-concurrent", _integer("max_concurrent_trials", res.max_concurrent_trials)),
        ("--weights-dir", img.weights_dir),
        ("--image-size", _integer("image_size", img.image_size)),
        ("--max-pixels", _integer("max_pixels", img.max_pixels)),
        ("--max-archive-mb", _number("max_archive_mb", img.max_archive_mb)),
    ]
    args = []
    for option, value in valued:
        if value is None:
            continue
        # a value that starts with "-" would be read as an option: it goes in the same word
        args += [f"{option}={value}"] if value.startswith("-") else [option, value]
    if not img.allow_hub:
        args.append("--no-hub")
    if img.skip_bad:
        args.append("--skip-bad")
    return args


def run_arguments(config: StudyConfig) -> list[str]:
    """The `automl run` arguments (after `run`) that parse back to a StudyConfig equal to `config`.

    The data file comes last, after `--`, so that a file named like an option stays the data file.
    """
    return [*study_options(config), "--", config.data]


def _integer(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_parameter(name, "StudyConfig", "an integer", value)
    return str(value)


def _number(name: str, value: object) -> str | None:
    """A number as text that reads back to the same float (no exponent, no rounding)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_parameter(name, "StudyConfig", "a number", value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return repr(value)  # "inf", "nan": float() reads them; validate() says whether they are allowed
    text = format(Decimal(repr(value)), "f")  # repr is the shortest text that reads back exactly
    return text.removesuffix(".0")


def _duration(seconds: object) -> str:
    """A budget in seconds as `automl run --budget` reads it: e.g. 90 -> '90s'."""
    if (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and math.isfinite(seconds)
        and seconds > 0
    ):
        return f"{_number('budget_s', seconds)}s"
    raise invalid_parameter("budget_s", "StudyConfig", "a positive, finite number of seconds", seconds)
