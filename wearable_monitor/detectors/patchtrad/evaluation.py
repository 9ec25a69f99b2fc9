"""PatchTrAD's own held-out report (`wearable-monitor train-patchtrad`): window and event metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.records import TIME, USER
from ...events import alarm_episodes, match_events, wearable_events, window_labels
from ...metrics import window_metrics
from .detector import PatchTrADDetector
from .series import frame_series


def evaluate_patchtrad(det: PatchTrADDetector, frame: pd.DataFrame, labels: pd.DataFrame,
                       window_size: int = 12) -> dict:
    """Window-level and event-level metrics on (held-out) users, with the shared `events` rules.

    Windows: every run of `window_size` consecutive records of a user (stride 1), scored by
    the max record score in it (series path: each patch sees its 8-hour context); labelled
    positive when a wearable event overlaps it or starts within 30 minutes after its end.
    Events: flagged windows merge into alarm episodes (events.alarm_episodes / match_events).
    """
    rec = np.nan_to_num(det.score_series(frame), nan=0.0)
    uid = frame[USER].astype(str).to_numpy()
    ts = pd.DatetimeIndex(frame[TIME])
    w_scores, w_users, w_end = [], [], []
    for u, a, b in frame_series(frame, det.config).users:
        if b - a < window_size:
            continue
        w_scores.append(np.lib.stride_tricks.sliding_window_view(rec[a:b], window_size).max(axis=1))
        w_users.append(uid[a + window_size - 1:b])
        w_end.append(ts[a + window_size - 1:b].as_unit("ns").asi8)
    scores, users, ends = np.concatenate(w_scores), np.concatenate(w_users), np.concatenate(w_end)
    events = wearable_events(labels)
    y, _ = window_labels(users, ends.astype("datetime64[ns]"), events,
                         window_minutes=window_size * det.config.sampling_minutes)
    episodes = alarm_episodes(users, ends.astype("datetime64[ns]"), scores >= det.threshold_)
    user_days = frame.groupby(USER)[TIME].agg(lambda t: (t.max() - t.min()).total_seconds() / 86400).sum()
    ev = events[events["user_id"].astype(str).isin(set(uid))]
    report = match_events(episodes, ev.reset_index(drop=True), user_days)
    return {**window_metrics(scores, y, det.threshold_), "window_size": window_size, "threshold": det.threshold_,
            "events": report.as_dict()}
