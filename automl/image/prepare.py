"""An image study before its search: load and check the images, find pretrained weights, hold out
the test images, and build what the trials receive: a `prepared.Prepared`, as for a table. The image
modality (`automl/modalities/image/`) calls it from `study.prepare`."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import IO

from PIL import Image

from automl.config import StudyConfig
from automl.data.images import IMAGE_SUFFIXES, ImageDataset, list_image_files, load_images
from automl.data.special_files import special_kind
from automl.data.splits import make_splits, resolve_test_size
from automl.errors import ConfigError
from automl.image.backbone_specs import backbone_spec
from automl.image.network import InputSize, input_size
from automl.image.trainable import MAX_SYNTH_RATIO, ImageSearchData
from automl.image.weights import find_weights, no_weights_message
from automl.metrics import default_metric, get_metric
from automl.prepared import Prepared
from automl.search.space import SearchSpace

MB = 1024 * 1024
NATIVE_SAMPLE = 200  # images whose headers are read to find the data's own size


def stored_size(backbones: list[str], sizes: InputSize | int | None) -> int:
    """The square side images are kept at: the largest input any searched backbone takes, and no more than
    the images' own side (a network that needs more upsamples inside, so nothing is stored twice as big)."""
    sizes = sizes if isinstance(sizes, InputSize) else InputSize(cap=sizes or None)
    largest = max(input_size(name, sizes) for name in backbones)
    return min(largest, sizes.native) if sizes.native else largest


def _shorter_side(file: str | Path | IO[bytes]) -> int | None:
    if isinstance(file, str | Path) and special_kind(file):  # a FIFO would block: load_images reports it
        return None
    try:
        with Image.open(file) as image:  # reads the header only
            return min(image.size)
    except Exception:  # unreadable: load_images reports it
        return None


def _evenly(items: list, n: int) -> list:
    step = max(1, len(items) // n)
    return items[::step][:n]


def native_side(source: str | Path) -> int | None:
    """The images' own size: the median shorter side of up to NATIVE_SAMPLE of them (header reads, no
    decoding), from a class folder, a .zip or a path,label CSV; None when it cannot be told."""
    path = Path(source)
    try:
        if path.is_dir():
            sides = [_shorter_side(p) for p in _evenly(list_image_files(path), NATIVE_SAMPLE)]
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [
                    n
                    for n in archive.namelist()
                    if n.lower().endswith(IMAGE_SUFFIXES) and "__MACOSX" not in n and not n.endswith("/")
                ]
                sides = []
                for name in _evenly(sorted(names), NATIVE_SAMPLE):
                    with archive.open(name) as member:
                        sides.append(_shorter_side(member))
        elif path.suffix.lower() == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
            column = next((k for k in (rows[0] if rows else {}) if k and k.strip().lower() == "path"), None)
            files = [path.parent / r[column].strip() for r in rows if column and r.get(column)]
            sides = [_shorter_side(f) for f in _evenly(files, NATIVE_SAMPLE)]
        else:
            return None
    except (OSError, zipfile.BadZipFile, csv.Error, UnicodeDecodeError):
        return None
    found = sorted(side for side in sides if side)
    return int(found[len(found) // 2]) if found else None


def resolve_weights(
    space: SearchSpace, config: StudyConfig, log
) -> tuple[SearchSpace, dict[str, dict | None], list[str]]:
    """Where each searched backbone's pretrained weights come from; backbones without any are left out
    of the search (with a note), and a space left with none raises a message saying how to add them."""
    weights: dict[str, dict | None] = {}
    missing, notes = [], []
    for name in space.choices("backbone"):
        if not backbone_spec(name).pretrained:
            weights[name] = None
            continue
        found = find_weights(name, weights_dir=config.images.weights_dir, allow_hub=config.images.allow_hub)
        if found is None:
            missing.append(name)
        else:
            weights[name] = {"kind": found.kind, "path": found.path}
    if missing and len(missing) == len(space.choices("backbone")):
        raise ConfigError(
            "None of the searched backbones has pretrained weights here. " + no_weights_message(missing[0])
        )
    if missing:
        notes.append(
            f"Left out of the search, no pretrained weights reachable: {', '.join(missing)}. "
            f"To include them: {no_weights_message(missing[0])}"
        )
        space = space.without("backbone", missing)
    for note in notes:
        log(f"note: {note}")
    return space, weights, notes


def prepare_images(config: StudyConfig, log=print) -> Prepared:
    """What an image study's search receives (see `automl.prepared.Prepared`)."""
    space = SearchSpace.load(config.space, "image")
    space, weights, weight_notes = resolve_weights(space, config, log)
    sizes = InputSize(native=native_side(config.data), cap=config.images.image_size)
    size = stored_size(space.choices("backbone") or ["small_cnn"], sizes)
    dataset: ImageDataset = load_images(
        config.data,
        size=size,
        skip_bad=config.images.skip_bad,
        max_pixels=config.images.max_pixels,
        max_archive_bytes=int(config.images.max_archive_mb * MB),
    )
    dataset.notes.extend(weight_notes)
    for note in dataset.notes[: len(dataset.notes) - len(weight_notes)]:
        log(f"note: {note}")
    metric = get_metric(
        config.metric or default_metric("classification", dataset.class_counts), "classification"
    )
    splits = make_splits(
        dataset.y,
        "classification",
        test_size=resolve_test_size(config.test_size, len(dataset.y)),
        n_folds=config.n_folds,
        n_repeats=config.n_repeats or 1,  # a trained backbone per fold is costly: no repeats by default
        seed=config.seed,
        classes=dataset.classes,
    )
    for note in splits.notes:
        log(f"note: {note}")
    fold_rows = min(len(train) for train, _ in splits.folds)
    data = ImageSearchData(
        images=dataset.images[splits.search],
        y=dataset.y[splits.search],
        classes=dataset.classes,
        folds=splits.folds,
        metric=metric.name,
        max_epochs=config.max_epochs,
        seed=config.seed,
        weights=weights,
        image_size=sizes,
        extra={
            "max_synth_ratio": space.max_value("synth_ratio", MAX_SYNTH_RATIO),
            "cpus_per_trial": config.resources.cpus_per_trial,
            "fingerprint": dataset.fingerprint,
            "sizes": {"n_rows": fold_rows, "n_features": 0, "n_classes": len(dataset.classes)},
        },
    )
    return Prepared(dataset, metric, space, splits, None, data)
