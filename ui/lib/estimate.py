"""The study's honest number as the pages show it: the estimate, its protocol, the baselines beside it.

A completed study's manifest holds `estimate` (the headline: the out-of-fold BBC-CV figure, or
the held-out test's when there is one), `cv_estimate` (always the out-of-fold figure, with the
uncorrected score and the bias) and `test_report` (only with a held-out test). Studies stored
before out-of-fold estimation have only `test_report`, and baselines scored on that test: they
read here as a held-out test headline. The wording follows `automl show` (automl/summary.py).
"""

from __future__ import annotations

from typing import Any

from automl.summary import PROTOCOLS
from ui.lib import formatting as fmt

# short names of the protocols, for table cells
PROTOCOL_SHORT = {
    "out_of_fold": "out of fold (BBC-CV)",
    "held_out_test": "held-out test",
    "cv_mean_uncorrected": "fold mean, uncorrected",
}


# where a comparison was measured, inside a sentence
MEASURED = {
    "out_of_fold": "out of fold",
    "held_out_test": "on the held-out test",
    "cv_mean_uncorrected": "as fold means",
}


def is_legacy(manifest: dict[str, Any]) -> bool:
    """A study stored before out-of-fold estimation: a test report and no estimate."""
    return not manifest.get("estimate") and bool(manifest.get("test_report"))


def _legacy_test_figure(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric": report.get("metric"),
        **{k: report.get(k) for k in ("value", "ci_low", "ci_high")},
        "level": report.get("level", 0.95),
        "protocol": "held_out_test",
        "n_rows": report.get("n_test"),
        "chance_level": report.get("chance_level"),
    }


def headline(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What a user reads first: the manifest's `estimate`, or an old study's test score; None without either."""
    if manifest.get("estimate"):
        return manifest["estimate"]
    report = manifest.get("test_report")
    return _legacy_test_figure(report) if report else None


def cv_estimate(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The out-of-fold figure (always there for a new study; None for an old one)."""
    found = manifest.get("cv_estimate")
    if found:
        return found
    head = manifest.get("estimate") or {}
    return head if head and head.get("protocol") != "held_out_test" else None


def held_out_test(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The one-shot held-out test report, only when the study had a held-out test."""
    return manifest.get("test_report") or None


def protocol_words(entry: dict[str, Any]) -> str:
    """The protocol in words, as `automl show` says it."""
    protocol = str(entry.get("protocol", "?"))
    return PROTOCOLS.get(protocol, protocol)


def over(entry: dict[str, Any], manifest: dict[str, Any]) -> str:
    """'over 80 rows' / 'over 32 images'."""
    return f"over {entry.get('n_rows', '?')} {fmt.examples(manifest)}"


def interval(entry: dict[str, Any] | None, digits: int = 3) -> str:
    """'0.91 (95% CI 0.85 to 0.96)', or '-'."""
    entry = entry or {}
    return fmt.interval(entry.get("value"), entry.get("ci_low"), entry.get("ci_high"), digits)


def catalog_cells(manifest: dict[str, Any]) -> dict[str, str]:
    """The Studies table's cells: the headline with its interval, and how and on what it was measured."""
    head = headline(manifest)
    if not head:
        return {"estimate": "-", "estimated by": "-"}
    protocol = str(head.get("protocol", "?"))
    return {
        "estimate": interval(head),
        "estimated by": f"{PROTOCOL_SHORT.get(protocol, protocol)}, {head.get('n_rows', '?')} {fmt.examples(manifest)}",
    }


def members(manifest: dict[str, Any]) -> dict[str, float]:
    """The chosen trial(s) and their weights, heaviest first (one trial of weight 1 for single-model rules)."""
    found = (manifest.get("selection") or {}).get("members") or (manifest.get("best") or {}).get("members")
    if not found:
        trial = (manifest.get("best") or {}).get("trial")
        found = {trial: 1.0} if trial else {}
    return dict(sorted(((str(t), float(w)) for t, w in found.items()), key=lambda item: -item[1]))


def is_ensemble(manifest: dict[str, Any]) -> bool:
    return (manifest.get("model") or {}).get("kind") == "ensemble" or len(members(manifest)) > 1


def members_text(manifest: dict[str, Any]) -> str:
    """'t03 (0.50), t01 (0.30), t02 (0.20)'."""
    return ", ".join(f"{t} ({w:.2f})" for t, w in members(manifest).items())


def notes(manifest: dict[str, Any]) -> list[str]:
    """What the estimate's notes say (e.g. a perfect out-of-fold score on a handful of rows)."""
    seen: list[str] = []
    for entry in (manifest.get("estimate"), manifest.get("cv_estimate")):
        for note in (entry or {}).get("notes") or []:
            if note not in seen:
                seen.append(str(note))
    return seen


def _baseline_test(base: dict[str, Any], legacy: bool) -> dict[str, Any] | None:
    if legacy:  # old studies scored their baselines on the held-out test
        return base if fmt.is_number(base.get("value")) else None
    return base.get("test")


def comparison_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen model and each baseline: out-of-fold figure, held-out test figure (when any), what it is."""
    legacy = is_legacy(manifest)
    cv, test = cv_estimate(manifest) or {}, held_out_test(manifest) or {}
    unit = fmt.examples(manifest)
    chosen = (
        f"ensemble of {len(members(manifest))} trials"
        if is_ensemble(manifest)
        else f"trial {_trial(manifest)}"
    )
    rows = [
        {
            "model": f"chosen: {chosen}",
            "out of fold": None if legacy else cv.get("value"),
            "out-of-fold 95% CI": "" if legacy else _ci(cv),
            "held-out test": test.get("value"),
            "test 95% CI": _ci(test),
            "what": f"the search's choice, refitted on all search {unit}",
        }
    ]
    for base in manifest.get("baselines") or []:
        tested = _baseline_test(base, legacy) or {}
        rows.append(
            {
                "model": f"baseline: {base.get('name')}",
                "out of fold": None if legacy else base.get("value"),
                "out-of-fold 95% CI": "" if legacy else _ci(base),
                "held-out test": tested.get("value"),
                "test 95% CI": _ci(tested),
                "what": str(base.get("description", "")),
            }
        )
    drop = ["held-out test", "test 95% CI"] if not test else []
    drop += ["out of fold", "out-of-fold 95% CI"] if legacy else []
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def _trial(manifest: dict[str, Any]) -> str:
    return str((manifest.get("best") or {}).get("trial", "?"))


def _ci(entry: dict[str, Any]) -> str:
    low, high = entry.get("ci_low"), entry.get("ci_high")
    return (
        f"{fmt.score(low, 3)} to {fmt.score(high, 3)}" if fmt.is_number(low) and fmt.is_number(high) else ""
    )


def _baseline_figure(base: dict[str, Any], protocol: str, legacy: bool) -> dict[str, Any] | None:
    """A baseline's figure measured like the headline (out of fold, or on the held-out test)."""
    if protocol == "held_out_test":
        return _baseline_test(base, legacy)
    return base if fmt.is_number(base.get("value")) else None


def verdict(manifest: dict[str, Any]) -> tuple[bool, str] | None:
    """(whether the search beat every baseline, a sentence that says so), measured like the headline."""
    head = headline(manifest)
    if not head or not fmt.is_number(head.get("value")):
        return None
    greater = bool((manifest.get("metric") or {}).get("greater_is_better", True))
    protocol, legacy = str(head.get("protocol")), is_legacy(manifest)
    figures = [
        (str(b.get("name")), f)
        for b in manifest.get("baselines") or []
        if (f := _baseline_figure(b, protocol, legacy)) and fmt.is_number(f.get("value"))
    ]
    if not figures:
        return None
    metric, value = head.get("metric") or (manifest.get("metric") or {}).get("name", "score"), head["value"]
    name, best = (max if greater else min)(figures, key=lambda item: item[1]["value"])
    better = value > best["value"] if greater else value < best["value"]
    where = MEASURED.get(protocol, protocol)
    if better:
        overlap = _overlaps(head, best)
        return True, (
            f"The search beats every baseline {where}: {metric} {fmt.score(value)} against the best baseline's "
            f"{fmt.score(best['value'])} ({name})."
            + (" Their 95% intervals overlap, so the margin may be noise." if overlap else "")
        )
    return False, (
        f"The search does not beat the plain answer {where}: baseline {name} scores {fmt.score(best['value'])}, "
        f"the chosen model {fmt.score(value)}. On this data the baseline is at least as good."
    )


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    bounds = [a.get("ci_low"), a.get("ci_high"), b.get("ci_low"), b.get("ci_high")]
    if not all(fmt.is_number(x) for x in bounds):
        return False
    return bounds[0] <= bounds[3] and bounds[2] <= bounds[1]


def sentence(manifest: dict[str, Any]) -> str:
    """The headline in one sentence (Markdown): value, interval, protocol in words, over how many rows."""
    head = headline(manifest)
    if not head:
        return "This study has no estimate (it did not complete)."
    metric = head.get("metric") or (manifest.get("metric") or {}).get("name", "score")
    return f"Estimated {metric} on new data: **{interval(head, 4)}**, {protocol_words(head)}, {over(head, manifest)}."
