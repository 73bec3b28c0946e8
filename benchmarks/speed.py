"""Speed of studies: fixed cost per trial, ASHA against no early stopping, the feature cache, scaling, GPU.

    python -m benchmarks.speed [--quick] [--out DIR] [--sections fixed,asha,cache,scaling,gpu]

1. fixed: a tabular study (penguins, default space). Per trial, the share of its wall time spent outside
   its training epochs, trials per hour, time to the best configuration, and the driver's overhead.
2. asha: the same study with early stopping by ASHA off (grace_period = max_epochs: successive halving then
   has no rung below max_t, so it never stops a trial). Wall time to reach the same best validation score.
3. cache: the linear-probe feature cache, measured by `benchmarks.image_speed` (cold, warm, uncached).
4. scaling: study time and peak memory with 4x the rows and with 4x the trials, each study a separate
   `python -m automl.cli run` process (its own Ray), its process tree sampled every 0.5 s.
5. gpu: trials per hour and GPU utilization with 1 and with 4 trials per GPU (when a GPU is present).

The in-process studies (fixed, asha, gpu) run first, on one Ray; scaling runs last (its studies start
their own). The machine is shared and noisy: quote medians and ratios. Writes <out>/speed.json and
<out>/speed.md, then RESULTS.md (benchmarks/report.py).

This module: the command line, section 3 and the report. `speed_studies`: the sizes of a run, studies in
this process, sections 1-2; `speed_clock`: the trial clock and a study's figures; `speed_scaling`: 4-5.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.report import RESULTS_DIR, load_average, machine, machine_line, save_section
from benchmarks.speed_scaling import section_gpu, section_scaling
from benchmarks.speed_studies import DEFAULT, QUICK, LocalRay, Settings, section_asha, section_fixed

SECTIONS = ("fixed", "asha", "cache", "scaling", "gpu")  # as reported
# As run: the in-process studies first, on one Ray (scaling stops it: each of its studies starts its own).
RUN_ORDER = ("fixed", "asha", "gpu", "cache", "scaling")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def section_cache(settings: Settings, work: Path, ray: LocalRay, cache: dict) -> dict[str, Any]:
    """Section 3: the linear-probe feature cache, as `benchmarks.image_speed` measures it."""
    from benchmarks import image_speed

    out = work / "image_speed.json"
    quick = settings.cache_quick
    results = image_speed.main(["--quick", "--out", str(out)] if quick else ["--out", str(out)])
    if results is None:
        results = json.loads(out.read_text())
    probe = results["linear_probe"]
    keys = (
        "backbone",
        "input_size",
        "search_images",
        "n_folds",
        "max_epochs",
        "cold_seconds",
        "warm_seconds",
        "uncached_seconds",
        "feature_seconds",
        "speedup_uncached_over_warm",
        "speedup_uncached_over_cold",
        "runs",
    )
    return {
        "source": "benchmarks.image_speed.main(" + ("['--quick']" if quick else "[]") + ") linear_probe",
        **{k: probe[k] for k in keys if k in probe},
    }


# ---- report ----------------------------------------------------------------------------------------------

RUNNERS = {
    "fixed": section_fixed,
    "asha": section_asha,
    "cache": section_cache,
    "scaling": section_scaling,
    "gpu": section_gpu,
}


def markdown(results: dict[str, Any]) -> str:
    """The RESULTS.md section: a short table per section."""
    s = results["sections"]
    load = results["load_average"]
    lines = [
        "## Speed (`benchmarks/speed.py`)",
        "",
        f"Command: `{results['command']}` ({'quick' if results['quick'] else 'default'} sizes, "
        f"{results['total_seconds']:.0f} s). {machine_line(results['machine'])}",
        f"Load average (1 min) {load['start'][0]} at the start, {load['end'][0]} at the end, on "
        f"{results['machine']['cpus']} CPUs: other jobs shared the machine; compare ratios, not single timings.",
        "",
    ]
    if "fixed" in s:
        f = s["fixed"]
        lines += [
            f"### Fixed cost per trial ({f['dataset']}, {f['n_trials']} trials, {f['concurrency']} at once)",
            "",
            "| figure | value |",
            "|---|---|",
            f"| median fixed share of a trial's wall time | {f['fixed_share_median']:.1%} |",
            f"| fixed share of all trial time | {f['fixed_share_of_all_trial_time']:.1%} |",
            f"| median trial: wall / in epochs / fixed (s) | {f['span_s_median']:.2f} / {f['loop_s_median']:.2f}"
            f" / {f['fixed_s_median']:.2f} |",
            f"| median fixed parts: setup (synth) / Ray (s) | {f['setup_s_median']:.2f} ({f['synth_s_median']:.2f})"
            f" / {f['ray_s_median']:.2f} |",
            f"| trials per hour | {f['trials_per_hour']:.0f} |",
            f"| time to the chosen trial ({f['chosen_trial']}) / to the best val score: first finished trial, "
            f"first epoch report (s) | {_num(f['time_to_chosen_s'])} / {_num(f['time_to_best_trial_s'])}, "
            f"{_num(f['time_to_best_report_s'])} of {f['search_seconds']:.0f} |",
            f"| driver: slot idle in the search / outside the search (s) | {f['slot_idle_s']:.1f} / "
            f"{f['outside_search_s']:.1f} |",
            "",
            f"{f['counts']} The first trial ({f['trials'][0]['trial']}) had {f['first_trial_fixed_s']:.2f} s "
            "fixed (a new actor's first imports). Outside the search: data checks, test split, refit, test and "
            f"export. Not counted: Ray's start ({_num(f['ray_start_s'])} s)"
            + (
                "; no warm-up study (quick)."
                if f["warmup_s"] is None
                else f" and a 2-trial warm-up study ({_num(f['warmup_s'])} s) run before."
            ),
            "",
        ]
    if "asha" in s:
        a = s["asha"]
        lines += [
            "### ASHA against no early stopping (same study, same seed)",
            "",
            "| run | search (s) | epochs | trials stopped by ASHA | best val | time to common best (s) "
            "| time to the other's best (s) | load after |",
            "|---|---|---|---|---|---|---|---|",
        ]
        runs = (("ASHA", "asha", "fixed"), ("no early stopping", "no_early_stopping", "asha"))
        for label, key, after in runs:
            r = a[key]
            other = "never" if r["time_to_other_best_s"] is None else _num(r["time_to_other_best_s"])
            lines.append(
                f"| {label} | {r['search_seconds']:.0f} | {r['epochs_total']} | "
                f"{r['statuses'].get('stopped_early', 0)} | {r['best_val_score']:.4f} | "
                f"{_num(r['time_to_common_best_s'])} | {other} | {load.get(after, ['n/a'])[0]} |"
            )
        lines += [
            "",
            f"No early stopping / ASHA: search time x{a['search_seconds_ratio']:.2f}, epochs "
            f"x{a['epochs_ratio']:.2f}, time to the common best x{_num(a['time_to_common_best_ratio'])}. "
            f"{a['how']}",
            "",
        ]
    if "cache" in s:
        c = s["cache"]
        lines += [
            f"### Feature cache, linear-probe trial ({c.get('backbone')} @ {c.get('input_size')} px, "
            f"{c.get('search_images')} images, {c.get('max_epochs')} epochs)",
            "",
            "| cold (s) | warm (s) | uncached (s) | uncached / warm | uncached / cold |",
            "|---|---|---|---|---|",
            f"| {c['cold_seconds']:.2f} | {c['warm_seconds']:.2f} | {c['uncached_seconds']:.2f} | "
            f"{c['speedup_uncached_over_warm']:.1f}x | {c['speedup_uncached_over_cold']:.1f}x |",
            "",
            f"From {c['source']} (medians; see its own section).",
            "",
        ]
    if "scaling" in s:
        g = s["scaling"]
        lines += [
            f"### Scaling ({g['dataset']}; {g['settings']['folds']} folds, {g['settings']['max_epochs']} "
            "max epochs, one `automl run` process each)",
            "",
            "| study | rows | trials | process (s) | search (s) | peak tree PSS (MB) | peak tree RSS (MB) "
            "| largest process (MB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, r in g["runs"].items():
            lines.append(
                f"| {label} | {r['rows']} | {r['trials']} | {r['process_wall_s']:.0f} | {r['search_seconds']:.0f}"
                f" | {r['peak_tree_pss_mb']:.0f} | {r['peak_tree_rss_mb']:.0f} | {r['max_single_process_rss_mb']:.0f} |"
            )
        lines += [
            "",
            "| 4x / 1x | process time | search time | peak PSS | peak RSS |",
            "|---|---|---|---|---|",
        ]
        for label in ("rows_x4", "trials_x4"):
            r = g[label]
            lines.append(
                f"| {label} | {r['process_wall_s']:.2f} | {r['search_seconds']:.2f} | {r['peak_tree_pss_mb']:.2f}"
                f" | {r['peak_tree_rss_mb']:.2f} |"
            )
        lines += ["", g["memory_note"], ""]
    if "gpu" in s:
        gpu = s["gpu"]
        lines += ["### GPU", ""]
        if not gpu["available"]:
            lines += [f"{gpu['note']}.", ""]
        else:
            lines += [
                f"{gpu['gpu']}, {gpu['dataset']}.",
                "",
                "| trials per GPU | at once | trials per hour | GPU util mean / median (%) |",
                "|---|---|---|---|",
            ]
            for label, r in gpu["runs"].items():
                lines.append(
                    f"| {label[0]} | {r['concurrency']} | {r['trials_per_hour']:.0f} | "
                    f"{_num(r['gpu_util_mean'])} / {_num(r['gpu_util_median'])} |"
                )
            lines += [
                "",
                f"4 per GPU / 1 per GPU: trials per hour x{gpu['trials_per_hour_ratio_4_over_1']:.2f}",
                "",
            ]
    return "\n".join(lines)


def printed(results: dict[str, Any]) -> str:
    """The printed summary: the markdown without its headings' decoration."""
    return markdown(results).replace("### ", "").replace("## ", "")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections, print their figures, write speed.json, speed.md and RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: every section's code path, about 1.5 minutes on 2 idle cores",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help=f"results folder (default {RESULTS_DIR})"
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of {','.join(SECTIONS)} (default all)",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    settings = QUICK if args.quick else DEFAULT
    command = (
        "python -m benchmarks.speed" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "settings": asdict(settings),
        "machine": machine(),
        "load_average": {"start": load_average()},
    }
    started = time.perf_counter()
    ray, cache = LocalRay(warmup=settings.warmup), {}
    sections, seconds = {}, {}
    work = Path(tempfile.mkdtemp(prefix="speed-bench-"))
    try:
        for name in (n for n in RUN_ORDER if n in chosen):
            print(f"== {name}", flush=True)
            begin = time.perf_counter()
            sections[name] = RUNNERS[name](settings, work, ray, cache)
            seconds[name] = time.perf_counter() - begin
            results["load_average"][name] = load_average()
    finally:
        ray.down()
        shutil.rmtree(work, ignore_errors=True)
    results["sections"] = {name: sections[name] for name in SECTIONS if name in sections}
    results["section_seconds"] = {name: seconds[name] for name in SECTIONS if name in seconds}
    results["load_average"]["end"] = load_average()
    results["total_seconds"] = time.perf_counter() - started
    text = printed(results)
    print("\n" + text)
    written = save_section(args.out, "speed", results, markdown(results))
    print(f"\ntotal {results['total_seconds']:.0f} s; written to {args.out / 'speed.json'}, {written}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
