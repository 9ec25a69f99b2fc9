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
