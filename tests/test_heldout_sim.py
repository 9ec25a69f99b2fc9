"""The held-out simulator: determinism, the record contract, and each event's physiological signature."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.config import default_feature_config
from wearable_monitor.simulation.heldout_sim import ANOMALIES, DEVICE_FEATURES, HeldoutSimConfig, simulate_heldout
from wearable_monitor.data.readers import load_history, parse_jsonl_text

CONFOUNDER_KINDS = {"confounder_exercise", "confounder_alcohol", "confounder_travel", "confounder_altitude",
                    "confounder_artefact"}
ASLEEP_CODES = (1, 2, 3)  # light, deep, rem


@pytest.fixture(scope="module")
def pop():
    t0 = time.perf_counter()
    population = simulate_heldout(n_users=40, days=30, seed=0)
    population.seconds = time.perf_counter() - t0
    return population


@pytest.fixture(scope="module")
def frame(pop):
    return pop.frame()


def _inside(user: pd.DataFrame, start, end) -> pd.Series:
    return (user.timestamp >= start) & (user.timestamp < end)


def _outside_labels(user: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    out = pd.Series(True, index=user.index)
    for ev in labels.itertuples():
        out &= ~_inside(user, ev.start, ev.end)
    return out


def _users(frame):
    return {u: g for u, g in frame.groupby("user_id")}


def test_fast_enough_and_every_kind_present(pop):
    assert pop.seconds < 60
    kinds = set(pop.labels.kind)
    assert set(ANOMALIES) <= kinds
    assert CONFOUNDER_KINDS <= kinds
    assert kinds <= set(ANOMALIES) | CONFOUNDER_KINDS
    assert list(pop.labels.columns) == ["user_id", "start", "end", "kind"]
    assert isinstance(pop.labels.start.iloc[0], pd.Timestamp)
    per_user = pop.labels[pop.labels.kind.isin(ANOMALIES)].groupby("user_id").size()
    assert per_user.max() <= 3
    assert len(per_user) < len(pop.users)  # many users have no anomaly at all


def test_deterministic_per_seed():
    a = simulate_heldout(n_users=4, days=6, seed=7)
    b = simulate_heldout(n_users=4, days=6, seed=7)
    c = simulate_heldout(n_users=4, days=6, seed=8)
    assert a.records == b.records
    pd.testing.assert_frame_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.users, b.users)
    assert a.records != c.records


def test_records_validate_against_project_config():
    pop = simulate_heldout(n_users=10, days=10, seed=3)
    text = "\n".join(json.dumps(r) for r in pop.records)
    result = parse_jsonl_text(text, source="heldout")
    assert result.counts["errors"] == 0, result.errors[:5]
    assert result.counts["warnings"] == 0, result.warnings[:5]
    assert result.counts["accepted"] == len(pop.records)
    names = set(default_feature_config().features)
    for r in pop.records:
        assert set(r["features"]) <= names
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in r["features"].values())
        assert "hr" in r["features"]


def test_devices_only_emit_what_they_measure(pop, frame):
    devices = pop.users.set_index("user_id").device
    for uid, user in _users(frame).items():
        measured = set(DEVICE_FEATURES[devices[uid]])
        present = {c for c in default_feature_config().features if user[c].notna().any()} - {"time_period_primary"}
        assert present <= measured, (uid, present - measured)
    no_spo2 = devices[~devices.map(lambda d: "spo2" in DEVICE_FEATURES[d])].index
    assert len(no_spo2) > 0
    assert frame[frame.user_id.isin(no_spo2)].spo2.isna().all()
    desat = pop.labels[pop.labels.kind == "desaturation"]
    assert not desat.user_id.isin(no_spo2).any()


def test_labels_never_overlap_within_a_user(pop):
    for _, g in pop.labels.groupby("user_id"):
        g = g.sort_values("start")
        assert (g.start.iloc[1:].to_numpy() >= g.end.iloc[:-1].to_numpy()).all()


def test_desaturation_lowers_spo2_by_several_points(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "desaturation"]
    assert len(events) >= 3
    for ev in events.itertuples():
        user = users[ev.user_id]
        inside = _inside(user, ev.start, ev.end)
        usual = user.spo2[_outside_labels(user, pop.labels[pop.labels.user_id == ev.user_id])].median()
        assert user.spo2[inside].notna().sum() >= 3
        assert user.spo2[inside].median() <= usual - 4, ev
        assert user.sleep_state[inside].isin(ASLEEP_CODES).mean() > 0.8  # nocturnal


def _usual_hr_same_state(user, labels, ev, inside):
    """Median HR outside every label at the same clock hours and the same asleep/awake state."""
    hours = set(user.timestamp[inside].dt.hour)
    asleep_inside = user.sleep_state[inside].isin(ASLEEP_CODES).mean() > 0.5 if user.sleep_state.notna().any() else None
    ref = _outside_labels(user, labels) & user.timestamp.dt.hour.isin(hours) & (user.steps < 20)
    if asleep_inside is not None:
        ref &= user.sleep_state.isin(ASLEEP_CODES) == asleep_inside
    return user.hr[ref].median()


def test_bradycardia_is_well_below_the_persons_usual(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "bradycardia"]
    assert len(events) >= 3
    for ev in events.itertuples():
        user = users[ev.user_id]
        inside = _inside(user, ev.start, ev.end)
        usual = _usual_hr_same_state(user, pop.labels[pop.labels.user_id == ev.user_id], ev, inside)
        assert user.hr[inside].median() <= usual - 10, ev
        assert user.hr[inside].min() <= 45  # pathological, not just a low-normal sleeping HR


def test_acute_is_tachycardia_at_rest(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "acute"]
    assert len(events) >= 3
    for ev in events.itertuples():
        user = users[ev.user_id]
        inside = _inside(user, ev.start, ev.end)
        usual = _usual_hr_same_state(user, pop.labels[pop.labels.user_id == ev.user_id], ev, inside)
        assert user.hr[inside].median() >= usual + 15, ev      # ramps and noise pull the median down
        assert user.hr[inside].quantile(0.9) >= 100, ev       # but the plateau is a tachycardia
        assert user.steps[inside].median() < 20  # inactive


def test_illness_nights_have_higher_hr_than_the_nights_before(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "illness"]
    assert len(events) >= 3
    diffs = []
    for ev in events.itertuples():
        user = users[ev.user_id]
        night = user.timestamp.dt.hour.isin([1, 2, 3, 4])
        ill = night & _inside(user, ev.start + pd.Timedelta(days=1), ev.end)
        pre = night & _inside(user, ev.start - pd.Timedelta(days=7), ev.start)
        pre &= _outside_labels(user, pop.labels[pop.labels.user_id == ev.user_id])
        if ill.sum() >= 24 and pre.sum() >= 24:
            diffs.append(user.hr[ill].mean() - user.hr[pre].mean())
    assert len(diffs) >= 3
    assert np.mean(diffs) > 2.0
    assert np.mean(np.array(diffs) > 0) >= 0.75


def test_exercise_confounder_has_steps_and_high_hr(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "confounder_exercise"]
    assert len(events) >= 10
    for ev in events.itertuples():
        user = users[ev.user_id]
        inside = _inside(user, ev.start, ev.end)
        if inside.sum() < 3:
            continue
        assert user.steps[inside].median() > 300
        assert user.hr[inside].median() >= 125


def test_artefacts_are_isolated_absurd_samples(pop, frame):
    users = _users(frame)
    events = pop.labels[pop.labels.kind == "confounder_artefact"]
    for ev in events.itertuples():
        user = users[ev.user_id].reset_index(drop=True)
        idx = np.flatnonzero(_inside(user, ev.start, ev.end))
        assert len(idx) == 1
        i = idx[0]
        hr = user.hr[i]
        assert hr >= 185 or hr <= 38
        neighbours = user.hr[[j for j in (i - 1, i + 1) if 0 <= j < len(user)]]
        assert ((neighbours - hr).abs() > 15).all()


def test_config_overrides_and_users_table():
    cfg = HeldoutSimConfig(device_mix={"full": 0.0, "mid": 0.0, "hr_steps": 1.0}, events_per_month=3.0)
    pop = simulate_heldout(n_users=5, days=12, seed=1, config=cfg)
    assert set(pop.users.device) == {"hr_steps"}
    assert "desaturation" not in set(pop.labels.kind)
    assert {"rhr", "rmssd", "resp", "spo2", "age", "device"} <= set(pop.users.columns)
    assert pop.users.rhr.between(50, 82).all()


def test_cli_writes_records_and_labels(tmp_path, capsys):
    from wearable_monitor.cli import main

    assert main(["heldout-sim", "--users", "3", "--days", "5", "--seed", "2", "--out", str(tmp_path)]) == 0
    result = load_history(tmp_path / "records.jsonl")
    assert result.counts["errors"] == 0 and result.counts["accepted"] > 3 * 5 * 200
    labels = pd.read_csv(tmp_path / "labels.csv", parse_dates=["start", "end"])
    assert list(labels.columns) == ["user_id", "start", "end", "kind"]


def test_alcohol_night_raises_nightly_hr(pop, frame):
    users = _users(frame)
    diffs = []
    for ev in pop.labels[pop.labels.kind == "confounder_alcohol"].itertuples():
        user = users[ev.user_id]
        first_half = _inside(user, ev.start, ev.start + (ev.end - ev.start) / 2)
        others = user.timestamp.dt.hour.isin(set(user.timestamp[first_half].dt.hour))
        others &= _outside_labels(user, pop.labels[pop.labels.user_id == ev.user_id])
        if first_half.sum() >= 12:
            diffs.append(user.hr[first_half].median() - user.hr[others].median())
    assert len(diffs) >= 5
    assert np.median(diffs) > 2


def test_altitude_lowers_spo2_only_a_few_points(pop, frame):
    users = _users(frame)
    seen = 0
    for ev in pop.labels[pop.labels.kind == "confounder_altitude"].itertuples():
        user = users[ev.user_id]
        if user.spo2.isna().all():
            continue
        inside = _inside(user, ev.start, ev.end)
        drop = user.spo2[_outside_labels(user, pop.labels[pop.labels.user_id == ev.user_id])].median() - user.spo2[inside].median()
        assert 1 <= drop <= 8
        seen += 1
    assert seen >= 1
