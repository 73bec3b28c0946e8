"""A study store for the dashboard tests, built by running REAL tiny studies once per session.

The completed study is estimated out of fold (80 rows: nothing held out). A second real study
chooses an ensemble and holds out a test set (`--select ensemble --test-size 0.25`), a third is a
regression (50 diabetes rows, 2 trials). Beside them the
store holds what the dashboard must explain instead of crashing: a failed study and a running one
(copies of the real study with their manifest changed through Store.write_manifest; the running one
keeps the real Tune experiment and loses its reports), a study stored before out-of-fold estimation
(a copy of the held-out one rewritten to the old manifest: a test report, no estimate, baselines
scored on the test, a single chosen trial), a study.json that is not JSON, and a folder with no
study.json at all.

A second store holds a REAL tiny image study (textures in class folders), made once per session
when an image test asks for it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from automl.store import Store
from tests.helpers import small_config

PASSWORD = "correct horse battery staple"
COMPLETED, FAILED, RUNNING = "penguins-ui", "penguins-failed", "penguins-running"
ENSEMBLE, LEGACY = "penguins-ensemble", "penguins-legacy"  # ensemble + held-out test; the old manifest
REGRESSION = "diabetes-ui"
UNREADABLE, INCOMPLETE = "broken-json", "half-written"
IMAGE_STUDY = "textures-ui"
FAILED_ERROR = "RuntimeError: the cluster went away"
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the running dashboard in Debian's Chromium (Playwright)"
    )


@dataclass
class UIStore:
    """Where the test store is and what is in it."""

    root: Path
    data: Path
    target: str
    store: Store

    @property
    def location(self) -> str:
        return str(self.root)


@pytest.fixture(scope="session")
def ui_store(ray_session, tmp_path_factory, fast_space) -> UIStore:
    from automl.datasets import write
    from automl.study import run_study

    folder = tmp_path_factory.mktemp("ui")
    data = folder / "penguins.csv"
    target = write("penguins", data, n_rows=80)
    root = folder / "store"
    config = small_config(
        data, target, root, fast_space, trials=3, max_epochs=8, budget_s=120, name=COMPLETED
    )
    run_study(config, log=lambda message: None)
    store = Store(root)
    manifest = store.read_manifest(COMPLETED)

    shutil.copytree(root / COMPLETED, root / FAILED)
    store.write_manifest(
        FAILED,
        {
            **manifest,
            "study_id": FAILED,
            "status": "failed",
            "error": FAILED_ERROR,
            "traceback": "Traceback (most recent call last):\n  ...\n" + FAILED_ERROR,
        },
    )

    shutil.copytree(root / COMPLETED, root / RUNNING)
    shutil.rmtree(root / RUNNING / "report")
    shutil.rmtree(root / RUNNING / "model")
    running = {
        k: v
        for k, v in manifest.items()
        if k
        not in ("best", "test_report", "baselines", "model", "trials", "estimate", "cv_estimate", "timings")
    }
    store.write_manifest(
        RUNNING,
        {
            **running,
            "study_id": RUNNING,
            "status": "running",
            "created_at": time.time() - 30,
            "selection": {"rule": manifest["selection"]["rule"]},  # as a study writes it when it starts
        },
    )

    ensemble = small_config(  # seed 1: its greedy selection keeps two of the four trials
        data, target, root, fast_space, trials=4, max_epochs=8, budget_s=120, name=ENSEMBLE,
        select="ensemble", test_size=0.25, seed=1,
    )  # fmt: skip
    run_study(ensemble, log=lambda message: None)
    _write_legacy_copy(store, root, ENSEMBLE, LEGACY)
    diabetes = folder / "diabetes.csv"
    regression = small_config(
        diabetes, write("diabetes", diabetes, n_rows=50), root, fast_space, trials=2, max_epochs=5,
        budget_s=120, name=REGRESSION,
    )  # fmt: skip
    run_study(regression, log=lambda message: None)

    (root / UNREADABLE).mkdir()
    (root / UNREADABLE / "study.json").write_text('{"study_id": "broken-json", "status": ')
    (root / INCOMPLETE / "tune").mkdir(parents=True)
    return UIStore(root=root, data=data, target=target, store=store)


def _write_legacy_copy(store: Store, root: Path, source: str, study_id: str) -> None:
    """A copy of a held-out-test study as it was stored before out-of-fold estimation."""
    shutil.copytree(root / source, root / study_id)
    for name in ("oof.parquet", "fresh_oof.parquet", "baselines_oof.parquet", "labels.parquet"):
        (root / study_id / "report" / name).unlink(missing_ok=True)
    manifest = store.read_manifest(source)
    trial = manifest["best"]["trial"]
    board = store.read_table(source, "report/trials.parquet")
    board["chosen"] = board["trial"] == trial
    store.write_table(
        study_id,
        "report/trials.parquet",
        board.drop(columns=["ensemble_weight", "has_oof", "val_score_best_epoch"]),
    )
    old = {
        k: v for k, v in manifest.items() if k not in ("estimate", "cv_estimate", "timings", "reevaluation")
    }
    old["selection"] = {
        **{k: v for k, v in manifest["selection"].items() if k != "members"},
        "rule": "one_se_min_gap",
    }
    old["best"] = {k: v for k, v in manifest["best"].items() if k != "members"}
    old["model"] = {"uri": f"{store.study_uri(study_id)}/model"}
    old["baselines"] = [  # scored on the held-out test, and the plain network of the time
        {"name": b["name"], "description": b["description"], **b["test"]} for b in manifest["baselines"]
    ] + [
        {
            "name": "plain_network",
            "description": "one hidden layer of 32, no regularization",
            "value": 0.5,
            "ci_low": 0.3,
            "ci_high": 0.7,
            "level": 0.95,
        }
    ]
    store.write_manifest(study_id, {**old, "study_id": study_id})


@pytest.fixture
def app_env(ui_store, monkeypatch) -> UIStore:
    """Environment of an in-process dashboard run: the test store and a password."""
    monkeypatch.setenv("AUTOML_STORAGE", ui_store.location)
    monkeypatch.setenv("AUTOML_DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.delenv("AUTOML_RAY_ADDRESS", raising=False)
    return ui_store


@pytest.fixture(scope="session")
def image_store(ray_session, tmp_path_factory) -> UIStore:
    """A store with one completed image study: 32 textures of 4 classes, 3 trials (about 25 s on 2 cores)."""
    from automl.datasets import write_images
    from automl.study import run_study
    from tests.helpers import small_image_config, write_image_space

    folder = tmp_path_factory.mktemp("ui-images")
    images = write_images("textures", folder / "textures", per_class=8, seed=0, size=48)
    space = write_image_space(folder / "image_space.yaml")
    root = folder / "store"
    config = small_image_config(
        images, root, space, name=IMAGE_STUDY, trials=3, max_epochs=2, grace_period=1
    )  # the two start points (a linear probe, a from-scratch CNN with VAE images) and one more
    run_study(config, log=lambda message: None)
    return UIStore(root=root, data=images, target="label", store=Store(root))


@pytest.fixture
def image_env(image_store, monkeypatch) -> UIStore:
    """Environment of an in-process dashboard run on the image study's store."""
    monkeypatch.setenv("AUTOML_STORAGE", image_store.location)
    monkeypatch.setenv("AUTOML_DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.delenv("AUTOML_RAY_ADDRESS", raising=False)
    return image_store
