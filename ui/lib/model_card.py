"""The model card of a completed study (Markdown) and its model directory as a zip built in memory.

The zip is read file by file through the Store (local or s3://), so nothing is written anywhere.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pyarrow.fs as pafs

from automl.store import Store
from ui.lib import formatting as fmt

CARD_NAME = "MODEL_CARD.md"


def _code(text: object) -> str:
    """Inline code for names that come from the data (backticks removed so they cannot break out)."""
    return "`" + str(text).replace("`", "'") + "`"


def limitations(manifest: dict[str, Any]) -> list[str]:
    """Plain statements of what the test score does and does not promise for this study."""
    data, report = manifest.get("data") or {}, manifest.get("test_report") or {}
    notes = [
        f"The test score comes from {report.get('n_test', '?')} held-out rows; its 95% interval shows "
        "how much it could move on other data from the same source.",
        "The model was trained on data from one source and time; it says nothing about data that drifts "
        "away from it. Check it on fresh data before relying on it.",
        "Only predictive performance was evaluated: not fairness across groups, calibration under shift, "
        "or robustness to adversarial input.",
    ]
    counts = data.get("class_counts") or {}
    total = sum(counts.values())
    rare = [label for label, n in counts.items() if total and n / total < 0.1]
    if rare:
        notes.append(
            f"Rare classes ({', '.join(map(str, rare))}: under 10% of rows) are scored on very few test rows."
        )
    config = (manifest.get("best") or {}).get("config") or {}
    if config.get("synth_method", "none") not in (None, "none") and (config.get("synth_ratio") or 0) > 0:
        notes.append(
            f"Training added synthetic rows ({config['synth_method']}, {fmt.score(config['synth_ratio'], 3)} per real "
            "row); the test rows are all real."
        )
    notes += [f"Data note: {note}" for note in data.get("notes") or []]
    return notes


def card_markdown(manifest: dict[str, Any]) -> str:
    """Markdown model card: task, target, features, classes, chosen config, metric, test score, limitations."""
    data, metric = manifest.get("data") or {}, manifest.get("metric") or {}
    best, report = manifest.get("best") or {}, manifest.get("test_report") or {}
    selection, splits = manifest.get("selection") or {}, manifest.get("splits") or {}
    schema = data.get("schema") or {}
    lines = [
        f"## Model card: study {manifest.get('study_id')}",
        "",
        f"- **Task:** {data.get('task', '?')} of {_code(data.get('target', '?'))}",
        f"- **Features ({len(schema)}):** " + ", ".join(f"{_code(k)} ({v})" for k, v in schema.items()),
    ]
    if data.get("classes"):
        counts = data.get("class_counts") or {}
        lines.append(
            "- **Classes:** " + ", ".join(f"{_code(c)} ({counts.get(c, '?')} rows)" for c in data["classes"])
        )
    train_rows = splits.get("n_search", data.get("n_rows"))
    lines += [
        f"- **Training rows:** {train_rows} (of {data.get('n_rows', '?')}; {report.get('n_test', '?')} held out for the test)",
        f"- **Data file:** {_code(data.get('source', '?'))} (sha256 `{str(data.get('fingerprint', '?'))[:16]}...`)",
        f"- **Created:** {fmt.timestamp(manifest.get('created_at'))}",
        "",
        "### Chosen configuration",
        "",
        f"Trial **{best.get('trial', '?')}**, chosen by rule `{selection.get('rule', '?')}`: {selection.get('reason', '')}",
        "",
        "| setting | value |",
        "|---|---|",
        *[
            f"| {k} | {fmt.score(v, 4) if fmt.is_number(v) else v} |"
            for k, v in (best.get("config") or {}).items()
        ],
        "",
        "### Performance",
        "",
        f"- **Metric:** {metric.get('name', '?')} ({'higher' if metric.get('greater_is_better', True) else 'lower'} is better)",
        f"- **Cross-validated score:** {fmt.score(best.get('val_score'))} ± {fmt.score(best.get('val_std'), 2)} (train-validation gap {fmt.score(best.get('gap'), 3)})",
        f"- **Held-out test score:** {fmt.interval(report.get('value'), report.get('ci_low'), report.get('ci_high'), 4)}",
    ]
    if fmt.is_number(report.get("chance_level")):
        lines.append(f"- **Chance level:** {fmt.score(report['chance_level'])}")
    for base in manifest.get("baselines") or []:
        lines.append(
            f"- **Baseline {base.get('name')}:** {fmt.interval(base.get('value'), base.get('ci_low'), base.get('ci_high'), 4)}"
        )
    lines += ["", "### Limitations", "", *[f"- {note}" for note in limitations(manifest)], ""]
    lines += [
        "### Use",
        "",
        "```bash",
        f"automl predict {manifest.get('study_id')} new_rows.csv -o predictions.csv",
        "```",
        "",
    ]
    return "\n".join(lines)


def model_zip(store: Store, study_id: str, card: str | None = None) -> bytes:
    """The study's model/ files (and the card) as zip bytes, read through the store."""
    folder = f"{store.root}/{study_id}/model"
    infos = store.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=True))
    files = sorted(i.path[len(folder) + 1 :] for i in infos if i.type == pafs.FileType.File)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.writestr(f"model/{name}", store.read_bytes(study_id, f"model/{name}"))
        if card is not None:
            archive.writestr(f"model/{CARD_NAME}", card)
    return buffer.getvalue()
