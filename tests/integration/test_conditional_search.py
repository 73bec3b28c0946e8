"""Conditional search spaces on real Ray Tune: the trials of a study with `when:` parameters get
their inactive values, the start points run first as given, and the leaderboard blanks exactly the
settings the space says were inactive (tabular) or that the image network ignores."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from automl.search.conditions import active_parameters
from automl.search.space import default_space_path
from automl.study import run_study
from automl.train.report import RUNG_CUTOFFS
from tests.helpers import small_config, small_image_config

pytestmark = pytest.mark.usefixtures("ray_session")

IMAGE_BACKBONES = ["tf_efficientnet_lite0", "small_cnn", "pixels_8"]


def proposed(study_dir: Path) -> list[dict[str, Any]]:
    """Each trial's configuration as Tune gave it (params.json), in the order the trials were created,
    without the successive-halving cutoffs every proposal carries (not a setting)."""
    numbered = []
    for path in (study_dir / "tune").glob("*/params.json"):
        number = re.search(r"_[0-9a-f]{5,}_(\d+)_", path.parent.name)
        config = json.loads(path.read_text())
        assert isinstance(config.pop(RUNG_CUTOFFS), dict)
        numbered.append((int(number.group(1)), config))
    return [config for _, config in sorted(numbered, key=lambda item: item[0])]


def resolved_space(study_dir: Path) -> dict[str, dict[str, Any]]:
    return json.loads((study_dir / "study.json").read_text())["space"]["parameters"]


def check_inactive_values(configs: list[dict[str, Any]], specs: dict[str, dict[str, Any]], start: list[dict]):
    for number, config in enumerate(configs):
        assert set(config) == set(specs)
        named = start[number] if number < len(start) else {}
        for name in set(specs) - active_parameters(specs, config):
            assert config[name] == named.get(name, specs[name]["default"]), (number, name, config)


def test_a_tabular_study_samples_only_active_settings(penguins_csv, fast_space, tmp_path):
    path, target = penguins_csv
    config = small_config(path, target, tmp_path, fast_space, trials=8, name="conditional")
    study = run_study(config, log=lambda m: None)
    assert study.status == "completed"
    study_dir = tmp_path / "conditional"
    configs, specs = proposed(study_dir), resolved_space(study_dir)
    assert len(configs) == 8
    start = yaml.safe_load(Path(fast_space).read_text())["start"]
    for given, config in zip(start, configs, strict=False):  # the start points first, as given
        assert {k: config[k] for k in given if k != "batch_size"} == {
            k: v
            for k, v in given.items()
            if k != "batch_size"  # (clamped to the rows)
        }
    check_inactive_values(configs, specs, start)
    families = [c["family"] for c in configs]
    assert {"linear", "mlp", "gbdt"} <= set(families)  # every family's start point, then the searcher's
    assert all(c["depth"] >= 1 for c in configs if c["family"] == "mlp")
    board = study.leaderboard()
    for _, row in board.iterrows():  # the leaderboard blanks every setting the space says was inactive
        cells = {c.removeprefix("param_"): row[c] for c in board if c.startswith("param_")}
        shown = {name for name, value in cells.items() if value is not None and value == value}
        assert shown <= active_parameters(specs, {k: cells[k] for k in shown}), row["trial"]


def image_space(path: Path) -> Path:
    """The default image space on three backbones (one pretrained, shipped offline), its conditions
    narrowed to them, with short VAE training."""
    doc = yaml.safe_load(default_space_path("image").read_text())
    params = doc["parameters"]
    params["backbone"]["values"] = IMAGE_BACKBONES
    for spec in params.values():
        if "backbone" in spec.get("when", {}):
            spec["when"]["backbone"] = [b for b in spec["when"]["backbone"] if b in IMAGE_BACKBONES]
    params["synth_epochs"].update(values=[5, 10], low_cost=5)
    params["patience"] = {"type": "int", "low": 2, "high": 3}
    path.write_text(yaml.safe_dump(doc))
    return path


def test_an_image_study_on_the_conditional_default_space(tmp_path):
    from automl.datasets import write_images

    images = write_images("textures", tmp_path / "textures", per_class=8, seed=0, size=48)
    space = image_space(tmp_path / "image.yaml")
    config = small_image_config(images, tmp_path / "store", space, trials=7, max_epochs=3)
    study = run_study(config, log=lambda m: None)
    assert study.status == "completed"
    study_dir = tmp_path / "store" / "textures"
    configs, specs = proposed(study_dir), resolved_space(study_dir)
    assert len(configs) == 7
    start = [p for p in yaml.safe_load(space.read_text())["start"] if p["backbone"] in IMAGE_BACKBONES]
    assert [c["backbone"] for c in configs[: len(start)]] == [p["backbone"] for p in start]
    check_inactive_values(configs, specs, start)
    for config in configs:
        if config["backbone"] != "tf_efficientnet_lite0":  # no transfer policy to sample
            assert "transfer" not in active_parameters(specs, config)
    board = study.leaderboard()
    scratch = board[board["param_backbone"] == "small_cnn"]
    assert len(scratch) and (scratch["param_transfer"] == "full").all()  # what small_cnn means
