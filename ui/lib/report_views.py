"""Study page sections about the chosen model: its estimate (and held-out test), synthetic data, model card."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from automl.manifest import Estimate, Manifest, TestReport
from automl.store import Store
from ui.lib import charts, estimate, loaders, model_card, oof_view, synth_quality
from ui.lib import formatting as fmt
from ui.lib.settings import storage


def estimate_section(manifest: Manifest) -> None:
    """The estimate first (protocol, rows, interval, uncorrected score, bias, chance level, notes), the
    baselines beside it, the out-of-fold figure; the one-shot held-out test beside them when there is one."""
    head = estimate.headline(manifest)
    if not head:
        st.info("This study has no estimate (it did not complete).")
        return
    st.markdown(estimate.sentence(manifest))
    for note in estimate.notes(manifest):
        st.warning(f"Note: {note}")
    found = estimate.verdict(manifest)
    if found:
        (st.success if found[0] else st.warning)(found[1])
    st.dataframe(
        pd.DataFrame(estimate.comparison_rows(manifest)),
        hide_index=True,
        width="stretch",
        key="estimate_vs_baselines",
        column_config={
            c: st.column_config.NumberColumn(c, format="%.4f") for c in ("out of fold", "held-out test")
        },
    )
    st.caption(
        "Baselines are scored on the same folds as the search (and, with a held-out test, refitted on every "
        "search row and tested once): if one of them is as good, the search bought nothing."
    )
    cv, test = estimate.cv_estimate(manifest), estimate.held_out_test(manifest)
    if cv and test:
        left, right = st.columns(2)
        with left:
            _out_of_fold(manifest, cv, narrow=True)
        with right:
            _held_out(manifest, test)
    elif cv:
        _out_of_fold(manifest, cv)
        st.caption(
            "No held-out test: below 2,000 rows every row goes to the search and the estimate, which is "
            "out of fold and corrected for the choice. `--test-size F` (or the New study form's fraction) "
            "also holds out a test set."
        )
    elif test:
        st.caption(
            "This study was stored before out-of-fold estimation: its headline is the held-out test score, "
            "and its baselines were scored on that test."
        )
        _held_out(manifest, test)


def _out_of_fold(manifest: Manifest, cv: Estimate, narrow: bool = False) -> None:
    """The out-of-fold figure: value, interval, the score before the correction, the bias, the figure
    (metrics two by two when `narrow`: beside the held-out test, the section is half the page wide)."""
    metric = cv.metric or "score"
    st.markdown(f"##### Out of fold, {estimate.over(cv, manifest)}")
    words = estimate.protocol_words(cv)
    st.caption(words[:1].upper() + words[1:] + ".")
    cols = [*st.columns(2), *st.columns(2)] if narrow else st.columns(4)
    cols[0].metric(
        "out-of-fold estimate", fmt.score(cv.value), help=f"{metric}, bias-corrected for the choice"
    )
    cols[1].metric(f"{_level(cv)} interval", f"{fmt.score(cv.ci_low, 3)} to {fmt.score(cv.ci_high, 3)}")
    if fmt.is_number(cv.apparent):
        cols[2].metric(
            "before the correction",
            fmt.score(cv.apparent),
            delta=f"bias {fmt.score(cv.bias, 3)}",
            delta_color="off",
            delta_arrow="off",
            help="the chosen model's own out-of-fold score; the bias is this minus the estimate",
        )
    if fmt.is_number(cv.chance_level):
        cols[3].metric("chance level", fmt.score(cv.chance_level))
    picked = cv.picked
    if picked:
        with st.expander(f"What the rule picked in {fmt.known(cv.n_bootstrap)} bootstrap resamples"):
            st.dataframe(
                pd.DataFrame(
                    [{"trial": t, "share of resamples": share} for t, share in picked.items()]
                ).sort_values("share of resamples", ascending=False),
                hide_index=True,
                key="picked",
            )
    oof_figure(manifest)


def _level(entry: Estimate) -> str:
    level = entry.level
    return f"{level:.0%}" if fmt.is_number(level) else "95%"


def oof_figure(manifest: Manifest) -> None:
    """Calibration and confusion matrix (classification) or predicted against true (regression), out of fold."""
    study_id, updated = manifest.study_id, manifest.updated_at
    try:
        frame = loaders.oof_predictions(storage(), study_id, updated)
    except Exception as exc:
        st.warning(f"The out-of-fold predictions cannot be read: {exc}")
        return
    members = estimate.members(manifest)
    predictions = None if frame is None else oof_view.chosen_predictions(frame, members)
    if predictions is None:
        st.info("This study stored no out-of-fold predictions of its chosen model.")
        return
    y, why = loaders.true_labels(storage(), study_id, updated)
    matched = None if y is None else oof_view.aligned(predictions, y)
    if matched is None:
        st.info(f"The out-of-fold figure is not shown: {why or 'the labels do not match the predictions'}.")
        return
    predictions, y = matched
    who = "the ensemble (members weighted)" if len(members) > 1 else f"trial {next(iter(members))}"
    data = manifest.data
    if "prediction" in predictions:
        st.markdown("##### Predicted against true, out of fold")
        st.altair_chart(
            charts.predicted_vs_true_chart(
                oof_view.regression_frame(predictions["prediction"].to_numpy(), y),
                str(data.get("target", "")),
            ),
            width="stretch",
        )
        st.caption(
            f"One point per {fmt.examples(manifest)[:-1]}: {who}, predicted by the folds that did not train on it."
        )
        return
    probabilities = predictions[[c for c in predictions if c.startswith("pred_")]].to_numpy()
    reliability = oof_view.reliability_frame(probabilities, y)
    st.markdown("##### Calibration, out of fold")
    st.altair_chart(charts.reliability_chart(reliability), width="stretch")
    st.caption(
        f"{who.capitalize()}: the predicted class's probability, binned, against how often that class was "
        f"right (dashed: perfect calibration; expected calibration error "
        f"{fmt.score(oof_view.expected_calibration_error(reliability), 3)}). Each {fmt.examples(manifest)[:-1]} "
        "is predicted by the folds that did not train on it, averaged over fold repeats."
    )
    labels = [str(c) for c in data.get("classes") or range(probabilities.shape[1])]
    st.markdown("##### Confusion matrix, out of fold")
    st.altair_chart(
        charts.confusion_chart(oof_view.confusion(probabilities, y, len(labels)), labels), width="stretch"
    )


def _held_out(manifest: Manifest, report: TestReport) -> None:
    """The one-shot held-out test: value, interval, the confusion matrix and per-class scores, or residuals."""
    metric = report.metric or "score"
    unit = fmt.examples(manifest)
    st.markdown(f"##### Held-out test, over {report.n_test} {unit}")
    st.caption(f"Scored once on {unit} that the search never saw; 95% bootstrap interval.")
    cols = [*st.columns(2), *st.columns(2)]
    cols[0].metric(f"test {metric}", fmt.score(report.value))
    cols[1].metric("95% interval", f"{fmt.score(report.ci_low, 3)} to {fmt.score(report.ci_high, 3)}")
    if fmt.is_number(report.chance_level):
        cols[2].metric("chance level", fmt.score(report.chance_level))
    others = {k: v for k, v in report.all_metrics.items() if k != metric}
    if others:
        st.caption("Other metrics: " + ", ".join(f"{k} {fmt.score(v)}" for k, v in others.items()))
    matrix = report.confusion_matrix
    if matrix and matrix.rows_true_columns_predicted:
        st.markdown("##### Confusion matrix, held-out test")
        labels = [str(label) for label in matrix.labels or []]
        st.altair_chart(charts.confusion_chart(matrix.rows_true_columns_predicted, labels), width="stretch")
        st.markdown("##### Per class, held-out test")
        st.dataframe(pd.DataFrame(report.per_class), hide_index=True, width="stretch", key="per_class")
    if report.residuals:
        st.markdown("##### Residuals (true - predicted), held-out test")
        st.dataframe(
            pd.DataFrame([{"statistic": k, "value": v} for k, v in report.residuals.items()]),
            hide_index=True,
            key="residuals",
        )


def synthetic_quality(manifest: Manifest) -> None:
    """SDV's quality report as the study stored it, or why it is not shown."""
    try:
        report, reason = synth_quality.stored_report(loaders.store(storage()), manifest)
    except Exception as exc:  # an unreadable report must not break the page
        report, reason = None, f"The stored report cannot be read: {exc}"
    if report is None:
        st.info(f"Synthetic data quality is not shown. {reason}")
        return
    st.markdown(
        f"The chosen configuration adds synthetic rows ({report.get('method')}). At the end of the study SDV's "
        f"GaussianCopula was fitted on the {report.get('n_rows')} search rows (never the held-out test rows) and a "
        "sample of the same size compared with them (column shapes and pair trends, 0 to 1, higher is closer)."
    )
    properties, columns = synth_quality.tables(report)
    st.metric("overall quality", f"{float(report['score']):.1%}")
    st.dataframe(properties, hide_index=True, key="synth_properties")
    st.dataframe(columns, hide_index=True, key="synth_columns")


def model_section(store: Store, manifest: Manifest) -> None:
    """The model card and a zip of the model directory."""
    if manifest.status != "completed":
        st.info("A model card and download exist once the study has completed.")
        return
    study_id = manifest.study_id
    image = fmt.is_image(manifest)
    info = model_card.read_model_info(store, study_id) if image else None
    if image and info is None:
        st.warning("The model's model.json cannot be read; the card below says what the manifest records.")
    card = model_card.card_markdown(manifest, info)
    try:
        payload = model_card.model_zip(store, study_id, card)
    except Exception as exc:
        st.warning(f"The model files cannot be read: {exc}")
    else:
        if estimate.is_ensemble(manifest):
            contents = f"the {len(estimate.members(manifest))} members' weights, model.json"
        else:
            contents = "weights, model.json" if image else "weights, preprocessing"
        st.download_button(
            f"Download the model (zip: {contents}, model card)",
            data=payload,
            file_name=f"{study_id}-model.zip",
            mime="application/zip",
            type="primary",
            key="model_zip",
        )
    st.caption(f"Model directory: {manifest.model.uri if manifest.model else '-'}")
    st.markdown(card)
