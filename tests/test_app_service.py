"""The app without a browser: every UI handler and the service functions behind it.

Scores come from whatever checkpoint is shipped, so tests assert shapes, ranges and behaviour
(threshold logic, error messages, store effects), never particular score values.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.conftest import write_case
from wearable_monitor.app.i18n import STRINGS, t
from wearable_monitor.app.service import AppConfig, MonitorService, derive_daily, json_safe, rethreshold
from wearable_monitor.app.ui import Handlers, build_ui
from wearable_monitor.features.vitals import VitalsConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def h(app_service) -> Handlers:
    return Handlers(app_service)


def assert_readable_error(message: str) -> None:
    assert message.startswith("⚠️") and "Traceback" not in message and 'File "' not in message


# ----------------------------------------------------------------------------- config and helpers

def test_config_rejects_unknown_keys_and_env_overrides(tmp_path, monkeypatch):
    bad = tmp_path / "app.json"
    bad.write_text(json.dumps({"max_upload_byte": 10}))
    with pytest.raises(ValueError, match="max_upload_byte"):
        AppConfig.load(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"_comment": "x", "max_records": 10, "concurrency_limit": 3}))
    monkeypatch.setenv("WM_APP_MAX_RECORDS", "77")
    cfg = AppConfig.load(good)
    assert (cfg.max_records, cfg.concurrency_limit) == (77, 3)  # env beats the file
    assert AppConfig.load(good, max_records=5).max_records == 5  # keyword beats env
    shipped = AppConfig.load()  # configs/app_config.json parses
    assert shipped.max_upload_bytes > 0 and shipped.concurrency_limit >= 1


def test_json_safe_and_rethreshold():
    assert json_safe({"a": np.float32(np.nan), "b": [np.int64(3), pd.Timestamp("2024-01-01")]}) == \
        {"a": None, "b": [3, "2024-01-01T00:00:00"]}
    r = {"anomaly_score": 0.4, "is_anomaly": False, "threshold": 0.5, "level": "normal", "reasons": [],
         "details": {"prediction_confidence": 0.1}}
    low, high = rethreshold(r, 0.3), rethreshold(r, 0.9)
    # the visitor's threshold moves the model's finding (watch), never the alert verdict by itself
    assert low["details"]["model_anomalous"] and not high["details"]["model_anomalous"]
    assert (low["level"], high["level"]) == ("watch", "normal") and not low["is_anomaly"]
    assert low["details"]["prediction_confidence"] == pytest.approx(0.1) and rethreshold(r, None) is r
    flagged = dict(r, level="alert", is_anomaly=True, reasons=[
        {"source": "red_flag", "code": "hr_high_rest", "level": "alert", "title": {"en": "x", "zh": "x"}}])
    assert rethreshold(flagged, 0.9)["is_anomaly"] and rethreshold(flagged, 0.9)["level"] == "alert"


def test_strings_have_both_languages():
    assert all(len(v) == 2 and v[0] and v[1] for v in STRINGS.values())
    assert t("tab_about", "zh") != t("tab_about", "en")


# ----------------------------------------------------------------------------- real-time window

def test_every_preset_runs_with_a_verdict_chart_and_llm_text(h, app_service):
    presets = app_service.presets()
    assert {"normal", "short_term", "long_term", "missing"} <= {p["name"] for p in presets}
    for p in presets:
        text, desc = h.on_preset(p["name"])
        assert len(json.loads(text)) == 12 and desc
        verdict, result, fig, drivers, llm, state = h.run_preset(p["name"], None, "en")
        assert 0.0 <= result["anomaly_score"] <= 1.0
        assert result["is_anomaly"] == (result["level"] in ("alert", "urgent"))
        assert result["details"]["model_anomalous"] == (result["anomaly_score"] >= result["threshold"])
        assert result["level"] == p["verdict"], p["name"]  # every preset states the verdict it must get
        assert verdict.startswith("## ") and f"{result['anomaly_score']:.3f}" in verdict
        assert isinstance(fig, go.Figure) and len(fig.data) >= 2
        assert list(drivers.columns)[:2] == ["feature", "importance"] and len(drivers) > 0
        assert "DATA BEGIN" in llm and result["user_id"] in llm
        assert state.rows.shape[0] == 12


def test_long_term_preset_replays_its_history_into_a_personal_baseline(h):
    first = h.run_preset("long_term", None, "en")[1]
    again = h.run_preset("long_term", None, "en")[1]
    assert first["baseline"]["days_of_history"] > 0 and first["baseline"]["alpha"] > 0
    assert again["anomaly_score"] == first["anomaly_score"]  # every run replays from an empty baseline


def test_pasted_window_and_threshold(h):
    text, _ = h.on_preset("normal")
    for thr in (0.0, 1.0):
        _, result, *_ = h.run_window(text, thr, "en")
        assert result["threshold"] == thr and result["details"]["model_anomalous"] == (result["anomaly_score"] >= thr)
        # the visitor's threshold moves only the model's finding, which is never more than "watch"
        assert result["level"] in ("normal", "watch") and not result["is_anomaly"]
        assert any(r["source"] == "model" for r in result["reasons"]) == (result["anomaly_score"] >= thr)
    verdict_zh, result, _, _, llm_zh, _ = h.run_window(text, None, "zh")
    llm_en = h.run_window(text, None, "en")[4]
    assert t(f"level_{result['level']}", "zh") in verdict_zh
    assert llm_zh != llm_en and any("\u4e00" <= ch <= "\u9fff" for ch in llm_zh)


@pytest.mark.parametrize("text, needle", [
    ("", "Nothing to score"),
    ("{not json", "not valid JSON"),
    ('[{"timestamp": "2024-01-01T00:00:00", "deviceId": "x", "features": {"hr": 60}}]', "6 to 24 records"),
    ('[{"deviceId": "x", "features": {"hr": 60}}]', "timestamp"),
])
def test_bad_window_gives_a_readable_message_and_clears_outputs(h, text, needle):
    verdict, result, fig, drivers, llm, state = h.run_window(text, None, "en")
    assert_readable_error(verdict)
    assert needle in verdict
    assert result is None and llm == "" and state is None and drivers.empty


# ----------------------------------------------------------------------------- upload

def test_upload_scores_validates_charts_and_exports(h, history_jsonl):
    out = h.analyze([str(history_jsonl)], None, "en")
    status, report, users, timeline, days, alpha, findings, llm_short, llm, csv_path, view = out
    assert status.startswith("✅"), status
    assert "accepted" in report["value"] and report["visible"]
    assert len(users["choices"]) == 2 and users["value"] == view.user
    assert isinstance(timeline, go.Figure) and any(tr.name == t("score", "en") for tr in timeline.data)
    assert any(s.y0 == s.y1 for s in timeline.layout.shapes)  # the threshold line
    assert set(days["user_id"]) == {view.user} and 1 <= len(days) <= 3 and days["windows"].gt(0).all()
    assert isinstance(alpha, go.Figure) and all(0 <= v <= 1 for v in alpha.data[0].y)
    assert list(findings.columns)[:4] == ["id", "user_id", "rule", "metric"]
    assert "DATA BEGIN" in llm and "DATA BEGIN" in llm_short and len(llm_short) < len(llm)
    assert "System prompt" in llm and "System prompt" not in llm_short  # the short one goes into a chat box
    csv = pd.read_csv(csv_path)
    assert {"user_id", "timestamp", "anomaly_score", "is_anomaly", "baseline_alpha"} <= set(csv.columns)
    assert len(csv) == len(view.outcome.scored) and csv["anomaly_score"].between(0, 1).all()
    # personal weight never decreases during a replay from an empty baseline
    for _, g in view.outcome.scored.groupby("user_id"):
        assert np.all(np.diff(g["baseline_alpha"].to_numpy()) >= -1e-12)
    other = [u for u in users["choices"] if u != view.user][0]
    switched = h.select_upload_user(other, view, "en")
    assert switched.user["value"] == other and set(switched.days["user_id"]) == {other}


def test_bad_uploads_give_readable_messages(h, tmp_path, app_service):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": "2024-01-01T00:00:00"\nhello\n[1, 2]\n')
    status, report, *_rest, view = h.analyze([str(bad)], None, "en")
    assert_readable_error(status) and view is None
    report = report["value"]
    assert "line 1" in report and "line 2" in report and "not valid JSON" in report
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (app_service.limits.max_bytes + 1))
    status = h.analyze([str(big)], None, "en")[0]
    assert_readable_error(status) and "size limit" in status
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\x00\x01\x02binary")
    assert "binary" in h.analyze([str(binary)], None, "en")[0]
    lone = tmp_path / "P1_steps.csv"  # steps without heart rate: nothing to score
    lone.write_text("user,datetime,steps\n")
    assert "_hr.csv" in h.analyze([str(lone)], None, "en")[0]
    empty = tmp_path / "P1_hr.csv"  # heart rate alone is read, but this one holds no row
    empty.write_text("user,datetime,heartrate\n")
    assert "no valid record" in h.analyze([str(empty)], None, "en")[0]
    assert_readable_error(h.analyze(None, None, "en")[0])


def test_fitbit_pair_upload(h, tmp_path):
    t0 = pd.Timestamp("2020-01-01")
    minutes = pd.date_range(t0, periods=3 * 60, freq="1min")
    hr = pd.DataFrame({"user": "P9", "datetime": minutes.repeat(3) + pd.to_timedelta(np.tile([0, 20, 40], len(minutes)), "s"),
                       "heartrate": 60 + np.arange(len(minutes) * 3) % 7})
    steps = pd.DataFrame({"user": "P9", "datetime": minutes, "steps": (np.arange(len(minutes)) % 30 == 0) * 12})
    for df in (hr, steps):
        df["datetime"] = df["datetime"].dt.strftime("%Y-%m-%d %H:%M:%S")
    hr.to_csv(tmp_path / "P9_hr.csv")
    steps.to_csv(tmp_path / "P9_steps.csv")
    status, report, users, *_ = h.analyze([str(tmp_path / "P9_hr.csv"), str(tmp_path / "P9_steps.csv")], None, "en")
    assert status.startswith("✅"), status
    assert users["choices"] == ["P9"] and "fitbit" in report["value"]


def test_records_csv_upload_scores_like_the_same_jsonl(h, history_jsonl, tmp_path):
    """One CSV with a record per row (as a simulator or spreadsheet writes it) is scored exactly
    like the JSONL of the same records."""
    from wearable_monitor.data.readers import load_history

    frame = load_history(history_jsonl).frame
    features = [c for c in ("hr", "hr_resting", "hrv_rmssd", "steps", "spo2", "sleep_state") if c in frame]
    table = frame[["timestamp", "user_id", *features]].rename(columns={"user_id": "deviceId"})
    labels = {0: "awake", 1: "light", 2: "deep", 3: "rem"}
    if "sleep_state" in table:
        table["sleep_state"] = table["sleep_state"].map(labels)
    table["timestamp"] = table["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    csv_path = tmp_path / "two_users.csv"
    table.to_csv(csv_path, index=False)
    jsonl_path = tmp_path / "same.jsonl"
    jsonl_path.write_text("\n".join(json.dumps({"timestamp": r["timestamp"], "deviceId": r["deviceId"],
                                                "features": {k: r[k] for k in features if pd.notna(r[k])}})
                                    for r in table.to_dict("records")) + "\n")
    from_csv, from_jsonl = (h.analyze([str(p)], None, "en")[-1] for p in (csv_path, jsonl_path))
    assert from_csv is not None and from_jsonl is not None and len(from_csv.outcome.scored) > 100
    pd.testing.assert_frame_equal(from_csv.outcome.scored, from_jsonl.outcome.scored)


# ----------------------------------------------------------------------------- derived daily values and rules

def test_derive_daily_is_honest_about_coverage():
    t0 = pd.Timestamp("2024-01-01 12:00")
    stamps = pd.date_range(t0, periods=2 * 288, freq="5min")  # noon day 1 .. noon day 3
    asleep = (stamps.hour >= 23) | (stamps.hour < 7)  # 8 h every night
    frame = pd.DataFrame({"user_id": "u", "timestamp": stamps, "sleep_state": np.where(asleep, 1.0, 0.0),
                          "hr_resting": np.where(stamps.hour < 1, 55.0, np.nan)})  # 12 resting values on each day
    frame.loc[frame["timestamp"] >= pd.Timestamp("2024-01-02 18:00"), "sleep_state"] = np.nan  # second night mostly unseen
    d = derive_daily(frame, {"awake": 0, "light": 1}).set_index("date")
    assert d.loc["2024-01-02", "sleep_hours"] == pytest.approx(8.0)
    assert np.isnan(d.loc["2024-01-03", "sleep_hours"])  # < 70 % of the sleep day observed
    assert d.loc["2024-01-02", "resting_hr"] == 55.0
    assert pd.Timestamp("2024-01-01") not in d.index  # nothing derivable that afternoon: no row, nothing invented


def test_derived_resting_hr_uses_heart_rate_at_rest_when_the_device_gives_none():
    stamps = pd.date_range("2024-01-01", periods=288, freq="5min")
    steps = np.where(stamps.hour < 6, 0.0, 40.0)  # still until 6:00, walking after
    frame = pd.DataFrame({"user_id": "u", "timestamp": stamps, "steps": steps,
                          "hr": np.where(steps > 0, 95.0, 58.0), "hr_resting": np.nan})
    d = derive_daily(frame, {"awake": 0, "light": 1})
    assert d["resting_hr"].tolist() == [58.0]  # the walking hours' heart rate is not resting HR
    # the detector's vitals config decides the signal: without the fallback, no resting HR at all
    config = VitalsConfig()
    no_fallback = replace(config, signals={**config.signals,
                                           "resting_hr": replace(config.signals["resting_hr"], fallback=None)})
    assert derive_daily(frame, {"awake": 0, "light": 1}, vitals=no_fallback).empty


def test_rules_on_derived_values_and_feedback(h, app_service):
    dates = pd.date_range("2024-03-01", periods=24, freq="D")
    rng = np.random.default_rng(0)
    hr = 60 + rng.normal(0, 1.0, len(dates))
    hr[-3:] = [80, 81, 80]  # a sustained jump in resting HR
    daily = pd.DataFrame({"user_id": "rule-user", "date": dates, "resting_hr": hr, "sleep_hours": np.nan})
    found = app_service.run_rules(daily, ["rule-user"])
    jumps = [f for f in found if f["rule"] == "sudden_change" and f["status"] == "finding"]
    assert jumps and jumps[0]["metric"] == "resting_hr" and jumps[0]["severity"] in ("MEDIUM", "HIGH", "CRITICAL")
    assert all(f["metric"] == "resting_hr" for f in found)  # nothing about metrics we could not derive
    table = app_service.user_findings("rule-user")
    fid = int(table["id"].iloc[0])
    msg, table = h.feedback("rule-user", fid, "confirmed", "en")
    assert str(fid) in msg and table.loc[table["id"] == fid, "tp"].iloc[0] == 1
    msg, table = h.feedback("rule-user", fid, "false_alarm", "zh")
    assert "误报" in msg and table.loc[table["编号"] == fid, "误报数"].iloc[0] == 1  # zh headers
    assert h.feedback("rule-user", None, "confirmed", "en")[0] == t("pick_finding", "en")
    assert_readable_error(h.feedback("rule-user", 987654, "confirmed", "en")[0])


# ----------------------------------------------------------------------------- PatchTrAD cases

def test_cases_dropdown_reads_the_manifest_at_request_time(h, app_service):
    dd, msg = h.refresh_cases("en")
    names = [v for _, v in dd["choices"]]
    assert "demo_case" in names and msg == ""
    info, fig, case, llm = h.pick_case("demo_case", "en")
    assert "Demo case" in info and case["verdict"] == "flagged" and "for the LLM" in llm
    assert len(fig.data) == 1 and len(fig.layout.shapes) >= 2  # threshold line + one flagged segment
    write_case(app_service.cases_dir, "late_case", "Late case")  # appears without a restart
    assert "late_case" in [v for _, v in h.refresh_cases("en")[0]["choices"]]
    assert_readable_error(h.pick_case("no_such_case", "en")[0])


def test_cases_missing_manifest_and_path_traversal(tmp_path, app_service):
    empty = Handlers(MonitorService(AppConfig.load(data_dir=str(tmp_path / "d"), cases_dir=str(tmp_path / "none")),
                                    detector=app_service.detector))
    dd, msg = empty.refresh_cases("en")
    assert dd["choices"] == [] and "manifest.json" in msg
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "manifest.json").write_text(json.dumps({"cases": [{"name": "evil", "title": "Evil", "files": {
        "prescreen": "../secret.json", "case": "/etc/hostname", "llm_input": "evil/llm.md"}}]}))
    svc = MonitorService(AppConfig.load(data_dir=str(tmp_path / "d2"), cases_dir=str(cases)), detector=app_service.detector)
    info, fig, case, llm = Handlers(svc).pick_case("evil", "en")
    assert case is None and llm == "" and info.count("missing") == 3
    (cases / "manifest.json").write_text("{broken")
    assert Handlers(svc).refresh_cases("en")[0]["choices"] == []


# ----------------------------------------------------------------------------- users and baselines

def test_users_tab_lists_baselines_history_and_reset(h, app_service):
    h.run_preset("long_term", None, "en")
    user = app_service.preset("long_term")["user_id"]
    dd, msg = h.refresh_users(None, "en")
    assert user in dd["choices"] and msg == ""
    md, table, fig, findings, fdd = h.select_user(user, "hr_resting", "en")
    assert user in md and "α" in md
    assert list(table.columns) == ["metric", "personal_mean", "personal_std", "group_mean", "group_std",
                                   "blend_mean", "blend_std"]
    row = table.set_index("metric").loc["hr_resting"]
    assert np.isfinite(row["personal_mean"]) and np.isfinite(row["group_mean"])
    assert isinstance(fig, go.Figure) and len(fig.data) >= 2
    msg, dd = h.reset_user(user, "hr_resting", "en")
    assert user in msg and user not in dd["choices"] and user not in app_service.users()


# ----------------------------------------------------------------------------- about, API, page

def test_about_shows_the_model_card_client_usage_and_disclaimer(h, app_service):
    card = json.loads((app_service.detector.model_dir / "summary.json").read_text())
    md = h.about("en")
    assert str(card["threshold"]) in md and "gradio_client" in md and "/analyze_history" in md
    assert "not a medical device" in md
    assert "不是医疗器械" in h.about("zh")


def test_api_handlers_return_json(h, history_jsonl):
    text, _ = h.on_preset("normal")
    r = h.api_detect_window(text)
    assert {"is_anomaly", "anomaly_score", "threshold", "top_features", "baseline"} <= set(r)
    json.dumps(r, allow_nan=False)  # strict JSON, no NaN
    assert "error" in h.api_detect_window("[]")
    report = h.api_analyze_history(str(history_jsonl), 0.5)
    json.dumps(report, allow_nan=False)
    assert report["threshold"] == 0.5 and len(report["windows"]) > 0 and len(report["patterns"]) == 2
    assert all(w["model_anomalous"] == (w["anomaly_score"] >= 0.5) for w in report["windows"])
    assert all(w["is_anomaly"] == (w["level"] in ("alert", "urgent")) for w in report["windows"])
    flagged = pd.DataFrame(report["windows"]).assign(date=lambda d: d["timestamp"].str[:10])
    per_day = flagged.groupby(["user_id", "date"])["model_anomalous"].sum()
    days = pd.DataFrame(report["days"]).set_index(["user_id", "date"])["anomalous_windows"]
    assert (per_day.loc[days.index] == days).all()  # the day table follows the visitor's threshold
    assert "error" in h.api_analyze_history(None)


def test_build_ui_registers_named_endpoints_without_starting_a_server(app_service):
    demo = build_ui(app_service)
    names = {d.api_name for d in demo.fns.values()}
    assert {"detect_window", "analyze_history"} <= names


def test_upload_rule_findings_never_rest_on_an_excluded_reading():
    """The real AS2MVDL pair gave a CRITICAL sudden change on 107.4 bpm while the range rule excluded the
    same reading as a measurement error; per upload, the finding built on the excluded reading goes."""
    from wearable_monitor.app.service import consistent_findings

    period = {"start": "2020-11-09", "end": "2020-11-10"}
    excluded = {"user_id": "u", "rule": "resting_hr_range", "metric": "resting_hr", "status": "data_problem",
                "value": 107.4, "period": period}
    on_it = {"user_id": "u", "rule": "sudden_change", "metric": "resting_hr", "status": "finding",
             "severity": "CRITICAL", "value": 107.4, "period": period}
    later = {"user_id": "u", "rule": "sudden_change", "metric": "resting_hr", "status": "finding",
             "severity": "HIGH", "value": 89.0, "period": {"start": "2020-12-24", "end": "2020-12-25"}}
    other_user = dict(on_it, user_id="v")
    assert consistent_findings([excluded, on_it, later, other_user]) == [excluded, later, other_user]


def test_markers_join_the_day_table_and_the_llm_text(h, history_jsonl):
    out = h.analyze([str(history_jsonl)], None, "en", markers="2024-01-01 travel flight\n2024-01-02 alcohol")
    assert [m.kind for m in out.state.outcome.markers] == ["travel", "alcohol"]
    days = out.days.set_index("date")
    assert days.loc["2024-01-01", "markers"] == "travel (flight)" and days.loc["2024-01-02", "markers"] == "alcohol"
    explained = days["explained_by_marker"]
    assert (explained == (days["level"].isin(["alert", "urgent"]) & (days["markers"] != ""))).all()
    assert "travel" in out.llm_short and "alcohol" in out.llm
    shapes = [s for s in out.timeline.layout.shapes if str(s.name or "").startswith("marker:")]
    assert {s.name for s in shapes} == {"marker:travel", "marker:alcohol"}
    assert {a.text for a in out.timeline.layout.annotations if str(a.name or "").startswith("marker:")} == \
        {"travel", "alcohol"}
    zh = h.select_upload_user(out.user["value"], out.state, "zh")
    assert "旅行（flight）" in set(zh.days["事件"]) or "旅行 (flight)" in set(zh.days["事件"])
    bad = h.analyze([str(history_jsonl)], None, "en", markers="2024-01-01 skiing")
    assert_readable_error(bad.status) and "unknown event kind" in bad.status and bad.state is None
    assert "未知的事件类型" in h.analyze([str(history_jsonl)], None, "zh", markers="2024-01-01 skiing").status


def test_add_marker_and_replace_files(h):
    text, msg = h.add_marker("", "2024-01-03", "vaccination", "booster", "en")
    assert (text, msg) == ("2024-01-03 vaccination booster", "")
    text, msg = h.add_marker(text, "2024-01-01", "travel", "", "en")
    assert text.splitlines() == ["2024-01-01 travel", "2024-01-03 vaccination booster"]  # sorted by date
    same, msg = h.add_marker(text, "not-a-date", "travel", "", "en")
    assert same == text and "not a date" in msg
    keep, state = h.replace_files(["/t/a.csv", "/t/b_hr.csv", "/t/b_steps.csv"], ["/t/a.csv"])
    assert keep == state == ["/t/b_hr.csv", "/t/b_steps.csv"]
    assert h.replace_files(["/t/a.csv", "/t/a.csv"], ["/t/a.csv"])[0] == ["/t/a.csv"]  # the same file again
    assert h.replace_files(["/t/c.csv"], ["/t/a.csv"])[0] == ["/t/c.csv"]


def test_presets_speak_to_people_in_both_languages(h, app_service):
    for p in app_service.presets():
        for lang in ("en", "zh"):
            _, desc = h.on_preset(p["name"], lang)
            assert desc and "SimConfig" not in desc and "simulate_user" not in desc and "(" not in desc.split(".")[0][:3]
            title = dict((v, k) for k, v in h.preset_choices(lang))[p["name"]]
            assert bool(re.search(r"[\u4e00-\u9fff]", title + desc)) == (lang == "zh"), (p["name"], lang)


def test_validation_report_in_chinese_keeps_values_and_translates_its_own_words():
    from wearable_monitor.app.i18n import localize_error, localize_report
    from wearable_monitor.data.validation import validate_items

    items = [(1, {"timestamp": "2024-01-01T00:00:00", "deviceId": "u", "features": {"hr": "fast", "steps": 0}}),
             (2, {"timestamp": "2024-01-01T00:05:00", "deviceId": "u", "features": {"hr": 500, "steps": 0, "zzz": 1}}),
             (3, {"timestamp": "2024-01-01T00:05:00", "deviceId": "u", "features": {"hr": 60}}),
             (4, {"timestamp": "2024-01-01T00:10:00", "features": {"hr": 60, "sleep_state": "nap"}, "foo": 1}),
             (5, {"deviceId": "u", "features": {"hr": 60}}), (6, "text")]
    report = validate_items(items).summary()
    zh = localize_report(report, "zh")
    assert localize_report(report, "en") == report and len(zh.splitlines()) == len(report.splitlines())
    for english in ("accepted", "rejected", "line ", "field removed", "record rejected", "duplicate of", "unknown",
                    "missing", "errors (", "warnings (", "expected a", "anonymous user id"):
        assert english not in zh, english
    for kept in ("'fast'", "500", "[25, 230] bpm", "features.hr", "'nap'", "第 3 行", "'anon-0'"):
        assert kept in zh, kept
    # an error that carries the report ("no valid record ...:" + report) is translated through
    assert localize_error("no valid record to score:\n" + report, "zh").startswith("没有可评分的有效记录：\n来源：")
    # a device export's import report, shown above the validation report
    from collections import Counter

    from wearable_monitor.data.importers.base import ImportReport
    imported = ImportReport(source="apple_health", file="export.zip", read=10, used=Counter({"heart rate": 9}),
                            skipped=Counter({"unknown type": 1}), records=5, first="a", last="b", notes=["n"]).text()
    zh = localize_report(imported, "zh")
    assert not any(w in zh for w in ("records:", "samples:", " read,", "  used ", "  skipped ", "note:")), zh
    assert "heart rate" in zh and "unknown type" in zh  # what was used / skipped stays as the importer names it


def test_an_upload_alone_scores_on_all_its_threads_overlapping_uploads_on_one(history_jsonl, tmp_path, monkeypatch):
    import torch

    from wearable_monitor.app.service import AppConfig, MonitorService

    cfg = AppConfig.load(data_dir=str(tmp_path / "data"), solo_upload_threads=2)
    svc = MonitorService(cfg)
    seen = []
    real = type(svc.detector).score_history_and_days

    def spy(det, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(det, *args, **kwargs)

    monkeypatch.setattr(type(svc.detector), "score_history_and_days", spy)
    before = torch.get_num_threads()
    svc.analyze_history([str(history_jsonl)])
    svc._uploads_running += 1  # another upload is running
    try:
        svc.analyze_history([str(history_jsonl)])
    finally:
        svc._uploads_running -= 1
    assert seen == [2, 1] and torch.get_num_threads() == before and svc._uploads_running == 0
    with pytest.raises(ValueError):
        AppConfig.load(data_dir=str(tmp_path / "d2"), solo_upload_threads=-1)


def test_a_lone_fitbit_heart_rate_file_is_read_with_a_note_a_lone_steps_file_is_refused(app_service, tmp_path):
    from wearable_monitor.data.validation import InputFileError

    t = pd.date_range("2024-03-01", periods=3 * 24 * 60, freq="1min")
    hr = pd.DataFrame({"user": "H1", "datetime": t.strftime("%Y-%m-%d %H:%M:%S"), "heartrate": 62.0})
    hr.to_csv(tmp_path / "H1_hr.csv")
    steps = pd.DataFrame({"user": "H1", "datetime": t.strftime("%Y-%m-%d %H:%M:%S"), "steps": 0})
    steps.to_csv(tmp_path / "H1_steps.csv")
    validation = app_service.read_upload([str(tmp_path / "H1_hr.csv")])  # the steps file is beside it, yet
    assert validation.counts["accepted"] == 3 * 288  # an upload is read as given: heart rate alone
    assert [w.field for w in validation.warnings] == ["steps"]
    with pytest.raises(InputFileError, match="or the heart-rate file alone"):
        app_service.read_upload([str(tmp_path / "H1_steps.csv")])


def test_the_start_up_warm_up_analyses_and_draws_in_a_scratch_workspace_it_deletes(app_service):
    from wearable_monitor.app.handlers import Handlers
    from wearable_monitor.app.ui import WARM_UP_HISTORY

    history = app_service.config.path("test_data") / WARM_UP_HISTORY
    users = app_service.users()  # (opens the local session's workspace)
    sessions = set(app_service.sessions)
    folders = set(app_service.sessions_dir.iterdir())
    assert Handlers(app_service).warm_up(history, lines=400) > 0
    assert set(app_service.sessions) == sessions and set(app_service.sessions_dir.iterdir()) == folders
    assert app_service.users() == users and "A0NVTRV" not in users  # nothing written where visitors read


def test_launch_warms_up_before_the_port_opens(tmp_path, monkeypatch):
    """The first visitor (or health check, or load test) that connects must find the server warm, not
    share the cores with the warm-up's analysis and first figures."""
    import gradio as gr

    from wearable_monitor.app import ui

    order, services = [], []
    real_create = ui.create_service
    monkeypatch.setattr(ui, "create_service", lambda *a, **kw: services.append(real_create(*a, **kw)) or services[-1])
    monkeypatch.setattr(ui, "warm_up", lambda service: order.append("warm_up"))
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: order.append("port open"))
    monkeypatch.setattr(ui, "add_rest_routes", lambda app, service: order.append("rest routes"))
    monkeypatch.setattr(ui, "set_request_threads", lambda: None)  # process-wide settings stay the test's
    monkeypatch.setattr(ui, "tune_gc", lambda: None)
    try:
        ui.launch(data_dir=str(tmp_path), prevent_thread_lock=True)
    finally:
        for service in services:
            service.close()
    assert order == ["warm_up", "port open", "rest routes"]
