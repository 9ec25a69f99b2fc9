"""Labels <-> windows, and event-level matching of alarms.

Window label (as in the seed): a window is positive when a labelled event overlaps
it or starts within `horizon_minutes` after its end (1 hour window, 30 minutes ahead).

Event-level scoring looks at what a person would see: consecutive flagged
windows of a user merge into one *alarm episode*. An event counts as detected
when an episode touches [start - horizon, end]; an episode that touches no event
(with the same tolerance) is a false alarm. False alarms are reported per
user-day so detectors with different flag densities compare fairly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .metrics import f1, window_metrics

WEARABLE_KINDS = ("acute", "illness", "desaturation", "bradycardia")


def wearable_events(labels: pd.DataFrame) -> pd.DataFrame:
    """Only the 5-minute-stream events (labels.csv rows with stream == 'wearable')."""
    ev = labels if "stream" not in labels else labels[labels["stream"] == "wearable"]
    ev = ev.copy()
    ev["start"] = pd.to_datetime(ev["start"])
    ev["end"] = pd.to_datetime(ev["end"])
    return ev.reset_index(drop=True)


def window_labels(user_ids: np.ndarray, end_times: np.ndarray, events: pd.DataFrame, window_minutes: float,
                  horizon_minutes: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """(y, kind) per window; kind is the index in WEARABLE_KINDS of the overlapping event, -1 if none."""
    end = pd.DatetimeIndex(end_times).as_unit("ns").asi8
    start = end - int(window_minutes * 60e9)
    horizon = int(horizon_minutes * 60e9)
    user_ids = np.asarray(user_ids, dtype=object)
    y = np.zeros(len(end), dtype=bool)
    kind = np.full(len(end), -1, dtype=np.int64)
    by_user = {u: np.flatnonzero(user_ids == u) for u in pd.unique(user_ids)}
    for ev in events.itertuples():
        idx = by_user.get(ev.user_id)
        if idx is None:
            continue
        s, e = pd.Timestamp(ev.start).as_unit("ns").value, pd.Timestamp(ev.end).as_unit("ns").value
        hit = idx[(start[idx] <= e) & (end[idx] + horizon >= s)]
        y[hit] = True
        if ev.kind in WEARABLE_KINDS:
            kind[hit] = WEARABLE_KINDS.index(ev.kind)
    return y, kind


def alarm_episodes(user_ids: np.ndarray, end_times: np.ndarray, flags: np.ndarray,
                   merge_gap_minutes: float = 60.0) -> pd.DataFrame:
    """Merge flagged windows of each user into episodes (user_id, start, end, n_windows)."""
    frame = pd.DataFrame({"user_id": np.asarray(user_ids, dtype=object), "t": pd.DatetimeIndex(end_times)})
    frame = frame[np.asarray(flags, dtype=bool)].sort_values(["user_id", "t"], kind="stable")
    if frame.empty:
        return pd.DataFrame(columns=["user_id", "start", "end", "n_windows"])
    gap = frame["t"].diff().dt.total_seconds().fillna(np.inf) > merge_gap_minutes * 60
    new = gap | (frame["user_id"] != frame["user_id"].shift())
    frame["episode"] = new.cumsum()
    return frame.groupby("episode").agg(user_id=("user_id", "first"), start=("t", "min"), end=("t", "max"),
                                        n_windows=("t", "size")).reset_index(drop=True)


@dataclass
class EventReport:
    events: int
    detected: int
    episodes: int
    true_episodes: int
    false_alarms: int
    user_days: float
    per_kind: dict = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.detected / self.events if self.events else float("nan")

    @property
    def precision(self) -> float:
        return self.true_episodes / self.episodes if self.episodes else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of event recall and episode precision (events and episodes are counted apart)."""
        return f1(self.precision, self.recall) if self.events else float("nan")

    @property
    def false_alarms_per_user_day(self) -> float:
        return self.false_alarms / self.user_days if self.user_days else float("nan")

    def as_dict(self) -> dict:
        return {"events": self.events, "detected": self.detected, "event_recall": round(self.recall, 4),
                "episodes": self.episodes, "event_precision": round(self.precision, 4),
                "event_f1": round(self.f1, 4), "false_alarms": self.false_alarms,
                "false_alarms_per_user_day": round(self.false_alarms_per_user_day, 4),
                "per_kind": self.per_kind}


def match_events(episodes: pd.DataFrame, events: pd.DataFrame, user_days: float,
                 horizon_minutes: float = 30.0, grace_minutes: float = 60.0) -> EventReport:
    """Event recall per kind, episode precision and false alarms per user-day."""
    horizon = pd.Timedelta(minutes=horizon_minutes)
    grace = pd.Timedelta(minutes=grace_minutes)
    detected = np.zeros(len(events), dtype=bool)
    true_ep = np.zeros(len(episodes), dtype=bool)
    ep_by_user = {u: g for u, g in episodes.groupby("user_id")} if len(episodes) else {}
    for i, ev in enumerate(events.itertuples()):
        g = ep_by_user.get(ev.user_id)
        if g is None:
            continue
        hit = (g["end"] >= ev.start - horizon) & (g["start"] <= ev.end + grace)
        if hit.any():
            detected[i] = True
            true_ep[episodes.index.get_indexer(g.index[hit.to_numpy()])] = True
    per_kind = {}
    for kind in sorted(events["kind"].unique()) if len(events) else []:
        m = (events["kind"] == kind).to_numpy()
        per_kind[kind] = {"events": int(m.sum()), "detected": int(detected[m].sum()),
                          "recall": round(float(detected[m].mean()), 4)}
    return EventReport(events=len(events), detected=int(detected.sum()), episodes=len(episodes),
                       true_episodes=int(true_ep.sum()), false_alarms=int((~true_ep).sum()),
                       user_days=float(user_days), per_kind=per_kind)


def event_report(windows, flags: np.ndarray, events: pd.DataFrame, user_days: float) -> EventReport:
    """Flags of a Windows batch as alarm episodes, matched against labelled events."""
    return match_events(alarm_episodes(windows.user_ids, windows.end_times, flags), events, user_days)


def window_and_event_metrics(windows, scores: np.ndarray, y: np.ndarray, threshold: float,
                             events: pd.DataFrame, user_days: float) -> dict:
    """Window-level (metrics.window_metrics) and event-level figures of scores at one threshold."""
    return {**window_metrics(scores, y, threshold),
            **event_report(windows, np.asarray(scores) >= threshold, events, user_days).as_dict()}


def calibrate_event_threshold(windows, scores: np.ndarray, events: pd.DataFrame, user_days: float,
                              n_candidates: int = 60) -> float:
    """Threshold with the best event-level F1 (ties: the higher threshold, fewer alarms)."""
    finite = scores[np.isfinite(scores)]
    qs = np.unique(np.quantile(finite, np.linspace(0.5, 0.9995, n_candidates)))
    best, best_f1 = float(qs[-1]), -1.0
    for thr in qs[::-1]:
        score = event_report(windows, scores >= thr, events, user_days).f1
        if score > best_f1 + 1e-9:
            best, best_f1 = float(thr), score
    return best
