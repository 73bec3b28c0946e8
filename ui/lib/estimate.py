"""The study's honest number as the pages show it: the estimate, its protocol, the baselines beside it.

A completed study's manifest holds `cv_estimate` (the out-of-fold BBC-CV figure, with the uncorrected
score and the bias), `estimate` (the same figure, or the held-out test's when there is one) and
`test_report` (only with a held-out test). The pages lead with `Manifest.headline` (the out-of-fold
figure), as `automl show` does (automl/summary.py), and show the held-out test beside it; the page text
says which protocol each figure comes from. Studies stored before out-of-fold estimation
have only `test_report`, and baselines scored on that test: their test score is their headline.
"""

from __future__ import annotations

from typing import Any

from automl.manifest import Baseline, Estimate, Manifest, TestReport
from automl.summary import protocol_text
from ui.lib import formatting as fmt
from ui.lib.formatting import AnyManifest

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


def is_legacy(manifest: AnyManifest) -> bool:
    """A study stored before out-of-fold estimation: a test report and no estimate."""
    m = Manifest.of(manifest)
    return not m.estimate and bool(m.test_report)


def _test_figure(report: TestReport) -> Estimate:
    """The held-out test report as a figure of its own, read like an estimate."""
    return Estimate(
        metric=report.metric,
        value=report.value,
        ci_low=report.ci_low,
        ci_high=report.ci_high,
        level=0.95 if report.level is None else report.level,
        protocol="held_out_test",
        n_rows=report.n_test,
        chance_level=report.chance_level,
    )


def headline(manifest: AnyManifest) -> Estimate | None:
    """What a user reads first: `Manifest.headline` (the out-of-fold estimate), or, for a study stored
    before out-of-fold estimation, its held-out test score; None without either."""
    m = Manifest.of(manifest)
    found = m.headline()
    if found:
        return found
    return _test_figure(m.test_report) if m.test_report else None


def cv_estimate(manifest: AnyManifest) -> Estimate | None:
    """The out-of-fold figure (always there for a new study; None for an old one)."""
    m = Manifest.of(manifest)
    if m.cv_estimate:
        return m.cv_estimate
    head = m.estimate
    return head if head and head.protocol != "held_out_test" else None


def held_out_test(manifest: AnyManifest) -> TestReport | None:
    """The one-shot held-out test report, only when the study had a held-out test."""
    return Manifest.of(manifest).test_report or None


def protocol_words(entry: Estimate) -> str:
    """The protocol in words, as `automl show` says it."""
    return protocol_text(entry)


def over(entry: Estimate, manifest: AnyManifest) -> str:
    """'over 80 rows' / 'over 32 images'."""
    return f"over {fmt.known(entry.n_rows)} {Manifest.of(manifest).unit}"


def interval(entry: Estimate | None, digits: int = 3) -> str:
    """'0.91 (95% CI 0.85 to 0.96)', or '-'."""
    if entry is None:
        return "-"
    return fmt.interval(entry.value, entry.ci_low, entry.ci_high, digits)


def catalog_cells(manifest: AnyManifest) -> dict[str, str]:
    """The Studies table's cells: the headline with its interval, and how and on what it was measured."""
    m = Manifest.of(manifest)
    head = headline(m)
    if not head:
        return {"estimate": "-", "estimated by": "-"}
    protocol = str(fmt.known(head.protocol))
    by = f"{PROTOCOL_SHORT.get(protocol, protocol)}, {fmt.known(head.n_rows)} {m.unit}"
    test = held_out_test(m)
    if test and protocol != "held_out_test":  # the held-out test is beside the estimate
        by += f"; {PROTOCOL_SHORT['held_out_test']}, {fmt.known(test.n_test)} {m.unit}"
    return {"estimate": interval(head), "estimated by": by}


def members(manifest: AnyManifest) -> dict[str, float]:
    """The chosen trial(s) and their weights, heaviest first (one trial of weight 1 for single-model rules)."""
    m = Manifest.of(manifest)
    found = (m.selection.members if m.selection else {}) or (m.best.members if m.best else {})
    if not found:
        found = {m.best.trial: 1.0} if m.best and m.best.trial else {}
    return dict(sorted(((str(t), float(w)) for t, w in found.items()), key=lambda item: -item[1]))


def is_ensemble(manifest: AnyManifest) -> bool:
    m = Manifest.of(manifest)
    return (m.model is not None and m.model.kind == "ensemble") or len(members(m)) > 1


def members_text(manifest: AnyManifest) -> str:
    """'t03 (0.50), t01 (0.30), t02 (0.20)'."""
    return ", ".join(f"{t} ({w:.2f})" for t, w in members(manifest).items())


def notes(manifest: AnyManifest) -> list[str]:
    """What the estimate's notes say (e.g. a perfect out-of-fold score on a handful of rows)."""
    m = Manifest.of(manifest)
    seen: list[str] = []
    for entry in (m.estimate, m.cv_estimate):
        for note in entry.notes if entry else []:
            if note not in seen:
                seen.append(str(note))
    return seen


def _baseline_test(base: Baseline, legacy: bool) -> Estimate | None:
    if legacy:  # old studies scored their baselines on the held-out test
        return base if fmt.is_number(base.value) else None
    return base.test


def comparison_rows(manifest: AnyManifest) -> list[dict[str, Any]]:
    """The chosen model and each baseline: out-of-fold figure, held-out test figure (when any), what it is."""
    m = Manifest.of(manifest)
    legacy = is_legacy(m)
    cv, test = cv_estimate(m), held_out_test(m)
    chosen = f"ensemble of {len(members(m))} trials" if is_ensemble(m) else f"trial {_trial(m)}"
    rows = [
        {
            "model": f"chosen: {chosen}",
            "out of fold": None if legacy or not cv else cv.value,
            "out-of-fold 95% CI": "" if legacy else _ci(cv),
            "held-out test": test.value if test else None,
            "test 95% CI": _ci(test),
            "what": exported_what(m),
        }
    ]
    for base in m.baselines:
        tested = _baseline_test(base, legacy)
        rows.append(
            {
                "model": f"baseline: {base.name}",
                "out of fold": None if legacy else base.value,
                "out-of-fold 95% CI": "" if legacy else _ci(base),
                "held-out test": tested.value if tested else None,
                "test 95% CI": _ci(tested),
                "what": str(base.description),
            }
        )
    drop = ["held-out test", "test 95% CI"] if not test else []
    drop += ["out of fold", "out-of-fold 95% CI"] if legacy else []
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def exported_what(manifest: Manifest) -> str:
    """What the exported model is, in words."""
    kind = manifest.model.kind if manifest.model else None
    if kind == "bag":
        refit = manifest.best.refit if manifest.best else {}
        return (
            f"the choice's {refit.get('members', 'fold')} networks of the fresh folds, averaged: the predictor "
            "the out-of-fold estimate measured"
        )
    return f"the search's choice, refitted on all search {manifest.unit}"


def _trial(manifest: Manifest) -> str:
    return str(manifest.best.trial) if manifest.best else "?"


def _ci(entry: Estimate | None) -> str:
    low, high = (entry.ci_low, entry.ci_high) if entry else (None, None)
    return (
        f"{fmt.score(low, 3)} to {fmt.score(high, 3)}" if fmt.is_number(low) and fmt.is_number(high) else ""
    )


def _baseline_figure(base: Baseline, protocol: str, legacy: bool) -> Estimate | None:
    """A baseline's figure measured like the headline (out of fold, or on the held-out test)."""
    if protocol == "held_out_test":
        return _baseline_test(base, legacy)
    return base if fmt.is_number(base.value) else None


def verdict(manifest: AnyManifest) -> tuple[bool, str] | None:
    """(whether the search beat every baseline, a sentence that says so), measured like the headline."""
    m = Manifest.of(manifest)
    head = headline(m)
    if not head or not fmt.is_number(head.value):
        return None
    greater = fmt.greater_is_better(m)
    protocol, legacy = str(head.protocol), is_legacy(m)
    figures = [
        (str(b.name), f)
        for b in m.baselines
        if (f := _baseline_figure(b, protocol, legacy)) and fmt.is_number(f.value)
    ]
    if not figures:
        return None
    metric, value = head.metric or fmt.metric_name(m), head.value
    name, best = (max if greater else min)(figures, key=lambda item: item[1].value)
    better = value > best.value if greater else value < best.value
    where = MEASURED.get(protocol, protocol)
    if better:
        overlap = _overlaps(head, best)
        return True, (
            f"The search beats every baseline {where}: {metric} {fmt.score(value)} against the best baseline's "
            f"{fmt.score(best.value)} ({name})."
            + (" Their 95% intervals overlap, so the margin may be noise." if overlap else "")
        )
    return False, (
        f"The search does not beat the plain answer {where}: baseline {name} scores {fmt.score(best.value)}, "
        f"the chosen model {fmt.score(value)}. On this data the baseline is at least as good."
    )


def _overlaps(a: Estimate, b: Estimate) -> bool:
    bounds = [a.ci_low, a.ci_high, b.ci_low, b.ci_high]
    if not all(fmt.is_number(x) for x in bounds):
        return False
    return bounds[0] <= bounds[3] and bounds[2] <= bounds[1]


def sentence(manifest: AnyManifest) -> str:
    """The headline in one sentence (Markdown): value, interval, protocol in words, over how many rows;
    and the held-out test beside it, when the study has one."""
    m = Manifest.of(manifest)
    head = headline(m)
    if not head:
        return "This study has no estimate (it did not complete)."
    metric = head.metric or fmt.metric_name(m)
    text = (
        f"Estimated {metric} on new data: **{interval(head, 4)}**, {protocol_words(head)}, {over(head, m)}."
    )
    test = held_out_test(m)
    if test and head.protocol != "held_out_test":
        tested = _test_figure(test)
        text += f" Beside it, the {protocol_words(tested)}, {over(tested, m)}: **{interval(tested, 4)}**."
    return text
