"""Simulated wearable population: realistic 5-minute records, daily logs and labelled events.

The detector is judged on an *independent* simulator and on real Fitbit data, so
this one is built to avoid shortcuts a model could learn instead of physiology:

- every person has their own baselines (resting HR, HRV, respiration, SpO2, skin
  temperature) that depend on age, sex and fitness in plausible directions;
- normal life already contains everything an event looks like in isolation:
  exercise (HR up, HRV down), stress bumps at rest, rough nights after alcohol,
  the luteal phase (temperature and HR up), brief SpO2 dips in sleep, motion
  artefacts during low-quality stretches, nights without the watch, charging;
- events use the same noise processes, the same data-quality process and the
  same gaps as normal data, so only the physiology differs.

One user is simulated in a few vectorised passes over its 5-minute grid:
plan (sleep times, workouts, illness, daily-log events) -> sleep stages and
activity bouts -> wear mask -> short events placed where they are observable
-> signals -> data quality / dropouts -> frame rows (records the watch kept)
-> daily logs derived from the same rows.

Output layout (`write_population`, docs/architecture.md section 6)::

    DIR/records/<user_id>.jsonl   5-minute records (Record shape)
    DIR/users.jsonl               true physiology per user (for tests and docs)
    DIR/daily.jsonl               one line per user and day (null = not logged)
    DIR/labels.csv                user_id,start,end,kind,stream

Label times: wearable events run from `start` (first affected record) to `end`
(exclusive, last affected record + 5 min); daily events give the first and the
last day (inclusive) as dates. Sleep fields of a daily log describe the night
that *ended* on that date (Fitbit convention), `bedtime` included.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import FeatureConfig, default_feature_config
from ..data.records import TIME, USER, static_column

STEP = 5                      # minutes per record
PER_H = 60 // STEP            # records per hour
PER_DAY = 24 * PER_H          # records per day

AGE_GROUPS = ("18-29", "30-39", "40-49", "50-59", "60+")
AGE_SPAN = {"18-29": (18, 29), "30-39": (30, 39), "40-49": (40, 49), "50-59": (50, 59), "60+": (60, 80)}
EXERCISE = ("low", "moderate", "high")
WEARABLE_KINDS = ("acute", "illness", "desaturation", "bradycardia")
DAILY_KINDS = ("weight_jump", "protein_low", "calories_high", "macro_imbalance", "exercise_drop",
               "exercise_surge", "sleep_short", "sleep_long", "sleep_quality_decline",
               "bedtime_irregular", "health_score_drop", "bp_spike")
# Daily events of one domain never overlap (one story at a time per domain).
DAILY_DOMAIN = {"weight_jump": "weight", "bp_spike": "bp", "protein_low": "food", "calories_high": "food",
                "macro_imbalance": "food", "exercise_drop": "exercise", "exercise_surge": "exercise",
                "sleep_short": "sleep", "sleep_long": "sleep", "sleep_quality_decline": "sleep",
                "bedtime_irregular": "sleep", "health_score_drop": "score"}
# (min days, max days, earliest start day: rules need history before the event)
DAILY_SPAN = {"weight_jump": (2, 3, 8), "bp_spike": (2, 2, 8), "protein_low": (3, 5, 7),
              "calories_high": (3, 5, 7), "macro_imbalance": (3, 5, 7), "exercise_drop": (7, 9, 14),
              "exercise_surge": (3, 4, 10), "sleep_short": (3, 4, 5), "sleep_long": (3, 4, 5),
              "sleep_quality_decline": (5, 6, 5), "bedtime_irregular": (7, 8, 5), "health_score_drop": (7, 7, 7)}
MACRO_SHARE = {"carbs": 0.50, "protein": 0.18, "fat": 0.32}   # recommended energy shares
WALK, RUN, CYCLE, GYM, BACKGROUND = 1, 2, 3, 4, 5
SLEEP_AWAKE, SLEEP_LIGHT, SLEEP_DEEP, SLEEP_REM = 0, 1, 2, 3
QUALITY_HIGH, QUALITY_MEDIUM, QUALITY_LOW = 0, 1, 2
DAILY_INT_COLUMNS = ("systolic", "diastolic", "calories_kcal", "calories_target", "protein_target_g",
                     "exercise_minutes", "hr_zone_high_minutes", "sleep_quality", "health_score")
PHYSIO = ("hr", "hr_resting", "hrv_rmssd", "hrv_sdnn", "hrv_pnn50", "resp_rate", "spo2")


@dataclass
class SimConfig:
    """Event rates (expected events per user per 30 days) and device/wear habits."""

    acute_per_30d: float = 0.8
    illness_per_30d: float = 0.3
    desaturation_per_30d: float = 0.6
    bradycardia_per_30d: float = 0.5
    daily_events_per_30d: float = 1.5
    event_free_fraction: float = 0.25       # users with no labelled event of any kind
    p_no_spo2: float = 0.2                   # device without the sensor
    p_no_resp: float = 0.15
    p_no_skin_temp: float = 0.25
    p_no_hrv: float = 0.05
    p_no_hrv_detail: float = 0.4             # rmssd only, no sdnn / pnn50
    p_no_light: float = 0.4
    p_no_gyro: float = 0.3
    p_night_only: float = 0.5                # SpO2 / respiration measured only in sleep
    p_static_unknown: float = 0.08           # users who did not fill in a profile field
    illness_dhr: tuple[float, float] = (5.0, 15.0)  # resting-HR rise of an illness, bpm (uniform)


@dataclass
class EventRequest:
    """An event to inject into `simulate_user`: `start` None = placed at random."""

    kind: str
    start: datetime | None = None
    days: int | None = None          # illness / daily events
    minutes: int | None = None       # short wearable events


@dataclass
class Person:
    """A simulated person's true physiology and habits (users.jsonl)."""

    user_id: str
    age: int
    age_group: str
    sex: str
    exercise: str
    height_cm: float
    weight_kg: float
    body_fat_pct: float
    systolic: float
    diastolic: float
    resting_hr: float
    hrv_rmssd: float
    resp_rate: float
    spo2: float
    skin_temp: float
    hr_max: float
    awake_hr_offset: float
    bedtime_h: float
    time_in_bed_h: float
    calories_target: int
    protein_target_g: int
    channels: list[str]
    night_only: list[str]
    reported_static: dict[str, str]
    conditions: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    habits: dict[str, float] = field(default_factory=dict)


@dataclass
class UserSim:
    """One simulated user: frame rows (records kept), daily logs, labels."""

    person: Person
    frame: pd.DataFrame
    daily: pd.DataFrame
    labels: pd.DataFrame


@dataclass
class Population:
    """Many users: `frame` in the records_to_frame layout plus users, daily logs, labels."""

    frame: pd.DataFrame
    users: pd.DataFrame
    daily: pd.DataFrame
    labels: pd.DataFrame
    people: list[Person] = field(default_factory=list)


# ----------------------------------------------------------------------------- person

def sample_person(rng: np.random.Generator, user_id: str, cfg: SimConfig) -> Person:
    """Baselines differ between people; age, sex and fitness push them in plausible directions."""
    age_group = AGE_GROUPS[rng.choice(5, p=[0.22, 0.24, 0.2, 0.18, 0.16])]
    age = int(rng.integers(AGE_SPAN[age_group][0], AGE_SPAN[age_group][1] + 1))
    sex = "female" if rng.random() < 0.5 else "male"
    p_ex = np.array([0.3, 0.45, 0.25]) + (age - 45) / 400 * np.array([1, 0, -1])
    exercise = EXERCISE[rng.choice(3, p=p_ex / p_ex.sum())]
    fit = {"low": -1.0, "moderate": 0.0, "high": 1.0}[exercise]
    male = sex == "male"
    height = rng.normal(176, 7) if male else rng.normal(163, 6.5)
    bmi = float(np.clip(rng.normal(25 + (age - 40) * 0.04 - 0.8 * fit, 3.5), 17.5, 40))
    weight = bmi * (height / 100) ** 2
    body_fat = float(np.clip(1.2 * bmi + 0.23 * age - 10.8 * male - 5.4 + rng.normal(0, 2), 6, 50))
    systolic = 108 + 0.45 * (age - 25) + 5 * male + 0.8 * (bmi - 25) + rng.normal(0, 8)
    diastolic = 70 + 0.2 * (age - 25) + 2 * male + 0.5 * (bmi - 25) + rng.normal(0, 5)
    beta_blocker = systolic > 138 and rng.random() < 0.4
    rhr = rng.normal(62, 8) + (-2.5 if male else 2.5) - 4.5 * fit + 0.04 * (age - 40) - 7 * beta_blocker
    rhr = float(np.clip(rhr, 42, 92))
    log_hrv = np.log(48) - 0.018 * (age - 35) + 0.15 * fit + 0.05 * (not male) + rng.normal(0, 0.33)
    hrv = float(np.clip(np.exp(log_hrv) * (1.15 if beta_blocker else 1.0), 9, 160))
    resp = float(np.clip(rng.normal(14.5 + 0.4 * (not male) - 0.4 * fit, 1.4), 10.5, 19.5))
    spo2 = float(np.clip(rng.normal(97.2 - 0.03 * max(age - 50, 0) - 0.05 * max(bmi - 30, 0), 0.55), 95.0, 98.8))
    skin = float(rng.normal(33.3 + 0.2 * (not male), 0.45))
    bmr = 10 * weight + 6.25 * height - 5 * age + (5 if male else -161)
    tdee = bmr * (1.35 + 0.12 * fit + rng.normal(0, 0.04))
    protein_per_kg = {"low": 0.9, "moderate": 1.1, "high": 1.4}[exercise]
    channels = ["hr", "hr_resting", "steps", "distance", "calories", "accel_mag", "sleep_state",
                "time_period_primary", "data_quality"]
    optional = {"hrv_rmssd": cfg.p_no_hrv, "resp_rate": cfg.p_no_resp, "spo2": cfg.p_no_spo2,
                "skin_temp": cfg.p_no_skin_temp, "light": cfg.p_no_light, "gyro_mag": cfg.p_no_gyro}
    channels += [name for name, p in optional.items() if rng.random() >= p]
    if "hrv_rmssd" in channels and rng.random() >= cfg.p_no_hrv_detail:
        channels += ["hrv_sdnn", "hrv_pnn50"]
    night_only = [c for c in ("spo2", "resp_rate") if c in channels and rng.random() < cfg.p_night_only]
    reported = {"age_group": age_group, "sex": sex, "exercise": exercise}
    for key in reported:
        if rng.random() < cfg.p_static_unknown:
            reported[key] = "unknown"
    conditions = (["hypertension"] if systolic >= 135 else []) + (["obesity"] if bmi >= 30 else [])
    habits = dict(
        walks_per_day=float(rng.uniform(1.5, 3.0) + 0.8 * fit), workout_p=float(np.clip(0.3 + 0.22 * fit + rng.normal(0, 0.08), 0.03, 0.8)),
        commuter=float(rng.random() < 0.55), workout_morning=float(rng.random() < 0.3),
        p_night_off=float(rng.uniform(0.0, 0.15)), p_charge=float(rng.uniform(0.15, 0.5)),
        charge_morning=float(rng.random() < 0.5), p_weigh=float(rng.uniform(0.35, 0.95)),
        p_bp=float(rng.uniform(0.2, 0.8)), p_food_log=float(rng.uniform(0.7, 0.97)),
        hr_noise=float(rng.uniform(1.5, 3.0)), frag=float(rng.uniform(0.025, 0.06)),
        weekend_shift_h=float(rng.uniform(0.2, 1.3)), cycle_days=float(rng.normal(28, 2)),
        cycle_phase=float(rng.uniform(0, 1)), menstruating=float((not male) and age < 50),
    )
    return Person(
        user_id=user_id, age=age, age_group=age_group, sex=sex, exercise=exercise,
        height_cm=round(float(height), 1), weight_kg=round(float(weight), 1), body_fat_pct=round(body_fat, 1),
        systolic=round(float(systolic), 1), diastolic=round(float(diastolic), 1),
        resting_hr=round(rhr, 1), hrv_rmssd=round(hrv, 1), resp_rate=round(resp, 2), spo2=round(spo2, 2),
        skin_temp=round(skin, 2), hr_max=round(208 - 0.7 * age, 1), awake_hr_offset=round(float(rng.uniform(7, 14)), 1),
        bedtime_h=round(float(np.clip(rng.normal(23.2, 0.8), 21.0, 26.0)), 2),
        time_in_bed_h=round(float(np.clip(rng.normal(7.9 - 0.01 * (age - 40), 0.5), 6.3, 9.3)), 2),
        calories_target=int(round(tdee / 50) * 50), protein_target_g=int(round(protein_per_kg * weight / 5) * 5),
        channels=channels, night_only=night_only, reported_static=reported,
        conditions=conditions, medications=["beta_blocker"] if beta_blocker else [], habits=habits,
    )


# ----------------------------------------------------------------------------- helpers

def _ar1(rng: np.random.Generator, n: int, tau_steps: float, sd: float) -> np.ndarray:
    """AR(1) noise with correlation time `tau_steps` and marginal std `sd` (truncated-kernel convolution)."""
    phi = float(np.exp(-1.0 / max(tau_steps, 1e-3)))
    k = int(min(max(8 * tau_steps, 1), 600))
    kernel = phi ** np.arange(k)
    white = rng.normal(0, sd * np.sqrt(1 - phi ** 2), n + k)
    return np.convolve(white, kernel, mode="full")[k:k + n]


def _decay_max(x: np.ndarray, tau_steps: float) -> np.ndarray:
    """max over lags j of x[t-j] * exp(-j/tau): fast rise, slow recovery (HR after exercise)."""
    out = x.copy()
    for j in range(1, int(5 * tau_steps) + 1):
        out[j:] = np.maximum(out[j:], x[:-j] * np.exp(-j / tau_steps))
    return out


def _window_all(mask: np.ndarray, length: int) -> np.ndarray:
    """ok[i] = mask[i:i+length].all(), for every i that fits."""
    c = np.concatenate([[0], np.cumsum(mask.astype(np.int64))])
    return (c[length:] - c[:-length]) == length


def _ramp(n: int, start: int, stop: int, ramp_in: int, ramp_out: int) -> np.ndarray:
    """Severity 0..1: ramps up over `ramp_in` steps, plateau, ramps down over `ramp_out` steps."""
    idx = np.arange(n)
    up = np.clip((idx - start) / max(ramp_in, 1), 0, 1)
    down = np.clip((stop - idx) / max(ramp_out, 1), 0, 1)
    return np.where((idx >= start) & (idx < stop), np.minimum(up, down), 0.0)


# ----------------------------------------------------------------------------- plan

@dataclass
class _Plan:
    """Per-night and per-day plan arrays (night k ends on the morning of day k)."""

    bed: np.ndarray          # [days+1] bedtime, hours relative to midnight of day k
    in_bed_h: np.ndarray     # [days+1] time in bed, hours
    frag: np.ndarray         # [days+1] probability of an awake record in sleep
    deep: np.ndarray         # [days+1] deep-sleep multiplier
    night_worn: np.ndarray   # [days+1] bool
    rough: np.ndarray        # [days+1] bool: alcohol / late stress night
    activity: np.ndarray     # [days] walk multiplier
    workout: np.ndarray      # [days] number of workouts
    illness: np.ndarray      # [n] severity 0..1 per record
    force_worn: np.ndarray   # [days+1] bool: nights a daily-log event needs observed
    force_day: np.ndarray    # [days] bool: days a daily-log event needs fully observed


def _plan(rng, p: Person, days: int, start: datetime, n: int) -> _Plan:
    h = p.habits
    nights = np.arange(days + 1)
    weekday_of_wake = np.array([(start + timedelta(days=int(k))).weekday() for k in nights])
    weekend_night = np.isin(weekday_of_wake, (5, 6))          # Fri->Sat and Sat->Sun nights
    bed = p.bedtime_h - 24 + weekend_night * h["weekend_shift_h"] + rng.normal(0, 0.4, days + 1)
    in_bed = p.time_in_bed_h + weekend_night * 0.6 + rng.normal(0, 0.45, days + 1)
    workday = np.array([(start + timedelta(days=int(d))).weekday() < 5 for d in range(days)])
    return _Plan(
        bed=bed, in_bed_h=np.clip(in_bed, 5.0, 10.0), frag=np.full(days + 1, h["frag"]),
        deep=np.clip(rng.normal(1, 0.12, days + 1), 0.6, 1.4),
        night_worn=rng.random(days + 1) >= h["p_night_off"], rough=rng.random(days + 1) < 0.06,
        activity=np.clip(rng.normal(1, 0.2, days), 0.4, 1.6) * np.where(workday, 1.0, 1.15),
        workout=(rng.random(days) < h["workout_p"]).astype(int), illness=np.zeros(n),
        force_worn=np.zeros(days + 1, bool), force_day=np.zeros(days, bool),
    )


def _plan_illness(rng, plan: _Plan, req: EventRequest, n: int, t0: datetime,
                  dhr_range: tuple[float, float] = (5.0, 15.0)) -> dict | None:
    """Multi-day illness with a ramp in and out; changes sleep and activity as well as physiology."""
    days_total = n // PER_DAY
    length_d = req.days or int(rng.integers(2, 11))
    length_d = min(length_d, days_total - 2)
    if length_d < 2:
        return None
    if req.start is not None:
        s = int((req.start - t0).total_seconds() // 60 // STEP)
    else:
        lo = min(4 * PER_DAY, n - length_d * PER_DAY - 1)
        s = int(rng.integers(max(lo, 0), n - length_d * PER_DAY))
    e = min(s + length_d * PER_DAY, n)
    if s < 0 or e - s < PER_DAY or (plan.illness[s:e] > 0).any():
        return None
    plan.illness = np.maximum(plan.illness, _ramp_for({"s": s, "e": e}, n))
    day_sev = plan.illness[: len(plan.activity) * PER_DAY].reshape(-1, PER_DAY).mean(1)
    plan.activity = plan.activity * (1 - 0.7 * day_sev)
    plan.workout = np.where(day_sev > 0.25, 0, plan.workout)
    night_sev = np.array([plan.illness[min(k * PER_DAY, n - 1)] for k in range(len(plan.bed))])
    plan.frag = plan.frag + 0.08 * night_sev
    plan.deep = plan.deep * (1 - 0.4 * night_sev)
    return dict(kind="illness", s=s, e=e, dhr=rng.uniform(*dhr_range), dhrv=rng.uniform(0.15, 0.40),
                dresp=rng.uniform(1.0, 3.0), dspo2=rng.uniform(0.5, 1.5), dtemp=rng.uniform(0.3, 0.8))


def _plan_daily_event(rng, plan: _Plan, p: Person, kind: str, d0: int, length: int) -> dict:
    """Apply a daily-log event to the plan where it lives in the wearable data (sleep, exercise)."""
    days = len(plan.activity)
    ds = np.arange(d0, d0 + length)
    ev: dict[str, Any] = dict(kind=kind, d0=d0, d1=d0 + length - 1)
    if kind in ("sleep_short", "sleep_long", "sleep_quality_decline", "bedtime_irregular"):
        plan.night_worn[ds] = plan.force_worn[ds] = True    # the log comes from the watch: it was worn
    if kind == "sleep_short":
        plan.in_bed_h[ds] = rng.uniform(4.0, 4.9, length)
        plan.bed[ds] += rng.uniform(1.5, 2.5, length)   # late nights, alarm as usual
    elif kind == "sleep_long":
        plan.in_bed_h[ds] = rng.uniform(11.8, 12.8, length)
    elif kind == "sleep_quality_decline":
        plan.frag[ds] = p.habits["frag"] + np.linspace(0.06, 0.30, length)
        plan.deep[ds] = np.linspace(0.8, 0.25, length)
    elif kind == "bedtime_irregular":
        shifts = rng.uniform(2.0, 3.5, length) * np.where(np.arange(length) % 2 == 0, 1, -1)
        plan.bed[ds] = p.bedtime_h - 24 + rng.permutation(shifts)
    elif kind == "exercise_drop":
        ds = ds[ds < days]
        plan.activity[ds] *= 0.25
        plan.workout[ds] = 0
        ev["no_commute"] = True
    elif kind == "exercise_surge":
        ds = ds[ds < days]
        plan.force_day[ds] = True
        # Enough 60-90 min sessions to more than double the person's usual exercise minutes.
        h = p.habits
        usual = STEP * (h["walks_per_day"] * 5 + h["commuter"] * 5 / 7 * 7 + h["workout_p"] * 10.5)
        plan.workout[ds] = int(np.clip(np.ceil(3.0 * usual / 75), 2, 5))
        plan.activity[ds] *= 1.3
    elif kind == "weight_jump":
        ev["delta"] = float(rng.uniform(2.4, 4.5) * rng.choice([-1, 1]))
    elif kind == "bp_spike":
        ev["dsys"], ev["ddia"] = float(rng.uniform(28, 45)), float(rng.uniform(15, 25))
    elif kind == "health_score_drop":
        ev["drop"] = float(rng.uniform(20, 30))
    return ev


# ----------------------------------------------------------------------------- sleep and activity

def _night_stages(rng, length: int, frag: float, deep: float) -> np.ndarray:
    """Sleep stages for one night: ~90-min cycles, deep early, REM late, awake bouts."""
    st = np.full(length, SLEEP_LIGHT, dtype=np.int8)
    pos, k = int(rng.integers(1, 4)), 0          # sleep-onset latency (awake in bed)
    st[:pos] = SLEEP_AWAKE
    while pos < length:
        cyc = max(12, int(rng.normal(18, 2)))
        n_deep = int(round(cyc * max(0.38 - 0.11 * k, 0.03) * deep))
        n_rem = int(round(cyc * min(0.10 + 0.07 * k, 0.42)))
        n_light = max(cyc - n_deep - n_rem, 1)
        seg = np.concatenate([np.full(n_light // 2, SLEEP_LIGHT), np.full(n_deep, SLEEP_DEEP),
                              np.full(n_light - n_light // 2, SLEEP_LIGHT), np.full(n_rem, SLEEP_REM)])
        take = min(len(seg), length - pos)
        st[pos:pos + take] = seg[:take]
        if pos + take < length and rng.random() < 0.3:
            st[pos + take - 1] = SLEEP_AWAKE     # brief arousal at a cycle boundary
        pos += take
        k += 1
    st[rng.random(length) < frag] = SLEEP_AWAKE
    st[-1] = SLEEP_AWAKE
    return st


def _sleep(rng, plan: _Plan, n: int):
    in_bed = np.zeros(n, bool)
    stage = np.zeros(n, np.int8)
    night_of = np.full(n, -1, np.int64)
    spans = []
    for k in range(len(plan.bed)):
        s = k * PER_DAY + int(round(plan.bed[k] * PER_H))
        e = s + int(round(plan.in_bed_h[k] * PER_H))
        if spans:
            s = max(s, spans[-1][1] + 6)      # never overlap the previous night
        st = _night_stages(rng, max(e - s, 1), plan.frag[k], plan.deep[k])
        a, b = max(s, 0), min(e, n)
        if b > a:
            in_bed[a:b] = True
            stage[a:b] = st[a - s:b - s]
            night_of[a:b] = k
        spans.append((s, e))
    return in_bed, stage, night_of, spans


def _activity(rng, p: Person, plan: _Plan, spans, n: int, t0: datetime, in_bed: np.ndarray):
    """Walks, workouts and background movement; returns intensity, steps, kind, outdoor per record."""
    h = p.habits
    inten = np.zeros(n)
    steps = np.zeros(n)
    kind = np.zeros(n, np.int8)
    outdoor = np.zeros(n, bool)

    # Background: sitting blocks (mostly zero steps) alternating with light movement.
    n_blocks = n // 2 + 10
    moving = np.arange(n_blocks) % 2 == 1
    lengths = np.where(moving, rng.geometric(1 / 2.0, n_blocks), rng.geometric(1 / 8.0, n_blocks))
    state = np.repeat(moving, lengths)[:n]
    bg = np.where(state, np.exp(rng.normal(np.log(120), 0.7, n)), (rng.random(n) < 0.08) * rng.integers(1, 40, n))
    bg = np.where(in_bed, 0, np.minimum(bg, 900))
    steps[:] = np.round(bg)
    inten[:] = steps / 4000
    kind[steps > 0] = BACKGROUND

    def put(a: int, length: int, kd: int, level: float, cadence: float, out: bool):
        a = max(a, 0)
        b = min(a + length, n)
        if b <= a or in_bed[a:b].any():
            return
        inten[a:b] = level * rng.uniform(0.9, 1.1, b - a)
        steps[a:b] = np.round(cadence * rng.uniform(0.85, 1.05, b - a))
        kind[a:b] = kd
        outdoor[a:b] = out

    for d in range(len(plan.activity)):
        w0, w1 = spans[d][1], spans[d + 1][0]           # awake between two nights
        if w1 - w0 < 2 * PER_H:
            continue
        workday = (t0 + timedelta(days=d)).weekday() < 5
        if workday and h["commuter"] and plan.activity[d] > 0.5:
            for a in (w0 + int(rng.integers(8, 16)), d * PER_DAY + int(rng.normal(17.5, 0.5) * PER_H)):
                put(a, int(rng.integers(2, 5)), WALK, rng.uniform(0.22, 0.32), rng.uniform(480, 580), True)
        for _ in range(rng.poisson(h["walks_per_day"] * plan.activity[d])):
            put(int(rng.integers(w0, w1)), int(rng.integers(2, 9)), WALK, rng.uniform(0.18, 0.35),
                rng.uniform(430, 600), True)
        for j in range(plan.workout[d]):
            surge = plan.workout[d] > 1        # several sessions spread over the day
            if surge:                          # spread over the waking day, clear of the nights
                hour = (np.linspace(w0 + PER_H, w1 - 3 * PER_H, plan.workout[d])[j] - d * PER_DAY) / PER_H
            elif workday:
                hour = rng.normal(7.0, 0.4) if h["workout_morning"] else rng.normal(18.3, 0.8)
            else:
                hour = rng.normal(10.5, 1.2)
            kd = rng.choice([RUN, CYCLE, GYM], p=[0.45, 0.25, 0.30])
            level = {RUN: rng.uniform(0.6, 0.85), CYCLE: rng.uniform(0.5, 0.75), GYM: rng.uniform(0.4, 0.65)}[kd]
            cadence = {RUN: rng.uniform(760, 860), CYCLE: rng.uniform(0, 12), GYM: rng.uniform(40, 200)}[kd]
            length = int(rng.integers(12, 19)) if surge else int(rng.integers(6, 16))
            put(d * PER_DAY + int(hour * PER_H), length, kd, level, cadence, kd != GYM)
    return inten, steps, kind, outdoor


def _wear(rng, p: Person, plan: _Plan, spans, n: int) -> np.ndarray:
    """Watch on the wrist: nights without it, charging, showers, occasional days off."""
    h = p.habits
    worn = np.ones(n, bool)
    for k, (s, e) in enumerate(spans):
        if not plan.night_worn[k]:
            worn[max(s - 6, 0):max(min(e + 6, n), 0)] = False
    for d in range(n // PER_DAY):
        w0 = spans[d][1]
        if plan.force_day[d]:
            continue
        if rng.random() < h["p_charge"]:
            a = w0 + int(rng.integers(3, 12)) if h["charge_morning"] else d * PER_DAY + int(rng.normal(20, 1) * PER_H)
            worn[max(a, 0):max(a + int(rng.integers(9, 21)), 0)] = False
        if rng.random() < 0.6:
            a = w0 + int(rng.integers(1, 6)) if rng.random() < 0.6 else d * PER_DAY + int(rng.normal(21.5, 0.6) * PER_H)
            worn[max(a, 0):max(a + int(rng.integers(2, 6)), 0)] = False
        if rng.random() < 0.02:
            a = d * PER_DAY + int(rng.integers(0, PER_DAY))
            worn[a:a + int(rng.integers(3, 10) * PER_H)] = False
    for k in np.flatnonzero(plan.force_worn):
        s, e = spans[k]
        worn[max(s - 2, 0):max(min(e + 2, n), 0)] = True
    return worn


# ----------------------------------------------------------------------------- short events

def _place_short(rng, req: EventRequest, p: Person, ctx: dict, taken: np.ndarray, t0: datetime) -> dict | None:
    """Put an acute / desaturation / bradycardia event where it is physiologically possible and observed."""
    n = len(taken)
    in_bed, stage, inten, worn, illness = ctx["in_bed"], ctx["stage"], ctx["inten"], ctx["worn"], ctx["illness"]
    kind = req.kind
    lo, hi = {"acute": (3, 12), "desaturation": (2, 8), "bradycardia": (2, 6)}[kind]
    length = max(1, (req.minutes or 0) // STEP) if req.minutes else int(rng.integers(lo, hi + 1))
    rest = (inten == 0) & np.concatenate([[True], inten[:-1] == 0]) & np.concatenate([[True, True], inten[:-2] == 0])
    if kind == "acute":
        cond = rest & (in_bed if rng.random() < 0.25 else ~in_bed)
    elif kind == "desaturation":
        if "spo2" not in p.channels:
            return None
        cond = in_bed & (stage != SLEEP_AWAKE)
    else:
        if p.resting_hr < 50:                  # an athlete's normal sleep HR is already near 40
            return None
        cond = rest & (in_bed if rng.random() < 0.7 else ~in_bed)
    cond = cond & worn & ~taken & (illness == 0)
    if req.start is not None:
        s = int((req.start - t0).total_seconds() // 60 // STEP)
        if not 0 <= s <= n - length:
            raise ValueError(f"{kind} start {req.start} is outside the simulated span")
    else:
        ok = np.flatnonzero(_window_all(cond, length))
        ok = ok[ok >= PER_DAY] if (ok >= PER_DAY).any() else ok     # leave a first day of history
        if len(ok) == 0:
            return None
        s = int(rng.choice(ok))
    taken[max(s - PER_H, 0):s + length + PER_H] = True
    ev = dict(kind=kind, s=s, e=s + length)
    if kind == "acute":
        ev.update(dhr=rng.uniform(25, 45), hrv_factor=rng.uniform(0.3, 0.6), dresp=rng.uniform(3, 6))
    elif kind == "desaturation":
        ev.update(level=rng.uniform(84, 89), dhr=rng.uniform(3, 8))
    else:
        ev.update(level=rng.uniform(35, min(42, p.resting_hr - 13)))
    return ev


# ----------------------------------------------------------------------------- signals

def _signals(rng, p: Person, plan: _Plan, ctx: dict, events: list[dict], t0: datetime) -> dict[str, np.ndarray]:
    n = len(ctx["in_bed"])
    idx = np.arange(n)
    in_bed, stage, inten, steps, kind, outdoor = (ctx[k] for k in ("in_bed", "stage", "inten", "steps", "kind", "outdoor"))
    asleep = in_bed & (stage != SLEEP_AWAKE)
    hour = (idx % PER_DAY) / PER_H
    circ = -np.cos(2 * np.pi * (hour - 4) / 24)                    # -1 at 04:00, +1 at 16:00
    physio_day = (idx + PER_DAY // 2) // PER_DAY                    # noon-to-noon: a night is one unit
    n_pd = physio_day[-1] + 1
    h = p.habits

    # Slow personal state: day-to-day drift, menstrual cycle, rough nights, illness.
    day_hr = _ar1(rng, n_pd, 3, 1.6)[physio_day]
    day_hrv = _ar1(rng, n_pd, 3, 0.07)[physio_day]
    cyc = ((idx / PER_DAY / h["cycle_days"] + h["cycle_phase"]) % 1.0) > 0.5
    luteal = cyc * h["menstruating"]
    night_k = ctx["night_of"]
    rough = (night_k >= 0) & plan.rough[np.maximum(night_k, 0)] & in_bed
    ill_hr = sum(_ramp_for(e, n) * e["dhr"] for e in events if e["kind"] == "illness")
    ill_lnhrv = sum(_ramp_for(e, n) * np.log(1 - e["dhrv"]) for e in events if e["kind"] == "illness")
    ill_resp = sum(_ramp_for(e, n) * e["dresp"] for e in events if e["kind"] == "illness")
    ill_spo2 = sum(_ramp_for(e, n) * e["dspo2"] for e in events if e["kind"] == "illness")
    ill_temp = sum(_ramp_for(e, n) * e["dtemp"] for e in events if e["kind"] == "illness")

    rhr = p.resting_hr + day_hr + 2.0 * luteal + rough * rng.uniform(3, 7) + ill_hr
    # Stress/arousal while awake: slow wander plus occasional bumps (coffee, a meeting, standing up).
    stress = np.clip(_ar1(rng, n, 6, 3.0), -4, None) * ~in_bed
    bumps = np.zeros(n)
    for a in rng.integers(0, n, rng.poisson(1.2 * n / PER_DAY)):
        bumps[a:a + int(rng.integers(2, 7))] = rng.uniform(6, 16)
    stress = stress + bumps * ~in_bed
    stage_hr = np.array([5.0, 0.0, -3.0, 3.0])[stage]
    base = np.where(in_bed, rhr - 2 + stage_hr + 0.8 * circ, rhr + p.awake_hr_offset + 2.5 * circ + stress)
    effort = _decay_max(inten, 2.0)
    hr = base + (p.hr_max - base) * effort + _ar1(rng, n, 1.5, h["hr_noise"])

    ln_hrv = (np.log(p.hrv_rmssd) + day_hrv - 0.05 * luteal - rough * rng.uniform(0.15, 0.35) + ill_lnhrv
              + np.where(in_bed, np.array([-0.15, 0.05, 0.25, -0.1])[stage], -0.35 - 0.04 * circ)
              - 3.0 * effort - 0.025 * np.maximum(stress, 0) + _ar1(rng, n, 1.0, 0.15))
    resp = (p.resp_rate + np.where(in_bed, np.array([0.3, -0.8, -1.2, 0.2])[stage], 0.3) + 14 * effort
            + 0.05 * np.maximum(stress, 0) + ill_resp + rng.normal(0, 0.45, n))
    spo2 = p.spo2 - 0.6 * asleep - ill_spo2 + 0.3 * _ar1(rng, n, 4, 1.0) + rng.normal(0, 0.5, n)
    dips = asleep & (rng.random(n) < 0.01)                            # brief normal dips in sleep
    spo2 = spo2 - dips * rng.uniform(2, 5, n)
    warm = np.convolve(in_bed.astype(float), np.ones(PER_H) / PER_H, mode="full")[:n]
    temp = (p.skin_temp + 1.1 * warm + 0.3 * luteal + ill_temp * (0.6 + 0.4 * warm) - 0.9 * outdoor
            - 0.4 * effort + _ar1(rng, n_pd, 2, 0.25)[physio_day] + _ar1(rng, n, 3, 0.15))

    # Labelled short events: same noise processes, different physiology.
    for e in events:
        s, t = e["s"], e["e"]
        if e["kind"] == "acute":
            shape = np.ones(t - s)
            shape[0] = 0.6
            hr[s:t] += e["dhr"] * shape
            ln_hrv[s:t] += np.log(e["hrv_factor"]) * shape
            resp[s:t] += e["dresp"] * shape
            hr[t:t + 2] += e["dhr"] * np.array([0.35, 0.12])[: len(hr[t:t + 2])]   # settles over ~10 min
        elif e["kind"] == "desaturation":
            spo2[s:t] = e["level"] + rng.normal(0, 0.9, t - s)
            hr[s:t] += e["dhr"]
            resp[s:t] += rng.normal(0, 1.5, t - s)
        elif e["kind"] == "bradycardia":
            hr[s:t] = e["level"] + (hr[s:t] - base[s:t]) * 0.5
            ln_hrv[s:t] += 0.25
    hrv = np.exp(ln_hrv)
    sdnn = hrv * np.exp(0.28 + 0.08 * in_bed + rng.normal(0, 0.1, n))
    pnn50 = np.clip(100 / (1 + np.exp(-(hrv - 55) / 14)) + rng.normal(0, 2.5, n), 0, 98)
    bmr5 = (10 * p.weight_kg + 6.25 * p.height_cm - 5 * p.age + (5 if p.sex == "male" else -161)) / PER_DAY
    calories = bmr5 * (0.95 + 0.2 * ~in_bed + 10 * effort) * rng.lognormal(0, 0.05, n)
    stride = p.height_cm / 100 * np.where(kind == RUN, 0.65, 0.415)
    distance = steps * stride * rng.lognormal(0, 0.04, n)
    gain = np.array([0.0, 1.0, 1.4, 0.4, 0.9, 2.0])[kind]
    accel = (0.008 + 0.03 * ~in_bed + 0.02 * (in_bed & (stage == SLEEP_AWAKE)) + gain * inten) * rng.lognormal(0, 0.25, n)
    gyro = (2 + 12 * ~in_bed + 160 * gain * inten) * rng.lognormal(0, 0.3, n)
    indoor = np.where((hour >= 7) & (hour < 19), rng.lognormal(np.log(300), 0.5, n), rng.lognormal(np.log(120), 0.6, n))
    sun = np.clip(np.sin(np.pi * (hour - 7) / 11), 0.02, None) * rng.lognormal(np.log(12000), 0.8, n)
    light = np.where(in_bed, rng.exponential(0.6, n), np.where(outdoor, np.where((hour > 7) & (hour < 18), sun, 15), indoor))
    return dict(hr=hr, hrv_rmssd=hrv, hrv_sdnn=sdnn, hrv_pnn50=pnn50, resp_rate=resp, spo2=spo2, skin_temp=temp,
                steps=steps, distance=distance, calories=calories, accel_mag=accel, gyro_mag=gyro, light=light)


def _ramp_for(e: dict, n: int) -> np.ndarray:
    s, t = e["s"], e["e"]
    return _ramp(n, s, t, int(min(36 * PER_H, 0.3 * (t - s))), int(min(48 * PER_H, 0.35 * (t - s))))


def _quality(rng, sig: dict, ctx: dict) -> tuple[np.ndarray, np.ndarray]:
    """Data-quality stretches (loose strap, motion) with noisier values, and PPG dropouts.

    Runs over the whole timeline independently of events, so events get their
    share of bad stretches and normal data its share of artefacts.
    """
    n = len(ctx["in_bed"])
    q = np.zeros(n, np.int8)
    for a in rng.integers(0, n, rng.poisson(2.5 * n / PER_DAY)):
        q[a:a + max(1, int(rng.lognormal(np.log(6), 0.6)))] = QUALITY_MEDIUM if rng.random() < 0.65 else QUALITY_LOW
    sport = np.isin(ctx["kind"], (RUN, CYCLE, GYM)) & (rng.random(n) < 0.35)
    q = np.maximum(q, sport * QUALITY_MEDIUM).astype(np.int8)
    hr_sd = np.array([0.0, 2.5, 6.0])[q]
    sig["hr"] = sig["hr"] + rng.normal(0, 1, n) * hr_sd
    sig["hrv_rmssd"] = sig["hrv_rmssd"] * np.exp(rng.normal(0, 1, n) * np.array([0.0, 0.15, 0.35])[q])
    sig["resp_rate"] = sig["resp_rate"] + rng.normal(0, 1, n) * np.array([0.0, 0.6, 1.5])[q]
    sig["spo2"] = sig["spo2"] + rng.normal(0, 1, n) * np.array([0.0, 0.8, 2.0])[q]
    artefact = (q == QUALITY_LOW) & (rng.random(n) < 0.25)            # motion artefact: spuriously low SpO2
    sig["spo2"] = np.where(artefact, rng.uniform(83, 92, n), sig["spo2"])
    # PPG lost: the record carries no heart rate (and is not emitted, hr is required).
    start = (rng.random(n) < 0.004) | ((q == QUALITY_LOW) & (rng.random(n) < 0.15))
    lost = start | (np.concatenate([[False], start[:-1]]) & (rng.random(n) < 0.5))   # 1-2 records
    return q, lost


# ----------------------------------------------------------------------------- one user

def _hr_resting(hr: np.ndarray, steps: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Fitbit rule: HR while no steps in the preceding 12 minutes (this record and the two before).

    A record whose predecessors are not on the watch has unknown steps, so no resting value.
    """
    still = (steps == 0) & present
    ok = still & np.concatenate([[False], still[:-1]]) & np.concatenate([[False, False], still[:-2]])
    return np.where(ok, hr, np.nan)


def simulate_user(user_id: str = "u0000", days: int = 14, seed: int | np.random.SeedSequence = 0,
                  start: datetime = datetime(2024, 1, 1), events: list[EventRequest] | None = None,
                  config: SimConfig | None = None, feature_config: FeatureConfig | None = None) -> UserSim:
    """Simulate one person. `events=None` draws events at the configured rates; a list injects exactly those."""
    cfg = config or SimConfig()
    fcfg = feature_config or default_feature_config()
    rng = np.random.default_rng(seed)
    p = sample_person(rng, user_id, cfg)
    n = days * PER_DAY
    t0 = datetime(start.year, start.month, start.day)
    if events is None:
        events = _draw_events(rng, cfg, days)
    for req in events:
        if req.kind not in WEARABLE_KINDS + DAILY_KINDS:
            raise ValueError(f"unknown event kind '{req.kind}'; expected one of {WEARABLE_KINDS + DAILY_KINDS}")

    plan = _plan(rng, p, days, t0, n)
    placed: list[dict] = []
    for req in (r for r in events if r.kind == "illness"):
        ev = _plan_illness(rng, plan, req, n, t0, cfg.illness_dhr)
        if ev:
            placed.append(ev)
    daily_events = _place_daily(rng, plan, p, [r for r in events if r.kind in DAILY_KINDS], days, t0)

    in_bed, stage, night_of, spans = _sleep(rng, plan, n)
    inten, steps, kind, outdoor = _activity(rng, p, plan, spans, n, t0, in_bed)
    worn = _wear(rng, p, plan, spans, n)
    ctx = dict(in_bed=in_bed, stage=stage, night_of=night_of, inten=inten, steps=steps, kind=kind,
               outdoor=outdoor, worn=worn, illness=plan.illness)
    taken = np.zeros(n, bool)
    for req in (r for r in events if r.kind in ("acute", "desaturation", "bradycardia")):
        ev = _place_short(rng, req, p, ctx, taken, t0)
        if ev:
            placed.append(ev)
            if ev["kind"] == "acute" and in_bed[ev["s"]]:
                stage[ev["s"]:ev["e"]] = SLEEP_AWAKE            # woken by the palpitations
            if ev["kind"] == "desaturation" and rng.random() < 0.7:
                stage[ev["e"] - 1:ev["e"] + 1] = SLEEP_AWAKE     # arousal at the end of the dip

    sig = _signals(rng, p, plan, ctx, placed, t0)
    quality, lost = _quality(rng, sig, ctx)
    present = worn & ~lost
    frame = _user_frame(p, sig, ctx, quality, present, t0, fcfg)
    labels = _labels(p, placed, daily_events, t0)
    daily = _daily_logs(rng, p, frame, ctx, spans, plan, daily_events, days, t0)
    return UserSim(person=p, frame=frame, daily=daily, labels=labels)


def _draw_events(rng, cfg: SimConfig, days: int) -> list[EventRequest]:
    if rng.random() < cfg.event_free_fraction:
        return []
    scale = days / 30
    out = []
    for kind, rate in (("illness", cfg.illness_per_30d), ("acute", cfg.acute_per_30d),
                       ("desaturation", cfg.desaturation_per_30d), ("bradycardia", cfg.bradycardia_per_30d)):
        out += [EventRequest(kind) for _ in range(rng.poisson(rate * scale))]
    out += [EventRequest(str(rng.choice(DAILY_KINDS))) for _ in range(rng.poisson(cfg.daily_events_per_30d * scale))]
    return out


def _place_daily(rng, plan: _Plan, p: Person, reqs: list[EventRequest], days: int, t0: datetime) -> list[dict]:
    """Daily-log events on free days of their domain, after the history their rule needs."""
    busy: dict[str, set[int]] = {}
    ill_days = {d for d in range(days) if plan.illness[d * PER_DAY:(d + 1) * PER_DAY].max(initial=0) > 0}
    out = []
    for req in reqs:
        lo, hi, earliest = DAILY_SPAN[req.kind]
        length = req.days or int(rng.integers(lo, hi + 1))
        dom = busy.setdefault(DAILY_DOMAIN[req.kind], set())
        if req.start is not None:
            d0 = (req.start.date() - t0.date()).days
            if not 0 <= d0 <= days - length:
                raise ValueError(f"{req.kind} start {req.start} does not fit in {days} days")
        else:
            free = [d for d in range(earliest, days - length + 1)
                    if not dom & set(range(d - 3, d + length + 3)) and not ill_days & set(range(d, d + length))]
            if not free:
                continue
            d0 = int(rng.choice(free))
        dom.update(range(d0, d0 + length))
        out.append(_plan_daily_event(rng, plan, p, req.kind, d0, length))
    return out


def _user_frame(p: Person, sig: dict, ctx: dict, quality: np.ndarray, present: np.ndarray, t0: datetime,
                fcfg: FeatureConfig) -> pd.DataFrame:
    """Rows the watch kept, in the records_to_frame layout (categorical codes, NaN = not observed)."""
    n = len(present)
    in_bed = ctx["in_bed"]
    hr = np.clip(np.round(sig["hr"], 1), 28, 220)
    cols: dict[str, np.ndarray] = {
        "hr": hr,
        "hr_resting": _hr_resting(hr, sig["steps"], present),
        "hrv_rmssd": np.clip(np.round(sig["hrv_rmssd"], 1), 2, 250),
        "hrv_sdnn": np.clip(np.round(sig["hrv_sdnn"], 1), 3, 350),
        "hrv_pnn50": np.round(sig["hrv_pnn50"], 1),
        "resp_rate": np.clip(np.round(sig["resp_rate"], 1), 6, 45),
        "spo2": np.clip(np.round(sig["spo2"], 1), 70, 100),
        "skin_temp": np.clip(np.round(sig["skin_temp"], 2), 27, 40),
        "steps": sig["steps"], "distance": np.round(sig["distance"], 1),
        "calories": np.clip(np.round(sig["calories"], 2), 0, 300), "accel_mag": np.clip(np.round(sig["accel_mag"], 3), 0, 16),
        "gyro_mag": np.clip(np.round(sig["gyro_mag"], 1), 0, 2000), "light": np.round(sig["light"], 0),
        "sleep_state": ctx["stage"].astype(float), "data_quality": quality.astype(float),
    }
    hour = (np.arange(n) % PER_DAY) // PER_H
    lut = np.array([fcfg.features["time_period_primary"].categories[fcfg.time_period_of_hour(h)] for h in range(24)])
    cols["time_period_primary"] = lut[hour].astype(float)
    # Channels that are not measured: HRV during vigorous motion, night-only sensors by day, absent sensors.
    moving = ctx["inten"] > 0.3
    for name in ("hrv_rmssd", "hrv_sdnn", "hrv_pnn50"):
        cols[name] = np.where(moving, np.nan, cols[name])
    for name in p.night_only:
        cols[name] = np.where(in_bed, cols[name], np.nan)
    frame = pd.DataFrame({USER: pd.Series([p.user_id] * n, dtype=object),
                          TIME: pd.date_range(t0, periods=n, freq=f"{STEP}min").astype("datetime64[ns]")})
    for name in fcfg.features:
        values = cols.get(name) if name in p.channels else None
        frame[name] = np.nan if values is None else values.astype(np.float64)
    for name, spec in fcfg.static.items():
        frame[static_column(name)] = np.int64(spec.code(p.reported_static.get(name)))
    return frame.loc[present].reset_index(drop=True)


def _labels(p: Person, placed: list[dict], daily_events: list[dict], t0: datetime) -> pd.DataFrame:
    rows = [dict(user_id=p.user_id, start=pd.Timestamp(t0 + timedelta(minutes=STEP * e["s"])),
                 end=pd.Timestamp(t0 + timedelta(minutes=STEP * e["e"])), kind=e["kind"], stream="wearable")
            for e in placed]
    rows += [dict(user_id=p.user_id, start=pd.Timestamp(t0 + timedelta(days=e["d0"])),
                  end=pd.Timestamp(t0 + timedelta(days=e["d1"])), kind=e["kind"], stream="daily")
             for e in daily_events]
    out = pd.DataFrame(rows, columns=["user_id", "start", "end", "kind", "stream"])
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    return out.sort_values(["start", "kind"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- daily logs

def _daily_logs(rng, p: Person, frame: pd.DataFrame, ctx: dict, spans, plan: _Plan, daily_events: list[dict],
                days: int, t0: datetime) -> pd.DataFrame:
    """One row per day; wearable-derived fields come from the kept records, the rest from habits."""
    idx = ((frame[TIME] - pd.Timestamp(t0)) // pd.Timedelta(minutes=STEP)).to_numpy()
    n = len(ctx["in_bed"])
    present = np.zeros(n, bool)
    present[idx] = True
    hr_full = np.full(n, np.nan)
    hr_full[idx] = frame["hr"].to_numpy()
    rest_full = np.full(n, np.nan)
    rest_full[idx] = frame["hr_resting"].to_numpy()
    stage, kind = ctx["stage"], ctx["kind"]
    bout = np.isin(kind, (WALK, RUN, CYCLE, GYM))
    ev_days = {k: set() for k in DAILY_KINDS}
    for e in daily_events:
        ev_days[e["kind"]].update(range(e["d0"], e["d1"] + 1))
    by = {e["kind"]: e for e in daily_events}

    rows = []
    weight = p.weight_kg + np.cumsum(rng.normal(0, 0.06, days))
    quality_raw = []
    for d in range(days):
        row: dict[str, Any] = {"user_id": p.user_id, "date": (t0 + timedelta(days=d)).date().isoformat()}
        s, e = spans[d]
        a, b = max(s, 0), min(e, n)
        night_obs = b > a and present[a:b].mean() >= 0.8 and s >= 0
        if night_obs:
            asleep = present[a:b] & (stage[a:b] != SLEEP_AWAKE)
            hours = asleep.sum() * STEP / 60
            awakenings = int(np.sum(np.diff((stage[a:b] == SLEEP_AWAKE).astype(int)) == 1))
            restorative = np.isin(stage[a:b], (SLEEP_DEEP, SLEEP_REM)).sum() / max(asleep.sum(), 1)
            eff = asleep.sum() / (b - a)
            q = 100 * (0.45 * eff + 0.3 * min(restorative / 0.45, 1) + 0.25 * min(hours / 7.5, 1)) - 1.5 * awakenings
            row["sleep_hours"] = round(float(hours), 2)
            row["sleep_quality"] = int(np.clip(round(q + rng.normal(0, 2)), 0, 100))
            row["bedtime"] = (t0 + timedelta(minutes=STEP * s)).strftime("%H:%M")
            night_rest = rest_full[a:b][stage[a:b] != SLEEP_AWAKE]
            row["resting_hr"] = round(float(np.nanmean(night_rest)), 1) if np.isfinite(night_rest).sum() >= 12 else None
        else:
            row.update(sleep_hours=None, sleep_quality=None, bedtime=None, resting_hr=None)
        day = slice(d * PER_DAY, (d + 1) * PER_DAY)
        awake_day = ~ctx["in_bed"][day]
        worn_frac = present[day][awake_day].mean() if awake_day.any() else 0.0
        if worn_frac >= 0.4:
            row["exercise_minutes"] = int(STEP * np.sum(bout[day] & present[day] & (ctx["inten"][day] >= 0.18)))
            row["hr_zone_high_minutes"] = int(STEP * np.nansum(hr_full[day] >= 0.7 * p.hr_max))
        else:
            row["exercise_minutes"] = row["hr_zone_high_minutes"] = None
        rows.append(row)
        quality_raw.append(row["sleep_quality"])

    for d, row in enumerate(rows):
        _body_and_food(rng, p, row, d, weight[d], ev_days, by)
    _health_scores(rng, p, rows, ev_days, by)
    # Days covered by a labelled event are logged (a rule cannot fire on a missing value).
    # A weight jump is a real change (fluid retention, dehydration) that lasts a few days, so the
    # next weigh-in confirms it; a one-day blip would rightly be read as a measurement error.
    if "weight_jump" in by:
        ev = by["weight_jump"]
        d = ev["d0"]
        for dd in range(d - 1, ev["d1"] + 1):
            rows[dd]["weight_kg"] = rows[dd]["weight_kg"] or round(float(weight[dd]), 1)
            rows[dd]["body_fat_pct"] = rows[dd]["body_fat_pct"] or round(p.body_fat_pct + rng.normal(0, 0.4), 1)
        for dd in range(d, ev["d1"] + 1):
            rows[dd]["weight_kg"] = round(float(weight[d - 1] + ev["delta"] + rng.normal(0, 0.2)), 1)
    cols = ["user_id", "date", "weight_kg", "body_fat_pct", "systolic", "diastolic", "resting_hr", "calories_kcal",
            "calories_target", "protein_g", "protein_target_g", "carbs_g", "fat_g", "exercise_minutes",
            "hr_zone_high_minutes", "sleep_hours", "sleep_quality", "bedtime", "health_score"]
    daily = pd.DataFrame(rows, columns=cols)
    for c in DAILY_INT_COLUMNS:
        daily[c] = daily[c].astype("Int64")       # integers with pandas NA where not logged
    return daily


def _body_and_food(rng, p: Person, row: dict, d: int, weight: float, ev_days: dict, by: dict) -> None:
    h = p.habits
    weighed = rng.random() < h["p_weigh"]
    row["weight_kg"] = round(float(weight + rng.normal(0, 0.3)), 1) if weighed else None
    row["body_fat_pct"] = round(float(p.body_fat_pct + rng.normal(0, 0.5)), 1) if weighed else None
    bp = rng.random() < h["p_bp"] or d in ev_days["bp_spike"]
    sys_, dia = p.systolic + rng.normal(0, 5), p.diastolic + rng.normal(0, 3.5)
    if d in ev_days["bp_spike"]:
        sys_, dia = sys_ + by["bp_spike"]["dsys"], dia + by["bp_spike"]["ddia"]
    row["systolic"] = int(round(sys_)) if bp else None
    row["diastolic"] = int(round(dia)) if bp else None
    food_event = any(d in ev_days[k] for k in ("protein_low", "calories_high", "macro_imbalance"))
    row["calories_target"] = p.calories_target
    row["protein_target_g"] = p.protein_target_g
    if not (food_event or rng.random() < h["p_food_log"]):
        row.update(calories_kcal=None, protein_g=None, carbs_g=None, fat_g=None)
        return
    kcal = p.calories_target * rng.normal(0.97, 0.08)
    protein = p.protein_target_g * rng.normal(1.0, 0.12)
    carb_share = rng.normal(MACRO_SHARE["carbs"], 0.03)
    if d in ev_days["calories_high"]:
        kcal = p.calories_target * rng.uniform(1.36, 1.6)
    if d in ev_days["protein_low"]:
        protein = p.protein_target_g * rng.uniform(0.25, 0.45)
    if d in ev_days["macro_imbalance"]:
        carb_share = rng.uniform(0.15, 0.25)            # low-carb, high-fat days
    fat_kcal = max(kcal - 4 * protein - carb_share * kcal, 0.05 * kcal)
    row["calories_kcal"] = int(round(kcal))
    row["protein_g"] = round(float(protein), 1)
    row["carbs_g"] = round(float(carb_share * kcal / 4), 1)
    row["fat_g"] = round(float(fat_kcal / 9), 1)


def _health_scores(rng, p: Person, rows: list[dict], ev_days: dict, by: dict) -> None:
    """A wellness score smoothed over days (apps do), from sleep, exercise and resting HR."""
    ex = [r["exercise_minutes"] for r in rows if r["exercise_minutes"] is not None]
    ex_ref = max(np.mean(ex) if ex else 30.0, 15.0)
    smooth = None
    drop_ev = by.get("health_score_drop")
    for d, r in enumerate(rows):
        if r["sleep_hours"] is None and r["exercise_minutes"] is None:
            r["health_score"] = None
            continue
        raw = 72.0 + rng.normal(0, 1.5)
        if r["sleep_hours"] is not None:
            raw += 6 * (1 - min(abs(r["sleep_hours"] - 7.3) / 2.5, 1.5)) + 0.1 * (r["sleep_quality"] - 70)
        if r["exercise_minutes"] is not None:
            raw += 6 * (min(r["exercise_minutes"] / ex_ref, 1.3) - 0.5)
        if r["resting_hr"] is not None:
            raw -= 0.6 * (r["resting_hr"] - (p.resting_hr - 2))
        smooth = raw if smooth is None else 0.5 * smooth + 0.5 * raw
        score = smooth
        if drop_ev:
            d0, d1 = drop_ev["d0"], drop_ev["d1"]
            if d0 <= d <= d1:
                score -= drop_ev["drop"] * (d - d0 + 1) / (d1 - d0 + 1)
            elif d1 < d <= d1 + 4:
                score -= drop_ev["drop"] * (1 - (d - d1) / 5)
        r["health_score"] = int(np.clip(round(score), 0, 100))
    if drop_ev:   # the event days must be scored for the rule to see them
        for d in (drop_ev["d0"] - 1, drop_ev["d1"]):
            if 0 <= d < len(rows) and rows[d]["health_score"] is None:
                rows[d]["health_score"] = rows[d - 1]["health_score"] if d else 75


# ----------------------------------------------------------------------------- population

def simulate_population(n_users: int, days: int, seed: int, start: datetime = datetime(2024, 1, 1),
                        config: SimConfig | None = None, feature_config: FeatureConfig | None = None,
                        progress: bool = False) -> Population:
    """Simulate `n_users` independent people; user i uses child i of SeedSequence(seed)."""
    if n_users < 1 or days < 2:
        raise ValueError("simulate_population needs n_users >= 1 and days >= 2")
    seeds = np.random.SeedSequence(seed).spawn(n_users)
    sims = []
    it = range(n_users)
    if progress:
        it = tqdm(it, desc="simulate", unit="user")
    for i in it:
        sims.append(simulate_user(f"u{i:04d}", days, seeds[i], start, None, config, feature_config))
    users = pd.DataFrame([person_dict(s.person) for s in sims])
    return Population(
        frame=pd.concat([s.frame for s in sims], ignore_index=True),
        users=users,
        daily=pd.concat([s.daily for s in sims], ignore_index=True),
        labels=pd.concat([s.labels for s in sims], ignore_index=True),
        people=[s.person for s in sims],
    )


def person_dict(p: Person) -> dict[str, Any]:
    d = asdict(p)
    d.pop("habits")
    return d


def frame_to_jsonl(frame: pd.DataFrame, config: FeatureConfig | None = None) -> str:
    """Records of one frame as JSONL text (Record shape; missing values omitted). Vectorised:
    pandas writes the feature objects, a regex drops nulls, f-strings add the envelope."""
    config = config or default_feature_config()
    if frame.empty:
        return ""
    feats = pd.DataFrame(index=frame.index)
    for name, spec in config.features.items():
        col = frame[name]
        if col.isna().all():
            continue
        if spec.is_numeric:
            feats[name] = col
        else:
            labels = np.array(list(spec.categories), dtype=object)[np.argsort(list(spec.categories.values()))]
            codes = col.fillna(-1).astype(int).to_numpy()
            feats[name] = np.where(codes >= 0, labels[np.maximum(codes, 0)], None)
    body = feats.to_json(orient="records", lines=True, double_precision=6)
    body = re.sub(r'"[a-z0-9_]+":null,?', "", body).replace(",}", "}")
    lines = body.rstrip("\n").split("\n")
    stamps = frame[TIME].to_numpy().astype("datetime64[s]").astype(str)
    users = frame[USER].to_numpy()
    # Static features are per person: encode each distinct combination once ("unknown" = not reported).
    codes = frame[[static_column(n) for n in config.static]].to_numpy(np.int64)
    combos, inverse = np.unique(codes, axis=0, return_inverse=True)
    texts = [json.dumps({n: config.static[n].label(int(c)) for n, c in zip(config.static, combo)
                         if config.static[n].label(int(c)) != config.static[n].default}, separators=(",", ":"))
             for combo in combos]
    static_json = [texts[i] for i in inverse.ravel()]
    return "".join(f'{{"timestamp":"{t}","deviceId":"{u}","features":{f},"static_features":{s}}}\n'
                   for t, u, f, s in zip(stamps, users, lines, static_json))


def write_population(pop: Population, out_dir: str | Path, config: FeatureConfig | None = None,
                     progress: bool = False) -> Path:
    """Write the section-6 layout: records/<user>.jsonl, users.jsonl, daily.jsonl, labels.csv."""
    out = Path(out_dir)
    (out / "records").mkdir(parents=True, exist_ok=True)
    groups = pop.frame.groupby(USER, sort=True)
    it = groups
    if progress:
        it = tqdm(groups, total=groups.ngroups, desc="write", unit="user")
    for uid, g in it:
        (out / "records" / f"{uid}.jsonl").write_text(frame_to_jsonl(g, config), encoding="utf-8")
    with open(out / "users.jsonl", "w", encoding="utf-8") as fh:
        for rec in pop.users.to_dict(orient="records"):
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    daily = pop.daily.astype(object).where(pop.daily.notna(), None)
    with open(out / "daily.jsonl", "w", encoding="utf-8") as fh:
        for rec in daily.to_dict(orient="records"):
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    labels_csv(pop.labels).to_csv(out / "labels.csv", index=False)
    return out


def labels_csv(labels: pd.DataFrame) -> pd.DataFrame:
    """Labels as written: ISO timestamps for wearable events, dates for daily ones."""
    out = labels.copy()
    daily = out["stream"] == "daily"
    for col in ("start", "end"):
        ts = pd.to_datetime(out[col])
        out[col] = np.where(daily, ts.dt.strftime("%Y-%m-%d"), ts.dt.strftime("%Y-%m-%dT%H:%M:%S"))
    return out


# ----------------------------------------------------------------------------- CLI

