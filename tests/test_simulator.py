"""Simulator: determinism, frame contract, labelled physiology, normal confounders, daily logs, CLI."""
from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.cli import main
from wearable_monitor.config import default_feature_config
from wearable_monitor.data.records import Record, records_to_frame, static_column
from wearable_monitor.simulation.simulator import (DAILY_KINDS, WEARABLE_KINDS, EventRequest, SimConfig, frame_to_jsonl,
                                                   simulate_population, simulate_user, write_population)

CFG = default_feature_config()
T0 = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="module")
def pop():
    return simulate_population(12, 21, seed=7)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_population(simulate_population(3, 4, seed), tmp_path / name)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert set(a) == {"users.jsonl", "daily.jsonl", "labels.csv", *(f"records/u000{i}.jsonl" for i in range(3))}
    assert a == b
    assert a["records/u0000.jsonl"] != c["records/u0000.jsonl"]


def test_frame_follows_the_records_to_frame_contract(pop):
    f = pop.frame
    assert list(f.columns) == ["user_id", "timestamp", *CFG.features, *(static_column(n) for n in CFG.static)]
    assert f["timestamp"].dtype == "datetime64[ns]"
    assert all(f[n].dtype == np.float64 for n in CFG.features)
    assert not f.duplicated(["user_id", "timestamp"]).any()
    assert f.equals(f.sort_values(["user_id", "timestamp"]).reset_index(drop=True))
    for name in CFG.categorical_features:
        assert set(f[name].dropna().unique()) <= set(map(float, CFG.features[name].categories.values()))
    for name, spec in CFG.features.items():
        if spec.valid_range is not None and f[name].notna().any():
            assert spec.valid_range[0] <= f[name].min() and f[name].max() <= spec.valid_range[1], name
    assert f["hr"].notna().all()           # hr is required: a record without it is not emitted


def test_written_records_read_back_to_the_same_frame(pop):
    user = pop.frame[pop.frame.user_id == "u0001"].reset_index(drop=True)
    lines = frame_to_jsonl(user).splitlines()
    assert len(lines) == len(user)
    back = records_to_frame([Record.model_validate(json.loads(s)) for s in lines])
    pd.testing.assert_frame_equal(back, user, check_exact=False, rtol=1e-9)


def test_labels_are_valid_and_inside_the_span(pop):
    lab = pop.labels
    assert len(lab) > 5 and set(lab.kind) <= set(WEARABLE_KINDS + DAILY_KINDS)
    assert (lab.loc[lab.stream == "wearable", "kind"].isin(WEARABLE_KINDS)).all()
    assert (lab.loc[lab.stream == "daily", "kind"].isin(DAILY_KINDS)).all()
    assert (lab.start >= T0).all() and (lab.end <= T0 + pd.Timedelta(days=21)).all()
    assert (lab.start <= lab.end).all()
    short = lab[lab.kind.isin(["acute", "desaturation", "bradycardia"])]
    minutes = (short.end - short.start).dt.total_seconds() / 60
    assert minutes.between(10, 60).all()
    # Some people have no labelled event at all.
    assert set(pop.users.user_id) - set(lab.user_id)


def test_baselines_differ_between_people_in_plausible_ranges(pop):
    u = pop.users
    assert u.resting_hr.between(40, 95).all() and u.resting_hr.std() > 3
    assert u.hrv_rmssd.between(8, 170).all() and u.hrv_rmssd.std() > 5
    assert u.spo2.between(95, 99).all()
    night = pop.frame[pop.frame.timestamp.dt.hour.isin([2, 3, 4]) & (pop.frame.sleep_state > 0)]
    day = pop.frame[pop.frame.timestamp.dt.hour.isin([14, 15, 16]) & (pop.frame.sleep_state == 0)]
    assert night.hr.median() < day.hr.median() - 5          # circadian / sleep HR dip
    assert night.hrv_rmssd.median() > day.hrv_rmssd.median()
    assert night.skin_temp.median() > day.skin_temp.median()


def _user_with(kind, seed, days=14, **cfg):
    sim = simulate_user("u", days, seed, events=[EventRequest(kind)], config=SimConfig(**cfg))
    assert list(sim.labels.kind) == [kind]
    lab = sim.labels.iloc[0]
    f = sim.frame
    inside = (f.timestamp >= lab.start) & (f.timestamp < lab.end)
    return sim, f, inside, lab


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_illness_raises_night_resting_hr_and_lowers_hrv(seed):
    sim, f, inside, lab = _user_with("illness", seed, days=21, p_no_hrv=0.0)
    asleep = f.sleep_state > 0
    plateau = inside & (f.timestamp >= lab.start + (lab.end - lab.start) * 0.35) & (
        f.timestamp < lab.end - (lab.end - lab.start) * 0.35)
    normal = ~inside & (f.timestamp < lab.start)
    assert f.hr_resting[plateau & asleep].mean() > f.hr_resting[normal & asleep].mean() + 3
    assert f.hrv_rmssd[plateau & asleep].mean() < 0.95 * f.hrv_rmssd[normal & asleep].mean()
    assert pd.Timedelta(days=2) <= lab.end - lab.start <= pd.Timedelta(days=10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_acute_event_is_a_sharp_hr_rise_at_rest(seed):
    sim, f, inside, lab = _user_with("acute", seed)
    assert (f.steps[inside] == 0).all()
    ref = f.hr_resting[~inside].median()
    assert f.hr[inside].median() > ref + 15
    assert 70 < f.hr[inside].max() < 180


def test_bradycardia_is_not_injected_into_athletes():
    # An athlete's normal sleeping HR is already near 40 bpm: a 35-42 bpm "event" would not be one.
    sims = [simulate_user("u", 5, s, events=[EventRequest("bradycardia")]) for s in range(12)]
    assert any(s.labels.empty for s in sims) and any(len(s.labels) for s in sims)
    assert all(s.person.resting_hr < 50 for s in sims if s.labels.empty)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bradycardia_and_desaturation_values(seed):
    _, f, inside, _ = _user_with("bradycardia", seed)
    assert f.hr[inside].median() <= 46 and f.hr[inside].min() >= 28
    assert f.hr_resting[~inside & (f.sleep_state > 0)].median() > f.hr[inside].median() + 8
    _, f, inside, _ = _user_with("desaturation", seed, p_no_spo2=0.0)
    assert f.sleep_state.iloc[np.flatnonzero(inside)[0]] > 0           # starts in sleep
    assert 82 <= f.spo2[inside].median() <= 90
    assert f.spo2[~inside].median() >= 95


def test_normal_data_contains_event_lookalikes(pop):
    """Low SpO2 readings, bradycardic-range and very high HR all occur without any label."""
    f = pop.frame.merge(pop.users[["user_id"]], on="user_id")
    lab = pop.labels[pop.labels.stream == "wearable"]
    labelled = np.zeros(len(f), bool)
    for r in lab.itertuples():
        labelled |= ((f.user_id == r.user_id) & (f.timestamp >= r.start) & (f.timestamp < r.end)).to_numpy()
    normal = f[~labelled]
    assert (normal.spo2 < 90).sum() > 0
    assert (normal.hr > 130).sum() > 0
    assert (normal.data_quality > 0).mean() > 0.02


def test_activity_raises_hr_but_is_not_labelled():
    sim = simulate_user("u", 7, 11, events=[])
    f = sim.frame
    assert sim.labels.empty
    walking = f[(f.steps > 400) & (f.sleep_state == 0)]
    still = f[f.hr_resting.notna() & (f.sleep_state == 0)]
    assert len(walking) > 20
    assert walking.hr.median() > still.hr.median() + 15
    assert (walking.distance > 0).all() and walking.calories.median() > 2 * still.calories.median()
    assert walking.hr_resting.isna().all()              # not resting: steps in the last 12 minutes


def test_hr_resting_follows_the_no_steps_in_12_minutes_rule(pop):
    f = pop.frame
    for _, g in f.groupby("user_id"):
        g = g.reset_index(drop=True)
        consecutive = g.timestamp.diff() == pd.Timedelta(minutes=5)
        still = g.steps == 0
        ok = still & still.shift(1, fill_value=False) & still.shift(2, fill_value=False) & consecutive \
            & consecutive.shift(1, fill_value=False)
        assert (g.hr_resting.notna() == ok).all()
        assert (g.hr_resting[ok] == g.hr[ok]).all()


def test_gaps_and_missing_channels_are_missing_not_invented(pop):
    f = pop.frame
    steps = f.groupby("user_id").timestamp.diff().dropna()
    assert (steps > pd.Timedelta(minutes=5)).sum() > 20      # watch off / charging / dropouts
    assert (steps > pd.Timedelta(hours=4)).sum() >= 1        # e.g. a night without the watch
    assert len(f) < 12 * 21 * 288
    users = pop.users.set_index("user_id")
    for uid, g in f.groupby("user_id"):
        for ch in ("spo2", "resp_rate", "skin_temp", "light", "gyro_mag", "hrv_rmssd"):
            if ch not in users.channels[uid]:
                assert g[ch].isna().all()
        for ch in users.night_only[uid]:
            assert g.loc[g.timestamp.dt.hour.between(13, 18), ch].isna().all()
    assert f.baseline_hrv_mean.isna().all()            # not a sensor channel: the simulator never fills it


def _daily_event(kind, seed):
    sim = simulate_user("u", 30, seed, events=[EventRequest(kind)])
    lab = sim.labels.iloc[0]
    d0, d1 = (lab.start - T0).days, (lab.end - T0).days
    return sim.daily, d0, d1


def _bed_hours(b):
    h = int(b[:2]) + int(b[3:]) / 60
    return h + 24 if h < 12 else h


@pytest.mark.parametrize("seed", [5, 6])
def test_daily_logs_contain_the_labelled_events(seed):
    d, d0, d1 = _daily_event("weight_jump", seed)
    assert abs(d.weight_kg[d0] - d.weight_kg[d0 - 1]) > 2
    d, d0, d1 = _daily_event("protein_low", seed)
    ev = d.iloc[d0:d1 + 1]
    assert d1 - d0 >= 2 and (ev.protein_g < 0.5 * ev.protein_target_g).all()
    d, d0, d1 = _daily_event("calories_high", seed)
    ev = d.iloc[d0:d1 + 1]
    assert (ev.calories_kcal > 1.3 * ev.calories_target).all()
    d, d0, d1 = _daily_event("exercise_drop", seed)
    assert d1 - d0 >= 6
    assert d.exercise_minutes.iloc[d0:d1 + 1].mean() < 0.5 * d.exercise_minutes.iloc[:d0].mean()
    d, d0, d1 = _daily_event("exercise_surge", seed)
    assert (d.exercise_minutes.iloc[d0:d1 + 1] > 2 * d.exercise_minutes.iloc[:d0].mean()).all()
    d, d0, d1 = _daily_event("sleep_short", seed)
    assert (d.sleep_hours.iloc[d0:d1 + 1] < 5).all()
    d, d0, d1 = _daily_event("sleep_long", seed)
    assert (d.sleep_hours.iloc[d0:d1 + 1] > 10).all()
    d, d0, d1 = _daily_event("bedtime_irregular", seed)
    assert np.std([_bed_hours(b) for b in d.bedtime.iloc[d0:d1 + 1]]) > 2
    d, d0, d1 = _daily_event("sleep_quality_decline", seed)
    q = d.sleep_quality.iloc[d0:d1 + 1].astype(float)
    assert np.polyfit(np.arange(len(q)), q, 1)[0] < 0
    d, d0, d1 = _daily_event("health_score_drop", seed)
    assert d.health_score[d0 - 1] - d.health_score[d1] > 15
    d, d0, d1 = _daily_event("bp_spike", seed)
    assert d.systolic[d0] > d.systolic.drop(index=d0).median() + 20
    d, d0, d1 = _daily_event("macro_imbalance", seed)
    share = (d.carbs_g * 4 / d.calories_kcal).iloc[d0:d1 + 1]
    assert (share < 0.5 * 0.7).all()


def test_daily_logs_agree_with_the_records(pop):
    daily, f = pop.daily, pop.frame
    assert set(daily.columns) >= {"weight_kg", "systolic", "protein_target_g", "hr_zone_high_minutes", "bedtime"}
    assert len(daily) == 12 * 21 and daily.weight_kg.isna().any() and daily.weight_kg.notna().any()
    per_day = f.assign(date=f.timestamp.dt.strftime("%Y-%m-%d")).groupby(["user_id", "date"]).steps.sum()
    merged = daily.set_index(["user_id", "date"]).join(per_day).dropna(subset=["exercise_minutes"])
    assert np.corrcoef(merged.exercise_minutes.astype(float), merged.steps)[0, 1] > 0.5
    rhr = daily.groupby("user_id").resting_hr.median()
    assert np.corrcoef(rhr, pop.users.set_index("user_id").resting_hr[rhr.index])[0, 1] > 0.9
    assert daily.sleep_hours.dropna().between(3, 13).all()


def test_cli_writes_the_layout(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--users", "2", "--days", "3", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    assert "2 users x 3 days" in capsys.readouterr().out
    recs = (out / "records" / "u0000.jsonl").read_text().splitlines()
    assert len(recs) > 500
    Record.model_validate(json.loads(recs[0]))
    assert len((out / "daily.jsonl").read_text().splitlines()) == 6
    assert (out / "labels.csv").read_text().splitlines()[0] == "user_id,start,end,kind,stream"
    users = [json.loads(s) for s in (out / "users.jsonl").read_text().splitlines()]
    assert {"user_id", "age_group", "sex", "exercise", "height_cm", "conditions", "medications",
            "resting_hr", "hrv_rmssd"} <= set(users[0])


def test_simulate_user_rejects_unknown_kinds_and_misplaced_starts():
    with pytest.raises(ValueError, match="unknown event kind"):
        simulate_user("u", 3, 0, events=[EventRequest("stroke")])
    with pytest.raises(ValueError, match="outside the simulated span"):
        simulate_user("u", 3, 0, events=[EventRequest("acute", start=datetime(2025, 1, 1))])
