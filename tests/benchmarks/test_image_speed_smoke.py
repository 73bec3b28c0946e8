"""The image speed benchmark runs end to end at its tiny `--quick` size and writes every figure."""

from __future__ import annotations

import json

import torch

from benchmarks.image_speed import QUICK, main


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_quick_run_writes_every_figure(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "image_speed.json"
    main(["--quick", "--out", str(out)])
    assert torch.get_num_threads() == threads  # the harness gives the process its threads back
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "speed-up uncached/warm" in printed and "images/s" in printed

    machine = results["machine"]
    assert _positive(machine["cpu_count"]) and _positive(machine["torch_threads"])
    assert machine["torch"] == torch.__version__ and machine["date"]
    assert "git_commit" in machine  # None outside a git checkout

    probe = results["linear_probe"]
    for key in (
        "cold_seconds",
        "warm_seconds",
        "uncached_seconds",
        "feature_seconds",
        "speedup_uncached_over_warm",
        "speedup_uncached_over_cold",
    ):
        assert _positive(probe[key]), key
    assert len(probe["runs"]["cold"]) == QUICK.repeats
    assert len(probe["runs"]["warm"]) == QUICK.repeats * QUICK.warm_per_repeat
    assert probe["max_epochs"] == QUICK.max_epochs and probe["n_folds"] >= 2
    assert "ImageFit" in probe["uncached_path"]

    finetune = results["finetune"]
    cases = {(r["backbone"], r["image_size_option"], r["augment"]) for r in finetune}
    expected = {(b, cap, aug) for b, cap in QUICK.finetune_cases for aug in QUICK.augments}
    assert cases == expected
    for r in finetune:
        assert _positive(r["images_per_second"]) and _positive(r["train_images_per_epoch"])
        assert len(r["epoch_seconds"]) == QUICK.finetune_epochs
