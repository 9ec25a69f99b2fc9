"""Plain physiological changes to an hour of a new user's heart rate and steps, and the verdict a
clinician would expect from the red-flag sources (configs/red_flags.json): the checks a reviewer
makes by hand, kept as a test. New user = no history, so only group baselines and absolute flags."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

ANOMALY = {"alert", "urgent"}


def hour_of(start_hour: int, hr, steps: int = 0, **extra) -> list[dict]:
    """12 five-minute records from `start_hour`; `hr` a number or a function of the record index."""
    t0 = datetime(2024, 3, 5, start_hour, 0)
    return [{"timestamp": (t0 + timedelta(minutes=5 * i)).isoformat(), "deviceId": "phys",
             "features": {"hr": hr(i) if callable(hr) else hr, "steps": steps, **extra}} for i in range(12)]


@pytest.mark.parametrize("name, window, expected", [
    ("resting afternoon, 70 bpm", hour_of(14, 70), {"normal"}),
    ("an hour at 115 bpm at rest", hour_of(14, 115), ANOMALY),
    ("an hour at 125 bpm at rest (Apple's high-HR rule)", hour_of(14, 125), ANOMALY),
    ("an hour at 140 bpm at rest (NEWS2 >= 131)", hour_of(14, 140), {"urgent"}),
    ("half an hour at 130 bpm at rest", hour_of(14, lambda i: 130 if i >= 6 else 70), ANOMALY),
    ("one record at 180 bpm", hour_of(14, lambda i: 180 if i == 6 else 70), {"normal"}),
    ("160 bpm while walking 120 steps/min", hour_of(14, 160, steps=600), {"normal"}),
    ("38 bpm awake at rest", hour_of(14, 38), ANOMALY),
    ("38 bpm at night", hour_of(3, 38), ANOMALY),
    ("45 bpm at night (normal in sleep)", hour_of(3, 45), {"normal"}),
    ("110 bpm at night", hour_of(3, 110), ANOMALY),
    ("SpO2 88 % for an hour at rest", hour_of(3, 60, spo2=88), {"urgent"}),
    ("SpO2 92 % for an hour at rest", hour_of(3, 60, spo2=92), {"watch"}),
    ("respiration 26 / min at rest", hour_of(14, 70, resp_rate=26), ANOMALY),
    # rest read from the step count alone cannot see a bike: a short rise is a watch until 30 minutes ...
    ("15 minutes at 125 bpm, steps only", hour_of(14, lambda i: 125 if i >= 9 else 70), {"watch"}),
    # ... a still wrist says rest (Apple's 10 minutes) ...
    ("15 minutes at 125 bpm, still wrist", hour_of(14, lambda i: 125 if i >= 9 else 70, accel_mag=0.02), ANOMALY),
    # ... and the SVT range alerts after 10 minutes either way
    ("15 minutes at 165 bpm, steps only", hour_of(14, lambda i: 165 if i >= 9 else 70), ANOMALY),
])
def test_plain_physiological_changes_get_the_expected_verdict(shared_detector, name, window, expected):
    result = shared_detector.detect_realtime(window, update_baseline=False)
    assert result["level"] in expected, (name, result["level"], [r["code"] for r in result["reasons"]])
    assert result["is_anomaly"] == (result["level"] in ANOMALY)


@pytest.fixture(scope="module")
def person_with_history(tmp_path_factory):
    """A detector whose store holds 10 days of one simulated person, and a resting afternoon hour of
    the 11th day (no steps): the window the changes below are made to."""
    import numpy as np
    import pandas as pd

    from wearable_monitor import WearableAnomalyDetector
    from wearable_monitor.data.records import frame_to_records
    from wearable_monitor.simulation.simulator import simulate_user

    frame = simulate_user("p2", days=11, seed=42, events=[]).frame.sort_values("timestamp").reset_index(drop=True)
    t = pd.DatetimeIndex(frame["timestamp"])
    last_day = t.normalize().max()
    det = WearableAnomalyDetector(storage=str(tmp_path_factory.mktemp("store") / "baselines.db"))
    det.score_history(frame[t < last_day], update_baseline=True)
    afternoon = frame[(t >= last_day + pd.Timedelta(hours=14)) & (t < last_day + pd.Timedelta(hours=18))]
    still = np.convolve(afternoon["steps"].fillna(0).to_numpy(), np.ones(12), "valid") == 0
    start = int(np.flatnonzero(still)[0])
    return det, frame_to_records(afternoon.iloc[start:start + 12])


@pytest.mark.parametrize("name, changes, expected", [
    ("the hour as it was", {}, {"normal"}),
    ("heart rate +30 bpm at rest", {"hr": lambda v: v + 30}, ANOMALY),
    ("heart rate +20 bpm at rest", {"hr": lambda v: v + 20}, {"watch"}),
    ("breathing +5 / min at rest", {"resp_rate": lambda v: v + 5}, {"watch"}),
    ("a fever-like hour: HR +20, breathing +4, skin +1 degC, HRV -40 %",
     {"hr": lambda v: v + 20, "resp_rate": lambda v: v + 4, "skin_temp": lambda v: v + 1.0,
      "hrv_rmssd": lambda v: v * 0.6}, ANOMALY),
])
def test_changes_against_the_persons_own_baseline(person_with_history, name, changes, expected):
    """After ten days the person's own baseline is the reference: the same edits a reviewer would make."""
    import copy

    det, window = person_with_history
    window = copy.deepcopy(window)
    for record in window:
        for key, change in changes.items():
            if record["features"].get(key) is not None:
                record["features"][key] = change(record["features"][key])
    result = det.detect_realtime(window, update_baseline=False)
    assert result["baseline"]["source"] == "personal"
    assert result["level"] in expected, (name, result["level"], [r["code"] for r in result["reasons"]])
