"""Window labels, alarm episodes and event-level scores (the evaluation's yardstick)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.events import alarm_episodes, match_events, window_labels

T0 = pd.Timestamp("2024-01-01")


def _events():
    return pd.DataFrame({"user_id": ["a", "a"], "start": [T0 + pd.Timedelta("3h"), T0 + pd.Timedelta("34h")],
                         "end": [T0 + pd.Timedelta("3h30min"), T0 + pd.Timedelta("34h20min")],
                         "kind": ["acute", "bradycardia"]})


def test_window_is_positive_when_an_event_is_inside_or_starts_within_30_minutes():
    ends = pd.date_range(T0, periods=12 * 48, freq="5min")
    y, kind = window_labels(np.array(["a"] * len(ends), dtype=object), ends, _events(), window_minutes=60)
    pos = ends[y]
    # first positive window ends 30 min before the event starts; last starts at the event's end
    assert pos[0] == T0 + pd.Timedelta("2h30min")
    assert (pos <= T0 + pd.Timedelta("4h30min")).all() or (pos >= T0 + pd.Timedelta("34h")).any()
    assert set(kind[y]) == {0, 3} and (kind[~y] == -1).all()
    other_user = window_labels(np.array(["b"] * len(ends), dtype=object), ends, _events(), 60)[0]
    assert not other_user.any()


def test_episodes_merge_nearby_flags_and_split_users():
    ends = pd.date_range(T0, periods=30, freq="5min")
    users = np.array(["a"] * 20 + ["b"] * 10, dtype=object)
    flags = np.zeros(30, bool)
    flags[[1, 2, 5, 19, 20]] = True  # 1,2,5 merge (gap <= 60 min); 19 is a; 20 is b
    ep = alarm_episodes(users, ends, flags)
    assert list(ep["n_windows"]) == [3, 1, 1] and list(ep["user_id"]) == ["a", "a", "b"]


def test_event_f1_is_the_harmonic_mean_of_event_recall_and_episode_precision():
    episodes = pd.DataFrame({"user_id": ["a", "a", "a"],
                             "start": [T0 + pd.Timedelta("2h50min"), T0 + pd.Timedelta("10h"), T0 + pd.Timedelta("20h")],
                             "end": [T0 + pd.Timedelta("3h10min"), T0 + pd.Timedelta("10h5min"), T0 + pd.Timedelta("20h5min")]})
    report = match_events(episodes, _events(), user_days=2.0)
    assert report.recall == 0.5 and report.precision == pytest.approx(1 / 3)
    assert report.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert report.false_alarms == 2 and report.false_alarms_per_user_day == 1.0
    assert report.per_kind["acute"]["recall"] == 1.0 and report.per_kind["bradycardia"]["recall"] == 0.0
