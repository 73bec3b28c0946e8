"""The dashboard on a REAL tiny image study: Studies and Study pages with AppTest, the New study page's zip
check, and the plain functions behind them (leaderboard, techniques, importance, previews, model card)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from automl.cli import build_parser
from automl.config import ImageOptions, StudyConfig
from automl.data.images import load_images
from automl.errors import DataError
from automl.service import uploads
from automl.store import Store
from tests.helpers import FAST_IMAGE_SPACE
from tests.ui.conftest import APP, IMAGE_STUDY
from ui.lib import image_views, importance, launcher, leaderboard, model_card, techniques
from ui.lib.auth import SESSION_KEY

TIMEOUT = 60
TOKEN = "0123456789abcdef"
POLICIES = FAST_IMAGE_SPACE["parameters"]["augment"]["values"]


def _app(page: str | None = None, study: str | None = None) -> AppTest:
    """The dashboard, logged in, on `page` (a path under ui/), run once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[SESSION_KEY] = True
    if page:
        at.run().switch_page(page)
    if study:
        at.query_params["study"] = study
    return at.run()


def _texts(at, *kinds: str) -> str:
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_studies_page_lists_the_image_study(image_env):
    at = _app()
    assert not at.exception
    row = at.dataframe[0].value.set_index("study").loc[IMAGE_STUDY]
    assert (row["status"], row["modality"], row["rows/images"], row["task"]) == (
        "completed",
        "image",
        32,
        "classification",
    )


def test_study_page_of_an_image_study(image_env):
    manifest = image_env.store.read_manifest(IMAGE_STUDY)
    chosen, best = manifest["selection"]["trial"], manifest["best"]["config"]
    at = _app("views/study.py", IMAGE_STUDY)
    assert not at.exception
    assert "32 images (48 px)" in _texts(at, "caption")

    board = at.dataframe[0].value
    assert len(board) == manifest["trials"]["total"] == 3
    assert list(board.loc[board["chosen"], "trial"]) == [chosen]
    params = list(
        board.columns[list(board.columns).index("in_band") + 1 :][: len(leaderboard.IMAGE_MAIN_PARAMS)]
    )
    assert params == list(leaderboard.IMAGE_MAIN_PARAMS)  # backbone, transfer, augment ... first
    assert "synth_recon_loss" in board

    groups = next(d.value for d in at.dataframe if "technique" in d.value.columns)
    assert {"backbone", "transfer policy", "augmentation policy", "synthetic data method"} <= set(
        groups["technique"]
    )
    assert "Parameter importance needs at least 5 scored trials" in _texts(at, "info")

    labels = [tab.label for tab in at.tabs]
    assert "Augmentation previews" in labels and "Synthetic data" not in labels
    previews = at.tabs[labels.index("Augmentation previews")]
    assert [image.captions[0].split(":")[0] for image in previews.image] == POLICIES  # one per policy
    assert "mean VAE reconstruction loss" in [m.label for m in previews.metric]

    estimated = at.tabs[labels.index("Estimate")]
    head = manifest["estimate"]
    assert head["protocol"] == "out_of_fold" and head["n_rows"] == 32
    assert "over 32 images" in _texts(estimated, "markdown")
    assert "Calibration, out of fold" in _texts(estimated, "markdown")  # labels read back from the folders
    assert all(f"Note: {note}" in _texts(estimated, "warning") for note in head.get("notes") or [])
    baselines = next(d.value for d in estimated.dataframe if "model" in d.value.columns)
    assert list(baselines["model"])[1:] == ["baseline: majority", "baseline: logistic_regression"]

    card = _texts(at.tabs[labels.index("Model")], "markdown")
    assert f"Model card: study {IMAGE_STUDY}" in card and f"**Backbone:** `{best['backbone']}`" in card
    assert (
        "**Pretrained weights:**" in card and "**Transfer:**" in card and "normalizes them with mean" in card
    )
    assert at.get("download_button"), "the model zip download is offered"


def test_new_study_rejects_a_zip_without_class_folders_like_the_cli(image_env, monkeypatch):
    monkeypatch.setattr(uploads.secrets, "token_hex", lambda n=8: TOKEN)
    flat = _zip({"a.png": _png(0), "b.png": _png(128), "c.png": _png(255)})
    at = _app("views/new_study.py")
    at.get("file_uploader")[0].upload("flat photos.zip", flat, "application/zip")
    at.run()
    assert not at.exception
    with pytest.raises(KeyError):
        at.get_by_key("target")  # labels come from folders: no target to choose
    at.button[0].click().run()  # the form's submit button

    saved = image_env.root / "_uploads" / TOKEN / "flat_photos.zip"
    assert not saved.parent.exists(), "the rejected upload is removed"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(flat)
    try:
        with pytest.raises(DataError, match="has no class folders") as expected:
            load_images(saved, size=64)  # what `automl run` says about the same file
    finally:
        saved.unlink()
        saved.parent.rmdir()
    assert _texts(at, "error") == f"error: {expected.value}"


def test_a_zip_of_class_folders_is_accepted_and_launched_without_target(image_store, tmp_path):
    files = {
        p.relative_to(image_store.data).as_posix(): p.read_bytes() for p in image_store.data.rglob("*.png")
    }
    store_root = tmp_path / "store"
    config = StudyConfig(data="", storage=str(store_root), images=ImageOptions(image_size=64))
    entry = launcher.submit(Store(store_root), "my photos.zip", _zip(files), config)
    assert entry.study_id.startswith("my_photos-") and entry.config.get("target") is None
    path = entry.config["data"]
    assert path.endswith("my_photos.zip") and Path(path).is_file()  # kept in the store for the queue
    options = launcher.study_options(config)
    assert "--target" not in options
    args = build_parser().parse_args(["run", *launcher.run_arguments(config, path)])
    assert (args.data, args.target, args.image_size) == (path, None, 64)


def test_image_leaderboard_techniques_importance_and_previews(image_store):
    store = image_store.store
    manifest = store.read_manifest(IMAGE_STUDY)
    board = store.read_table(IMAGE_STUDY, "report/trials.parquet")
    frame = leaderboard.display_frame(board, manifest)
    assert frame["estimate"].notna().sum() == 1 and "test_score" not in frame and "setup_seconds" in frame

    groups = techniques.technique_groups(board, "image")
    expected = {
        "backbone",
        "transfer policy",
        "augmentation policy",
        "synthetic data method",
        "synthetic images per real image",
        "dropout",
        "L1 penalty",
        "L2 penalty (weight decay)",
        "backbone stages dropped",
        "head depth (0 = linear head)",
    }
    assert expected <= set(groups["technique"])
    assert set(groups.loc[groups["technique"] == "backbone", "group"]) == set(board["param_backbone"])

    space = manifest["space"]["parameters"]
    values, message = importance.param_importances(board, space, True, min_trials=3)
    assert values and sum(values.values()) == pytest.approx(1.0) and set(values) <= set(space)

    assert [p for p, _ in image_views.preview_files(store, manifest)] == POLICIES
    vae = board[board["param_synth_method"] == "vae"]
    recon = image_views.vae_recon_loss(board)
    assert recon == (pytest.approx(vae["synth_recon_loss"].mean()), len(vae)) and recon[0] > 0
    assert image_views.vae_recon_loss(board.assign(param_synth_method="none")) is None


def test_image_model_card_and_zip(image_store):
    store = image_store.store
    manifest = store.read_manifest(IMAGE_STUDY)
    info = model_card.read_model_info(store, IMAGE_STUDY)
    assert info["modality"] == "image"
    card = model_card.card_markdown(manifest, info)
    assert f"`{info['backbone']}`" in card and f"`{info['config']['transfer']}`" in card
    assert f"{info['input_size']} x {info['input_size']}" in card and "./new_images/" in card
    assert all(f"`{label}` (8 images)" in card for label in info["classes"])
    assert "Features (" not in card and "none held out: the estimate is out of fold" in card
    assert "over 32 images" in card and "**Baseline logistic_regression:**" in card
    assert model_card.weights_text(None).startswith("none: the backbone was trained from scratch")
    assert "offline pip package" in model_card.weights_text({"kind": "package", "path": "/w.pth"})
    payload = model_card.model_zip(store, IMAGE_STUDY, card)
    names = set(zipfile.ZipFile(io.BytesIO(payload)).namelist())
    assert names == {"model/weights.safetensors", "model/model.json", "model/MODEL_CARD.md"}


def test_a_preview_caption_is_the_policy_registry_description():
    from automl.image.augment import POLICIES

    for policy in POLICIES:
        assert image_views.policy_note(policy) == POLICIES.describe(policy)
    assert image_views.policy_note("a_policy_since_removed") == "augmentation policy"
