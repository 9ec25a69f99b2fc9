"""Plotly figures for the app. Pure functions: data in, `go.Figure` out (no Gradio here)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config import FeatureConfig
from ..data.markers import Marker
from ..data.records import TIME
from .i18n import FEATURE_WORDS, t, word

MARKER_COLOR = "#7c3aed"

# Channels worth a panel, in reading order; only those with observed values are drawn.
CHART_FEATURES = ("hr", "hr_resting", "hrv_rmssd", "resp_rate", "spo2", "skin_temp", "steps")
TIMELINE_FEATURES = ("hr", "hr_resting", "hrv_rmssd", "spo2")
SCORE_COLOR, THRESH_COLOR, BAND_COLOR, ALERT_COLOR = "#4338ca", "#dc2626", "rgba(34,197,94,0.18)", "rgba(220,38,38,0.12)"


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=70, r=30, t=80, b=40), template="plotly_white",
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


def _label(config: FeatureConfig, name: str, lang: str = "en") -> str:
    spec = config.features.get(name)
    shown = word(FEATURE_WORDS, name, lang)
    return f"{shown} ({spec.unit})" if spec is not None and spec.unit else shown


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
                        subplot_titles=[_label(config, f, lang) for f in features] + [t("score", lang)])
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
                  annotation_text=f"{t('threshold_word', lang)} {thr:.3f}",
                  annotation_position="bottom right" if thr < 0.7 else "bottom left")
    fig.update_xaxes(range=[0, 1], row=n, col=1)
    return _layout(fig, t("window_chart", lang), 170 * n + 80)


def envelope(times: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about `max_points` points of a series for the browser: each bucket of consecutive rows
    keeps its lowest and its highest value, in time order (min/max decimation), so a quarter of an hour
    at 140 bpm or a dip of SpO2 stays on a 91-day chart, where an average would flatten it. A bucket
    with no value keeps one gap, so the line breaks where the device recorded nothing."""
    n = len(values)
    if n <= max_points:
        return times, values
    step = int(np.ceil(2 * n / max(max_points, 2)))
    nb = int(np.ceil(n / step))
    y = np.full(nb * step, np.nan)
    y[:n] = values
    y = y.reshape(nb, step)
    empty = np.isnan(y).all(axis=1)
    lo = np.argmin(np.where(np.isnan(y), np.inf, y), axis=1)
    hi = np.argmax(np.where(np.isnan(y), -np.inf, y), axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    second[empty] = first[empty] = 0
    idx = (np.arange(nb) * step)[:, None] + np.stack([first, second], axis=1)
    idx = np.where(empty[:, None], idx[:, :1], idx)  # one gap point (twice) for an empty bucket
    idx = np.minimum(idx.ravel(), n - 1)
    keep = np.r_[True, idx[1:] != idx[:-1]]  # a flat bucket (min == max) needs one point
    idx = idx[keep]
    return times[idx], values[idx]


def timeline_figure(frame: pd.DataFrame, scored: pd.DataFrame, days: pd.DataFrame, threshold: float,
                    config: FeatureConfig, lang: str = "en", max_points: int = 4000,
                    markers: list[Marker] | None = None) -> go.Figure:
    """One user's history: metric panels, anomaly score with the threshold, alert days shaded, the
    person's events as labelled vertical lines (inside the history's span)."""
    features = observed_features(frame, TIMELINE_FEATURES)
    n = len(features) + 1
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[_label(config, f, lang) for f in features] + [t("score", lang)])
    times = frame[TIME].to_numpy()
    for i, name in enumerate(features, start=1):
        x, y = envelope(times, frame[name].to_numpy(np.float64), max_points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, showlegend=False, line=dict(width=1)),
                      row=i, col=1)
    x, y = envelope(scored[TIME].to_numpy(), scored["anomaly_score"].to_numpy(np.float64), max_points)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=t("score", lang), line=dict(color=SCORE_COLOR, width=1)),
                  row=n, col=1)
    fig.add_hline(y=threshold, line=dict(color=THRESH_COLOR, dash="dash"), row=n, col=1,
                  annotation_text=f"{t('threshold_word', lang)} {threshold:.3f}", annotation_position="top left")
    fig.update_yaxes(range=[0, 1], row=n, col=1)
    alert_days = pd.to_datetime(days.loc[days["alert"], "date"]) if len(days) else []
    # shaded across every panel; shapes set in one layout update (add_vrect per day costs ~0.1 s each)
    shapes = [dict(type="rect", x0=d, x1=d + pd.Timedelta(days=1), y0=0, y1=1, xref="x", yref="paper",
                   fillcolor=ALERT_COLOR, line_width=0, layer="below") for d in alert_days]
    if len(alert_days):  # legend entry for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(size=12, color=ALERT_COLOR,
                                 symbol="square"), name=t("alert_period", lang)), row=n, col=1)
    shapes += marker_shapes(markers or [], frame[TIME].min() if len(frame) else None,
                            frame[TIME].max() if len(frame) else None)
    fig.update_layout(shapes=list(fig.layout.shapes) + shapes,
                      annotations=list(fig.layout.annotations) + marker_labels(markers or [], shapes, lang))
    return _layout(fig, t("timeline", lang), 160 * n + 100)


def marker_shapes(markers: list[Marker], start, end) -> list[dict]:
    """Each event inside [start - 1 day, end + 1 day] as a dotted vertical line across all panels
    (at noon of its day), named `marker:<kind>`."""
    if start is None:
        return []
    lo, hi = pd.Timestamp(start).normalize() - pd.Timedelta(days=1), pd.Timestamp(end) + pd.Timedelta(days=1)
    out = []
    for m in markers:
        x = pd.Timestamp(m.date) + pd.Timedelta(hours=12)
        if lo <= x <= hi:
            out.append(dict(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper", name=f"marker:{m.kind}",
                            line=dict(color=MARKER_COLOR, width=1.5, dash="dot")))
    return out


def marker_labels(markers: list[Marker], shapes: list[dict], lang: str) -> list[dict]:
    """The kind of each drawn event, written up its line from the bottom of the figure."""
    drawn = {(s["x0"], s["name"]) for s in shapes if str(s.get("name", "")).startswith("marker:")}
    return [dict(x=pd.Timestamp(m.date) + pd.Timedelta(hours=12), y=0.0, xref="x", yref="paper", text=m.label(lang),
                 showarrow=False, textangle=-90, xanchor="right", yanchor="bottom", name=f"marker:{m.kind}",
                 font=dict(color=MARKER_COLOR, size=11), bgcolor="rgba(255,255,255,0.8)")
            for m in markers if (pd.Timestamp(m.date) + pd.Timedelta(hours=12), f"marker:{m.kind}") in drawn]


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


def baseline_history_figure(history: pd.DataFrame, metric: str, lang: str = "en",
                            day_values: pd.Series | None = None) -> go.Figure:
    """Stored personal baseline snapshots of one metric: mean ± sd (smooth), and each day's own mean
    (`day_values`, measured) as dots drawn on top, so a spike is not hidden by the baseline."""
    h = history.dropna(subset=["mean"])
    if h.empty:
        return empty_figure(t("no_personal_history", lang, metric=metric))
    h = h.groupby("day", sort=True).last().reset_index()
    x = h["day"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(x) + list(x[::-1]), y=list(h["mean"] + h["std"]) + list((h["mean"] - h["std"])[::-1]),
                             fill="toself", fillcolor=BAND_COLOR, line=dict(width=0), name=t("baseline_band", lang)))
    fig.add_trace(go.Scatter(x=x, y=h["mean"], mode="lines", name=t("personal", lang), line=dict(color="#16a34a")))
    if day_values is not None and len(day_values):
        fig.add_trace(go.Scatter(x=pd.DatetimeIndex(day_values.index), y=day_values.to_numpy(), mode="markers",
                                 name=t("day_value", lang), marker=dict(color="#0f172a", size=7)))
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
    user = html.escape(str(prescreen.get("user_id", ""))[:80])  # plotly titles render <b>, <a>...: data stays text
    return _layout(fig, f"{t('prescreen_chart', lang)} · {user}", 380)
