"""Findings store (episodes, duplicates, cooldown), feedback statistics, dynamic adjustment, notifications."""
from __future__ import annotations

import logging

import pandas as pd
import pytest

from rules_helpers import engine, frame
from wearable_monitor.rules import FindingStore
from wearable_monitor.rules.feedback import adjust_sensitivity, evaluate as evaluate_rules, feed_simulator_labels, rule_kinds
from wearable_monitor.rules.finding import Finding
from wearable_monitor.rules.notifications import to_notification


def _f(start: str, end: str, severity="MEDIUM", rule="protein_low", user="u1") -> Finding:
    return Finding(user, rule, "protein_g", "finding", severity, 0.4, pd.Timestamp(start), pd.Timestamp(end),
                   {"ratios": [0.4]}, ["protein_low"])


def test_episode_update_escalation_and_cooldown(tmp_path):
    store = FindingStore(tmp_path / "rules.sqlite")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.upsert_episode(_f("2024-01-01", "2024-01-03"), 7)[1] == "new"
    assert store.upsert_episode(_f("2024-01-01", "2024-01-03"), 7)[1] == "unchanged"     # re-run
    assert store.upsert_episode(_f("2024-01-02", "2024-01-04"), 7)[1] == "updated"       # same episode grows
    assert store.upsert_episode(_f("2024-01-03", "2024-01-05", "HIGH"), 7)[1] == "escalated"
    assert store.upsert_episode(_f("2024-01-09", "2024-01-11"), 7)[1] == "cooldown"      # 4 days after the end
    assert store.upsert_episode(_f("2024-01-20", "2024-01-22"), 7)[1] == "new"           # 15 days after
    rows = store.findings()
    assert len(rows) == 3
    assert rows.iloc[0]["episode_end"] == "2024-01-05" and rows.iloc[0]["severity"] == "HIGH"
    assert list(rows["status"]) == ["notified", "cooldown", "notified"]


def test_engine_reruns_store_no_duplicates():
    eng = engine()
    df = frame(12, protein_g=[90.0] * 6 + [30.0] * 6, protein_target_g=100.0)
    first = [f for f in eng.run(df) if f.rule == "protein_low" and f.status == "finding"]
    assert [f.action for f in first] == ["new"]
    again = [f for f in eng.run() if f.rule == "protein_low" and f.status == "finding"]
    assert [f.action for f in again] == ["unchanged"]
    assert len(eng.store.findings(rule="protein_low")) == 1


def test_feedback_changes_statistics_and_lowers_sensitivity(caplog):
    store = FindingStore()
    ids = [store.upsert_episode(_f(f"2024-0{m}-01", f"2024-0{m}-03"), 7)[0] for m in range(1, 10)]
    ids += [store.upsert_episode(_f(f"2024-{m}-01", f"2024-{m}-03"), 7)[0] for m in (10, 11, 12)]
    for i in ids[:6]:
        store.add_feedback(i, "confirmed", "user")
    for i in ids[6:]:
        store.add_feedback(i, "false_alarm", "user")
    s = store.rule_stats().set_index("rule").loc["protein_low"]
    assert (s.tp, s.fp) == (6, 6) and s.precision == pytest.approx(0.5)
    store.add_missed_event("u1", "protein_low", "2025-01-01", "2025-01-03")
    s = store.rule_stats().set_index("rule").loc["protein_low"]
    assert s.fn == 1 and s.recall == pytest.approx(6 / 7)
    store.add_feedback(ids[6], "confirmed", "clinician")  # the clinician overrides the user's verdict
    assert store.rule_stats().set_index("rule").loc["protein_low"].tp == 7

    cfg = engine().config.feedback
    with caplog.at_level(logging.INFO, logger="wearable_monitor.rules.feedback"):
        done = adjust_sensitivity(store, cfg)
    assert [(a.rule, a.old, a.new) for a in done] == [("protein_low", 1.0, pytest.approx(0.9))]
    assert "sensitivity" in caplog.text
    assert adjust_sensitivity(store, cfg) == []           # no new feedback: no second step
    assert store.sensitivities() == {"protein_low": pytest.approx(0.9)}
    assert len(store.adjustments()) == 1


def test_lowered_sensitivity_silences_a_borderline_finding():
    eng = engine()
    df = frame(8, protein_g=[90.0] * 5 + [48.0] * 3, protein_target_g=100.0)  # 48 % of target
    assert [f.rule for f in eng.run(df, store=False) if f.status == "finding"] == ["protein_low"]
    eng.store.set_sensitivity("protein_low", 0.9, 0.5, 12, "test")             # threshold 50 % -> 45 %
    assert not [f for f in eng.run(store=False) if f.status == "finding"]


def test_simulator_labels_feed_the_statistics_and_evaluation():
    eng = engine()
    df = frame(20, protein_g=[90.0] * 5 + [30.0] * 3 + [90.0] * 6 + [30.0] * 3 + [90.0] * 3, protein_target_g=100.0)
    found = eng.run(df)
    labels = pd.DataFrame([{"user_id": "u1", "start": "2024-01-06", "end": "2024-01-08", "kind": "protein_low",
                            "stream": "daily"},
                           {"user_id": "u1", "start": "2024-01-25", "end": "2024-01-27", "kind": "protein_low",
                            "stream": "daily"}])
    feed_simulator_labels(eng.store, found, labels, tolerance_days=3)
    s = eng.store.rule_stats().set_index("rule").loc["protein_low"]
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    tab = evaluate_rules(found, labels, 20, rule_kinds(eng.config), 3).set_index("rule").loc["protein_low"]
    assert (tab.true, tab.false, tab.events, tab.detected) == (1, 1, 2, 1)


def test_notification_shape_and_languages():
    eng = engine()
    f = Finding("u1", "weight_daily_change", "weight_kg", "finding", "HIGH", 73.5, pd.Timestamp("2024-01-10"),
                pd.Timestamp("2024-01-11"), {"change_kg": 3.5, "previous": 70.0}, ["weight_jump"])
    n = to_notification(f, eng.config, "en")
    assert set(n) >= {"title", "description", "severity", "recommendations", "actionRequired", "timestamp"}
    assert n["actionRequired"] is True and "sms" in n["channels"] and "not a diagnosis" in n["description"]
    zh = to_notification(f, eng.config, "zh")
    assert "体重" in zh["title"] and "诊断" in zh["description"]
    both = to_notification(f, eng.config, "both")
    assert set(both["title"]) == {"en", "zh"} and isinstance(both["recommendations"]["zh"], list)
    low = Finding("u1", "bedtime_irregular", "bedtime", "finding", "LOW", 2.1, pd.Timestamp("2024-01-10"),
                  pd.Timestamp("2024-01-11"), {}, [])
    assert to_notification(low, eng.config)["actionRequired"] is False
    d = f.to_dict()
    assert set(d["title"]) == {"en", "zh"} and d["period"] == {"start": "2024-01-10", "end": "2024-01-11"}


def test_writers_on_one_file_wait_for_each_other_and_lose_nothing(tmp_path):
    import threading

    path = tmp_path / "shared.sqlite"
    FindingStore(path).conn.close()
    errors = []

    def worker(t):
        try:
            store = FindingStore(path)  # each writer its own connection, as separate processes would
            for i in range(25):
                day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * i)
                store.upsert_episode(_f(str(day.date()), str((day + pd.Timedelta(days=1)).date()), user=f"u{t}"), 7)
            store.close()
        except Exception as exc:  # pragma: no cover - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    rows = FindingStore(path).findings()
    assert len(rows) == 100 and rows.groupby("user_id").size().tolist() == [25] * 4
