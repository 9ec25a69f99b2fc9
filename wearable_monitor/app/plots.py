"""Plotly figures for the app. Pure functions: data in, `go.Figure` out (no Gradio here)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config import FeatureConfig
from ..data.records import TIME
from .i18n import t

# Channels worth a panel, in reading order; only those with observed values are drawn.
CHART_FEATURES = ("hr", "hr_resting", "hrv_rmssd", "resp_rate", "spo2", "skin_temp", "steps")
TIMELINE_FEATURES = ("hr", "hr_resting", "hrv_rmssd", "spo2")
SCORE_COLOR, THRESH_COLOR, BAND_COLOR, ALERT_COLOR = "#4338ca", "#dc2626", "rgba(34,197,94,0.18)", "rgba(220,38,38,0.12)"


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=60, r=20, t=60, b=40), template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1))
    return fig


def empty_figure(message: str = "") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", 240)


def observed_features(frame: pd.DataFrame, names=CHART_FEATURES) -> list[str]:
    return [n for n in names if n in frame and frame[n].notna().any()]


def _label(config: FeatureConfig, name: str) -> str:
    spec = config.features.get(name)
    return f"{name} ({spec.unit})" if spec is not None and spec.unit else name


def _baseline_of(result: dict, config: FeatureConfig, feature: str) -> dict | None:
    """The blended baseline the detector used for `feature` (time-of-day period first)."""
    metrics = (result.get("baseline") or {}).get("metrics") or {}
    period = (result.get("window") or {}).get("time_period")
    for key, spec in config.baseline_metrics.items():
        if spec.source == feature:
            b = metrics.get(f"{key}_{period}") or metrics.get(key)
            if b and b.get("mean") is not None and b.get("std") is not None and np.isfinite([b["mean"], b["std"]]).all():
                return b
    return None


def window_figure(rows: pd.DataFrame, result: dict, config: FeatureConfig, lang: str = "en") -> go.Figure:
    """One panel per measured channel of the window with its baseline band, plus score vs threshold."""
    features = observed_features(rows)
    n = len(features) + 1
    fig = make_subplots(rows=n, cols=1, shared_xaxes=False, vertical_spacing=0.06,
                        subplot_titles=[_label(config, f) for f in features] + [t("score", lang)])
    x = rows[TIME]
    for i, name in enumerate(features, start=1):
        b = _baseline_of(result, config, name)
        if b is not None:
            lo, hi = b["mean"] - b["std"], b["mean"] + b["std"]
            fig.add_trace(go.Scatter(x=list(x) + list(x[::-1]), y=[hi] * len(x) + [lo] * len(x), fill="toself",
                                     fillcolor=BAND_COLOR, line=dict(width=0), hoverinfo="skip",
                                     name=t("baseline_band", lang), showlegend=i == 1,
                                     legendgroup="band"), row=i, col=1)
            fig.add_trace(go.Scatter(x=x, y=[b["mean"]] * len(x), mode="lines", line=dict(dash="dot", color="#16a34a"),
                                     showlegend=False, hoverinfo="skip"), row=i, col=1)
        fig.add_trace(go.Scatter(x=x, y=rows[name], mode="lines+markers", name=name, showlegend=False,
                                 line=dict(color="#0f172a")), row=i, col=1)
    score, thr = result["anomaly_score"], result["threshold"]
    fig.add_trace(go.Bar(x=[score], y=[t("score", lang)], orientation="h", showlegend=False,
                         marker_color=THRESH_COLOR if score >= thr else "#16a34a",
                         text=[f"{score:.3f}"], textposition="auto"), row=n, col=1)
    fig.add_vline(x=thr, line=dict(color=THRESH_COLOR, dash="dash"), row=n, col=1,
                  annotation_text=f"{t('threshold_word', lang)} {thr:.3f}", annotation_position="top")
    fig.update_xaxes(range=[0, 1], row=n, col=1)
    return _layout(fig, t("window_chart", lang), 170 * n + 80)


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Keep charts light in the browser: average consecutive rows when there are too many."""
    if len(frame) <= max_points:
        return frame
    step = int(np.ceil(len(frame) / max_points))
    groups = np.arange(len(frame)) // step
    numeric = frame.select_dtypes("number").groupby(groups).mean()
    numeric[TIME] = frame[TIME].groupby(groups).first().to_numpy()
    return numeric


def timeline_figure(frame: pd.DataFrame, scored: pd.DataFrame, days: pd.DataFrame, threshold: float,
                    config: FeatureConfig, lang: str = "en", max_points: int = 6000) -> go.Figure:
    """One user's history: metric panels, anomaly score with the threshold, alert days shaded."""
    features = observed_features(frame, TIMELINE_FEATURES)
    n = len(features) + 1
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[_label(config, f) for f in features] + [t("score", lang)])
    thin = _thin(frame[[TIME, *features]], max_points)
    for i, name in enumerate(features, start=1):
        fig.add_trace(go.Scatter(x=thin[TIME], y=thin[name], mode="lines", name=name, showlegend=False,
                                 line=dict(width=1)), row=i, col=1)
    s = _thin(scored[[TIME, "anomaly_score"]], max_points)
    fig.add_trace(go.Scatter(x=s[TIME], y=s["anomaly_score"], mode="lines", name=t("score", lang),
                             line=dict(color=SCORE_COLOR, width=1)), row=n, col=1)
    fig.add_hline(y=threshold, line=dict(color=THRESH_COLOR, dash="dash"), row=n, col=1,
                  annotation_text=f"{t('threshold_word', lang)} {threshold:.3f}")
    fig.update_yaxes(range=[0, 1], row=n, col=1)
    alert_days = pd.to_datetime(days.loc[days["alert"], "date"]) if len(days) else []
    for d in alert_days:  # shaded across every panel
        fig.add_vrect(x0=d, x1=d + pd.Timedelta(days=1), fillcolor=ALERT_COLOR, line_width=0, layer="below")
    if len(alert_days):  # legend entry for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(size=12, color=ALERT_COLOR,
                                 symbol="square"), name=t("alert_period", lang)), row=n, col=1)
    return _layout(fig, t("timeline", lang), 160 * n + 100)


def alpha_figure(scored: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Personal vs group weight of the blended baseline over time (one value per window)."""
    s = scored[[TIME, "baseline_alpha"]].dropna()
    s = s.groupby(s[TIME].dt.normalize())["baseline_alpha"].first()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s.index, y=s.values, mode="lines+markers", line_shape="hv",
                             name=t("personal_weight", lang), line=dict(color="#0891b2")))
    fig.add_trace(go.Scatter(x=s.index, y=1 - s.values, mode="lines", line_shape="hv",
                             name=t("group_weight", lang), line=dict(color="#a3a3a3", dash="dot")))
    fig.update_yaxes(range=[-0.02, 1.02])
    return _layout(fig, t("baseline_evolution", lang), 320)


def baseline_history_figure(history: pd.DataFrame, metric: str, lang: str = "en") -> go.Figure:
    """Stored personal baseline snapshots of one metric: mean ± sd and each day's mean."""
    h = history.dropna(subset=["mean"])
    if h.empty:
        return empty_figure(f"{metric}: no personal history yet")
    h = h.groupby("day", sort=True).last().reset_index()
    x = h["day"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(x) + list(x[::-1]), y=list(h["mean"] + h["std"]) + list((h["mean"] - h["std"])[::-1]),
                             fill="toself", fillcolor=BAND_COLOR, line=dict(width=0), name=t("baseline_band", lang)))
    fig.add_trace(go.Scatter(x=x, y=h["mean"], mode="lines", name=t("personal", lang), line=dict(color="#16a34a")))
    if h["day_mean"].notna().any():
        fig.add_trace(go.Scatter(x=x, y=h["day_mean"], mode="markers", name="day mean", marker=dict(color="#0f172a")))
    return _layout(fig, f"{t('baseline_history', lang)}: {metric}", 340)


def prescreen_figure(prescreen: dict, lang: str = "en") -> go.Figure:
    """PatchTrAD prescreen scores with the threshold and flagged segments shaded."""
    x = pd.to_datetime(pd.Series(prescreen.get("timestamps", [])), errors="coerce")
    y = pd.to_numeric(pd.Series(prescreen.get("scores", [])), errors="coerce")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=t("score", lang), line=dict(color=SCORE_COLOR, width=1)))
    thr = prescreen.get("threshold")
    if isinstance(thr, (int, float)):
        fig.add_hline(y=thr, line=dict(color=THRESH_COLOR, dash="dash"),
                      annotation_text=f"{t('threshold_word', lang)} {thr:.3g}")
    for seg in prescreen.get("segments", []) or []:
        try:
            fig.add_vrect(x0=pd.Timestamp(seg["start"]), x1=pd.Timestamp(seg["end"]), fillcolor=ALERT_COLOR,
                          line_width=0, layer="below")
        except (KeyError, TypeError, ValueError):
            continue  # a malformed segment is skipped, the scores are still shown
    user = prescreen.get("user_id", "")
    return _layout(fig, f"{t('prescreen_chart', lang)} · {user}", 380)
