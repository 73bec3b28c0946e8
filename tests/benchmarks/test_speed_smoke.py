"""The speed benchmark runs every section end to end at its tiny `--quick` size and writes every figure.

About 1.5 minutes on 2 idle cores: three of them are the scaling section's `automl run` processes, each
starting a Ray of its own."""

from __future__ import annotations

import json
import math

import pytest
import torch

from benchmarks.speed import QUICK, SECTIONS, main


def _positive(value) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _share(value) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


@pytest.mark.slow
def test_quick_run_writes_every_figure(tmp_path, capsys):
    main(["--quick", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed.json").read_text())
    markdown = (tmp_path / "speed.md").read_text()
    assert (tmp_path / "RESULTS.md").exists()
    assert "Machine:" in markdown and "python -m benchmarks.speed --quick" in markdown
    assert "trials per hour" in capsys.readouterr().out
    assert list(results["sections"]) == list(SECTIONS)  # reported in this order, whatever order they ran in
    assert results["quick"] and all(len(v) == 3 for v in results["load_average"].values())

    fixed = results["sections"]["fixed"]
    assert fixed["n_trials"] == QUICK.trials and len(fixed["trials"]) == QUICK.trials
    assert _share(fixed["fixed_share_median"]) and _share(fixed["fixed_share_of_all_trial_time"])
    for key in ("trials_per_hour", "search_seconds", "duration_s", "span_s_median", "time_to_chosen_s"):
        assert _positive(fixed[key]), key
    assert (
        _positive(fixed["time_to_best_trial_s"]) and fixed["time_to_best_trial_s"] <= fixed["search_seconds"]
    )
    for trial in fixed["trials"]:
        assert _positive(trial["span_s"]) and trial["fixed_s"] >= 0 and trial["loop_s"] >= 0
        assert trial["setup_s"] >= trial["synth_s"] >= 0
    assert "setup_seconds" in fixed["counts"]
    assert _positive(fixed["ray_start_s"]) and fixed["warmup_s"] is None  # --quick skips the warm-up study
    assert "no warm-up study (quick)" in markdown

    asha = results["sections"]["asha"]
    for run in ("asha", "no_early_stopping"):
        for key in ("search_seconds", "best_val_score", "epochs_total", "time_to_common_best_s"):
            assert _positive(asha[run][key]), (run, key)
    no_stop = asha["no_early_stopping"]
    assert no_stop["statuses"].get("stopped_early", 0) == 0  # grace_period = max_epochs: ASHA never stops
    assert _positive(asha["search_seconds_ratio"]) and "grace_period = max_epochs" in asha["how"]

    cache = results["sections"]["cache"]
    for key in ("cold_seconds", "warm_seconds", "uncached_seconds", "speedup_uncached_over_warm"):
        assert _positive(cache[key]), key

    scaling = results["sections"]["scaling"]
    runs = scaling["runs"]
    assert runs["rows_x4"]["rows"] == 4 * runs["base"]["rows"]
    assert runs["trials_x4"]["trials"] == 4 * runs["base"]["trials"]
    for run in runs.values():
        for key in ("process_wall_s", "search_seconds", "peak_tree_pss_mb", "peak_tree_rss_mb"):
            assert _positive(run[key]), key
        assert _positive(run["max_single_process_rss_mb"]) and run["peak_processes"] > 1
    for label in ("rows_x4", "trials_x4"):
        assert all(_positive(v) for v in scaling[label].values()), label

    gpu = results["sections"]["gpu"]
    if torch.cuda.is_available():
        assert gpu["available"] and all(_positive(r["trials_per_hour"]) for r in gpu["runs"].values())
    else:
        assert not gpu["available"] and gpu["note"] == "no GPU on this machine"
        assert "no GPU on this machine" in markdown
