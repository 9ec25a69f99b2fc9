"""WearableAnomalyDetector: API shapes, no look-ahead, live == replay, patterns, tolerance, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.jsonio import json_safe

from wearable_monitor.config import REPO_ROOT
from wearable_monitor.detector import InputError, WearableAnomalyDetector
from wearable_monitor.evaluation.measures import declining_week
from wearable_monitor.data.records import frame_to_records
from wearable_monitor.simulation.simulator import EventRequest, simulate_user

EXAMPLE = REPO_ROOT / "test_data" / "example_window.json"


@pytest.fixture(scope="module")
def detector():
    return WearableAnomalyDetector()


@pytest.fixture(scope="module")
def healthy_user():
    return simulate_user("healthy", days=10, seed=11, events=[])


def test_predict_has_the_seed_shape_and_explanations(detector):
    window = json.loads(EXAMPLE.read_text())
    result = detector.predict(window, return_score=True, return_details=True)
    assert set(result) >= {"is_anomaly", "anomaly_score", "threshold", "details", "top_features", "baseline"}
    assert 0.0 <= result["anomaly_score"] <= 1.0
    assert result["is_anomaly"] == (result["level"] in ("alert", "urgent"))
    assert result["details"]["model_anomalous"] == (result["anomaly_score"] >= result["threshold"])
    details = result["details"]
    assert details["window_size"] == 12
    assert details["model_output"] == result["anomaly_score"]
    assert details["prediction_confidence"] == pytest.approx(abs(result["anomaly_score"] - result["threshold"]), abs=1e-3)
    assert result["top_features"] and all(0 <= f["importance"] <= 1 for f in result["top_features"])
    assert result["baseline"]["source"] in {"personal", "group", "blend"}
    assert 0.0 <= result["baseline"]["alpha"] <= 1.0
    short = detector.predict(window, return_details=False)
    assert set(short) == {"is_anomaly", "anomaly_score", "threshold"}


def test_threshold_argument_overrides_the_checkpoint():
    det = WearableAnomalyDetector(threshold=0.0)
    assert det.threshold == 0.0
    result = det.predict(json.loads(EXAMPLE.read_text()))
    assert result["details"]["model_anomalous"] is True
    assert [r["code"] for r in result["reasons"] if r["source"] == "model"] == ["window_score"]


def test_batch_scoring_matches_single_calls(detector, healthy_user):
    records = frame_to_records(healthy_user.frame.iloc[:400])
    windows = [records[i:i + 12] for i in (0, 100, 250, 380)]
    batch = detector.predict_batch(windows)
    single = [detector.predict(w) for w in windows]
    assert [b["anomaly_score"] for b in batch] == pytest.approx([s["anomaly_score"] for s in single], abs=1e-5)


def test_window_with_40_percent_features_removed_and_no_static_still_scores(detector):
    window = json.loads(EXAMPLE.read_text())
    rng = np.random.default_rng(0)
    for rec in window:
        rec.pop("static_features", None)
        names = [n for n in rec["features"] if n != "hr"]
        for n in rng.choice(names, size=int(round(0.4 * len(rec["features"]))), replace=False):
            rec["features"].pop(n)
    result = detector.predict(window)
    assert np.isfinite(result["anomaly_score"])
    assert result["static"]["age_group"] == "unknown"
    assert result["data_quality"]["missing_fraction"] > 0.3


def test_too_short_window_is_a_clear_error(detector):
    window = json.loads(EXAMPLE.read_text())[:5]
    with pytest.raises(InputError, match="needs 6 to 24 records"):
        detector.predict(window)


def test_score_history_has_no_look_ahead(healthy_user):
    frame = healthy_user.frame
    cut = frame["timestamp"].iloc[0] + pd.Timedelta(days=6)
    full = WearableAnomalyDetector().score_history(frame)
    # change the future drastically: scores before the cut must not move
    future = frame.copy()
    later = future["timestamp"] >= cut
    future.loc[later, "hr"] += 40
    future.loc[later, "hr_resting"] += 40
    changed = WearableAnomalyDetector().score_history(future)
    before = full["timestamp"] < cut
    assert before.sum() > 1000
    np.testing.assert_allclose(full.loc[before, "anomaly_score"], changed.loc[before, "anomaly_score"], atol=1e-6)
    assert not np.allclose(full.loc[~before, "anomaly_score"], changed.loc[~before, "anomaly_score"])


def test_live_day_by_day_equals_one_replay(healthy_user):
    frame = healthy_user.frame
    replay = WearableAnomalyDetector().score_history(frame)
    live = WearableAnomalyDetector()  # one shared store: each day continues from the stored state
    parts = [live.score_history(day) for _, day in frame.groupby(frame["timestamp"].dt.normalize()) if len(day) >= 12]
    live_scores = pd.concat(parts).set_index(["user_id", "timestamp"])["anomaly_score"]
    both = replay.set_index(["user_id", "timestamp"])["anomaly_score"].reindex(live_scores.index)
    # windows whose 12 records lie in one day see the same records and the same baseline
    np.testing.assert_allclose(both.to_numpy(), live_scores.to_numpy(), atol=1e-5)
    assert live.users.days_of_history("healthy") >= 9


def test_baseline_is_updated_after_scoring(healthy_user):
    det = WearableAnomalyDetector()
    det.score_history(healthy_user.frame)
    result = det.predict(frame_to_records(healthy_user.frame.iloc[-12:]))
    assert result["baseline"]["days_of_history"] >= 9
    assert result["baseline"]["source"] == "personal"


def test_what_validation_changed_is_in_the_result_never_silent(detector):
    """A field refused, a record rejected and an unknown name each come back under `input_issues` with the
    record's position and the field; a clean window has no such key (the seed's result shape)."""
    window = json.loads(EXAMPLE.read_text())
    assert "input_issues" not in detector.predict(window)
    # the same dicts changed in place after a clean call: the detector's record memo must see the change
    window[2]["features"]["hr"] = "91.7"            # a string: the field is removed
    window[4]["timestamp"] = "yesterday"             # not a time: the record is rejected
    window[6]["features"]["pulse_ox"] = 97           # not a feature of the config: ignored
    for result in (detector.predict(window), detector.predict_batch([window])[0],
                   detector.detect_realtime(window, update_baseline=False)):
        issues = {(i["line"], i["field"], i["action"]) for i in result["input_issues"]}
        assert issues == {(3, "features.hr", "field removed"), (5, "timestamp", "record rejected"),
                          (7, "features.pulse_ox", "ignored")}
        assert result["details"]["window_size"] == 11  # the rejected record is not scored


def test_a_table_in_another_layout_is_read_as_records_are(detector, healthy_user):
    """A caller's DataFrame with other column names (deviceId, time, heartRate, a static column, a column
    that names nothing) scores as the same records do; what was renamed or ignored is said once per column.
    A frame in the package's own layout is used as it is."""
    from wearable_monitor.data.records import is_contract_frame

    frame = healthy_user.frame.iloc[300:312]
    assert is_contract_frame(frame, detector.config)
    own = detector.predict(frame)
    foreign = pd.DataFrame({"time": frame["timestamp"].astype(str), "deviceId": frame["user_id"],
                            "heartRate": frame["hr"], "stepCount": frame["steps"], "hrv_rmssd": frame["hrv_rmssd"],
                            "age_group": "40-49", "note": "from a spreadsheet"})
    assert not is_contract_frame(foreign, detector.config)
    records = [{"timestamp": str(t), "deviceId": u, "features": {"hr": h, "steps": s, "hrv_rmssd": v},
                "static_features": {"age_group": "40-49"}}
               for t, u, h, s, v in zip(foreign["time"], foreign["deviceId"], foreign["heartRate"],
                                         foreign["stepCount"], foreign["hrv_rmssd"])]
    by_table, by_records = detector.predict(foreign), detector.predict(records)
    assert (by_table["anomaly_score"], by_table["level"]) == (by_records["anomaly_score"], by_records["level"])
    assert by_table["static"]["age_group"] == "40-49"
    issues = [(i["field"], i["action"]) for i in by_table["input_issues"]]
    assert issues == [("note", "ignored"), ("time", "converted"), ("features.heartRate", "converted"),
                      ("features.stepCount", "converted")]
    assert "input_issues" not in own  # the package's own layout: nothing to say
    assert len(detector.score_history(foreign)) == 1

    # contract names with other types are read as records too: a timezone-aware time keeps its local wall
    # clock, a categorical label is read as its code, epoch numbers are refused by name (not misread as ns)
    local = frame.assign(timestamp=frame["timestamp"].dt.tz_localize("Europe/Berlin"))
    assert detector.predict(local)["window"]["start"] == own["window"]["start"]
    labelled = frame.assign(sleep_state="awake")
    assert detector.predict(labelled)["anomaly_score"] == detector.predict(
        frame.assign(sleep_state=float(detector.config.features["sleep_state"].categories["awake"])))["anomaly_score"]
    with pytest.raises(InputError, match="timestamp: .* expected an ISO-8601 string"):
        detector.predict(frame.assign(timestamp=frame["timestamp"].astype("int64") // 10**9))


def test_a_window_with_nothing_measured_is_an_error_not_normal(detector):
    empty = [{"timestamp": f"2024-03-01T10:{5 * i:02d}:00", "deviceId": "u1", "features": {}} for i in range(12)]
    with pytest.raises(InputError, match="no record of the window holds a measured value"):
        detector.predict(empty)
    nested_elsewhere = [{**r, "features": {}, "metrics": {"hr": 70}} for r in empty]  # why: said with the error
    with pytest.raises(InputError, match=r"nothing to score \(validation: line 1, metrics: unknown top-level field"):
        detector.predict(nested_elsewhere)
    empty[3]["features"] = {"hr": 70.0}  # one measurement is something to score (its caveats say how little)
    assert detector.predict(empty)["data_quality"]["missing_fraction"] > 0.9


def test_score_history_warns_when_validation_dropped_records_or_fields(healthy_user):
    records = frame_to_records(healthy_user.frame.iloc[:300])
    records[10]["features"]["hr"] = "90"
    records[20]["timestamp"] = "bad"
    with pytest.warns(UserWarning, match=r"rejected 1 record\(s\) and removed 1 field\(s\); first: line 11, features.hr"):
        WearableAnomalyDetector().score_history(records)


def test_a_window_with_its_history_is_read_against_the_personal_baseline_the_history_builds(healthy_user):
    """detect_realtime(window, history=...) on a fresh detector: the store takes in the history before the
    window, so the window gets the same personal baseline (and verdict) as after an explicit replay, as the
    app and the CLI do it; records it holds already, and history rows from the window on, are not absorbed
    again; with update_baseline=False the store is left alone."""
    records = frame_to_records(healthy_user.frame)
    history, window = records[:-12], records[-12:]
    fresh = WearableAnomalyDetector().detect_realtime(window, history=history)
    assert fresh["baseline"]["source"] == "personal" and fresh["baseline"]["days_of_history"] >= 9

    replayed = WearableAnomalyDetector()
    replayed.score_history(history)
    explicit = replayed.detect_realtime(window, history=history)  # the store holds the history already
    assert fresh["baseline"] == explicit["baseline"]
    assert (fresh["level"], fresh["anomaly_score"]) == (explicit["level"], explicit["anomaly_score"])

    overlapping = WearableAnomalyDetector().detect_realtime(window, history=records)  # the window's rows too
    assert overlapping["baseline"] == fresh["baseline"]

    untouched = WearableAnomalyDetector()
    result = untouched.detect_realtime(window, update_baseline=False, history=history)
    assert untouched.storage.list_users() == [] and result["baseline"]["source"] == "group"


def test_illness_history_raises_scores_and_alerts():
    sim = simulate_user("ill", days=16, seed=5, events=[EventRequest("illness", start=datetime(2024, 1, 10), days=5)])
    det = WearableAnomalyDetector()
    scored = det.score_history(sim.frame)
    ill = sim.labels[sim.labels["kind"] == "illness"].iloc[0]
    inside = (scored["timestamp"] >= ill["start"]) & (scored["timestamp"] <= ill["end"])
    quiet_nights = scored["is_night"] & (scored["timestamp"] < ill["start"])
    ill_nights = scored["is_night"] & inside
    assert scored.loc[ill_nights, "anomaly_score"].mean() > scored.loc[quiet_nights, "anomaly_score"].mean()
    pattern = det.detect_pattern(scored)
    assert pattern["alert"] is True
    alert_days = pd.to_datetime(pattern["alert_dates"])
    assert ((alert_days >= ill["start"].normalize()) & (alert_days <= ill["end"].normalize() + pd.Timedelta(days=1))).any()


def test_a_device_without_resting_hr_still_gets_the_nightly_resting_hr_evidence():
    from wearable_monitor.simulation.datasets import hide_channels

    sim = simulate_user("ill", days=16, seed=5, events=[EventRequest("illness", start=datetime(2024, 1, 10), days=5)])
    bare = hide_channels(sim.frame, ["ill"]).assign(hr_resting=np.nan)  # heart rate and steps, nothing else
    det = WearableAnomalyDetector()
    days = det.daily(det.score_history(bare, update_baseline=False))
    ill = sim.labels[sim.labels["kind"] == "illness"].iloc[0]
    flagged = days.loc[days["vitals_flags"].str.startswith("resting_hr"), "date"]
    assert len(flagged) and (flagged >= ill["start"].normalize()).all()
    assert days["limited_channels"].all()


@pytest.mark.parametrize("seed", [21, 26])
def test_declining_hrv_with_rising_resting_hr_is_flagged(seed):
    pattern = WearableAnomalyDetector().detect_pattern(declining_week(seed, 0.15, 4.0))
    assert len(pattern["days"]) == 7
    assert pattern["alert"] is True and pattern["trend"] == "rising"
    flagged = [d["date"] for d in pattern["days"] if d["is_anomalous_day"]]
    assert min(flagged) >= "2024-01-04"  # never one of the three normal days
    scores = [d["day_score"] for d in pattern["days"]]
    assert np.mean(scores[-2:]) > 3 * np.mean(scores[:3])


def test_seed_seven_day_hrv_only_pattern_is_flagged():
    # The seed's example as its quickstart builds it: a steady HRV (~72 ms, record-to-record noise
    # only), 3 normal days, then 4 days 10 % lower each; nothing else changes.
    frame = declining_week(3, 0.0, 0.0)
    day = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.days.to_numpy()
    noise = np.random.default_rng(0).normal(1.0, 0.1, len(frame))
    frame["hrv_rmssd"] = 72.0 * (1 - 0.10 * np.clip(day - 2, 0, None)) * noise
    pattern = WearableAnomalyDetector().detect_pattern(frame)
    assert pattern["alert"] is True
    assert min(pattern["alert_dates"]) >= "2024-01-05"   # never on the normal days
    assert any("hrv" in d["vitals_flags"] for d in pattern["days"] if d["date"] in pattern["alert_dates"])
    # the nights' flags (a sustained fall among them) reach the LLM text
    from wearable_monitor.formatter import AnomalyFormatter

    text = AnomalyFormatter().format(pattern=pattern).user_content
    flagged = [d["vitals_flags"] for d in pattern["days"] if d["vitals_flags"]]
    assert any("on average over 3 nights" in f for f in flagged)
    assert all(part.split(" on average")[0] in text for f in flagged for part in f.split("; "))
    assert "on average over 3 nights, each lower than the one before" in text


def test_seed_seven_day_hrv_only_pattern_is_flagged_for_most_simulated_people():
    # The card's pattern example ("7 days, last 3 days gradually down -> detected a 3-day continuous
    # anomaly"). On simulated people the night-to-night HRV noise (~10 %) is as large as the first
    # declined nights. A falling HRV alone is a watch (an anomalous day) and alerts when the fall goes
    # on a second day or HRV is past the floor two nights running (PatternConfig.sustained_fall_alerts):
    # 17 of these 20 people are flagged, 7 alert; the same weeks without the decline flag 2, alert none.
    det = WearableAnomalyDetector()

    def flagged_and_alerted(hrv_drop: float) -> tuple[int, int]:
        days = [det.daily(det.score_history(declining_week(s, hrv_drop, 0.0), update_baseline=False)) for s in range(20)]
        return sum(bool(d["is_anomalous_day"].any()) for d in days), sum(bool(d["alert"].any()) for d in days)

    (flagged, alerted), (healthy_flagged, healthy_alerted) = flagged_and_alerted(0.10), flagged_and_alerted(0.0)
    assert flagged >= 14 and alerted >= 4, (flagged, alerted)
    assert healthy_flagged <= 4 and healthy_alerted <= 1, (healthy_flagged, healthy_alerted)
    assert flagged - healthy_flagged >= 10


def test_days_of_heart_rate_and_steps_only_users_are_marked_limited(detector, healthy_user):
    from wearable_monitor.simulation.datasets import hide_channels

    frame = healthy_user.frame.iloc[:288 * 3]
    full = detector.daily(detector.score_history(frame, update_baseline=False))
    hr_only = detector.daily(detector.score_history(hide_channels(frame, ["healthy"]), update_baseline=False))
    assert not full["limited_channels"].any()
    assert hr_only["limited_channels"].all()


def test_healthy_week_does_not_alert(healthy_user):
    pattern = WearableAnomalyDetector().detect_pattern(healthy_user.frame)
    assert pattern["alert"] is False


def _cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "wearable_monitor", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_detect_prints_the_json_result():
    proc = _cli("detect", "--window-file", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"is_anomaly", "anomaly_score", "threshold", "details"} <= set(result)


def test_cli_bench_prints_batch_and_realtime_figures_per_round():
    proc = _cli("bench", "--users", "1", "--days", "2", "--runs", "5", "--rounds", "2", "--warmup", "3", "--no-compile")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["batch"]["features_plus_model_windows_per_s_per_round"]) == 2
    b = result["batch"]  # the model's share of the FLOP bound: its FLOPs per window against the measured matmul rate
    assert 5e5 < b["model_flops_per_window"] < 5e6 and b["matmul_gflops"] > 0 and "batch_compiled" not in result
    assert b["flop_bound_windows_per_s"] == pytest.approx(b["matmul_gflops"] * 1e9 / b["model_flops_per_window"], rel=0.01)
    assert 0 < b["model_share_of_flop_bound"] <= 1
    assert result["batch"]["features_plus_model_windows_per_s"] > 0 and result["realtime_warmup_calls"] == 3
    for key in ("realtime_detect_realtime", "realtime_model_only"):
        assert result[key]["runs"] == 10 and len(result[key]["p50_ms_per_round"]) == 2
        assert 0 < result[key]["p50_ms"] <= result[key]["p95_ms"]


def test_cli_score_writes_window_and_day_tables(tmp_path, healthy_user):
    src = tmp_path / "two_users.jsonl"
    other = simulate_user("second", days=3, seed=3, events=[])
    recs = frame_to_records(healthy_user.frame.iloc[:900]) + frame_to_records(other.frame)
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    proc = _cli("score", str(src), "--out", str(tmp_path / "scores.csv"), "--daily", str(tmp_path / "daily.csv"))
    assert proc.returncode == 0, proc.stderr
    scores = pd.read_csv(tmp_path / "scores.csv")
    daily = pd.read_csv(tmp_path / "daily.csv")
    assert list(scores.columns) == ["user_id", "timestamp", "anomaly_score", "is_anomaly", "level", "reasons"]
    assert set(scores["user_id"]) == {"healthy", "second"}
    assert {"user_id", "date", "windows", "anomalous_windows", "anomaly_share", "alert", "pattern_days", "trend"} <= set(daily.columns)
    assert daily.groupby("user_id")["windows"].sum().to_dict() == scores.groupby("user_id").size().to_dict()


# ---------------------------------------------------------------------- realtime fast path
# The realtime path runs on numpy columns (records_to_columns -> FeatureCalculator.window ->
# summary_from_columns, one torch thread). These tests hold it to the frame-based path it replaced.

def _frame_path_result(det, records, user):
    """The realtime result as the DataFrame path computed it: validated frame, bl_ columns assigned
    to the rows, FeatureCalculator.windows, a batch forward, pandas summaries (no store update)."""
    import torch

    from wearable_monitor.features import frame_columns

    rows = det._frame(records).iloc[-12:].reset_index(drop=True)
    baseline = det.users.summary(user, det._static_of(frame_columns(rows)), as_of=rows["timestamp"].iloc[-1])
    columns = {f"bl_{name}_{stat}": b[stat] for name, b in baseline["metrics"].items()
               for stat in ("mean", "std", "suspect_days", "suspect_z")}
    columns.update(bl_alpha=baseline["alpha"], bl_days=baseline["days_of_history"])
    windows = det.calculator.windows(rows.assign(**columns))
    with torch.no_grad():
        out = det.model(windows.to_tensors(), aux=False)
    measurements = {}
    for name, spec in det.config.features.items():
        if spec.is_numeric and spec.channel != "baseline" and rows[name].notna().any():
            v = rows[name].dropna()
            measurements[name] = {"mean": v.mean(), "min": v.min(), "max": v.max()}
    return {"score": float(out["probability"][0]), "weights": out["variable_weights"][0].numpy(),
            "windows": windows, "columns": columns, "baseline": json_safe(baseline), "measurements": measurements}


def _realtime_cases():
    """(name, history frame or None, window records): personal, sparse channels, new and 3-day users."""
    user = simulate_user("fast-path", days=9, seed=7, events=[]).frame
    short = simulate_user("three-days", days=4, seed=8, events=[]).frame
    window = frame_to_records(user.iloc[-12:])
    sparse = json.loads(json.dumps(window))
    for i, rec in enumerate(sparse):  # whole channels missing, one record with only hr
        for name in ("spo2", "hrv_rmssd", "hrv_sdnn", "skin_temp", "resp_rate"):
            rec["features"].pop(name, None)
        rec.pop("static_features", None)
        if i == 5:
            rec["features"] = {"hr": rec["features"].get("hr", 70.0)}
    night = user[user["timestamp"].dt.hour == 2].index[-1]
    return [
        ("personal", user.iloc[:-12], window),
        ("missing channels", user.iloc[:-12], sparse),
        ("night window", user.iloc[:night - 11], frame_to_records(user.iloc[night - 11:night + 1])),
        ("new user (group baseline)", None, frame_to_records(short.iloc[:12])),
        ("three days of history (blend)", short.iloc[:-12], frame_to_records(short.iloc[-12:])),
    ]


@pytest.mark.parametrize("case", range(5))
def test_realtime_fast_path_equals_the_frame_path(case):
    name, history, records = _realtime_cases()[case]
    det = WearableAnomalyDetector()
    if history is not None:
        det.score_history(history)
    user = records[0].get("deviceId") or "anon-0"
    ref = _frame_path_result(det, records, user)
    result = det.predict(records)

    assert result["baseline"] == ref["baseline"], name
    assert result["anomaly_score"] == pytest.approx(ref["score"], abs=1e-4)
    assert result["details"]["model_output"] == pytest.approx(ref["score"], abs=1e-4)
    imp = result["details"]["variable_importance"]
    np.testing.assert_allclose([imp[n] for n in det.model.config.variable_names], ref["weights"], atol=1e-4)
    assert set(result["measurements"]) == set(ref["measurements"]), name
    for feat, m in ref["measurements"].items():
        for stat in ("mean", "min", "max"):
            assert result["measurements"][feat][stat] == pytest.approx(m[stat], abs=1e-3)
    for item in result["top_features"]:
        assert item["importance"] == pytest.approx(float(ref["weights"][det.model.config.variable_names.index(item["feature"])]), abs=1e-4)

    # the one-window feature arrays are the batch arrays, bit for bit
    from wearable_monitor.features import frame_columns

    rows = det._frame(records).iloc[-12:].reset_index(drop=True)
    one = det.calculator.window(frame_columns(rows), ref["columns"])
    for field in one.array_fields():
        np.testing.assert_array_equal(getattr(one, field), getattr(ref["windows"], field), err_msg=field)
    expected_source = {"new user (group baseline)": "group", "three days of history (blend)": "blend"}.get(name, "personal")
    assert result["baseline"]["source"] == expected_source


def test_one_window_equals_the_same_window_inside_a_long_frame(healthy_user):
    """FeatureCalculator.window on 12 rows vs FeatureCalculator.windows over a day of rows."""
    from wearable_monitor.baselines import causal_baseline_columns
    from wearable_monitor.features import frame_columns

    det = WearableAnomalyDetector()
    frame = causal_baseline_columns(healthy_user.frame.iloc[:600], det.config, det.users.bcfg)
    frame.loc[100:140, "spo2"] = np.nan
    many = det.calculator.windows(frame)
    for end in (11, 130, 599):
        one = det.calculator.window(frame_columns(frame.iloc[end - 11:end + 1]))
        assert one.user_ids[0] == many.user_ids[end - 11] and one.end_times[0] == many.end_times[end - 11]
        for field in ("numeric", "numeric_mask", "categorical", "dt", "t", "known", "static", "context", "context_mask"):
            # close, not equal: window sums over a long frame come from differences of long cumsums
            np.testing.assert_allclose(getattr(one, field)[0], getattr(many, field)[end - 11], atol=1e-5, err_msg=field)


def test_realtime_updates_the_store_like_a_frame_ingest(healthy_user):
    """detect_realtime ingests numpy columns; the stored state equals ingesting the frame rows."""
    frame = healthy_user.frame
    live, ref = WearableAnomalyDetector(), WearableAnomalyDetector()
    for det in (live, ref):
        det.score_history(frame.iloc[:2000])
    for start in range(2000, 2300, 25):  # crosses midnight: days close on the way
        records = frame_to_records(frame.iloc[start:start + 12])
        live.detect_realtime(records)
        ref.users.ingest("healthy", ref._frame(records))
    assert live.users.summary("healthy") == ref.users.summary("healthy")
    assert live.storage.get("healthy", "hrv", "night") == ref.storage.get("healthy", "hrv", "night")


def test_dataframe_and_record_input_give_the_same_result(detector, healthy_user):
    records = frame_to_records(healthy_user.frame.iloc[300:330])
    by_records = detector.predict(records)
    by_frame = detector.predict(detector._frame(records))
    assert by_records == by_frame
    # 30 records given, the latest 12 scored: said, not silent
    assert by_records["input_issues"] == [{"line": None, "field": "<window>", "action": "noted", "message":
                                           "30 valid records given: the latest 12 are scored as the window (a realtime "
                                           "window is 6-24 records; score_history scores every window of a history)"}]


def test_small_batches_run_on_one_thread_and_match_large_batches(detector, healthy_user):
    import torch

    windows = detector.calculator.windows(healthy_user.frame.iloc[:400])
    before = torch.get_num_threads()
    alone = np.concatenate([detector.learned.decision_function(windows[i]) for i in (0, 100, 388)])
    together = detector.learned.decision_function(windows)[[0, 100, 388]]
    assert torch.get_num_threads() == before  # restored after the one-thread block
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_single_window_trace_equals_eager_and_follows_weight_changes(detector, healthy_user):
    """One window runs through a TorchScript trace (model/traced.py); it must give the eager
    forward's outputs for any window of that layout, and see in-place weight changes."""
    import torch

    from wearable_monitor.detectors.learned.traced import OUTPUT_KEYS, TracedScorer

    model = detector.model
    windows = detector.calculator.windows(healthy_user.frame.iloc[:400])
    scorer = TracedScorer(model)
    with torch.inference_mode():
        for i in (5, 150, 388):  # the trace is made from the first; later windows reuse it
            batch = windows[[i]].to_tensors()
            other = dict(batch, static=torch.tensor([[1, 0, 2]]))
            for b in (batch, other):
                traced, eager = scorer(b), model(b, aux=False)
                assert traced is not None
                for k in OUTPUT_KEYS:
                    torch.testing.assert_close(traced[k], eager[k], rtol=0, atol=1e-5)
    assert len(scorer._traces) == 1  # one layout, one trace
    param = next(model.static_encoder.parameters())
    saved = param.detach().clone()
    try:
        with torch.no_grad():
            param.mul_(1.5)  # in-place weight change, as load_state_dict makes
        with torch.inference_mode():
            torch.testing.assert_close(scorer(batch)["probability"], model(batch, aux=False)["probability"],
                                       rtol=0, atol=1e-6)
            assert not torch.allclose(scorer(batch)["probability"], traced["probability"])
    finally:
        with torch.no_grad():
            param.copy_(saved)


def test_realtime_path_scores_through_the_trace(detector, healthy_user):
    records = frame_to_records(healthy_user.frame.iloc[:12])
    detector.learned.traced._traces.clear()
    detector.detect_realtime(records)
    assert [t is not None for t in detector.learned.traced._traces.values()] == [True]


def test_trace_is_not_used_in_training_mode_and_a_failed_trace_falls_back(detector, healthy_user, caplog):
    import torch

    from wearable_monitor.detectors.learned.traced import TracedScorer

    batch = detector.calculator.windows(healthy_user.frame.iloc[:40])[[5]].to_tensors()
    scorer = TracedScorer(detector.model)
    detector.model.train()
    try:
        assert scorer(batch) is None  # dropout is live: no trace
    finally:
        detector.model.eval()
    broken = dict(batch, numeric=batch["numeric"][:, :, :3])  # wrong width: tracing raises
    with torch.inference_mode():
        assert scorer(broken) is None
        assert scorer(broken) is None  # remembered: not traced again
        assert scorer(batch) is not None
    assert "tracing failed" in caplog.text


def test_phased_lstm_sequence_forward_equals_the_step_loop():
    """PhasedLSTM precomputes the input projection and the time gate for all steps; the result
    must equal running PhasedLSTMCell one step at a time (irregular t, unobserved steps)."""
    import torch

    from wearable_monitor.detectors.learned.phased_lstm import PhasedLSTM

    torch.manual_seed(0)
    lstm = PhasedLSTM(7, 16).eval()
    B, T = 3, 12
    x = torch.randn(B, T, 7)
    gaps = torch.rand(B, T) * 20 + 1
    t = torch.cumsum(gaps, 1) - torch.cumsum(gaps, 1)[:, -1:]  # minutes to the window end
    observed = torch.rand(B, T) > 0.3
    state = (torch.randn(B, 16), torch.randn(B, 16))
    with torch.inference_mode():
        outputs, (h_T, c_T) = lstm(x, t, state, observed)
        h, c = state
        steps = []
        for i in range(T):
            h, c = lstm.cell(x[:, i], t[:, i], (h, c), observed[:, i])
            steps.append(h)
    torch.testing.assert_close(outputs, torch.stack(steps, 1), rtol=0, atol=1e-6)
    torch.testing.assert_close(h_T, h, rtol=0, atol=1e-6)
    torch.testing.assert_close(c_T, c, rtol=0, atol=1e-6)
    # unobserved steps keep the state exactly
    held = ~observed[:, 1:]
    assert torch.equal(outputs[:, 1:][held], outputs[:, :-1][held])


class _NoMemo:
    """A RecordMemo that never remembers: every record is validated and encoded afresh."""

    def __init__(self, config):
        self.config = config

    def get(self, item):
        return None

    def put(self, item, record):
        pass

    def encoded(self, record, config):
        from wearable_monitor.data.records import encode_record
        return encode_record(record, config)


def test_a_live_stream_with_changing_records_gets_what_it_would_get_without_the_record_memo(healthy_user):
    """The detector remembers a stream's clean records between calls; a caller who changes its dicts in
    place between calls (a value, a static feature, a bad value, an alias, an extra key), re-sends a record
    or sends them out of order must get exactly what a detector that remembers nothing gives."""
    rng = np.random.default_rng(7)
    records = frame_to_records(healthy_user.frame.iloc[:120])
    remembering, fresh = WearableAnomalyDetector(), WearableAnomalyDetector()
    fresh._record_memo = _NoMemo(fresh.config)
    changes = [
        lambda r: r["features"].__setitem__("hr", float(rng.integers(40, 180))),
        lambda r: r["features"].__setitem__("hr", 500.0),                      # out of range: field removed
        lambda r: r["features"].__setitem__("steps", True),                    # a bool is not a count
        lambda r: r["features"].__setitem__("heart_rate", 90.0),               # an alias of a given name
        lambda r: r.setdefault("static_features", {}).__setitem__("sex", "male"),
        lambda r: r.__setitem__("note", "x"),                                  # unknown top-level key
        lambda r: r["features"].pop("hr_resting", None),
    ]
    for i in range(60):
        window = records[i:i + 12]
        if i % 3 == 0:
            target = window[int(rng.integers(0, 12))]
            changes[int(rng.integers(0, len(changes)))](target)                # in place: the memo's copy must differ
        if i % 7 == 0:
            window = window[::-1]                                              # out of order: sorted, with a note
        if i % 11 == 0:
            window = window + [window[0]]                                      # a duplicate: dropped, with an error
        for kwargs in ({"update_baseline": False}, {}):
            got = [d.detect_realtime(window, **kwargs) for d in (remembering, fresh)]
            assert json.dumps(got[0], sort_keys=True) == json.dumps(got[1], sort_keys=True), (i, kwargs)
