"""Quality of the exported model, on small tables and few-shot images, against the peers a user would run
instead; studies run as users run them, scored on large fresh samples of the same sources.

    python -m benchmarks.quality                       # every task, seeds 0,1,2, 5-minute studies (hours)
    python -m benchmarks.quality --tasks bc80,anes96 --seeds 0 --budget 120
    python -m benchmarks.quality --arm 'no_smote:only.synth_method=none|gaussian_copula|ctgan|tvae'
    python -m benchmarks.quality --arm no_gbdt:space=my_space.yaml --peers none   # arms: benchmarks/arms.py
    python -m benchmarks.quality --quick               # the smoke run (about a minute)

Per task and seed (benchmarks/tasks.py), each arm (benchmarks/arms.py) runs a study through the public API
(`run_study(StudyConfig(...))`, as `automl run train.csv --target y --budget 5m --trials 1000 --seed S`
and the same with `--trials 20`) and its exported model is scored on the fresh sample through `automl
predict`; each peer (benchmarks/peers.py: LogisticRegressionCV / RidgeCV, CatBoost, RealMLP_TD, TabM_D,
LightGBM, FLAML with the same budget; frozen-backbone probes for images) is trained on the same rows and
scored on the same fresh rows.

Every finished study or peer is cached in `--out/fresh_runs.json` as it finishes (benchmarks/runs.py); a
rerun with the same options skips what is there, so a killed run goes on where it stopped (`--restart`
ignores the file). The same study runs feed two sections, each `<name>.json` + `<name>.md` under `--out`
and its part of RESULTS.md (benchmarks/report.py): `quality` (benchmarks/quality_report.py: scores against
peers, the acceptance checks of issues 20 and 21) and `honesty` (benchmarks/honesty_report.py: estimate
against truth). `python -m benchmarks.honesty` runs the same studies without the peers.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import honesty_report, quality_report
from benchmarks.peers import PEERS
from benchmarks.report import RESULTS_DIR, machine, save_section
from benchmarks.runs import RECORDS_FILE, Records, Setup, execute, parser, setup_from

REPORTS = {"quality": quality_report, "honesty": honesty_report}


def write_reports(
    setup: Setup,
    records: Records,
    out: Path,
    command: str,
    seconds: float,
    quick: bool,
    names: tuple[str, ...],
) -> dict[str, dict[str, Any]]:
    """Summarize the records `setup` asks for into each named section, and write them."""
    selected = records.selected(setup)
    commits = sorted({r.get("commit", "unknown") for r in selected})
    facts = machine()
    if len(commits) == 1:  # the figures' commit, which a later --render does not change
        facts["commit"] = commits[0]
    results = {}
    for name in names:
        module = REPORTS[name]
        result = {
            "command": command,
            "quick": quick,
            "machine": facts,
            "run_seconds": seconds,
            "records_seconds": sum(r.get("wall_s", 0.0) for r in selected),
            "records_file": str(out / RECORDS_FILE),
            "commits": commits,
            "setup": setup.describe(),
            "records": selected,
            "summary": module.summarize(selected),
        }
        text = module.markdown(result)
        save_section(out, name, {k: v for k, v in result.items() if k != "records"}, text)
        results[name] = {**result, "markdown": text}
    return results


def main(
    argv: list[str] | None = None,
    prog: str = "quality",
    names: tuple[str, ...] = ("quality", "honesty"),
    default_peers: tuple[str, ...] | None = None,
    doc: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run what the records file lacks (unless --render), then write the named sections."""
    args = parser(
        f"python -m benchmarks.{prog}",
        doc or __doc__,
        f"comma-separated, from {', '.join(PEERS)}, or none (default: "
        f"{'all' if default_peers is None else 'none'})",
    ).parse_args(argv)
    setup = setup_from(args, default_peers)
    out = args.out or (Path(tempfile.mkdtemp(prefix=f"automl-{prog}-")) if args.quick else RESULTS_DIR)
    command = " ".join(
        [f"python -m benchmarks.{prog}", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
    )
    records = Records(out / RECORDS_FILE, restart=args.restart and not args.render)
    start = time.perf_counter()
    if not args.render:
        execute(setup, records, prog, args.keep_studies)
    results = write_reports(setup, records, out, command, time.perf_counter() - start, args.quick, names)
    for result in results.values():
        print(result["markdown"])
    wrote = ", ".join(str(out / f"{n}.md") for n in names)
    print(f"[{prog}] wrote {wrote}; the records are in {out / RECORDS_FILE}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
