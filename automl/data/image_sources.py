"""Where an image dataset's files are and which class each has, checked without decoding any image: class
folders, a .zip of them (read from the archive's headers, before anything is unpacked), or a CSV of
path,label. `check_image_source` runs these checks before torch and timm are imported, so that a
misplaced folder is refused in a second; `images.load_images` runs them again as it reads.

Every problem a user can fix is a ``DataError`` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from automl.data.archive import check_archive
from automl.data.messages import listing, plural
from automl.data.special_files import TooLarge, read_limited, special_kind
from automl.data.tabular import MIN_ROWS_PER_CLASS
from automl.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

LAYOUT = "root/<class>/<image>"
_FORMS = (
    f"a folder with one sub-folder per class ({LAYOUT}), a .zip of such a folder, "
    "or a CSV file with 'path' and 'label' columns"
)
MAX_CSV_LISTING_BYTES = 64 * 1024 * 1024  # a path,label listing of a million images fits
_HEADER_BYTES = 64 * 1024  # where a CSV's header line is looked for
_MAX_BAD_LISTED = 20  # longest list of bad files (or small classes) spelled out in a message
Entry = tuple[str, Path, str]  # (path relative to the dataset root, file, label)


def _visible(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"


def _bad_list(items: list[str]) -> str:
    """Join up to _MAX_BAD_LISTED items with '; ', then 'and N more'."""
    shown = "; ".join(items[:_MAX_BAD_LISTED])
    return shown if len(items) <= _MAX_BAD_LISTED else f"{shown}; and {len(items) - _MAX_BAD_LISTED} more"


def is_image_source(path: str | os.PathLike) -> bool:
    """True for a directory, a .zip, or a CSV whose header has `path` and `label` columns (case-insensitive)."""
    file = Path(path)
    if file.is_dir() or file.suffix.lower() == ".zip":
        return True
    if file.suffix.lower() != ".csv" or not file.is_file():
        return False
    try:
        with open(file, "rb") as handle:
            start = handle.read(_HEADER_BYTES).decode("utf-8-sig", errors="replace")  # a header, not the file
        header = next(csv.reader(io.StringIO(start.splitlines()[0] if start else "")), [])
    except (OSError, csv.Error):
        return False
    return {"path", "label"} <= {name.strip().lower() for name in header}


def _walk_images(folder: Path) -> list[Path]:
    """Image files under folder (recursive, hidden and __MACOSX skipped), sorted by relative path."""
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if _visible(d)]
        found += [Path(top, f) for f in files if _visible(f) and f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """Every image file under folder, recursively, sorted (hidden files and __MACOSX skipped)."""
    if not Path(folder).is_dir():
        raise DataError(
            f"Image folder {os.fspath(folder)} does not exist or is not a folder. Check the path."
        )
    return _walk_images(Path(folder))


def _scan_folder(root: Path, where: str) -> tuple[list[Entry], list[str], list[str]]:
    """Entries, class names (every visible sub-folder) and notes of an ImageFolder tree."""
    children = sorted(p for p in root.iterdir() if _visible(p.name))
    class_dirs = [p for p in children if p.is_dir()]
    n_loose = sum(1 for p in children if not p.is_dir() and p.suffix.lower() in IMAGE_SUFFIXES)
    entries = [(p.relative_to(root).as_posix(), p, d.name) for d in class_dirs for p in _walk_images(d)]
    return (
        entries,
        [p.name for p in class_dirs],
        _layout_notes(where, [p.name for p in class_dirs], len(entries), n_loose),
    )


def _layout_notes(where: str, classes: list[str], n_images: int, n_loose: int) -> list[str]:
    """The notes of a class-folder layout, or the DataError of one that has no class folders or no
    images in them."""
    layout = f"Put the images of each class in its own sub-folder: {LAYOUT} (e.g. cat/001.png, dog/001.png)."
    if not classes:
        found = f"its {plural(n_loose, 'image')} lie directly in it" if n_loose else "it is empty"
        raise DataError(f"{where} has no class folders ({found}). {layout}")
    if not n_images:
        raise DataError(
            f"{where} has no image files ({', '.join(IMAGE_SUFFIXES)}) in its class folders "
            f"{listing([repr(name) for name in classes])}. {layout} Convert other formats to PNG or JPEG."
        )
    notes = [f"Ignored {plural(n_loose, 'image')} lying directly in the root, outside class folders."]
    return notes[:n_loose]


def _zip_classes(names: list[str], where: str) -> dict[str, int]:
    """Images per class of a .zip from its entry names, as `_dataset_root` and `_scan_folder` will find
    them once it is unpacked (a single wrapping folder unwrapped, hidden entries and __MACOSX skipped)."""
    files = [n for n in names if not n.endswith("/")]
    dirs = {n.rstrip("/") for n in names if n.endswith("/")}
    dirs |= {"/".join(f.split("/")[:i]) for f in files for i in range(1, f.count("/") + 1)}
    top = {d.split("/")[0] for d in dirs if _visible(d.split("/")[0])}
    images = [f for f in files if all(map(_visible, f.split("/"))) and f.lower().endswith(IMAGE_SUFFIXES)]
    prefix = ""
    if len(top) == 1 and not any("/" not in f for f in images):
        only = next(iter(top))
        if any(d.count("/") == 1 and d.startswith(f"{only}/") and _visible(d.split("/")[1]) for d in dirs):
            prefix = f"{only}/"
    classes = sorted(
        {d[len(prefix) :].split("/")[0] for d in dirs if d.startswith(prefix) and d != prefix.rstrip("/")}
    )
    classes = [c for c in classes if c and _visible(c)]
    counts = dict.fromkeys(classes, 0)
    n_loose = 0
    for name in images:
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split("/")
        if len(parts) == 1:
            n_loose += 1
        elif parts[0] in counts:
            counts[parts[0]] += 1
    _layout_notes(where, classes, sum(counts.values()), n_loose)
    return counts


def source_kind(file: Path) -> str | None:
    """'Folder', 'Archive' or 'CSV file': how an image source is read (None: none of them)."""
    return "Folder" if file.is_dir() else {".zip": "Archive", ".csv": "CSV file"}.get(file.suffix.lower())


def missing_source_error(src: str) -> DataError:
    return DataError(
        f"Image data {src} does not exist. Check the path (relative paths start from {os.getcwd()}). "
        f"Give {_FORMS}."
    )


def not_a_source_error(src: str) -> DataError:
    return DataError(f"Image data {src} is not a folder, a .zip or a .csv file. Give {_FORMS}.")


def check_image_source(source: str | os.PathLike, *, max_archive_bytes: int, skip_bad: bool = False) -> None:
    """Everything about an image source that needs no decoding: it exists and is a folder, a .zip or a
    path,label CSV (a regular file); the archive's headers pass archive.py's checks; the layout has class
    folders with images, each a regular file (a FIFO would block its reader; `skip_bad` leaves such files
    to be skipped); every class has enough images. Fast, and free of torch and timm."""
    src = os.fspath(source)
    file = Path(src)
    if not file.exists():
        raise missing_source_error(src)
    kind = source_kind(file)
    if kind is None:
        raise not_a_source_error(src)
    special = None if kind == "Folder" else special_kind(src)
    if special:
        raise DataError(f"Image data {src} is {special}, not a regular file. Give {_FORMS}.")
    where = f"{kind} {src}"
    if kind == "Archive":  # its entries are unpacked to regular files: links are refused
        with check_archive(file, src, max_archive_bytes) as archive:
            counts = _zip_classes([info.filename for info in archive.infolist()], where)
        check_classes(counts, where, False)
        return
    if kind == "Folder":
        entries, classes, _ = _scan_folder(file, where)
    else:
        entries, classes = _read_csv_listing(file, src)
    special = [f"{name} ({why})" for name, path, _ in entries if (why := special_kind(path))]
    if special and not skip_bad:
        raise DataError(
            f"{where} holds {plural(len(special), 'image file')} that {'is' if len(special) == 1 else 'are'} "
            f"not a regular file: {_bad_list(special)}. Replace {'it' if len(special) == 1 else 'them'} with "
            "the image itself, or pass --skip-bad to leave such files out."
        )
    counts = dict.fromkeys(classes, 0)
    for *_, label in entries:
        counts[label] += 1
    check_classes(counts, where, kind == "CSV file")


def _read_csv_listing(file: Path, source: str) -> tuple[list[Entry], list[str]]:
    """Entries and sorted class names of a CSV with path and label columns."""
    special = special_kind(file)
    if special:
        raise DataError(f"CSV file {source} is {special}, not a regular file. Give a path,label CSV file.")
    try:
        text = read_limited(file, MAX_CSV_LISTING_BYTES).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except TooLarge:
        raise DataError(
            f"CSV file {source} is over the limit of {MAX_CSV_LISTING_BYTES // 1024 // 1024} MB for a "
            "path,label listing. Split the dataset, or list only the images you train on."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"Cannot read CSV file {source} ({exc}). Check that you may read it, and save it as UTF-8 text."
        ) from exc
    header = [name.strip().lower() for name in rows[0]] if rows else []
    if "path" not in header or "label" not in header:
        found = listing([repr(name) for name in rows[0]]) if header else "none"
        raise DataError(
            f"CSV file {source} needs a 'path' and a 'label' column (any letter case); found columns: {found}. "
            "Add a header line 'path,label' and one row per image."
        )
    columns = header.index("path"), header.index("label")
    entries: list[Entry] = []
    missing = []
    for line, row in enumerate(rows[1:], start=2):
        path, label = (row[i].strip() if i < len(row) else "" for i in columns)
        full = Path(path) if os.path.isabs(path) else file.parent / path
        if path and label and full.is_file():
            entries.append((path, full, label))
        elif any(cell.strip() for cell in row):  # blank lines are fine
            missing.append(
                repr(path) if path and label else f"line {line} (no {'label' if path else 'path'})"
            )
    if missing:
        raise DataError(
            f"CSV file {source} lists {plural(len(missing), 'path')} that do not exist or are empty: "
            f"{_bad_list(missing)}. Relative paths start from the CSV file's folder ({file.parent}); "
            "fix the paths or add the files."
        )
    if not entries:
        raise DataError(f"CSV file {source} lists no images. Add one row per image: path,label.")
    return entries, sorted({label for *_, label in entries})


def _dataset_root(dest: Path) -> Path:
    """The root of an unpacked archive's class folders: a single wrapping folder is unwrapped."""
    children = [p for p in dest.iterdir() if _visible(p.name)]
    dirs = [p for p in children if p.is_dir()]
    loose = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in children)
    wrapped = len(dirs) == 1 and not loose and any(p.is_dir() and _visible(p.name) for p in dirs[0].iterdir())
    return dirs[0] if wrapped else dest


def check_classes(counts: dict[str, int], where: str, csv_input: bool) -> None:
    if len(counts) < 2:
        what = ", ".join(f"{c!r} ({plural(n, 'image')})" for c, n in counts.items()) or "none"
        fix = "add rows of other classes" if csv_input else f"add a sub-folder per other class: {LAYOUT}"
        raise DataError(
            f"{where} has a single class ({what}); classification needs at least two. Check the labels, or {fix}."
        )
    rare = [f"{c!r} ({plural(n, 'image')})" for c, n in counts.items() if n < MIN_ROWS_PER_CLASS]
    if rare:
        one = len(rare) == 1
        raise DataError(
            f"{where} has too few images of class{'' if one else 'es'} {_bad_list(rare)}; every class needs at "
            f"least {MIN_ROWS_PER_CLASS} (1 for the held-out test and 2 for 2-fold cross-validation on the rest). "
            f"Add images of {'that class' if one else 'those classes'}, or remove or merge "
            f"{'it' if one else 'them'} into a similar class."
        )
