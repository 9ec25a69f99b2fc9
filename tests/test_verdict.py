"""One verdict from all the evidence: levels, ordering, personal-baseline deviations, the model's
place (watch, never an alert alone), the pattern's findings and the day table's verdict."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.config import default_feature_config
from wearable_monitor.verdict.deviations import DeviationConfig, deviation_finding, deviation_runs
from wearable_monitor.verdict.findings import LEVEL_TEXT, Finding, Level, decide
from wearable_monitor.data.records import records_to_columns
from wearable_monitor.data.validation import validate_items
from wearable_monitor.verdict.verdict import (VerdictConfig, carry_pattern, combine_levels, day_verdicts, model_finding, pattern_finding, rejudge,
                                              rejudge_table)

CONFIG = default_feature_config()


def finding(source, level, code="x"):
    return Finding(source=source, code=code, level=level, title={"en": code, "zh": code})


def test_decide_takes_the_highest_level_and_orders_reasons_by_level_then_source():
    v = decide([finding("model", "watch"), finding("baseline", "alert", "b"), finding("red_flag", "alert", "r"),
                finding("pattern", "urgent", "p"), finding("rule", "normal")])
    assert v.level == Level.URGENT and v.is_anomaly
    assert [f.code for f in v.reasons] == ["p", "r", "b", "x"]  # normal-level findings are not reasons
    assert decide([]).level == Level.NORMAL and not decide([]).is_anomaly
    assert not decide([finding("model", "watch")]).is_anomaly
    d = v.to_dict()
    assert d["level"] == "urgent" and d["advice"] == LEVEL_TEXT[Level.URGENT]
    json.dumps(d, allow_nan=False)


def test_finding_rejects_unknown_sources_and_levels_and_round_trips():
    with pytest.raises(ValueError, match="source"):
        finding("oracle", "alert")
    with pytest.raises(ValueError, match="level"):
        finding("model", "severe")
    f = Finding(source="red_flag", code="spo2_low", level="alert", title={"en": "t", "zh": "t"},
                evidence={"median": float("nan"), "n": np.int64(3)}, start=datetime(2024, 1, 1))
    d = f.to_dict()
    assert d["evidence"] == {"median": None, "n": 3} and d["start"] == "2024-01-01T00:00:00"
    assert Finding.from_dict(d).to_dict() == d


def window(hr, n=12, start=datetime(2024, 2, 1, 15, 0), **extra):
    recs = [{"timestamp": (start + timedelta(minutes=5 * i)).isoformat(), "deviceId": "d",
             "features": {"hr": hr[i] if isinstance(hr, list) else hr, "steps": 0, **extra}} for i in range(n)]
    result = validate_items(enumerate(recs, start=1), CONFIG, source="<t>")
    return dict(records_to_columns(result.records, CONFIG))


def test_baseline_deviation_levels_and_direction():
    base = {"bl_hr_resting_mean": 60.0, "bl_hr_resting_std": 4.0}
    # z = +3.5 for an hour: watch (3 sd, 30 min), not alert (5 sd needed)
    runs = deviation_runs({**window(74.0), **base}, CONFIG)
    assert {(r.code, r.level) for r in runs} == {("hr_resting_high", Level.WATCH)}
    # z = +5 for 15 minutes with a still wrist (accelerometer): alert
    hr = [62.0] * 9 + [80.0] * 3
    runs = deviation_runs({**window(hr, accel_mag=0.02), **base}, CONFIG)
    assert ("hr_resting_high", Level.ALERT) in {(r.code, r.level) for r in runs}
    # at rest by the step count alone (a bike or a home workout counts no steps): a watch until 30 minutes
    runs = deviation_runs({**window(hr), **base}, CONFIG)
    assert {(r.code, r.level) for r in runs} == {("hr_resting_high", Level.WATCH)}
    runs = deviation_runs({**window([62.0] * 6 + [80.0] * 6), **base}, CONFIG)
    assert ("hr_resting_high", Level.ALERT) in {(r.code, r.level) for r in runs}
    # the same 15 minutes at +3.5 sd: nothing (watch needs 30 minutes)
    assert not deviation_runs({**window([62.0] * 9 + [74.0] * 3), **base}, CONFIG)
    # heart rate far below the person's baseline: a low deviation; a fall alerts from 4 sd (a rise needs 5)
    runs = deviation_runs({**window(38.0), **base}, CONFIG)
    assert ("hr_resting_low", Level.ALERT) in {(r.code, r.level) for r in runs}
    fall = deviation_runs({**window([60.0] * 9 + [43.0] * 3), **base}, CONFIG)     # z = -4.25 for 15 min
    rise = deviation_runs({**window([60.0] * 9 + [77.0] * 3, accel_mag=0.02), **base}, CONFIG)  # +4.25, 15 min
    assert ("hr_resting_low", Level.ALERT) in {(r.code, r.level) for r in fall} and not rise
    # no baseline, no evidence
    assert not deviation_runs(window(90.0), CONFIG)


def test_two_channels_beyond_three_sd_at_once_are_an_alert():
    base = {"bl_hr_resting_mean": 60.0, "bl_hr_resting_std": 4.0, "bl_hrv_mean": 50.0, "bl_hrv_std": 8.0}
    cols = {**window(74.0, hrv_rmssd=24.0), **base}
    runs = deviation_runs(cols, CONFIG)
    multi = sorted((r for r in runs if r.code == "multi_channel"), key=lambda r: -r.level)
    assert multi and multi[0].level == Level.ALERT and set(multi[0].evidence["channels"]) == {"hr_resting+", "hrv-"}
    f = deviation_finding(multi[0], cols)
    assert "HRV" in f.title["en"] and "心率变异性" in f.title["zh"]
    # one channel alone at the same size stays watch
    assert max(r.level for r in deviation_runs({**window(74.0, hrv_rmssd=50.0), **base}, CONFIG)) == Level.WATCH


def test_a_sustained_shift_with_scatter_is_held_by_hysteresis():
    """An hour at +3.5 sd on average, single records dipping to +2.5 sd by the scatter, is one sustained watch;
    an hour mostly at +2.5 sd with a few records past 3 is not (its median is below 3 sd); z_hold=None asks
    every record to be past 3 sd, as before."""
    base = {"bl_hr_resting_mean": 60.0, "bl_hr_resting_std": 4.0}
    z = [3.6, 3.5, 2.5, 2.3, 2.5, 3.5, 3.7, 2.9, 3.2, 3.6, 3.5, 4.1]          # the asleep +20 bpm hour
    scattered = {**window([60.0 + 4.0 * v for v in z]), **base}
    runs = deviation_runs(scattered, CONFIG)
    assert [(r.code, r.level, r.first, r.last) for r in runs] == [("hr_resting_high", Level.WATCH, 0, 11)]
    assert not deviation_runs(scattered, CONFIG, DeviationConfig(z_hold=None))
    mostly_below = [2.5, 2.6, 3.2, 2.4, 2.5, 3.1, 2.6, 2.5, 2.7, 3.3, 2.4, 2.6]
    assert not deviation_runs({**window([60.0 + 4.0 * v for v in mostly_below]), **base}, CONFIG)
    # a record back inside 2 sd ends the run: two half-hours apart are not one hour
    broken = [3.6] * 5 + [1.0] + [3.6] * 6
    runs = deviation_runs({**window([60.0 + 4.0 * v for v in broken]), **base}, CONFIG)
    assert [(r.first, r.last) for r in runs] == [(6, 11)]


def test_deviation_settings_are_honoured():
    base = {"bl_hr_resting_mean": 60.0, "bl_hr_resting_std": 4.0}
    strict = DeviationConfig(z_alert=3.0, min_minutes_alert=10.0)
    assert max(r.level for r in deviation_runs({**window(74.0), **base}, CONFIG, strict)) == Level.ALERT


def test_the_model_alone_is_only_watch_and_rejudge_moves_only_its_finding():
    m = model_finding(0.99, 0.5)
    assert m.level == Level.WATCH and m.source == "model"
    assert model_finding(0.4, 0.5) is None
    assert model_finding(0.99, 0.5, VerdictConfig(model_level="alert")).level == Level.ALERT
    red = finding("red_flag", "alert", "hr_high_rest").to_dict()
    result = {"anomaly_score": 0.7, "threshold": 0.9, "is_anomaly": True, "level": "alert", "reasons": [red],
              "details": {}}
    low = rejudge(result, 0.5)
    assert low["level"] == "alert" and [r["source"] for r in low["reasons"]] == ["red_flag", "model"]
    assert rejudge(low, 0.95)["reasons"] == [red]


def test_combine_levels_and_rejudge_table():
    levels = {"level_red_flag": np.array([0, 2, 0, 3]), "level_baseline": np.array([1, 0, 0, 0])}
    assert combine_levels(levels, np.array([False, False, True, False])).tolist() == [1, 2, 1, 3]
    scored = pd.DataFrame({"anomaly_score": [0.2, 0.8, 0.95], "level_red_flag": [0, 0, 2],
                           "level_baseline": [0, 0, 0]})
    out = rejudge_table(scored, 0.7)
    assert out["level"].tolist() == ["normal", "watch", "alert"] and out["is_anomaly"].tolist() == [False, False, True]


def test_pattern_findings_alert_on_a_multi_day_run_or_several_vitals_in_one_night():
    day = {"date": pd.Timestamp("2024-01-12"), "alert": True, "pattern_days": 2, "vitals_flags": "resting_hr +5.0 bpm",
           "vitals_deviant_count": 1}
    assert pattern_finding(day).level == Level.ALERT and pattern_finding(day).code == "multi_day_alert"
    one = dict(day, alert=False, pattern_days=1)
    assert pattern_finding(one).level == Level.WATCH and pattern_finding(one).code == "anomalous_day"
    three = dict(one, vitals_deviant_count=3, vitals_flags="resting_hr +8.2 bpm; hrv -33%; resp_rate +2.6 breaths/min")
    assert pattern_finding(three).level == Level.ALERT and pattern_finding(three).code == "multi_vital_night"


def test_day_table_carries_the_verdict_of_its_windows(shared_detector):
    start = datetime(2024, 2, 1, 0, 0)
    hr = [62.0] * (288 * 3)
    day2 = 288 + 180  # 15:00 on the second day: 30 minutes at 130 bpm with no steps
    hr[day2:day2 + 6] = [130.0] * 6
    recs = [{"timestamp": (start + timedelta(minutes=5 * i)).isoformat(), "deviceId": "dayv",
             "features": {"hr": hr[i], "steps": 0}} for i in range(len(hr))]
    scored = shared_detector.score_history(recs, update_baseline=False)
    days = shared_detector.daily(scored)
    assert days["level"].tolist()[1] == "alert" and "red_flag:hr_high_rest" in days["reasons"].tolist()[1]
    assert days["level"].tolist()[0] != "alert" and days["level"].tolist()[2] != "alert"


def test_rule_findings_join_the_day_verdict():
    from wearable_monitor.verdict.verdict import rule_finding, with_rule_findings

    crit = {"user_id": "u", "rule": "blood_pressure_range", "metric": "systolic", "severity": "CRITICAL",
            "status": "finding", "period": {"start": "2024-01-02", "end": "2024-01-02"},
            "title": {"en": "BP 190/125", "zh": "血压 190/125"}}
    assert rule_finding(crit).level == Level.URGENT
    assert rule_finding(dict(crit, status="awaiting_confirmation")).level == Level.WATCH
    assert rule_finding(dict(crit, status="insufficient_data")) is None
    days = pd.DataFrame({"user_id": ["u", "u", "v"], "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"]),
                         "level": ["normal", "watch", "normal"], "reasons": ["", "baseline:hrv_low", ""]})
    out = with_rule_findings(days, [crit])
    assert out["level"].tolist() == ["normal", "urgent", "normal"]
    assert out["reasons"].tolist()[1] == "baseline:hrv_low; rule:blood_pressure_range:systolic"


def _rest_day(hr_fn, steps_fn=None, sleep_fn=None, days=9):
    """One user's 5-minute rows over `days` days; heart rate, steps and sleep stage as functions of time."""
    ts = pd.date_range("2025-03-01", periods=288 * days, freq="5min")
    frame = pd.DataFrame({"user_id": "u", "timestamp": ts, "hr": [hr_fn(t) for t in ts],
                          "steps": [steps_fn(t) if steps_fn else 0.0 for t in ts]})
    if sleep_fn is not None:
        frame["sleep_state"] = [sleep_fn(t) for t in ts]
    return frame


def test_heart_rate_after_exercise_is_recovery_not_a_deviation(shared_detector):
    """An evening run then 40 minutes of falling heart rate on the sofa: no baseline alert; the same
    heart rate at rest with no exercise before it is one."""
    def hr(t, run):
        if t.day == 9 and t.hour == 19 and run:
            return 150.0
        if t.day == 9 and t.hour == 20 and t.minute < 45:
            return 92.0
        return 62.0 + (t.minute % 10) * 0.4
    def steps(t):
        return 700.0 if (t.day == 9 and t.hour == 19) else 0.0
    for run, expect_alert in ((True, False), (False, True)):
        frame = _rest_day(lambda t: hr(t, run), steps if run else None)
        scored = shared_detector.score_history(frame, update_baseline=False)
        evening = scored[(scored.timestamp.dt.day == 9) & (scored.timestamp.dt.hour == 20)]
        assert bool((evening["level_baseline"] >= 2).any()) is expect_alert, run


def test_sleep_in_morning_hours_is_read_against_the_night_baseline(shared_detector):
    """A late sleeper: asleep until 08:00 with sleeping heart rate 50 (awake at rest 68). The sleep
    stage says asleep, so 07:00 is compared with nights, not with awake mornings: no low-HR finding."""
    def asleep(t):
        return t.hour < 8 or t.hour >= 23
    frame = _rest_day(lambda t: 50.0 if asleep(t) else 68.0, None, lambda t: 1.0 if asleep(t) else 0.0)  # light sleep / awake codes
    scored = shared_detector.score_history(frame, update_baseline=False)
    late = scored[scored.timestamp.dt.day >= 8]
    assert not (late["level_baseline"] >= 1).any()
    assert not late["reasons"].str.contains("hr_rest_low").any()


def _nights_up_from(day: int, days: int = 13, user: str = "carry") -> list[dict]:
    """Heart rate and steps; from `day` on, every hour is 9 bpm higher (nights included)."""
    rng = np.random.default_rng(3)
    start, recs = datetime(2024, 3, 1), []
    for i in range(288 * days):
        t = start + timedelta(minutes=5 * i)
        night = t.hour < 7
        hr = (58 if night else 72) + rng.normal(0, 2) + (9 if i // 288 >= day else 0)
        steps = 0 if night or rng.random() < 0.6 else int(rng.integers(20, 400))
        recs.append({"timestamp": t.isoformat(), "deviceId": user, "features": {"hr": round(hr, 1), "steps": steps}})
    return recs


def test_windows_carry_the_pattern_of_the_finished_day_before_in_batch_and_realtime(shared_detector):
    recs = _nights_up_from(10)
    scored = shared_detector.score_history(recs, update_baseline=False)
    days = shared_detector.daily(scored).set_index("date")
    alert_day = days.index[days["alert"]].min()
    assert alert_day is not pd.NaT and days.loc[alert_day, "level"] == "alert"
    date = pd.DatetimeIndex(scored["timestamp"]).normalize()
    # the alert day's own windows carry the day before (one anomalous night: watch) until its night is over
    # (07:00): then the alert, which rests on nights alone (resting HR two nights running), is known
    own = scored[date == alert_day]
    morning = pd.DatetimeIndex(own["timestamp"]).hour >= shared_detector.vitals_config.night_end_hour
    assert days.loc[alert_day, "alert_at_night"]
    assert (own.loc[~morning, "level_pattern"] == int(Level.WATCH)).all()
    assert (own.loc[morning, "level_pattern"] == int(Level.ALERT)).all() and own.loc[morning, "is_anomaly"].all()
    nxt = scored[date == alert_day + pd.Timedelta(days=1)]
    assert (nxt["level_pattern"] == int(Level.ALERT)).all() and nxt["is_anomaly"].all()
    assert nxt["reasons"].str.startswith("pattern:multi_day_alert").all()
    # a day's own level ignores what its windows carry from the day before (no double count)
    calm = scored[date < alert_day - pd.Timedelta(days=1)]
    calm_days = shared_detector.daily(calm)
    assert (calm_days["level"] == "normal").all()
    told = carry_pattern(calm, calm_days.assign(alert=calm_days["date"] == calm_days["date"].iloc[3]))
    carried_day = pd.DatetimeIndex(told["timestamp"]).normalize() == calm_days["date"].iloc[4]
    assert told.loc[carried_day, "is_anomaly"].all() and not told.loc[~carried_day, "is_anomaly"].any()
    assert (day_verdicts(calm_days.drop(columns=["level", "reasons"]), told)["level"] == "normal").all()
    # the live call with the same history says the same for the same window when the day so far adds
    # nothing (on the alert day after 07:00 the replay reads that morning too); during the alert day's
    # night the live call also reads the night so far, so it can say more, never less
    rank = {lv.label: int(lv) for lv in Level}
    for row, same in ((nxt.iloc[40], True), (scored[date == alert_day - pd.Timedelta(days=2)].iloc[40], True),
                      (own.iloc[150], True), (own.iloc[40], False)):
        i = next(k for k, r in enumerate(recs) if pd.Timestamp(r["timestamp"]) == row["timestamp"])
        live = shared_detector.detect_realtime(recs[i - 11:i + 1], update_baseline=False, history=recs[:i - 11])
        pattern = [f"{r['source']}:{r['code']}" for r in live["reasons"] if r["source"] == "pattern"]
        if same:
            assert live["level"] == row["level"] and live["is_anomaly"] == row["is_anomaly"]
            assert pattern == [r for r in row["reasons"].split("; ") if r.startswith("pattern:")]
        else:
            assert rank[live["level"]] >= rank[row["level"]] and pattern == ["pattern:multi_day_alert"]


def test_the_morning_carry_needs_a_run_of_night_readings_and_a_night_with_data(shared_detector):
    from wearable_monitor.verdict.patterns import PatternConfig

    recs = _nights_up_from(10)
    scored = shared_detector.score_history(recs, update_baseline=False)
    date = pd.DatetimeIndex(scored["timestamp"]).normalize()
    calm = scored[date < date.min() + pd.Timedelta(days=8)]
    calm_days = shared_detector.daily(calm)
    assert (calm_days["level"] == "normal").all()
    day = calm_days["date"].iloc[4]
    on = (calm_days["date"] == day).to_numpy()

    def alerts(days, windows=calm):
        told = carry_pattern(windows, days, VerdictConfig(), PatternConfig(), night_end_hour=7)
        when = pd.DatetimeIndex(told["timestamp"])
        own = when.normalize() == day
        return (told.loc[own & (when.hour < 7), "is_anomaly"].any(), told.loc[own & (when.hour >= 7), "is_anomaly"].all(),
                told.loc[when.normalize() == day + pd.Timedelta(days=1), "is_anomaly"].all())

    by_night = calm_days.assign(alert=on, alert_at_night=on, vitals_deviant_signals=np.where(on, "resting_hr", ""))
    assert alerts(by_night) == (False, True, True)  # from 07:00 that day, and all of the next
    by_day = calm_days.assign(alert=on, alert_at_night=False, vitals_deviant_signals=np.where(on, "resting_hr_day", ""))
    assert alerts(by_day) == (False, False, True)  # a day-time reading is known once the day is over
    when = pd.DatetimeIndex(calm["timestamp"])
    sparse = calm[~((when.normalize() == day) & (when.hour < 7)) | (when.minute == 0)]  # 7 windows before 07:00
    assert alerts(by_night, sparse) == (False, False, True)  # too little of that night to say it in the morning


def test_an_empty_history_is_no_history(shared_detector):
    window = _nights_up_from(99, days=1)[100:112]
    alone = shared_detector.detect_realtime(window, update_baseline=False)
    assert shared_detector.detect_realtime(window, update_baseline=False, history=[]) == alone
