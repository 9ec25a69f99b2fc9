"""Issue 21 "Rule engine: safety first, then the document's letter": one regression test per case,
written from the rules document's wording (../shared/seeds/003_*), not from the code's output."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rules_helpers import START, engine, evaluate, frame, top
from wearable_monitor.cli import main

NORMAL_BP = dict(systolic=[120.0] * 10, diastolic=[78.0] * 10)


def _bp(*readings):
    """10 normal days, then the given (systolic, diastolic) readings (None = not measured)."""
    sy = NORMAL_BP["systolic"] + [r[0] if r else None for r in readings]
    di = NORMAL_BP["diastolic"] + [r[1] if r else None for r in readings]
    return frame(len(sy), systolic=sy, diastolic=di)


def _run(df, eng=None):
    sent = []
    eng = eng or engine(notifier=sent.append)
    if eng.notifier is None:
        eng.notifier = sent.append
    found = eng.run(df)
    return eng, found, sent


def _of(found, rule, status="finding", metric=None):
    return [f for f in found if f.rule == rule and f.status == status and (metric is None or f.metric == metric)]


# ------------------------------------------------------------------ 1. a crisis does not wait

def test_crisis_reading_on_the_last_day_is_told_at_once_unconfirmed():
    eng, found, sent = _run(_bp((190.0, 125.0)))
    bp = _of(found, "blood_pressure_range")
    assert len(bp) == 1 and bp[0].severity == "CRITICAL"
    assert bp[0].evidence["confirmed"] is False and bp[0].evidence["urgent"] is True
    assert not _of(found, "blood_pressure_range", "awaiting_confirmation")
    note = [n for n in sent if n["rule"] == "blood_pressure_range"]
    assert len(note) == 1 and note[0]["severity"] == "CRITICAL" and "sms" in note[0]["channels"]
    text = (note[0]["title"] + " " + note[0]["description"]).lower()
    assert "unconfirmed" in text and "re-measure" in text
    zh = bp[0].to_dict()["title"]["zh"]
    assert "未确认" in zh and "复测" in zh


def test_still_abnormal_follow_up_confirms_the_crisis_instead_of_disproving_it():
    eng, found, sent = _run(_bp((190.0, 125.0), (150.0, 95.0)))
    excluded = [f for f in found if f.status == "data_problem" and f.metric in ("systolic", "diastolic")]
    assert not excluded                                           # 190/125 is not a measurement error
    bp = _of(found, "blood_pressure_range")
    assert max(f.severity for f in bp) == "CRITICAL" and bp[0].evidence["confirmed"] is True
    assert bp[0].start == START + pd.Timedelta(days=10) and bp[0].evidence.get("confirming_value") == 150.0
    assert [n["severity"] for n in sent if n["rule"] == "blood_pressure_range"] == ["CRITICAL"]


def test_crisis_reading_followed_by_a_normal_one_is_still_reported():
    _, found, _ = _run(_bp((190.0, 125.0), (120.0, 78.0)))
    bp = _of(found, "blood_pressure_range")
    assert bp and bp[0].severity == "CRITICAL" and bp[0].evidence["follow_up_value"] == 120.0
    assert not [f for f in found if f.status == "data_problem" and f.evidence.get("reason") == "isolated_spike"]


def test_crisis_on_data_entry_notifies_once_then_the_follow_up_confirms_without_a_second_alarm():
    sent = []
    eng = engine(notifier=sent.append)
    for d in range(10):
        eng.on_data_entry("u1", {"date": f"2024-01-{d + 1:02d}", "systolic": 121.0, "diastolic": 79.0})
    eng.on_data_entry("u1", {"date": "2024-01-11", "systolic": 190.0, "diastolic": 125.0})
    assert [n["severity"] for n in sent if n["rule"] == "blood_pressure_range"] == ["CRITICAL"]
    eng.on_data_entry("u1", {"date": "2024-01-12", "systolic": 150.0, "diastolic": 95.0})
    assert len([n for n in sent if n["rule"] == "blood_pressure_range"]) == 1
    stored = eng.store.findings(rule="blood_pressure_range")
    assert len(stored) == 1 and stored.iloc[0]["episode_end"] == "2024-01-12"


def test_crisis_is_told_even_before_the_minimum_history_and_through_a_cooldown():
    _, found, _ = _run(frame(1, systolic=195.0, diastolic=100.0))       # the very first reading
    assert [f.severity for f in _of(found, "blood_pressure_range")] == ["CRITICAL"]
    # a HIGH-stage episode, then a crisis 4 days later (inside the 7-day cooldown): still notified
    df = _bp((165.0, 95.0), (165.0, 95.0), (125.0, 80.0), (125.0, 80.0), (125.0, 80.0), (190.0, 125.0))
    _, found, sent = _run(df)
    assert [n["severity"] for n in sent if n["rule"] == "blood_pressure_range"] == ["HIGH", "CRITICAL"]


# ------------------------------------------------------------------ 2. a typo does not alarm

def test_weight_typo_is_a_data_problem_asking_to_re_measure_never_an_alarm():
    w = [70.0] * 14 + [170.0, None, None, None, None]  # then no more weigh-ins (past the 3-day deadline)
    eng, found, sent = _run(frame(len(w), weight_kg=w))
    assert not [f for f in found if f.status in ("finding", "awaiting_confirmation")]
    assert not sent
    prob = [f for f in found if f.status == "data_problem" and f.metric == "weight_kg"]
    assert [p.evidence["reason"] for p in prob] == ["implausible_change"]
    assert prob[0].evidence["change"] == pytest.approx(100.0) and prob[0].evidence["allowed_change"] < 100
    assert "re-measure" in prob[0].to_dict()["advice"]["en"].lower()
    w700 = [70.0] * 14 + [700.0]
    found = evaluate(frame(15, weight_kg=w700), "weight_daily_change", status=None)
    assert [f.evidence["reason"] for f in found if f.status == "data_problem"] == ["implausible"]


def test_plausibility_weighs_the_change_against_the_time_it_took():
    # 15 kg in one day is not a body; 15 kg over two months (0.25 kg/day) is
    slow = list(70.0 + np.arange(60) * 0.25)
    found = evaluate(frame(60, weight_kg=slow), "weight_daily_change", status=None)
    assert not [f for f in found if f.status == "data_problem"]
    fast = [70.0] * 14 + [85.0, 85.0]
    found = evaluate(frame(16, weight_kg=fast), "weight_daily_change", status=None)
    assert {f.evidence.get("reason") for f in found if f.status == "data_problem"} == {"implausible_change"}
    assert not [f for f in found if f.status == "finding"]


def test_a_real_large_change_keeps_the_documents_critical():
    w = [70.0] * 14 + [76.0, 76.0]  # > 5 kg in a day, confirmed: the document's CRITICAL
    assert top(frame(16, weight_kg=w), "weight_daily_change") == "CRITICAL"


def test_a_lasting_new_level_replaces_the_history_instead_of_alarming():
    w = [170.0] + [70.0] * 14  # the first weigh-in was the typo
    eng, found, sent = _run(frame(15, weight_kg=w))
    assert not [f for f in found if f.status == "finding"] and not sent
    assert [f.evidence["reason"] for f in found if f.status == "data_problem"] == ["level_shift"]


# ------------------------------------------------------------------ 3. a second event does not disappear

def test_two_heart_rate_jumps_25_days_apart_are_two_episodes_and_two_notifications():
    rng = np.random.default_rng(1)
    hr = (list(60 + rng.normal(0, 1, 30).round(1)) + [80.0, 80.0] + list(60 + rng.normal(0, 1, 23).round(1))
          + [80.0, 80.0] + [60.0] * 3)
    eng, found, sent = _run(frame(len(hr), resting_hr=hr))
    jumps = _of(found, "sudden_change", metric="resting_hr")
    assert [f.start for f in jumps] == [START + pd.Timedelta(days=30), START + pd.Timedelta(days=55)]
    assert len(eng.store.findings(rule="sudden_change")) == 2
    assert len([n for n in sent if n["rule"] == "sudden_change"]) == 2
    # the baseline is evidence, not the episode
    assert all(f.evidence["baseline_start"] < f.start and (f.end - f.start).days <= 1 for f in jumps)


# ------------------------------------------------------------------ 4. healthy people at the limits

@pytest.mark.parametrize("cols", [
    dict(systolic=[120.0] * 10 + [110.0, 110.0], diastolic=[78.0] * 10 + [60.0, 60.0]),  # diastolic min 60
    dict(systolic=[120.0] * 10 + [90.0, 90.0], diastolic=[78.0] * 10 + [65.0, 65.0]),    # systolic min 90
])
def test_blood_pressure_at_the_closed_normal_range_limits_is_normal(cols):
    assert top(frame(12, **cols), "blood_pressure_range") is None


@pytest.mark.parametrize("rule,cols", [
    ("resting_hr_range", dict(resting_hr=[62.0] * 10 + [50.0, 50.0])),
    ("resting_hr_range", dict(resting_hr=[62.0] * 10 + [100.0, 100.0])),
    ("weight_daily_change", dict(weight_kg=[70.0] * 10 + [72.0, 72.0])),  # "> 2kg"
])
def test_values_exactly_at_the_documents_limits_do_not_fire(rule, cols):
    assert top(frame(12, **cols), rule) is None


def _steady_low_hr(n: int, seed: int = 2) -> list[float]:
    return list(np.random.default_rng(seed).choice([47.0, 48.0, 49.0], n))


def test_steady_low_resting_hr_gets_a_personal_range_instead_of_a_daily_alarm():
    hr = _steady_low_hr(40)
    found = evaluate(frame(40, resting_hr=hr), "resting_hr_range")
    need = engine().config.rules.resting_hr_range.personal_range.min_points
    # before the minimum history the population range applies; after it, silence
    assert all(f.start <= START + pd.Timedelta(days=need) for f in found)
    assert len(found) <= 1


def test_a_true_change_from_the_personal_range_still_fires_and_danger_is_never_silenced():
    hr = _steady_low_hr(40) + [42.0, 42.0, 48.0, 48.0, 48.0]
    late = [f for f in evaluate(frame(len(hr), resting_hr=hr), "resting_hr_range") if f.start >= START + pd.Timedelta(days=40)]
    assert late and late[0].severity == "MEDIUM" and late[0].evidence["personal_range_learned"] is True
    hr = _steady_low_hr(40) + [40.0]                             # clinically dangerous: HR <= 40
    late = [f for f in evaluate(frame(41, resting_hr=hr), "resting_hr_range") if f.start == START + pd.Timedelta(days=40)]
    assert late and late[0].severity == "HIGH" and late[0].evidence["urgent"] is True


def test_steady_low_blood_pressure_learns_its_personal_range_too():
    rng = np.random.default_rng(7)
    sy, di = list(rng.choice([87.0, 88.0, 89.0], 30)), list(rng.choice([57.0, 58.0, 59.0], 30))
    found = evaluate(frame(30, systolic=sy, diastolic=di), "blood_pressure_range")
    assert all(f.end <= START + pd.Timedelta(days=8) for f in found)      # quiet once the range is learned
    found = evaluate(frame(33, systolic=sy + [78.0, 78.0, 88.0], diastolic=di + [52.0, 52.0, 58.0]),
                     "blood_pressure_range")
    late = [f for f in found if f.start >= START + pd.Timedelta(days=30)]
    assert late and late[0].evidence["personal_range_learned"] is True


def test_personal_range_needs_stability_and_leaves_the_high_side_alone():
    noisy = list(np.random.default_rng(4).choice([40.5, 44.0, 48.0, 52.0, 56.0], 40))  # robust sd > 3 bpm
    late = [f for f in evaluate(frame(40, resting_hr=noisy), "resting_hr_range") if f.end > START + pd.Timedelta(days=10)]
    assert late                                                        # not learned: the population range applies
    high = list(np.random.default_rng(5).choice([104.0, 105.0, 106.0], 30))
    late = [f for f in evaluate(frame(30, resting_hr=high), "resting_hr_range") if f.end > START + pd.Timedelta(days=10)]
    assert late                                                        # a steadily high resting HR is still told


# ------------------------------------------------------------------ 5. one profile does not stop everyone

def _weights(user, change):
    return frame(12, user=user, weight_kg=[70.0] * 10 + [70.0 + change] * 2)


def test_document_shaped_custom_threshold_is_accepted_as_written():
    eng = engine(profiles={"u1": {"customThresholds": {"weight": {"dailyChange": 3.0}}}})
    assert top(_weights("u1", 2.5), "weight_daily_change", eng) is None       # 2.5 kg is not "> 3 kg"
    assert top(_weights("u1", 3.5), "weight_daily_change", eng) == "MEDIUM"
    ladder = eng.effective_thresholds("u1")["rules"]["weight_daily_change"]["severity"]
    assert ladder["MEDIUM"] == 3.0 and ladder["MEDIUM"] < ladder["HIGH"] < ladder["CRITICAL"]
    elderly = engine(profiles={"u1": {"age_group": "70+", "customThresholds": {"weight": {"dailyChange": 2.5}}}})
    assert elderly.profile_error("u1") is None
    assert top(_weights("u1", 2.6), "weight_daily_change", elderly) == "MEDIUM"


def test_bad_profile_is_reported_for_that_user_and_the_others_are_analysed(tmp_path, capsys):
    rows = [{"user_id": u, "date": f"2024-01-{d:02d}", "protein_g": 90 if d < 6 else 30, "protein_target_g": 100}
            for u in ("bad", "good") for d in range(1, 9)]
    logs, prof = tmp_path / "daily.jsonl", tmp_path / "users.jsonl"
    logs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    prof.write_text(json.dumps({"user_id": "bad", "customThresholds": {"rules": {"protein_low": {"ratio": -1}}}}) + "\n"
                    + json.dumps({"user_id": "good"}) + "\n")
    assert main(["rules", str(logs), "--profiles", str(prof), "--status", "finding", "--status", "data_problem"]) == 0
    cap = capsys.readouterr()
    out = [json.loads(line) for line in cap.out.splitlines()]
    assert {(o["user_id"], o["rule"]) for o in out} == {("bad", "profile"), ("bad", "protein_low"), ("good", "protein_low")}
    assert "user bad" in cap.err and "protein_low.ratio" in cap.err


def test_the_dangerous_ranges_are_not_personalisable():
    eng = engine(profiles={"u1": {"customThresholds": {"bloodPressure": {"systolic": {"max": 200}}}}})
    bp = _of(eng.run(_bp((190.0, 110.0))), "blood_pressure_range")
    assert bp and bp[0].severity == "CRITICAL"                    # 190 is a crisis whatever the profile says
    eng = engine(profiles={"u1": {"customThresholds": {"safety": {"dangerous": {}}}}})
    assert "safety" in eng.profile_error("u1")


# ------------------------------------------------------------------ 6. the document's letter

def test_sleep_quality_falling_five_nights_running_is_low():
    assert top(frame(5, sleep_quality=[80.0, 78.0, 76.0, 74.0, 72.0]), "sleep_quality_decline") == "LOW"
    assert top(frame(5, sleep_quality=[80.0, 78.0, 78.0, 74.0, 72.0]), "sleep_quality_decline") is None


def test_health_score_falling_18_points_in_7_days_is_medium_even_when_the_last_day_plunges():
    week = [80.0, 80.0, 79.0, 79.0, 78.0, 78.0, 62.0]
    slope = np.polyfit(np.arange(7), week, 1)[0]
    assert -slope * 6 < 15                                    # a fitted trend would miss this fall of 18
    found = evaluate(frame(10, health_score=[80.0] * 3 + week), "health_score_drop")
    assert found and found[-1].severity == "MEDIUM" and found[-1].evidence["drop"] == pytest.approx(18.0)


def test_six_earlier_readings_and_today_is_insufficient_data_for_3_sigma():
    w = [70.0, 70.5] * 3 + [75.0]                             # today's reading is not its own baseline
    found = [f for f in evaluate(frame(7, weight_kg=w), "sudden_change", status=None) if f.metric == "weight_kg"]
    assert [(f.status, f.evidence["have"], f.evidence["need"]) for f in found] == [("insufficient_data", 6, 7)]


@pytest.mark.parametrize("rule", ["weight_daily_change", "weight_weekly_change"])
def test_minimum_data_applies_to_every_weight_rule(rule):
    three = frame(3, weight_kg=[70.0, 73.5, 73.5])             # "体重：至少7天数据"
    found = evaluate(three, rule, status=None)
    assert not [f for f in found if f.status == "finding"]
    assert any(f.status == "insufficient_data" for f in found)


def test_minimum_data_for_blood_pressure_is_five_measurements():
    four = frame(4, systolic=[120.0, 120.0, 150.0, 150.0], diastolic=[78.0, 78.0, 95.0, 95.0])
    found = evaluate(four, "blood_pressure_range", status=None)
    assert not [f for f in found if f.status == "finding"]
    assert [f.evidence["need"] for f in found if f.status == "insufficient_data"] == [5]
    five = frame(6, systolic=[120.0] * 4 + [150.0, 150.0], diastolic=[78.0] * 4 + [95.0, 95.0])
    assert top(five, "blood_pressure_range") == "MEDIUM"


# ------------------------------------------------------------------ 7. the flow: data entry, every 6 hours, feedback

def test_watch_runs_the_rules_on_new_files_and_the_periodic_job(tmp_path, capsys):
    from wearable_monitor.rules.scheduler import watch

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = [{"user_id": "u1", "date": f"2024-01-{d:02d}", "systolic": 120, "diastolic": 78} for d in range(1, 11)]
    rows.append({"user_id": "u1", "date": "2024-01-11", "systolic": 190, "diastolic": 125})
    (inbox / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    db = str(tmp_path / "f.sqlite")
    assert main(["rules", "--watch", str(inbox), "--db", db, "--max-cycles", "1", "--poll-seconds", "0"]) == 0
    notes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(n["rule"], n["severity"]) for n in notes if n["rule"] == "blood_pressure_range"] == \
        [("blood_pressure_range", "CRITICAL")]
    # a restart re-reads the file: stored episodes, no second notification
    assert main(["rules", "--watch", str(inbox), "--db", db, "--max-cycles", "1", "--poll-seconds", "0"]) == 0
    assert capsys.readouterr().out == ""
    # the periodic job every 6 hours, with a fake clock: runs at 0 h and 6 h, not at 3 h
    eng = engine(store=db)
    runs = []
    eng.run_scheduled = lambda users=None: runs.append(1) or []
    now = [0.0]
    watch(eng, inbox, interval_hours=6, poll_seconds=3 * 3600, max_cycles=3, clock=lambda: now[0],
          sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert len(runs) == 2
    assert main(["rules", "--db", db, "--scheduled"]) == 0


def test_rules_feedback_command_updates_precision_recall_f1(tmp_path, capsys):
    rows = [{"user_id": "u1", "date": f"2024-01-{d:02d}", "protein_g": 90 if d < 6 or 10 < d < 20 else 30,
             "protein_target_g": 100} for d in range(1, 24)]
    logs, db = tmp_path / "daily.jsonl", str(tmp_path / "f.sqlite")
    logs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["rules", str(logs), "--db", db, "--status", "finding"]) == 0
    ids = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert len(ids) == 2
    assert main(["rules-feedback", str(ids[0]), "--confirmed", "--db", db]) == 0
    assert main(["rules-feedback", str(ids[1]), "--false-alarm", "--db", db, "--source", "clinician"]) == 0
    assert main(["rules-feedback", "--missed", "--user", "u1", "--rule", "protein_low", "--start", "2024-02-01",
                 "--db", db]) == 0
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (last["tp"], last["fp"], last["fn"]) == (1, 1, 1)
    assert last["precision"] == pytest.approx(0.5) and last["recall"] == pytest.approx(0.5)
    assert main(["rules-feedback", "999", "--confirmed", "--db", db]) == 2
    assert "no finding with id 999" in capsys.readouterr().err
