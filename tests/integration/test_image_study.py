"""Image studies end to end on package-shipped images (scikit-image textures), with real timm
backbones, the offline pretrained EfficientNet-Lite0, albumentations and the VAE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.images import load_image_files
from automl.datasets import write_images
from automl.predict import predict_images, resolve_model
from automl.study import Study, run_study
from tests.helpers import FAST_IMAGE_SPACE, small_image_config, write_image_space

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture(scope="module")
def textures(tmp_path_factory):
    return write_images(
        "textures", tmp_path_factory.mktemp("images") / "textures", per_class=8, seed=0, size=48
    )


@pytest.fixture(scope="module")
def image_space(tmp_path_factory):
    return write_image_space(tmp_path_factory.mktemp("spaces") / "image_fast.yaml")


@pytest.fixture(scope="module")
def image_study(textures, image_space, tmp_path_factory) -> Study:
    storage = tmp_path_factory.mktemp("store")
    return run_study(small_image_config(textures, storage, image_space), log=lambda m: None)


def test_an_image_study_completes_with_a_tested_exported_model(image_study):
    assert image_study.status == "completed"
    manifest = image_study.manifest
    assert manifest["modality"] == "image"
    assert manifest["data"]["n_images"] == 32 and manifest["data"]["classes"] == [
        "brick",
        "grass",
        "gravel",
        "moon",
    ]
    board = image_study.leaderboard()
    assert len(board) == 6 and board["chosen"].sum() == 1
    assert image_study.test_report == {}  # 32 images: nothing held out, every image trains and tests
    estimate = image_study.estimate
    assert estimate["protocol"] == "out_of_fold" and estimate["n_rows"] == 32
    assert 0.0 <= estimate["ci_low"] <= estimate["value"] <= estimate["ci_high"] <= 1.0
    assert estimate["ci_high"] - estimate["ci_low"] > 0.05  # 32 images cannot give a narrow interval
    names = [b["name"] for b in manifest["baselines"]]
    assert names == ["majority", "logistic_regression"]
    assert "pixels" in manifest["baselines"][1]["description"]
    # the start points ran: a cached linear probe and a from-scratch CNN with VAE images
    assert {"tf_efficientnet_lite0", "small_cnn"} <= set(board["param_backbone"])
    vae_trials = board[board["param_synth_method"] == "vae"]
    assert len(vae_trials) and (vae_trials["synth_recon_loss"] > 0).all()


def test_augmentation_previews_are_saved_for_each_searched_policy(image_study):
    for policy in FAST_IMAGE_SPACE["parameters"]["augment"]["values"]:
        png = image_study.store.read_bytes(image_study.study_id, f"report/augment/{policy}.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_exported_predictions_equal_in_memory_ones(image_study, textures, tmp_path):
    model = image_study.best_model
    loaded = resolve_model(str(image_study.store.local_path(image_study.study_id)))
    out = tmp_path / "preds.csv"
    predictions, _ = predict_images(loaded, str(textures), str(out))
    files = sorted(p for p in textures.rglob("*.png"))
    images, paths = load_image_files(files, size=model.image_size, root=textures)
    in_memory = model.predict_output(images)
    written = pd.read_csv(out)
    assert list(written["path"]) == paths
    assert list(written.columns) == ["path", "prediction", *[f"proba_{c}" for c in model.classes]]
    np.testing.assert_allclose(
        written[[f"proba_{c}" for c in model.classes]].to_numpy(), in_memory, atol=1e-6
    )
    assert list(written["prediction"]) == [model.classes[i] for i in in_memory.argmax(axis=1)]


def test_an_image_study_run_twice_with_the_same_seed_gives_the_same_leaderboard(
    textures, image_space, tmp_path
):
    columns = ["trial", "val_score", "gap", "param_backbone", "param_transfer", "param_augment"]
    boards = []
    for run in ("a", "b"):
        config = small_image_config(textures, tmp_path / run, image_space, trials=4, name="again")
        boards.append(run_study(config, log=lambda m: None).leaderboard()[columns])
    pd.testing.assert_frame_equal(boards[0], boards[1])
