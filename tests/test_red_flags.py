"""Red flags at each threshold's boundary: inside / outside, sustained / single spike, rest / exercise,
asleep / awake; the config's validation; and the same answer in the realtime and batch paths."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from wearable_monitor.config import ConfigError, default_feature_config
from wearable_monitor.verdict.findings import Level
from wearable_monitor.data.records import records_to_columns
from wearable_monitor.verdict.red_flags import (DEFAULT_RED_FLAGS, default_red_flag_config, parse_red_flag_config,
                                                red_flag_runs, run_finding)
from wearable_monitor.data.validation import validate_items

CONFIG = default_feature_config()
START = datetime(2024, 3, 5, 14, 0)  # an afternoon: awake by the clock unless sleep_state says otherwise


def records(n=12, start=START, user="rf", **series):
    """n 5-minute records; each keyword is a scalar or a list of n values (None = not measured)."""
    out = []
    for i in range(n):
        feats = {}
        for name, v in series.items():
            x = v[i] if isinstance(v, (list, tuple)) else v
            if x is not None:
                feats[name] = x
        out.append({"timestamp": (start + timedelta(minutes=5 * i)).isoformat(), "deviceId": user, "features": feats})
    return out


def codes(recs, cfg=None):
    result = validate_items(enumerate(recs, start=1), CONFIG, source="<test>")
    assert result.ok, result.summary()
    cols = records_to_columns(result.records, CONFIG)
    return {r.code: r for r in red_flag_runs(cols, CONFIG, cfg)}, cols


@pytest.mark.parametrize("hr,expected", [(119.9, set()), (120.0, {"hr_high_rest"}), (131.0, {"hr_very_high_rest"})])
def test_high_heart_rate_at_rest_boundary(hr, expected):
    found, _ = codes(records(hr=hr, steps=0))
    alerting = {c for c, r in found.items() if r.level >= Level.ALERT}
    assert expected <= alerting and (alerting <= expected | {"hr_high_rest"})
    if not expected:
        assert not alerting


def test_one_high_record_is_not_sustained_and_exercise_is_not_rest():
    spike = [75.0] * 12
    spike[6] = 150.0
    assert "hr_high_rest" not in codes(records(hr=spike, steps=0))[0]
    # two records make the 10 minutes: sustained
    two = [75.0] * 12
    two[6] = two[7] = 125.0
    assert "hr_high_rest" in codes(records(hr=two, steps=0))[0]
    # the same heart rate while walking is exercise
    assert not codes(records(hr=140.0, steps=400))[0]
    # steps 5 minutes earlier: the first 10 minutes after activity are not "at rest"
    steps = [300] * 4 + [0] * 8
    found, _ = codes(records(hr=[130.0] * 12, steps=steps))
    run = found["hr_high_rest"]
    assert run.first == 5  # rest starts once 10 minutes have passed without steps


def test_low_heart_rate_awake_versus_asleep():
    awake = codes(records(hr=40.0, steps=0, sleep_state="awake"))[0]
    assert "hr_low_awake" in awake and awake["hr_low_awake"].level == Level.ALERT
    assert set(codes(records(hr=40.5, steps=0, sleep_state="awake"))[0]) == {"hr_slow_awake"}  # no alert: a watch
    # 40 bpm asleep is within what sleep can do (40-50 can be normal); below 40 is not
    assert not codes(records(hr=40.0, steps=0, sleep_state="deep"))[0]
    asleep = codes(records(hr=39.5, steps=0, sleep_state="deep"))[0]
    assert set(asleep) == {"hr_low_asleep"}
    # without a sleep stage, night hours get the sleeping floor
    night = datetime(2024, 3, 5, 2, 0)
    assert not codes(records(hr=40.0, steps=0, start=night))[0]
    assert "hr_low_asleep" in codes(records(hr=38.0, steps=0, start=night))[0]


@pytest.mark.parametrize("hr,n,sleep_state,expected", [
    (49.9, 6, "awake", {"hr_slow_awake"}),  # 6 records = 30 minutes awake at rest below 50: bradycardia
    (50.0, 12, "awake", set()),             # 50 is not below 50
    (49.9, 5, "awake", set()),              # 25 minutes: not yet sustained for the watch
    (45.0, 12, "light", set()),             # 40-50 in sleep can be normal
])
def test_heart_rate_below_fifty_awake_at_rest_for_half_an_hour_is_a_watch(hr, n, sleep_state, expected):
    found, _ = codes(records(n=n, hr=hr, steps=0, sleep_state=sleep_state))
    assert set(found) == expected
    if expected:
        assert found["hr_slow_awake"].level == Level.WATCH
    walking = [hr] * n
    assert not codes(records(n=n, hr=walking, steps=400, sleep_state=sleep_state))[0]  # not at rest


def test_low_heart_rate_inside_an_athletes_own_range_is_not_a_red_flag():
    recs = records(hr=38.0, steps=0, sleep_state="awake")
    result = validate_items(enumerate(recs, start=1), CONFIG, source="<test>")
    cols = dict(records_to_columns(result.records, CONFIG))
    athlete = {**cols, "bl_hr_resting_mean": 41.0, "bl_hr_resting_std": 2.0, "bl_alpha": 1.0}
    assert not red_flag_runs(athlete, CONFIG)
    # a new user (group baseline) or a resting HR far below the person's own range still flags
    assert red_flag_runs({**athlete, "bl_alpha": 0.2}, CONFIG)
    assert red_flag_runs({**athlete, "bl_hr_resting_mean": 60.0, "bl_hr_resting_std": 4.0}, CONFIG)


@pytest.mark.parametrize("spo2,expected", [(92.0, None), (91.0, "spo2_low"), (88.0, "spo2_very_low")])
def test_spo2_boundary(spo2, expected):
    found, _ = codes(records(hr=60.0, spo2=spo2, steps=0, sleep_state="light"))
    alerting = {c for c, r in found.items() if r.level >= Level.ALERT}
    if expected is None:
        assert not alerting and "spo2_below_normal" in found and found["spo2_below_normal"].level == Level.WATCH
    else:
        assert expected in alerting


def test_spo2_during_motion_and_single_low_samples_are_not_red_flags():
    assert not {c for c, r in codes(records(hr=110.0, spo2=85.0, steps=500))[0].items() if c.startswith("spo2")}
    dips = [97.0] * 12
    dips[3] = dips[8] = 84.0
    assert not codes(records(hr=60.0, spo2=dips, steps=0))[0]


@pytest.mark.parametrize("resp,expected", [(24.9, None), (25.0, "resp_high"), (8.0, "resp_low"), (8.1, None)])
def test_respiration_boundary(resp, expected):
    found, _ = codes(records(hr=70.0, resp_rate=resp, steps=0))
    alerting = {c for c, r in found.items() if r.level >= Level.ALERT}
    assert alerting == ({expected} if expected else set())


def test_unknown_activity_lowers_the_level_and_says_why():
    found, cols = codes(records(hr=125.0))  # no step count at all
    run = found["hr_high_rest"]
    assert run.level == Level.WATCH and run.evidence["activity_unknown"]
    finding = run_finding(run, cols)
    assert "step count" in finding.advice["en"] and "步数" in finding.advice["zh"]
    assert finding.title["en"].endswith("(activity unknown: no step count)") and "活动状态未知" in finding.title["zh"]
    # without steps, the device's own resting-HR estimate says the person was at rest
    found, _ = codes(records(hr=125.0, hr_resting=125.0))
    assert found["hr_high_rest"].level == Level.ALERT and not found["hr_high_rest"].evidence["activity_unknown"]


def test_rest_by_steps_alone_needs_half_an_hour_for_the_high_heart_rate_alert():
    """Without an accelerometer a step count is the only sign of rest, and a bike or a home workout counts no
    steps: 15 minutes above 120 is a watch that says why, 30 minutes an alert; with a still wrist, 10 minutes."""
    quarter = [75.0] * 9 + [125.0] * 3
    found, cols = codes(records(hr=quarter, steps=0))
    run = found["hr_high_rest"]
    assert run.level == Level.WATCH and run.evidence["steps_only"] and not run.evidence["activity_unknown"]
    advice = run_finding(run, cols).advice
    assert "step count alone" in advice["en"] and "30 min" in advice["en"] and "30 分钟" in advice["zh"]
    assert found_levels(records(hr=[75.0] * 6 + [125.0] * 6, steps=0))["hr_high_rest"] == Level.ALERT
    assert found_levels(records(hr=quarter, steps=0, accel_mag=0.02))["hr_high_rest"] == Level.ALERT
    # the urgent flag already asks for 30 minutes: unchanged
    assert found_levels(records(hr=[75.0] * 6 + [140.0] * 6, steps=0))["hr_very_high_rest"] == Level.URGENT
    # signals exercise does not raise keep their 10 minutes: low heart rate awake
    assert found_levels(records(hr=[60.0] * 10 + [38.0] * 2, steps=0))["hr_low_awake"] == Level.ALERT


def found_levels(recs):
    """The highest level of each red flag in the records."""
    result = validate_items(enumerate(recs, start=1), CONFIG, source="<test>")
    cols = records_to_columns(result.records, CONFIG)
    out = {}
    for r in red_flag_runs(cols, CONFIG):
        out[r.code] = max(out.get(r.code, 0), r.level)
    return out


def test_a_long_steps_only_run_is_a_watch_in_windows_that_see_less_than_half_an_hour(shared_detector):
    """The realtime window and the batch replay agree while a steps-only run grows: watch, then alert."""
    hr = [70.0] * 20 + [128.0] * 10 + [70.0] * 10
    recs = records(n=40, hr=hr, steps=0, user="growing")
    scored = shared_detector.score_history(recs, update_baseline=False)
    for k, want in ((22, Level.WATCH), (26, Level.ALERT), (29, Level.ALERT)):
        window = recs[k - 11:k + 1]
        real = shared_detector.detect_realtime(window, update_baseline=False)
        levels = [Level.parse(r["level"]) for r in real["reasons"] if r["code"] == "hr_high_rest"]
        row = scored[scored["timestamp"] == pd.Timestamp(window[-1]["timestamp"])].iloc[0]
        assert max(levels) == want and int(row["level_red_flag"]) == want


def test_low_quality_records_are_not_evidence():
    assert not codes(records(hr=130.0, steps=0, data_quality="low"))[0]
    assert codes(records(hr=130.0, steps=0, data_quality="medium"))[0]


def test_finding_carries_evidence_advice_and_source_in_both_languages():
    found, cols = codes(records(hr=[80.0] * 4 + [128.0] * 8, steps=0))
    f = run_finding(found["hr_high_rest"], cols)
    assert f.level == Level.ALERT and f.source == "red_flag" and "Apple" in f.citation
    assert f.evidence["minutes"] == 40.0 and f.evidence["median"] == 128.0 and f.evidence["threshold"] == 120
    assert "120" in f.title["en"] and "40" in f.title["en"] and "120" in f.title["zh"]
    assert f.advice["en"] and f.advice["zh"]
    assert f.start == datetime(2024, 3, 5, 14, 20) and f.end == datetime(2024, 3, 5, 14, 55)
    json.dumps(f.to_dict(), allow_nan=False)


def test_spo2_advice_names_altitude_and_skin_tone():
    found, cols = codes(records(hr=60.0, spo2=90.0, steps=0))
    advice = run_finding(found["spo2_low"], cols).advice
    assert "altitude" in advice["en"] and "darker skin" in advice["en"] and "高海拔" in advice["zh"]


def test_config_is_validated_and_every_flag_cites_a_source():
    raw = json.loads(DEFAULT_RED_FLAGS.read_text())
    cfg = default_red_flag_config()
    assert all(len(f.source) > 20 for f in cfg.flags.values())
    bad = json.loads(json.dumps(raw))
    bad["flags"]["hr_high_rest"]["op"] = ">"
    with pytest.raises(ConfigError, match="hr_high_rest.op"):
        parse_red_flag_config(bad)
    del bad["flags"]["hr_high_rest"]["op"]
    bad["flags"]["hr_high_rest"]["sorce"] = "typo"
    with pytest.raises(ConfigError, match="hr_high_rest"):
        parse_red_flag_config(bad)
    # a stricter config is honoured
    raw["flags"]["hr_high_rest"]["value"] = 100
    assert "hr_high_rest" in codes(records(hr=105.0, steps=0), parse_red_flag_config(raw))[0]


def test_an_hour_at_rest_above_120_is_an_alert_with_the_red_flag_in_the_llm_text(shared_detector):
    from wearable_monitor.formatter import AnomalyFormatter

    detector = shared_detector
    result = detector.detect_realtime(records(hr=130.0, steps=0, user="tachy"), update_baseline=False)
    assert result["is_anomaly"] and result["level"] == "alert"
    assert result["reasons"][0]["source"] == "red_flag" and result["reasons"][0]["code"] == "hr_high_rest"
    for lang, phrase in (("en", "Points for medical attention"), ("zh", "需要医疗关注的要点")):
        text = AnomalyFormatter(lang).format(result).user_content
        attention = text.split(phrase)[1]
        assert "120" in attention and ("None of the doctor-advice" not in attention)


def test_realtime_and_batch_give_the_same_window_levels(shared_detector):
    detector = shared_detector
    hr = [70.0] * 30 + [128.0] * 6 + [70.0] * 30
    recs = records(n=66, hr=hr, steps=0, user="agree")
    scored = detector.score_history(recs, update_baseline=False)
    for k in (35, 40, 45, 50):
        window = recs[k - 11:k + 1]
        real = detector.detect_realtime(window, update_baseline=False)
        row = scored[scored["timestamp"] == pd.Timestamp(window[-1]["timestamp"])].iloc[0]
        assert int(row["level_red_flag"]) == max([Level.parse(r["level"]) for r in real["reasons"]
                                                  if r["source"] == "red_flag"], default=0)


def test_unmeasured_records_neither_extend_nor_break_a_run():
    # SpO2 measured every other record (a device that samples it sparsely): 88-89 % for an hour is sustained
    spo2 = [88.5 if i % 2 == 0 else None for i in range(12)]
    found, _ = codes(records(hr=60.0, spo2=spo2, steps=0, sleep_state="light"))
    assert "spo2_low" in found and found["spo2_low"].evidence["records"] == 6
    # a measured normal value in between does break it
    broken = [88.5 if i % 2 == 0 else 97.0 for i in range(12)]
    assert "spo2_low" not in codes(records(hr=60.0, spo2=broken, steps=0, sleep_state="light"))[0]


@pytest.mark.parametrize("steps_per_record,at_rest", [([15, 0] * 6, True), ([16, 0] * 6, True), ([16, 16] * 6, False), (3, False), (200, False)])
def test_incidental_steps_are_rest_walking_is_not(steps_per_record, at_rest):
    """At rest allows incidental movement: <= 30 steps in the record and the 10 minutes before it, one of
    those records with no steps; 16 + 16 is over the limit, a steady 3 steps in every record is
    pedalling, and walking cadence is activity."""
    found, _ = codes(records(hr=125.0, steps=steps_per_record))
    assert ("hr_high_rest" in found) is at_rest


def test_movement_without_steps_is_not_rest():
    """Cycling counts no steps: a wrist acceleration of 0.1 g or more in the last 10 minutes is not rest;
    a still wrist (0.03 g) is."""
    assert "hr_high_rest" not in codes(records(hr=135.0, steps=[2, 0] * 6, accel_mag=0.3))[0]
    assert "hr_high_rest" in codes(records(hr=135.0, steps=[2, 0] * 6, accel_mag=0.03))[0]


def test_a_wrist_accelerometer_without_a_step_count_tells_rest():
    """A research band that counts no steps: a still wrist (< 0.1 g in the last 10 minutes) is rest, so the flag
    keeps its level; a moving wrist is not rest; with neither steps nor acceleration activity stays unknown."""
    still = codes(records(hr=125.0, accel_mag=0.02))[0]["hr_high_rest"]
    assert still.level == Level.ALERT and not still.evidence["activity_unknown"] and not still.evidence["steps_only"]
    assert "hr_high_rest" not in codes(records(hr=125.0, accel_mag=0.3))[0]
    # a moving record (index 6) is not rest, nor is the next one (its 10 minutes hold it); rest resumes at 8
    moved = codes(records(hr=125.0, accel_mag=[0.02] * 6 + [0.4] + [0.02] * 5))[0]["hr_high_rest"]
    assert (moved.first, moved.last) == (8, 11)
    unknown = codes(records(hr=125.0, accel_mag=[None] * 12))[0]["hr_high_rest"]
    assert unknown.level == Level.WATCH and unknown.evidence["activity_unknown"]
