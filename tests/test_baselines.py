"""Adaptive baselines: seed example, guard against learning anomalies, SQLite durability, causal replay."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.baselines import (
    BaselineStorage, ConfigError, MetricState, UserDataManager, causal_baseline_columns,
    default_baseline_config, load_baseline_config, parse_baseline_config,
)
from wearable_monitor.config import default_feature_config

REPO = Path(__file__).resolve().parents[1]
BCFG = default_baseline_config()
FCFG = default_feature_config()


def make_frame(days: int, seed: int = 0, user: str = "u1", step_min: int = 5, rhr_shift=None,
               start: str = "2024-01-01") -> pd.DataFrame:
    """One user's frame: resting HR 60 bpm (6 lower at night, day-level noise), other metrics plausible."""
    rng = np.random.default_rng(seed)
    per_day = 24 * 60 // step_min
    ts = pd.date_range(start, periods=days * per_day, freq=f"{step_min}min")
    n = len(ts)
    hour = ts.hour.to_numpy()
    night = (hour >= 22) | (hour < 6)
    day = np.arange(n) // per_day
    rhr = 60 + rng.normal(0, 1.0, days)[day] - 6 * night + rng.normal(0, 2, n)
    if rhr_shift is not None:
        rhr = rhr + rhr_shift(day)
    return pd.DataFrame({
        "user_id": user, "timestamp": ts, "hr_resting": rhr,
        "hrv_rmssd": 45 + 8 * night + rng.normal(0, 6, n), "hr": 72 + 10 * ~night + rng.normal(0, 8, n),
        "resp_rate": 15 + rng.normal(0, 1, n), "spo2": np.clip(97 + rng.normal(0, 1, n), 80, 100),
        "skin_temp": 33.5 + rng.normal(0, 0.4, n), "data_quality": 0.0,
        "static_age_group": 2, "static_sex": 0,
    })


def ingest_by_day(mgr: UserDataManager, frame: pd.DataFrame, user: str = "u1", is_normal=None) -> list[dict]:
    """Replay a frame day by day; returns baseline_for after each day (= baseline at that day's start)."""
    out = []
    for _, rows in frame.groupby(frame["timestamp"].dt.normalize()):
        mask = None if is_normal is None else is_normal[rows.index.to_numpy()]
        mgr.ingest(user, rows, is_normal=mask)
        out.append(mgr.baseline_for(user))
    return out


@pytest.fixture
def mgr() -> UserDataManager:
    return UserDataManager(BaselineStorage(":memory:"))


# ----------------------------------------------------------------------------- seed example, storage API

def test_seed_example_75_plus_70_gives_74_84_over_31(tmp_path):
    st = BaselineStorage(tmp_path / "b.db")
    st.set_stats("u1", "hrv", mean=75.0, std=5.0, count=30)
    state = st.update("u1", "hrv", [70.0])
    assert state.count == 31
    assert round(state.mean, 2) == 74.84
    assert state.mean == pytest.approx((75 * 30 + 70) / 31, abs=1e-12)
    # sample variance of the 31 values: (29*25 + 30/31*25) / 30
    assert state.std == pytest.approx(np.sqrt((29 * 25 + 25 * 30 / 31) / 30), rel=1e-12)
    again = BaselineStorage(tmp_path / "b.db").get("u1", "hrv")  # durable: a new connection sees it
    assert again.count == 31 and again.mean == state.mean
    hist = st.history("u1", "hrv")
    assert list(hist["event"]) == ["seed", "update"] and list(hist["count"]) == [30, 31]


def test_update_matches_numpy_and_rejects_non_finite():
    st = BaselineStorage()
    x = np.random.default_rng(1).normal(50, 5, 500)
    for chunk in np.array_split(x, 7):
        st.update("u", "hr", chunk, winsorise=False)
    s = st.get("u", "hr")
    assert s.count == 500 and s.mean == pytest.approx(x.mean()) and s.std == pytest.approx(x.std(ddof=1))
    with pytest.raises(ValueError, match="not finite"):
        st.update("u", "hr", [1.0, float("nan")])
    assert st.get("u", "hr").count == 500


def test_winsorising_bounds_one_wild_value():
    st = BaselineStorage()
    st.set_stats("u", "hr", mean=60.0, std=2.0, count=100)
    s = st.update("u", "hr", [230.0])
    k = BCFG.guard.winsor_k
    assert s.mean == pytest.approx((60 * 100 + 60 + k * 2) / 101)  # clipped at mean + k*sd
    assert s.mean < 60.2


def test_reset_list_users_and_profile():
    st = BaselineStorage()
    st.update("a", "hr", [60.0])
    st.update("b", "hr", [70.0])
    st.set_profile("b", {"age_group": "40-49", "sex": "female"})
    assert st.list_users() == ["a", "b"]
    assert st.get_profile("b") == {"age_group": "40-49", "sex": "female"}
    st.reset("b")
    assert st.list_users() == ["a"]
    assert st.get("b", "hr") is None and st.get_profile("b") == {} and st.history("b", "hr").empty
    assert st.get("a", "hr").count == 1


# ----------------------------------------------------------------------------- group priors and blending

def test_group_lookup_pools_unknown_and_falls_back_to_overall():
    f = BCFG.group.by_age_sex["40-49"]
    assert BCFG.group_stats("hr_resting", "all", "40-49", "female") == tuple(f["female"]["hr_resting"])
    m, s = BCFG.group_stats("hr_resting", "all", "40-49", "unknown")
    means = [f["female"]["hr_resting"][0], f["male"]["hr_resting"][0]]
    assert m == pytest.approx(np.mean(means))
    assert s >= f["female"]["hr_resting"][1]  # pooling adds the spread between the cells
    assert BCFG.group_stats("hrv", "all", "unknown", "unknown") == tuple(BCFG.group.overall["hrv"])
    night, _ = BCFG.group_stats("hr_resting", "night", "unknown", "unknown")
    assert night < BCFG.group.overall["hr_resting"][0]
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    assert "_source" in raw and set(raw["group"]["_source"]) >= set(FCFG.baseline_metrics)


def test_bad_baseline_config_names_the_key(tmp_path):
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    raw["group"]["overall"]["spo2"] = [97.0, -1.0]
    with pytest.raises(ConfigError, match="overall.spo2"):
        parse_baseline_config(raw, where="bad.json")
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    raw["blend"]["curve"] = "cubic"
    with pytest.raises(ConfigError, match="blend.curve"):
        parse_baseline_config(raw)
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    del raw["group"]["overall"]["skin_temp"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="skin_temp"):
        UserDataManager(BaselineStorage(), baseline_config=load_baseline_config(path))


def test_cold_start_is_group_with_alpha_zero(mgr):
    bl = mgr.baseline_for("new-user", {"age_group": "40-49", "sex": "male"})
    assert set(bl) == {"hr_resting", "hr_resting_night", "hrv", "hrv_night", "resp_rate", "spo2", "hr", "skin_temp",
                       "hr_rest", "hr_rest_morning", "hr_rest_day", "hr_rest_evening", "hr_rest_night"}
    for name, b in bl.items():
        assert b.alpha == 0 and b.source == "group" and b.n == 0 and b.days_of_history == 0
        assert (b.mean, b.std) == pytest.approx((b.group_mean, b.group_std))
    assert bl["hr_resting"].mean == BCFG.group.by_age_sex["40-49"]["male"]["hr_resting"][0]


def test_alpha_grows_with_days_then_fully_personal(mgr):
    frame = make_frame(10, step_min=15)
    per_day = ingest_by_day(mgr, frame)
    alphas = [b["hr_resting"].alpha for b in per_day]
    assert alphas == pytest.approx([min(1.0, d / 7) for d in range(10)])  # day d starts with d closed days
    b = per_day[-1]["hr_resting"]
    assert b.source == "personal" and b.mean == pytest.approx(b.personal_mean)
    mid = per_day[3]["hr_resting"]
    assert mid.source == "blend"
    assert mid.mean == pytest.approx(3 / 7 * mid.personal_mean + 4 / 7 * mid.group_mean)
    assert mid.std ** 2 == pytest.approx(3 / 7 * mid.personal_std ** 2 + 4 / 7 * mid.group_std ** 2)
    summary = mgr.summary("u1")
    assert summary["days_of_history"] == 9 and summary["source"] == "personal"


def test_smoothstep_curve_and_empty_frame():
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    raw["blend"]["curve"] = "smoothstep"
    cfg = parse_baseline_config(raw)
    assert cfg.alpha(0) == 0 and cfg.alpha(3.5) == pytest.approx(0.5) and cfg.alpha(10) == 1
    assert cfg.alpha(1) < BCFG.alpha(1)
    np.testing.assert_allclose(cfg.alpha(np.array([0.0, 3.5, 1.0])), [0, 0.5, cfg.alpha(1)])
    empty = causal_baseline_columns(make_frame(1).iloc[:0])
    assert len(empty) == 0 and {"bl_hr_resting_mean", "bl_alpha", "bl_days"} <= set(empty.columns)


# ----------------------------------------------------------------------------- the guard

def _personal_mean(mgr, user="u1", key=("hr_resting", "all")):
    return mgr.storage.get(user, *key).mean


def test_five_day_illness_is_not_learned(mgr):
    # days 0-13 normal, 14-18 resting HR +10 (illness), 19-24 normal again
    shift = lambda d: np.where((d >= 14) & (d < 19), 10.0, 0.0)  # noqa: E731
    frame = make_frame(25, rhr_shift=shift)
    ingest_by_day(mgr, frame[frame.timestamp < "2024-01-15"])
    before = _personal_mean(mgr)
    ingest_by_day(mgr, frame[frame.timestamp >= "2024-01-15"])
    after = _personal_mean(mgr)
    assert abs(after - before) < 0.3
    events = mgr.storage.history("u1", "hr_resting")
    frozen_days = events.loc[events.event == "frozen", "day"].dt.strftime("%Y-%m-%d").tolist()
    assert frozen_days == [f"2024-01-{d}" for d in range(15, 20)]
    # without the guard the same data would move the mean by well over 1 bpm
    naive = frame.loc[frame.timestamp < "2024-01-25", "hr_resting"].mean()
    assert naive - before > 1.0
    # the frozen days did not count as personal history
    assert mgr.storage.get("u1", "hr_resting", "all").days == 24 - 5


def test_permanent_shift_is_learned_after_freeze_limit(mgr):
    k = BCFG.guard.max_frozen_days
    shift = lambda d: np.where(d >= 14, 10.0, 0.0)  # noqa: E731
    frame = make_frame(14 + k + 6, rhr_shift=shift, step_min=10)
    per_day = ingest_by_day(mgr, frame)
    base = per_day[14]["hr_resting"].personal_mean            # start of the first shifted day
    still_frozen = per_day[14 + k]["hr_resting"].personal_mean  # k shifted days closed, all frozen
    assert abs(still_frozen - base) < 0.3
    learned = per_day[-1]["hr_resting"].personal_mean
    assert learned - base == pytest.approx(10.0, abs=1.0)
    assert "shift" in set(mgr.storage.history("u1", "hr_resting").event)


def test_low_quality_and_flagged_rows_do_not_update(mgr):
    frame = make_frame(6, step_min=15)
    dirty = frame.copy()
    bad = np.zeros(len(dirty), dtype=bool)
    bad[::7] = True
    flagged = np.zeros(len(dirty), dtype=bool)
    flagged[3::11] = True
    flagged &= ~bad
    dirty.loc[bad, "hr_resting"] = 150.0
    dirty.loc[bad, "data_quality"] = float(FCFG.features["data_quality"].categories["low"])
    dirty.loc[flagged, "hr_resting"] = 140.0
    ingest_by_day(mgr, dirty, is_normal=~flagged)
    ref = UserDataManager(BaselineStorage())
    ingest_by_day(ref, frame[~bad & ~flagged].reset_index(drop=True))
    got, want = mgr.storage.get("u1", "hr_resting"), ref.storage.get("u1", "hr_resting")
    assert got.count == want.count and got.mean == pytest.approx(want.mean)
    assert got.mean < 62


def test_rows_already_ingested_are_skipped_not_double_counted(mgr):
    frame = make_frame(3, step_min=30)
    mgr.ingest("u1", frame)
    state = mgr.storage.get("u1", "hr")
    report = mgr.ingest("u1", frame.iloc[-10:])
    assert report.skipped_rows == 10
    assert mgr.storage.get("u1", "hr") == state
    with pytest.raises(ValueError, match="other users"):
        mgr.ingest("u2", frame)
    with pytest.raises(ValueError, match="is_normal"):
        mgr.ingest("u1", frame, is_normal=np.ones(3, dtype=bool))


def test_ingest_fills_profile_from_static_columns(mgr):
    mgr.ingest("u1", make_frame(1, step_min=60))
    assert mgr.storage.get_profile("u1") == {"age_group": "40-49", "sex": "female"}
    bl = mgr.baseline_for("u1")
    assert bl["hrv"].group_mean == BCFG.group.by_age_sex["40-49"]["female"]["hrv"][0]


def test_forgetting_caps_effective_count_and_follows_drift():
    raw = json.loads((REPO / "configs" / "baseline_config.json").read_text())
    raw["forgetting"]["max_effective_count"] = 2 * 96
    cfg = parse_baseline_config(raw)
    capped, full = (UserDataManager(BaselineStorage(baseline_config=c)) for c in (cfg, BCFG))
    drift = lambda d: 0.4 * d  # noqa: E731  slow: well inside the day guard
    frame = make_frame(20, rhr_shift=drift, step_min=15)
    ingest_by_day(capped, frame)
    ingest_by_day(full, frame)
    s_cap, s_full = capped.storage.get("u1", "hr_resting"), full.storage.get("u1", "hr_resting")
    assert s_cap.count == pytest.approx(2 * 96) and s_full.count > 1000
    recent = 60 - 6 * 8 / 24 + 0.4 * 18  # level of the last closed day
    assert abs(s_cap.mean - recent) < abs(s_full.mean - recent) - 1.5


# ----------------------------------------------------------------------------- periods and causal replay

def test_night_baseline_differs_from_all_day():
    out = causal_baseline_columns(make_frame(10, step_min=10))
    last = out.iloc[-1]
    assert last["bl_hr_resting_night_mean"] < last["bl_hr_resting_mean"] - 3
    assert last["bl_hrv_night_mean"] > last["bl_hrv_mean"] + 3


def test_causal_columns_equal_day_by_day_replay():
    shift = lambda d: np.where((d >= 5) & (d < 7), 12.0, 0.0)  # noqa: E731  a short illness: frozen path
    frame = make_frame(9, step_min=20, rhr_shift=shift)
    normal = np.ones(len(frame), dtype=bool)
    normal[100:140] = False
    cols = causal_baseline_columns(frame, is_normal=normal)
    mgr = UserDataManager(BaselineStorage())
    per_day = ingest_by_day(mgr, frame, is_normal=normal)
    days = frame["timestamp"].dt.normalize()
    for i, (_, rows) in enumerate(frame.groupby(days)):
        for name, b in per_day[i].items():
            np.testing.assert_allclose(cols.loc[rows.index, f"bl_{name}_mean"], b.mean, rtol=1e-12)
            np.testing.assert_allclose(cols.loc[rows.index, f"bl_{name}_std"], b.std, rtol=1e-12)
        assert (cols.loc[rows.index, "bl_days"] == i).all()
        assert (cols.loc[rows.index, "bl_alpha"] == BCFG.alpha(i)).all()
    # the realtime columns agree too, including a window that crosses midnight
    window = frame[(frame.timestamp >= "2024-01-09 22:00")]
    live = UserDataManager(BaselineStorage())
    ingest_by_day(live, frame[frame.timestamp < "2024-01-09 22:00"], is_normal=normal[frame.timestamp < "2024-01-09 22:00"])
    got = live.baseline_columns("u1", window)
    np.testing.assert_allclose(got["bl_hr_resting_mean"], cols.loc[window.index, "bl_hr_resting_mean"], rtol=1e-12)


def test_causal_columns_have_no_look_ahead_and_users_are_independent():
    a = make_frame(6, step_min=30, user="a", seed=1)
    b = make_frame(6, step_min=30, user="b", seed=2)
    b["static_sex"] = 1
    both = causal_baseline_columns(pd.concat([a, b], ignore_index=True))
    alone = causal_baseline_columns(b)
    bl = [c for c in both.columns if c.startswith("bl_")]
    np.testing.assert_allclose(both.loc[both.user_id == "b", bl].to_numpy(), alone[bl].to_numpy())
    changed = a.copy()
    changed.loc[changed.timestamp >= "2024-01-04", "hr_resting"] += 30  # future data differ
    c1, c2 = causal_baseline_columns(a), causal_baseline_columns(changed)
    upto = a.timestamp < "2024-01-05"  # rows up to and including the changed day see only the past
    np.testing.assert_array_equal(c1.loc[upto, bl].to_numpy(), c2.loc[upto, bl].to_numpy())
    assert not np.allclose(c1.loc[~upto, "bl_hr_resting_mean"], c2.loc[~upto, "bl_hr_resting_mean"])
    assert both.loc[both.user_id == "a", "bl_hr_resting_mean"].iloc[0] == \
        BCFG.group.by_age_sex["40-49"]["female"]["hr_resting"][0]


# ----------------------------------------------------------------------------- concurrency and crash safety

def test_threads_updating_concurrently_lose_no_update(tmp_path):
    path = tmp_path / "c.db"
    BaselineStorage(path).close()
    n_threads, n_updates = 8, 200
    errors = []

    def worker(t):
        try:
            with BaselineStorage(path) as st:  # each thread its own connection
                for i in range(n_updates):
                    st.update("shared", "hr", [float(t * 1000 + i)], winsorise=False)
        except Exception as exc:  # pragma: no cover - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    st = BaselineStorage(path)
    s = st.get("shared", "hr")
    values = np.array([t * 1000 + i for t in range(n_threads) for i in range(n_updates)], dtype=float)
    assert s.count == n_threads * n_updates
    assert s.mean == pytest.approx(values.mean()) and s.std == pytest.approx(values.std(ddof=1))
    assert len(st.history("shared", "hr")) == n_threads * n_updates


def test_killed_writer_leaves_a_consistent_database(tmp_path):
    path = tmp_path / "k.db"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from wearable_monitor.baselines import BaselineStorage
        st = BaselineStorage({str(path)!r})
        i = 0
        while True:
            st.update("u", "hr", [float(i)], winsorise=False)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with sqlite3.connect(path, timeout=5) as probe:
                    if probe.execute("SELECT count(*) FROM history").fetchone()[0] >= 200:
                        break
            except sqlite3.OperationalError:
                pass  # schema not created yet
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_hist, last = conn.execute("SELECT count(*), max(count) FROM history").fetchone()
    s = BaselineStorage(path).get("u", "hr")
    assert n_hist >= 200 and s.count == n_hist == last
    assert s.mean == pytest.approx((s.count - 1) / 2)  # values 0..count-1: no torn or lost update


def test_state_round_trips_through_sqlite(tmp_path):
    mgr = UserDataManager(BaselineStorage(tmp_path / "r.db"))
    mgr.ingest("u1", make_frame(4, step_min=30))
    reopened = UserDataManager(BaselineStorage(tmp_path / "r.db"))
    assert reopened.baseline_for("u1") == mgr.baseline_for("u1")
    assert isinstance(reopened.storage.get("u1", "hrv", "night"), MetricState)
    assert reopened.storage.get("u1", "hrv", "night").t_count > 0  # the open day survives a restart


def test_record_by_record_ingest_stores_what_the_writer_holds(tmp_path):
    """A live stream adds one record per call and stores only the states that record (or a closed day)
    changed: what another connection reads from the file must still be every state the writer holds."""
    path = tmp_path / "stream.db"
    mgr = UserDataManager(BaselineStorage(path))
    frame = make_frame(2, step_min=30)
    frame.loc[frame.index[5:9], ["hr_resting", "hrv_rmssd", "spo2"]] = np.nan  # records that reach fewer states
    for i in range(len(frame)):
        mgr.ingest("u1", frame.iloc[max(0, i - 11):i + 1])  # overlapping windows: one new record each call
    reader = BaselineStorage(path)
    keys = [(k.metric, k.period) for k in mgr.keys]
    assert [reader.get("u1", *k) for k in keys] == [mgr.storage.get("u1", *k) for k in keys]
    with mgr.storage._lock:
        _, held, _ = mgr.storage._snapshot("u1")
    assert {k: reader.get("u1", *k) for k in keys} == {k: held.get(k, MetricState()) for k in keys}
    assert UserDataManager(reader).baseline_for("u1") == mgr.baseline_for("u1")


# ----------------------------------------------------------------------------- remembered state (realtime cache)

def test_two_connections_taking_turns_see_each_others_commits(tmp_path):
    """Each storage remembers the last state it read or wrote; a commit by another connection
    (PRAGMA data_version) must make it read again, or the other writer's days would be lost."""
    path = tmp_path / "turns.db"
    a, b = (UserDataManager(BaselineStorage(path)) for _ in range(2))
    alone = UserDataManager(BaselineStorage(":memory:"))
    frame = make_frame(6, step_min=30)
    for i, (_, rows) in enumerate(frame.groupby(frame["timestamp"].dt.normalize())):
        writer = (a, b)[i % 2]
        writer.ingest("u1", rows)
        alone.ingest("u1", rows)
        assert a.baseline_for("u1") == b.baseline_for("u1") == alone.baseline_for("u1")
    assert a.storage.get("u1", "hr") == alone.storage.get("u1", "hr")


def test_public_writes_forget_the_remembered_state(mgr):
    mgr.ingest("u1", make_frame(2, step_min=30))
    before = mgr.baseline_for("u1")  # remembered now
    mgr.storage.set_stats("u1", "hr_resting", mean=80.0, std=3.0, count=500, days=9)
    after = mgr.baseline_for("u1")
    assert after["hr_resting"].personal_mean == 80.0 != before["hr_resting"].personal_mean
    mgr.storage.reset("u1")
    assert mgr.baseline_for("u1")["hr_resting"].source == "group"


def test_a_failed_ingest_leaves_store_and_remembered_state_as_before(mgr, monkeypatch):
    frame = make_frame(3, step_min=30)
    mgr.ingest("u1", frame.iloc[:48])
    before, state = mgr.baseline_for("u1"), mgr.storage.get("u1", "hr")

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(mgr.storage, "_write_states", broken)
    with pytest.raises(sqlite3.OperationalError):
        mgr.ingest("u1", frame.iloc[48:])  # a new day: the open day would have been closed
    monkeypatch.undo()
    assert mgr.storage.get("u1", "hr") == state  # rolled back
    assert mgr.baseline_for("u1") == before      # and not remembered as if committed
    mgr.ingest("u1", frame.iloc[48:])
    assert mgr.storage.get("u1", "hr") != state


def test_heart_rate_at_rest_baseline_learns_only_from_records_at_rest():
    """The verdict's hr_rest baseline: the measured heart rate of at-rest records (at most 30 steps in
    10 minutes), never of activity; a walk at 120 bpm does not move it."""
    from wearable_monitor.baselines import causal_baseline_columns
    ts = pd.date_range("2025-01-01", periods=288 * 10, freq="5min")
    walking = (ts.hour == 10)                       # an hour of walking every morning at 120 bpm
    frame = pd.DataFrame({"user_id": "u", "timestamp": ts, "hr": np.where(walking, 120.0, 62.0),
                          "steps": np.where(walking, 500.0, 0.0)})
    out = causal_baseline_columns(frame, default_feature_config(), BCFG)
    last = out.iloc[-1]
    assert last["bl_hr_rest_mean"] == pytest.approx(62.0, abs=0.5)
    assert last["bl_hr_rest_morning_mean"] == pytest.approx(62.0, abs=0.5)
    assert last["bl_hr_mean"] > 63  # the all-day heart-rate baseline does include the (winsorised) walks


def test_a_rest_context_given_to_ingest_is_used_only_when_made_with_the_baseline_settings():
    """The realtime path hands the verdict's stream context to the baseline write (the rows' rest and
    periods made once). The same context gives the same stored baseline as none; a context made with
    other settings is not used; and rows ingest has to re-order never use one."""
    from wearable_monitor.verdict.stream_context import StreamSettings, stream_context

    frame = make_frame(3, seed=4)
    rng = np.random.default_rng(4)
    frame["hr"] = 70 + rng.normal(0, 5, len(frame))
    frame["steps"] = np.where(rng.random(len(frame)) < 0.3, 400.0, 0.0)  # some walking: rest varies
    cols = {c: frame[c].to_numpy() for c in frame}
    same = stream_context(cols, FCFG, StreamSettings(sampling_minutes=FCFG.sampling_minutes))
    other = stream_context(cols, FCFG, StreamSettings(sampling_minutes=FCFG.sampling_minutes, rest_minutes=60.0))
    assert (same.rest != other.rest).any()

    def stored(context) -> dict:
        m = UserDataManager(BaselineStorage(":memory:"))
        m.ingest("u1", cols, context=context)
        return m.baseline_for("u1")

    plain = stored(None)
    assert stored(same) == plain
    assert stored(other) == plain
    from dataclasses import replace

    from wearable_monitor.verdict.stream_context import REST
    all_rest = replace(same, rest=np.full_like(same.rest, REST))  # the same settings: it is read as given
    assert stored(all_rest) != plain
    reversed_cols = {c: v[::-1] for c, v in cols.items()}
    m = UserDataManager(BaselineStorage(":memory:"))
    m.ingest("u1", reversed_cols, context=same)  # made for the other order: rebuilt after the sort
    assert m.baseline_for("u1") == plain


def test_reading_a_later_day_closes_the_open_day_on_copies_only(mgr):
    """baseline_for(as_of=a later day) closes the open day in memory; the state the store remembers (and
    reads without copying) must stay as stored, so the open day is still open for the next read."""
    frame = make_frame(3, step_min=30)
    mgr.ingest("u1", frame[frame["timestamp"] < "2024-01-03"])
    now, stored = mgr.baseline_for("u1"), mgr.storage.get("u1", "hr_resting")
    later = mgr.baseline_for("u1", as_of="2024-01-05")
    assert later["hr_resting"] != now["hr_resting"]  # the open day was folded in for that read
    assert mgr.baseline_for("u1") == now and mgr.storage.get("u1", "hr_resting") == stored
    with mgr.storage._lock:
        _, remembered, _ = mgr.storage._snapshot("u1", copy=False)
    assert remembered[("hr_resting", "all")] == stored and remembered[("hr_resting", "all")].t_count > 0
