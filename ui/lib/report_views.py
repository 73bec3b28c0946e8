"""Study page sections about the chosen model: held-out test report, synthetic data quality, model card."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from automl.store import Store
from ui.lib import charts, model_card, synth_quality
from ui.lib import formatting as fmt


def test_report(manifest: dict[str, Any]) -> None:
    """The held-out metric with its interval, the baselines beside it, the confusion matrix or residuals."""
    report = manifest.get("test_report") or {}
    if not report:
        st.info("This study has no held-out test report (it did not complete).")
        return
    metric = report.get("metric", "score")
    unit = fmt.examples(manifest)
    st.markdown(
        f"Scored once on **{report.get('n_test', '?')} held-out {unit}** that the search never saw. "
        "Intervals are 95% bootstrap intervals."
    )
    rows = [
        {
            "model": f"chosen ({(manifest.get('best') or {}).get('trial', '?')})",
            metric: report.get("value"),
            "95% CI low": report.get("ci_low"),
            "95% CI high": report.get("ci_high"),
            "what": f"the chosen configuration refitted on all non-test {unit}",
        }
    ]
    for base in manifest.get("baselines") or []:
        rows.append(
            {
                "model": f"baseline: {base.get('name')}",
                metric: base.get("value"),
                "95% CI low": base.get("ci_low"),
                "95% CI high": base.get("ci_high"),
                "what": base.get("description", ""),
            }
        )
    cols = st.columns(3)
    cols[0].metric(f"test {metric}", fmt.score(report.get("value")))
    cols[1].metric(
        "95% interval", f"{fmt.score(report.get('ci_low'), 3)} to {fmt.score(report.get('ci_high'), 3)}"
    )
    if fmt.is_number(report.get("chance_level")):
        cols[2].metric("chance level", fmt.score(report["chance_level"]))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="test_vs_baselines")
    others = {k: v for k, v in (report.get("all_metrics") or {}).items()}
    if others:
        st.caption("All metrics: " + ", ".join(f"{k} {fmt.score(v)}" for k, v in others.items()))

    matrix = report.get("confusion_matrix") or {}
    if matrix.get("rows_true_columns_predicted"):
        left, right = st.columns(2)
        with left:
            st.markdown("##### Confusion matrix")
            labels = [str(label) for label in matrix.get("labels") or []]
            st.altair_chart(
                charts.confusion_chart(matrix["rows_true_columns_predicted"], labels), width="stretch"
            )
        with right:
            st.markdown("##### Per class")
            st.dataframe(
                pd.DataFrame(report.get("per_class") or []), hide_index=True, width="stretch", key="per_class"
            )
    if report.get("residuals"):
        st.markdown("##### Residuals (true - predicted)")
        residuals = report["residuals"]
        st.dataframe(
            pd.DataFrame([{"statistic": k, "value": v} for k, v in residuals.items()]),
            hide_index=True,
            key="residuals",
        )


def synthetic_quality(manifest: dict[str, Any]) -> None:
    """SDV's quality report, computed on request, or why it is not shown."""
    reason = synth_quality.reason_not_shown(manifest)
    if reason:
        st.info(f"Synthetic data quality is not shown. {reason}")
        return
    method = ((manifest.get("best") or {}).get("config") or {}).get("synth_method")
    st.markdown(
        f"The chosen configuration adds synthetic rows ({method}). This report fits SDV's GaussianCopula on the "
        "non-test rows of the study's data file and compares a sample of the same size with the real rows "
        "(column shapes and pair trends, 0 to 1, higher is closer)."
    )
    key = f"synth_quality_{manifest.get('study_id')}"
    if st.button("Compute the quality report (a few seconds)", key=f"{key}_button"):
        with st.spinner("Fitting GaussianCopula and scoring the sample..."):
            try:
                st.session_state[key] = synth_quality.quality_report(manifest)
            except Exception as exc:  # SDV failing on odd data must not break the page
                st.session_state[key] = None
                st.warning(f"The quality report could not be computed: {type(exc).__name__}: {exc}")
    result = st.session_state.get(key)
    if result:
        score, properties, columns = result
        st.metric("overall quality", f"{score:.1%}")
        st.dataframe(properties, hide_index=True, key="synth_properties")
        st.dataframe(columns.drop(columns=["Table"], errors="ignore"), hide_index=True, key="synth_columns")


def model_section(store: Store, manifest: dict[str, Any]) -> None:
    """The model card and a zip of the model directory."""
    if manifest.get("status") != "completed":
        st.info("A model card and download exist once the study has completed.")
        return
    study_id = str(manifest.get("study_id"))
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
        contents = "weights, model.json" if image else "weights, preprocessing"
        st.download_button(
            f"Download the model (zip: {contents}, model card)",
            data=payload,
            file_name=f"{study_id}-model.zip",
            mime="application/zip",
            type="primary",
            key="model_zip",
        )
    st.caption(f"Model directory: {(manifest.get('model') or {}).get('uri', '-')}")
    st.markdown(card)
