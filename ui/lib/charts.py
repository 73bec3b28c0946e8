"""Altair charts of a study: learning curves, validation vs gap with the 1-SE band, techniques, importance,
confusion matrices, and the chosen model's out-of-fold calibration or predicted-against-true figure.

Every function returns a chart object and draws nothing, so the figures can be checked in tests.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from automl.manifest import Manifest
from ui.lib.leaderboard import band_bounds

CHOSEN = "#d62728"
BAND = "#ffc400"


def curves_chart(curves: pd.DataFrame, trials: list[str], chosen: str | None, metric: str) -> alt.Chart:
    """Train and validation score per epoch of `trials` (fold means); the chosen trial drawn thicker."""
    frame = curves[curves["trial"].isin(trials)]
    long = frame.melt(
        id_vars=["trial", "epoch"],
        value_vars=[c for c in ("curve_train", "curve_val") if c in frame],
        var_name="split",
        value_name="score",
    )
    long["split"] = long["split"].map({"curve_train": "train", "curve_val": "validation"})
    width = alt.condition(alt.datum.trial == (chosen or ""), alt.value(3.5), alt.value(1.5))
    return (
        alt.Chart(long)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("score:Q", title=f"{metric} (mean over folds)", scale=alt.Scale(zero=False)),
            color=alt.Color("trial:N", title="trial", scale=alt.Scale(scheme="category10")),
            strokeDash=alt.StrokeDash("split:N", title="split", sort=["validation", "train"]),
            strokeWidth=width,
            tooltip=["trial", "split", "epoch", alt.Tooltip("score:Q", format=".4f")],
        )
        .properties(height=360)
    )


def gap_scatter(board: pd.DataFrame, manifest: Manifest, metric: str) -> alt.LayerChart:
    """One point per trial: validation score (± std) against gap, the 1-SE band shaded, the choice marked."""
    frame = board.dropna(subset=["val_score", "gap"]).copy()
    frame["low"] = frame["val_score"] - frame["val_std"].fillna(0)
    frame["high"] = frame["val_score"] + frame["val_std"].fillna(0)
    frame["chosen"] = frame.get("chosen", False)
    base = alt.Chart(frame)
    x = alt.X("gap:Q", title="gap (train - validation; > 0 means overfitting)")
    y = alt.Y("val_score:Q", title=f"validation {metric}", scale=alt.Scale(zero=False))
    tips = [
        "trial",
        "status",
        alt.Tooltip("val_score:Q", format=".4f"),
        alt.Tooltip("val_std:Q", format=".4f"),
        alt.Tooltip("gap:Q", format=".4f"),
        "n_params",
    ]
    layers: list[alt.Chart] = []
    bounds = band_bounds(manifest, board)
    if bounds is not None:
        band = pd.DataFrame({"low": [bounds[0]], "high": [bounds[1]], "what": ["one-standard-error band"]})
        layers.append(
            alt.Chart(band)
            .mark_rect(opacity=0.18, color=BAND)
            .encode(y="low:Q", y2="high:Q", tooltip=["what", alt.Tooltip("low:Q", format=".4f")])
        )
    layers += [
        alt.Chart(pd.DataFrame({"gap": [0.0]})).mark_rule(color="gray", strokeDash=[4, 4]).encode(x="gap:Q"),
        base.mark_rule(opacity=0.35).encode(x=x, y="low:Q", y2="high:Q"),
        base.mark_circle(size=70).encode(x=x, y=y, color=alt.Color("status:N"), tooltip=tips),
    ]
    picked = frame[frame["chosen"].astype(bool)]
    if len(picked):
        layers += [
            alt.Chart(picked)
            .mark_point(shape="diamond", size=320, filled=False, strokeWidth=2.5, color=CHOSEN)
            .encode(x=x, y=y, tooltip=tips),
            alt.Chart(picked.assign(label=_chosen_labels(picked)))
            .mark_text(dx=14, dy=-12, align="left", color=CHOSEN, fontWeight="bold")
            .encode(x=x, y=y, text="label:N"),
        ]
    return alt.layer(*layers).properties(height=380)


def _chosen_labels(picked: pd.DataFrame) -> pd.Series:
    """'chosen t02', or 'member t01 (0.30)' for each trial of an ensemble."""
    if len(picked) > 1 and "ensemble_weight" in picked:
        return "member " + picked["trial"] + picked["ensemble_weight"].map(lambda w: f" ({w:.2f})")
    return "chosen " + picked["trial"]


def technique_chart(groups: pd.DataFrame, technique: str, metric: str) -> alt.LayerChart:
    """Validation score of each trial by group of one technique, with the group mean as a tick."""
    frame = groups[groups["technique"] == technique]
    x = alt.X(
        "group:N",
        title=technique,
        sort=sorted(frame["group"].unique()),
        axis=alt.Axis(labelAngle=0, labelLimit=140),
    )
    y = alt.Y("val_score:Q", title="validation", scale=alt.Scale(zero=False))
    points = (
        alt.Chart(frame)
        .mark_circle(size=55, opacity=0.75)
        .encode(
            x=x,
            y=y,
            color=alt.condition(alt.datum.chosen, alt.value(CHOSEN), alt.value("#1f77b4")),
            tooltip=["trial", "group", alt.Tooltip("val_score:Q", format=".4f")],
        )
    )
    means = (
        alt.Chart(frame).mark_tick(thickness=2.5, size=26, color="black").encode(x=x, y="mean(val_score):Q")
    )
    return alt.layer(points, means).properties(height=240, title=f"validation {metric} by {technique}")


def importance_chart(importances: dict[str, float]) -> alt.Chart:
    """Horizontal bars of parameter importance (fANOVA, normalized to sum to 1)."""
    frame = pd.DataFrame({"parameter": list(importances), "importance": list(importances.values())})
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("importance:Q", title="importance (share of explained variance)"),
            y=alt.Y("parameter:N", sort="-x", title=None),
            tooltip=["parameter", alt.Tooltip("importance:Q", format=".3f")],
        )
        .properties(height=max(120, 24 * len(frame)))
    )


def confusion_chart(matrix: list[list[int]], labels: list[str]) -> alt.LayerChart:
    """Heat map of a confusion matrix (rows: true class, columns: predicted)."""
    rows = [
        {"true": labels[i], "predicted": labels[j], "count": int(count)}
        for i, row in enumerate(matrix)
        for j, count in enumerate(row)
    ]
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=labels, title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:N", sort=labels, title="true"),
    )
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None))
    text = base.mark_text(fontSize=14).encode(
        text="count:Q",
        color=alt.condition(
            alt.datum.count > frame["count"].max() / 2, alt.value("white"), alt.value("black")
        ),
    )
    return alt.layer(cells, text).properties(height=max(200, 56 * len(labels) + 60))


def reliability_chart(reliability: pd.DataFrame) -> alt.LayerChart:
    """Calibration of the predicted class's probability: mean probability against how often it was right."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        color="gray", strokeDash=[4, 4]
    )
    scale = alt.Scale(domain=[0, 1])
    x = alt.X("confidence:Q", title="predicted probability of the predicted class", scale=scale)
    y = alt.Y("accuracy:Q", title="share predicted right (out of fold)", scale=scale)
    tips = [
        alt.Tooltip("bin_low:Q", format=".1f", title="from"),
        alt.Tooltip("bin_high:Q", format=".1f", title="to"),
        alt.Tooltip("confidence:Q", format=".3f"),
        alt.Tooltip("accuracy:Q", format=".3f"),
        "rows:Q",
    ]
    base = alt.Chart(reliability)
    return alt.layer(
        diagonal.encode(x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale)),
        base.mark_line(color=CHOSEN).encode(x=x, y=y),
        base.mark_circle(color=CHOSEN, opacity=0.8).encode(
            x=x, y=y, size=alt.Size("rows:Q", title="rows", legend=None), tooltip=tips
        ),
    ).properties(height=300)


def predicted_vs_true_chart(frame: pd.DataFrame, target: str) -> alt.LayerChart:
    """Out-of-fold prediction against the true value, with the line where they are equal."""
    low = float(min(frame["true"].min(), frame["predicted"].min()))
    high = float(max(frame["true"].max(), frame["predicted"].max()))
    scale = alt.Scale(domain=[low, high], zero=False)
    diagonal = alt.Chart(pd.DataFrame({"true": [low, high], "predicted": [low, high]})).mark_line(
        color="gray", strokeDash=[4, 4]
    )
    x = alt.X("true:Q", title=f"true {target}", scale=scale)
    y = alt.Y("predicted:Q", title=f"predicted {target} (out of fold)", scale=scale)
    points = (
        alt.Chart(frame)
        .mark_circle(size=40, opacity=0.6, color=CHOSEN)
        .encode(
            x=x, y=y, tooltip=[alt.Tooltip("true:Q", format=".4g"), alt.Tooltip("predicted:Q", format=".4g")]
        )
    )
    return alt.layer(diagonal.encode(x=x, y=y), points).properties(height=300)
