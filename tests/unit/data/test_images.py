"""Tests of automl.data.images: reading an image classification dataset from real files."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from automl.data.archive import MAX_COMPRESSION_RATIO
from automl.data.images import (
    DEFAULT_IMAGE_SIZE,
    IMAGE_SUFFIXES,
    ImageDataset,
    is_image_source,
    list_image_files,
    load_image_files,
    load_images,
    read_image,
)
from automl.data.tabular import MIN_ROWS_PER_CLASS
from automl.errors import ConfigError, DataError

SIZE = 16
COLOURS = {"cat": (200, 30, 30), "dog": (30, 200, 30), "owl": (30, 30, 200)}
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test inside its own tmp_path so that paths in messages are short."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def save(path: str | Path, colour: object = (9, 99, 199), size: tuple = (20, 14), mode: str = "RGB") -> Path:
    """Write a real image file (format from the suffix) of one colour."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(file, FORMATS.get(file.suffix.lower(), "PNG"))
    return file


def tree(root: str | Path, counts: dict[str, int], suffix: str = ".png") -> Path:
    """root/<class>/<i><suffix>, each image of its class colour, slightly varied."""
    root = Path(root)
    for label, n in counts.items():
        base = COLOURS.get(label, (100, 100, 100))
        for i in range(n):
            save(root / label / f"{i:03d}{suffix}", tuple(min(255, c + 5 * i) for c in base))
    return root


def zip_folder(folder: Path, archive: str | Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            zf.write(file, file.relative_to(folder).as_posix())
    return Path(archive)


def png_bytes(colour: object = (10, 20, 30), size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def error_of(source: object, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        load_images(source, size=SIZE, **kwargs)
    return str(info.value)


def test_folder_loads_with_shapes_labels_and_counts() -> None:
    assert DEFAULT_IMAGE_SIZE == 224 and IMAGE_SUFFIXES == (".png", ".jpg", ".jpeg", ".webp", ".bmp")
    tree("data", {"owl": 3, "cat": 4, "dog": 3})
    save("data/dog/nested/deeper/x.png", COLOURS["dog"])
    data = load_images("data", size=SIZE)
    assert isinstance(data, ImageDataset) and data.classes == ["cat", "dog", "owl"]
    assert data.images.shape == (11, SIZE, SIZE, 3) and data.images.dtype == np.uint8
    assert data.y.dtype == np.int64 and data.y.shape == (11,)
    assert list(data.class_counts.items()) == [("cat", 4), ("dog", 4), ("owl", 3)]
    assert data.n_rows == 11 and data.image_size == SIZE and data.task == "classification"
    assert data.n_skipped == 0 and data.source == "data"
    assert "dog/nested/deeper/x.png" in data.paths and data.paths[0] == "cat/000.png"
    for path, label in zip(data.paths, data.y, strict=True):
        assert path.split("/")[0] == data.classes[label]
    i = data.paths.index("owl/000.png")
    assert np.all(np.abs(data.images[i].astype(int) - COLOURS["owl"]) <= 1)


def test_every_format_and_hidden_and_other_files_ignored() -> None:
    for k, suffix in enumerate(IMAGE_SUFFIXES):
        for label in ("cat", "dog"):
            save(f"data/{label}/{k}{suffix.upper() if k == 1 else suffix}", COLOURS[label])
    save("data/cat/.hidden.png")
    save("data/.git/cat.png")
    save("data/__MACOSX/cat/._0.png")
    Path("data/cat/readme.txt").write_text("not an image")
    save("data/loose.png")
    data = load_images("data", size=SIZE)
    assert data.class_counts == {"cat": 5, "dog": 5}
    assert data.notes == ["Ignored 1 image lying directly in the root, outside class folders."]
    assert not any("hidden" in p or "MACOSX" in p or "readme" in p for p in data.paths)


def test_loading_is_deterministic_and_fingerprint_tracks_content() -> None:
    tree("data", {"cat": 3, "dog": 3}, ".jpg")
    first, second = load_images("data", size=SIZE), load_images("data", size=SIZE)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.y, second.y)
    assert first.fingerprint == second.fingerprint and len(first.fingerprint) == 64
    save("data/dog/001.jpg", (0, 0, 0))
    changed = load_images("data", size=SIZE).fingerprint
    os.rename("data/dog/001.jpg", "data/dog/009.jpg")  # same bytes, other path
    assert len({first.fingerprint, changed, load_images("data", size=SIZE).fingerprint}) == 3


def test_colour_modes_become_rgb() -> None:
    save("data/cat/grey.png", 128, mode="L")
    save("data/cat/bits.png", 1, mode="1")
    save("data/cat/la.png", (50, 0), mode="LA")  # fully transparent -> white
    Path("data/dog").mkdir()
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 20, 10))  # top half transparent
    rgba.save("data/dog/rgba.png")
    palette = Image.new("RGB", (20, 20), (0, 200, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save("data/dog/palette.png")
    clear = Image.new("P", (20, 20), 0)
    clear.putpalette([9, 9, 9, 200, 0, 0])
    clear.save("data/dog/clear.png", transparency=0)  # palette entry 0 is transparent -> white
    Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16)).save("data/dog/sixteen.png")
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save("data/cat/cmyk.jpg")
    data = load_images("data", size=SIZE)
    images = {path: image for path, image in zip(data.paths, data.images, strict=True)}
    assert all(image.shape == (SIZE, SIZE, 3) for image in images.values())
    assert np.all(images["cat/grey.png"] == 128)
    assert np.all(images["cat/bits.png"] == 255)
    assert np.all(images["cat/la.png"] == 255)
    assert np.all(images["dog/rgba.png"][:6] == 255) and np.all(images["dog/rgba.png"][-6:] == [255, 0, 0])
    assert np.all(np.abs(images["dog/palette.png"].astype(int) - [0, 200, 0]) <= 2)
    assert np.all(images["dog/sixteen.png"] == 255) and np.all(images["dog/clear.png"] == 255)
    red = images["cat/cmyk.jpg"].astype(int)
    assert red[..., 0].min() > 200 and red[..., 1:].max() < 60
    note = next(n for n in data.notes if n.startswith("Converted"))
    assert "8 images" in note and "RGBA: 1" in note and "P: 2" in note and "transparency" in note


def test_aspect_is_kept_by_a_center_crop() -> None:
    thirds = np.array([[(255, 0, 0), (0, 255, 0), (0, 0, 255)]], dtype=np.uint8)  # red, green, blue
    Image.fromarray(thirds.repeat(20, axis=0).repeat(20, axis=1)).save("wide.png")  # 60 x 20
    out = read_image("wide.png", size=SIZE).astype(int)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.int64
    assert np.all(np.abs(out[:, 2:-2] - [0, 255, 0]) <= 8)  # the middle third only, not squeezed
    tall = read_image(png_bytes((1, 2, 3), (7, 50)), size=SIZE)
    assert tall.shape == (SIZE, SIZE, 3) and tall.dtype == np.uint8 and np.all(tall == [1, 2, 3])


def test_exif_orientation_is_applied() -> None:
    halves = np.array([[(255, 0, 0), (0, 0, 255)]], dtype=np.uint8)  # left half red, right half blue
    pixels = halves.repeat(10, axis=0).repeat(10, axis=1)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the left half becomes the top
    Image.fromarray(pixels).save("turned.jpg", exif=exif, quality=95)
    out = read_image("turned.jpg", size=10).astype(int)
    assert out[1, 5, 0] > 180 and out[1, 5, 2] < 80  # top red
    assert out[8, 5, 2] > 180 and out[8, 5, 0] < 80  # bottom blue


def test_bad_parameters_are_config_errors() -> None:
    tree("data", {"cat": 3, "dog": 3})
    with pytest.raises(ConfigError, match="'size' parameter of load_images must be a positive integer"):
        load_images("data", size=0)
    with pytest.raises(ConfigError, match="max_pixels"):
        read_image("data/cat/000.png", size=8, max_pixels=-1)


def test_missing_source() -> None:
    message = error_of("nowhere")
    assert "Image data nowhere does not exist" in message and ".zip of such a folder" in message
    assert "one sub-folder per class (root/<class>/<image>)" in message and "'path' and 'label'" in message


def test_unsupported_file() -> None:
    save("photo.png")
    message = error_of("photo.png")
    assert "photo.png is not a folder, a .zip or a .csv file" in message and "'path' and 'label'" in message


def test_images_without_class_folders() -> None:
    save("flat/a.png")
    save("flat/b.png")
    message = error_of("flat")
    assert "Folder flat has no class folders (its 2 images lie directly in it)" in message
    assert "root/<class>/<image>" in message


def test_empty_folder() -> None:
    Path("empty/.cache").mkdir(parents=True)
    message = error_of("empty")
    assert "Folder empty has no class folders (it is empty)" in message and "root/<class>/<image>" in message


def test_class_folders_without_images() -> None:
    Path("data/cat").mkdir(parents=True)
    Path("data/dog/notes.txt").parent.mkdir(parents=True)
    Path("data/dog/notes.txt").write_text("x")
    assert "has no image files (.png, .jpg" in error_of("data")


def test_single_class() -> None:
    tree("data", {"cat": 5})
    message = error_of("data")
    assert "Folder data has a single class ('cat' (5 images)); classification needs at least two" in message
    assert "root/<class>/<image>" in message


def test_too_few_images_names_every_small_class() -> None:
    tree("data", {"cat": 5, "dog": 2, "owl": 1})
    Path("data/emu").mkdir()
    message = error_of("data")
    assert "too few images of classes 'dog' (2 images); 'emu' (0 images); 'owl' (1 image)" in message
    needs = f"at least {MIN_ROWS_PER_CLASS} (1 for the held-out test and 2 for 2-fold cross-validation"
    assert needs in message
    assert "'cat'" not in message


def test_all_bad_files_in_one_error() -> None:
    tree("data", {"cat": 3, "dog": 3})
    Path("data/cat/garbage.png").write_bytes(b"not an image at all")
    good = Path("data/dog/000.png").read_bytes()
    Path("data/dog/cut.png").write_bytes(good[: len(good) // 2])
    message = error_of("data")
    assert message.startswith("Cannot use 2 images of 8: cat/garbage.png (not an image that can be read")
    assert "dog/cut.png (corrupt or truncated" in message and "--skip-bad" in message


def test_long_bad_list_is_cut() -> None:
    tree("data", {"cat": 3, "dog": 3})
    for i in range(25):
        Path(f"data/cat/bad{i:02d}.jpg").write_bytes(b"\xff\xd8 broken")
    message = error_of("data")
    assert "Cannot use 25 images of 31" in message and "cat/bad19.jpg" in message
    assert "cat/bad20.jpg" not in message and "and 5 more" in message


def test_skip_bad_leaves_them_out_with_a_note() -> None:
    tree("data", {"cat": 4, "dog": 3})
    Path("data/cat/garbage.png").write_bytes(b"junk")
    Path("data/dog/empty.jpg").write_bytes(b"")
    data = load_images("data", size=SIZE, skip_bad=True)
    assert data.n_skipped == 2 and data.class_counts == {"cat": 4, "dog": 3}
    assert "cat/garbage.png" not in data.paths and data.n_rows == 7
    assert "Skipped 2 unreadable images: cat/garbage.png, dog/empty.jpg." in data.notes
    clean = load_images(tree("clean", {"cat": 4, "dog": 3}), size=SIZE)
    assert data.fingerprint == clean.fingerprint  # only the images used count


def test_class_check_runs_after_skipping() -> None:
    tree("data", {"cat": 3, "dog": 3})
    Path("data/dog/001.png").write_bytes(b"junk")
    assert "'dog' (2 images)" in error_of("data", skip_bad=True)


def test_pixel_limit() -> None:
    tree("data", {"cat": 3, "dog": 3})
    save("data/dog/big.png", size=(40, 30))
    message = error_of("data", max_pixels=1000)
    assert "dog/big.png (40 x 30 = 1,200 pixels, over the limit of 1,000 pixels)" in message
    assert "Downscale the images" in message and "--max-pixels 1200" in message
    with pytest.raises(DataError, match=r"image data/dog/big.png: 40 x 30 = 1,200 pixels.*--max-pixels 1200"):
        read_image("data/dog/big.png", size=8, max_pixels=1000)
    data = load_images("data", size=SIZE, max_pixels=1000, skip_bad=True)
    assert data.n_skipped == 1


def test_pillow_bomb_limit_gives_way_to_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow warns above this, refuses above 2x
    save("big.png", size=(30, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image("big.png", size=8, max_pixels=1000).shape == (8, 8, 3)
    assert Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(DataError, match=r"big.png: 900 pixels, over the limit of 50 pixels.*-max-pixels 900"):
        read_image("big.png", size=8, max_pixels=50)  # refused by Pillow, reported as ours


def test_read_image_errors() -> None:
    Path("bad.png").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"Cannot read the image bad.png: not an image that can be read"):
        read_image("bad.png", size=8)
    with pytest.raises(DataError, match="Cannot read the image missing.png: file not found"):
        read_image("missing.png", size=8)


def test_zip_with_a_wrapping_folder() -> None:
    tree("src/pets", {"cat": 3, "dog": 3})
    save("src/__MACOSX/pets/._x.png")
    archive = zip_folder(Path("src"), "pets.zip")
    data = load_images(archive, size=SIZE, extract_dir="out")
    assert data.classes == ["cat", "dog"] and data.paths[0] == "cat/000.png" and data.source == "pets.zip"
    assert Path("out/pets/cat/000.png").is_file()
    plain = load_images(zip_folder(Path("src/pets"), "plain.zip"), size=SIZE)
    assert np.array_equal(plain.images, data.images) and plain.fingerprint == data.fingerprint


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("../evil.png", "'..' component"),
        ("cat/../../evil.png", "'..' component"),
        ("/tmp/evil.png", "absolute"),
    ],
)
def test_zip_escaping_entries_are_refused(entry: str, why: str) -> None:
    with zipfile.ZipFile("bad.zip", "w") as zf:
        zf.writestr("cat/000.png", png_bytes())
        zf.writestr(entry, png_bytes())
    message = error_of("bad.zip", extract_dir="out/x")
    assert f"holds the entry {entry!r}, which would be written outside the extraction folder" in message
    assert why in message and "Nothing was extracted" in message
    assert not any(Path("out").rglob("*.png")) and not Path("evil.png").exists()


def test_zip_symlink_entry_is_refused() -> None:
    link = zipfile.ZipInfo("cat/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile("link.zip", "w") as zf:
        zf.writestr("cat/000.png", png_bytes())
        zf.writestr(link, "/etc/passwd")
    message = error_of("link.zip", extract_dir="out")
    assert "'cat/link.png'" in message and "symbolic link" in message
    assert not any(Path("out").rglob("*"))


def test_zip_over_the_size_limit() -> None:
    tree("src", {"cat": 3, "dog": 3})
    archive = zip_folder(Path("src"), "pets.zip")
    message = error_of(archive, max_archive_bytes=100)
    assert f"Archive pets.zip is {archive.stat().st_size} bytes, over the limit of 100 bytes" in message
    assert "--max-archive-mb 1" in message


def test_zip_unpacking_over_the_size_limit() -> None:
    with zipfile.ZipFile("bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/big.png", b"\0" * 3 * 1024 * 1024)
    size = Path("bomb.zip").stat().st_size
    message = error_of("bomb.zip", max_archive_bytes=1024 * 1024, extract_dir="out")
    assert f"Archive bomb.zip ({size} bytes) would unpack to 3.0 MB, over the limit of 1.0 MB" in message
    assert "--max-archive-mb 3" in message and not any(Path("out").rglob("*"))


def test_corrupt_zip() -> None:
    Path("broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    message = error_of("broken.zip")
    assert "Archive broken.zip is not a valid zip file" in message and "zip -r" in message
    with zipfile.ZipFile("crc.zip", "w") as zf:  # stored: flip one byte of the data, the CRC no longer fits
        zf.writestr("cat/000.png", png_bytes())
    raw = bytearray(Path("crc.zip").read_bytes())
    raw[60] ^= 0xFF
    Path("crc.zip").write_bytes(bytes(raw))
    assert "Archive crc.zip: entry 'cat/000.png' cannot be unpacked (Bad CRC-32" in error_of("crc.zip")


def test_default_extraction_folder_is_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    data = load_images(zip_folder(tree("src", {"cat": 3, "dog": 3}), "pets.zip"), size=SIZE)
    assert data.n_rows == 6 and not any((tmp_path / "tmp").iterdir())


def test_csv_with_relative_and_absolute_paths(tmp_path: Path) -> None:
    tree("set/images", {"cat": 3, "dog": 3})
    rows = [f"images/cat/{i:03d}.png,cat\n{tmp_path}/set/images/dog/{i:03d}.png,dog\n" for i in range(3)]
    Path("set/list.csv").write_text("Path,LABEL\n" + "".join(rows) + "\n")
    assert is_image_source("set/list.csv")
    data = load_images("set/list.csv", size=SIZE)
    assert data.classes == ["cat", "dog"] and data.class_counts == {"cat": 3, "dog": 3}
    assert data.paths[:2] == ["images/cat/000.png", f"{tmp_path}/set/images/dog/000.png"]
    assert data.images.shape == (6, SIZE, SIZE, 3)


def test_csv_without_path_and_label_columns() -> None:
    Path("list.csv").write_text("file,class\na.png,cat\n")
    message = error_of("list.csv")
    assert "needs a 'path' and a 'label' column (any letter case); found columns: 'file', 'class'" in message


def test_csv_missing_files_are_all_listed() -> None:
    tree("images", {"cat": 3})
    Path("list.csv").write_text("path,label\nimages/cat/000.png,cat\nnope/1.png,dog\nnope/2.png,dog\n,x\n")
    message = error_of("list.csv")
    assert "3 paths that do not exist or are empty: 'nope/1.png'; 'nope/2.png'; line 5 (no path)" in message
    assert "Relative paths start from the CSV file's folder" in message


def test_csv_single_class() -> None:
    tree("images", {"cat": 3})
    Path("list.csv").write_text("path,label\n" + "".join(f"images/cat/{i:03d}.png,cat\n" for i in range(3)))
    assert "CSV file list.csv has a single class ('cat' (3 images))" in error_of("list.csv")


def test_list_and_load_image_files_on_nested_folders() -> None:
    save("new/b.png", (1, 1, 1))
    save("new/a/deep/c.jpg", (2, 2, 2))
    save("new/a/x.webp", (3, 3, 3))
    save("new/.hidden/z.png")
    Path("new/a/notes.txt").write_text("x")
    files = list_image_files("new")
    assert [f.relative_to("new").as_posix() for f in files] == ["a/deep/c.jpg", "a/x.webp", "b.png"]
    images, names = load_image_files(files, size=SIZE, root="new")
    assert names == ["a/deep/c.jpg", "a/x.webp", "b.png"] and images.shape == (3, SIZE, SIZE, 3)
    assert images.dtype == np.uint8 and np.all(images[2] == 1)
    assert load_image_files(files[:1], size=SIZE)[1] == [os.fspath(files[0])]
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        list_image_files("nowhere")


def test_load_image_files_lists_every_bad_file() -> None:
    save("new/good.png")
    Path("new/bad.png").write_bytes(b"junk")
    save("new/huge.png", size=(50, 50))
    files = list_image_files("new") + [Path("new/gone.png")]
    with pytest.raises(DataError) as info:
        load_image_files(files, size=SIZE, max_pixels=1000, root="new")
    message = str(info.value)
    assert message.startswith("Cannot use 3 images of 4: bad.png (not an image that can be read")
    assert "huge.png (50 x 50 = 2,500 pixels" in message and "gone.png (file not found)" in message
    assert "--max-pixels 2500" in message


def test_is_image_source() -> None:
    tree("data", {"cat": 1})
    Path("table.csv").write_text("a,target\n1,x\n")
    Path("list.csv").write_text(" PATH , Label,extra\n")
    Path("notes.txt").write_text("path,label\n")
    assert is_image_source("data") and is_image_source(Path("any.zip"))
    assert is_image_source("list.csv")
    assert not is_image_source("table.csv") and not is_image_source("notes.txt")
    assert not is_image_source("missing.csv") and not is_image_source("data/cat/000.png")


def test_zip_entry_with_a_bomb_ratio_is_refused_before_unpacking() -> None:
    """Within the unpack limit, but 1000:1: refused from the headers, nothing written, nothing read."""
    with zipfile.ZipFile("ratio.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/big.bmp", b"\0" * 4 * 1024 * 1024)
    info = zipfile.ZipFile("ratio.zip").getinfo("cat/big.bmp")
    ratio = info.file_size / info.compress_size
    assert ratio > 1000
    message = error_of("ratio.zip", extract_dir="out")
    assert message == (
        f"Archive ratio.zip holds the entry 'cat/big.bmp', which unpacks from {info.compress_size} bytes to 4.0 MB "
        f"({ratio:.0f}:1, over the limit of {MAX_COMPRESSION_RATIO}:1): a zip bomb, or images stored "
        "uncompressed. Nothing was extracted. Save the images as PNG or JPEG and zip them again."
    )
    assert not any(Path("out").rglob("*"))


def test_a_small_well_compressed_entry_is_fine() -> None:
    """The ratio limit applies from 1 MB: a small blank image compresses far more, and harms nothing."""
    tree("src", {"cat": 3, "dog": 3})
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(blank, format="BMP")
    (Path("src") / "cat" / "blank.bmp").write_bytes(blank.getvalue())
    data = load_images(zip_folder(Path("src"), "pets.zip"), size=SIZE)
    assert data.class_counts == {"cat": 4, "dog": 3}
