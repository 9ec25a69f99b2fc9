"""Engine behaviour: insufficient data, measurement errors, confirmation, personalisation, entry flow."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rules_helpers import engine, evaluate, frame, top
from wearable_monitor.config import ConfigError

HIST = [70.0, 71.0] * 10


def statuses(df, rule, eng=None):
    return [(f.metric, f.status) for f in evaluate(df, rule, eng, status=None)]


# ------------------------------------------------------------------ missing data

def test_insufficient_data_is_reported_not_silent():
    six = frame(6, weight_kg=[70.0, 71.0] * 3)  # weight needs 7 readings
    found = evaluate(six, "sudden_change", status="insufficient_data")
    w = [f for f in found if f.metric == "weight_kg"]
    assert w and w[0].evidence["have"] == 5 and w[0].evidence["need"] == 7  # today's reading is not its own baseline
    assert not evaluate(six, "sudden_change")                       # and no finding
    bp = frame(4, systolic=120.0, diastolic=80.0)                   # blood pressure needs 5 readings
    assert ("systolic", "insufficient_data") in statuses(bp, "sudden_change")
    food = frame(2, protein_g=30.0, protein_target_g=100.0)         # nutrition needs 3 days
    assert statuses(food, "protein_low") == [("protein_g", "insufficient_data")]


def test_sparse_history_lengthens_the_window_and_lowers_sensitivity():
    # 7 readings spread over 50 days: too few in 30 days, enough in the lengthened 60-day window
    w = [None] * 52
    for i, v in zip(range(0, 49, 7), [70.0, 71.0] * 4):
        w[i] = v
    mean, sd = 70.4286, np.std([70, 71, 70, 71, 70, 71, 70], ddof=1)
    w[50] = w[51] = mean + 4.0 * sd
    found = [f for f in evaluate(frame(52, weight_kg=w), "sudden_change") if f.metric == "weight_kg"]
    assert found and found[0].evidence["sparse_window"] is True
    assert found[0].evidence["window_days"] == 60 and found[0].evidence["sensitivity"] == pytest.approx(0.9)
    assert found[0].severity == "HIGH"  # 4 sd at sensitivity 0.9 counts as 3.6 sd


# ------------------------------------------------------------------ measurement errors

def test_implausible_and_inconsistent_values_are_flagged_and_excluded():
    w = HIST + [500.0] + [70.5] * 3
    found = evaluate(frame(24, weight_kg=w), "sudden_change", status=None)
    probs = [f for f in found if f.status == "data_problem"]
    assert [(p.metric, p.evidence["reason"]) for p in probs] == [("weight_kg", "implausible")]
    assert not [f for f in found if f.status == "finding"]  # 500 kg is not a "sudden change"
    bp = frame(6, systolic=[120.0] * 5 + [70.0], diastolic=[80.0] * 5 + [90.0])
    probs = [f for f in evaluate(bp, "blood_pressure_range", status=None) if f.status == "data_problem"]
    assert probs[0].evidence["reason"] == "systolic_not_above_diastolic"


def test_isolated_spike_is_a_measurement_error_excluded_from_statistics():
    w = HIST + [75.0, 70.5, 70.5]  # one bad weigh-in, contradicted by the next
    eng = engine()
    found = evaluate(frame(23, weight_kg=w), "sudden_change", eng, status=None)
    spikes = [f for f in found if f.status == "data_problem" and f.evidence.get("reason") == "isolated_spike"]
    assert len(spikes) == 1 and spikes[0].value == 75.0
    assert not [f for f in found if f.status == "finding"]


def test_finding_awaits_confirmation_by_the_next_reading():
    mean, sd = np.mean(HIST), np.std(HIST, ddof=1)
    x = mean + 3.2 * sd  # below the 2 kg spike jump: only the 3-sigma rule sees it
    waiting = evaluate(frame(21, weight_kg=HIST + [x]), "sudden_change", status=None)
    w = [f.status for f in waiting if f.metric == "weight_kg"]
    assert w == ["awaiting_confirmation"]
    confirmed = evaluate(frame(22, weight_kg=HIST + [x, x]), "sudden_change")
    assert [f.status for f in confirmed if f.metric == "weight_kg"] == ["finding"]
    refuted = evaluate(frame(22, weight_kg=HIST + [x, mean]), "sudden_change", status=None)
    assert [(f.status, f.evidence["reason"]) for f in refuted if f.metric == "weight_kg"] == \
        [("data_problem", "not_confirmed")]


def test_no_reading_within_the_confirmation_window_reports_unconfirmed():
    mean, sd = np.mean(HIST), np.std(HIST, ddof=1)
    w = HIST + [mean + 3.2 * sd, None, None, None, None]
    found = [f for f in evaluate(frame(25, weight_kg=w), "sudden_change") if f.metric == "weight_kg"]
    assert found and found[0].evidence["confirmed"] is False
    assert found[0].end == pd.Timestamp("2024-01-21") + pd.Timedelta(days=3)


# ------------------------------------------------------------------ personalisation

def test_personal_overrides_change_thresholds_and_are_shown():
    df = frame(12, systolic=[120.0] * 10 + [145.0, 145.0], diastolic=80.0)
    assert top(df, "blood_pressure_range") == "MEDIUM"
    eng = engine(profiles={"u1": {"conditions": ["hypertension"]}})
    assert top(df, "blood_pressure_range", eng) is None
    shown = eng.effective_thresholds("u1")
    assert shown["applied_overrides"] == ["conditions:hypertension"]
    assert shown["rules"]["blood_pressure_range"]["systolic_high"]["MEDIUM"] == 150

    hr = frame(12, resting_hr=[55.0] * 10 + [47.0, 47.0])
    assert top(hr, "resting_hr_range") == "MEDIUM"
    assert top(hr, "resting_hr_range", engine(profiles={"u1": {"medications": ["beta_blocker"]}})) is None

    w = frame(12, weight_kg=[70.0] * 10 + [71.6, 71.6])
    assert top(w, "weight_daily_change") is None
    assert top(w, "weight_daily_change", engine(profiles={"u1": {"age_group": "70+"}})) == "MEDIUM"


def test_custom_thresholds_in_config_and_document_shape():
    df = frame(12, weight_kg=[70.0] * 10 + [71.6, 71.6])
    doc = engine(profiles={"u1": {"customThresholds": {"weight": {"dailyChange": 1.5}}}})
    assert top(df, "weight_daily_change", doc) == "MEDIUM"
    ours = engine(profiles={"u1": {"customThresholds": {"rules": {"weight_daily_change": {"severity": {"MEDIUM": 1.5}}}}}})
    assert top(df, "weight_daily_change", ours) == "MEDIUM"


def test_bad_custom_threshold_names_the_user_and_key():
    eng = engine(profiles={"u9": {"customThresholds": {"rules": {"sleep_duration": {"dayz": 4}}}}})
    with pytest.raises(ConfigError, match=r"user u9.*rules\.sleep_duration\.dayz"):
        eng.effective_config("u9")
    eng = engine(profiles={"u9": {"customThresholds": {"heartRate": {"max": {"max": 190}}}}})
    with pytest.raises(ConfigError, match=r"heartRate\.max\.max"):
        eng.effective_config("u9")
    eng = engine(profiles={"u9": {"customThresholds": {"rules": {"weight_daily_change": {"severity": {"HIGH": 1.0}}}}}})
    with pytest.raises(ConfigError, match=r"weight_daily_change.*increase with severity"):
        eng.effective_config("u9")


# ------------------------------------------------------------------ data entry flow

def test_on_data_entry_holds_then_confirms_and_notifies_once():
    sent = []
    eng = engine(notifier=sent.append)
    for i, w in enumerate([70.0] * 10):
        eng.on_data_entry("u1", {"date": f"2024-01-{i + 1:02d}", "weight_kg": w})
    first = eng.on_data_entry("u1", {"date": "2024-01-11", "weight_kg": 73.5})
    assert {f.status for f in first if f.rule == "weight_daily_change"} == {"awaiting_confirmation"}
    assert not sent
    second = eng.on_data_entry("u1", {"date": "2024-01-12", "weight_kg": 73.4})
    daily = [f for f in second if f.rule == "weight_daily_change"]
    assert daily and daily[0].status == "finding" and daily[0].severity == "HIGH"
    titles = [n["title"] for n in sent if n["rule"] == "weight_daily_change"]
    assert len(titles) == 1 and "3.5 kg" in titles[0]
    eng.on_data_entry("u1", {"date": "2024-01-13", "weight_kg": 73.3})  # same level: no second alert
    assert len([n for n in sent if n["rule"] == "weight_daily_change"]) == 1


def test_on_data_entry_runs_only_rules_reading_the_logged_fields():
    eng = engine()
    found = eng.on_data_entry("u1", {"date": "2024-01-01", "sleep_hours": 7.0})
    assert {f.rule for f in found} <= {"sleep_duration"}
    assert all(f.status == "insufficient_data" for f in found)
