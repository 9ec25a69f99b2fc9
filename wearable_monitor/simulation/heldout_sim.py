"""A second, independent simulator of wearable users: a held-out test population only.

Written from a physiology brief, without reading the project's main simulator, its
training/evaluation code or any detector threshold. Never train or tune on it: its only
job is to be a population the detectors have not been shaped around.

What one simulated person is (every number below is a literature range, not a tuned value):

- Resting HR 50-82 bpm; women ~3 bpm higher, fit people lower; day-to-day SD 1-3 bpm
  (Quer et al. 2020, PLoS ONE 15:e0227709, 92k Fitbit users). Sleeping HR ~8-15 % below
  awake rest, lowest in deep sleep, REM higher and more variable.
- HRV (5-min RMSSD) lognormal, falling with age (~2 %/year in ln units) (Umetani et al. 1998,
  JACC 31:593; Nunan et al. 2010, PACE 33:1407: resting RMSSD 19-75 ms), higher asleep.
  SDNN and pNN50 derived from RMSSD with their own noise.
- Respiration 12-18 /min at rest, ~1 /min lower asleep; SpO2 95-99 % awake, ~1 point lower
  asleep, reported as integers; distal skin temperature rises ~1-2 degC at sleep onset
  (Kraeuchi 2007, Sleep Med Rev 11:439).
- Sleep in 80-100 min cycles, deep sleep front-loaded and REM back-loaded (Carskadon & Dement,
  Principles and Practice of Sleep Medicine); later sleep on weekends ("social jet lag",
  Roenneberg et al. 2012, Curr Biol 22:939).
- Activity as a rest / light / walking Markov chain with a lagged HR response and
  post-exercise recovery; HRmax = 208 - 0.7 age (Tanaka et al. 2001, JACC 37:153).

Devices: `full` (HR, resting HR, HRV, respiration, SpO2, skin temperature, steps, distance,
calories, accelerometer, light, sleep stages, data quality), `mid` (HR, resting HR, HRV,
steps, sleep stages) and `hr_steps` (HR and steps only, Fitbit-intraday-like). Records are
5-minute, with a per-user clock offset and per-record jitter, and missing data the way people
produce it: watch off at night, charging gaps, whole days not worn, single lost samples.

Anomalies (labels `kind`):

- `desaturation`: sustained nocturnal hypoxaemia to SpO2 84-90 % for 20-150 min. Nocturnal
  desaturation in COPD is defined as SpO2 < 90 % for >= 5 min with a nadir <= 85 %
  (Fletcher et al. 1987, Chest 92:604; Lewis et al. 2009, Thorax 64:133); clusters of
  obstructive apnoeas look like a sustained lower 5-min mean (AASM scoring manual). Sleep only,
  SpO2 devices only; HR +2-6 bpm from arousals.
- `bradycardia`: HR 30-44 bpm (and >= 10 bpm under the person's usual for the state) for 20 min
  to 4 h, abrupt (AV block, sinus arrest with escape rhythm) or gradual onset; escape rhythms
  are 20-40 (ventricular) or 40-60 bpm (junctional) (Kusumoto et al. 2019, 2018 ACC/AHA/HRS
  bradycardia guideline, Circulation 140:e382). Steps suppressed (fatigue, presyncope).
- `acute`: tachycardia while inactive. Three flavours: paroxysmal SVT 150-200 bpm with abrupt
  onset/offset for 10-90 min (Page et al. 2016, ACC/AHA/HRS SVT guideline, Circulation
  133:e506); sinus tachycardia 105-135 bpm with a 10-30 min ramp, respiration +3-8 and HRV down
  for 30-180 min (fever, dehydration, panic: DSM-5 panic attacks peak within minutes; ~8-10 bpm
  per degC of fever, Karjalainen & Viitasalo 1986, Acta Med Scand 220:47); atrial fibrillation
  with fast ventricular response 110-150 bpm, irregular (high beat-to-beat spread, so RMSSD *up*),
  30-240 min (January et al. 2014, AHA/ACC/HRS AF guideline).
- `illness`: a viral illness lasting 4-12 days with a 1-3 day pre-symptomatic ramp: resting and
  nightly HR +3-10 bpm, RMSSD -10..-35 %, respiration +0.5-2.5 /min, skin temperature
  +0.3-1.2 degC (evening-weighted), steps -30..-70 %, sleep +0.5-2 h and naps (Mishra et al.
  2020, Nat Biomed Eng 4:1208; Radin et al. 2020, Lancet Digit Health 2:e85; Natarajan et al.
  2020, npj Digit Med 3:156; Quer et al. 2021, Nat Med 27:73; Alavi et al. 2022, Nat Med 28:175;
  Mason et al. 2022, Sci Rep 12:3463).

Confounders (labelled `confounder_*`, NOT anomalies; for analysis only):

- `confounder_exercise`: hard runs/hikes at 75-92 % HRmax, clipped to 140-180 bpm, WITH
  650-850 steps/5 min, 25-90 min, then an EPOC tail of +5-12 bpm (tau 20-45 min) and lower HRV
  for hours (Stanley et al. 2013, Sports Med 43:1259).
- `confounder_alcohol`: one night, nightly HR +3-8 bpm front-loaded, RMSSD -15..-40 %, less
  early REM (Pietilae et al. 2018, JMIR Ment Health 5:e23).
- `confounder_travel`: a 3-11 h flight (steps ~0, cabin SpO2 -2..-5, Humphreys et al. 2005,
  Anaesthesia 60:458) then jet lag: sleep and circadian phase shifted 3-9 h, re-entraining
  ~1 h/day east, ~1.5 h/day west (Waterhouse et al. 2007, Lancet 369:1117). The local clock jump
  is hidden inside the flight: the record grid stays a continuous local wall clock.
- `confounder_altitude`: 2-5 days at 2000-3000 m: SpO2 -2..-6 (one more at night), HR +3-8 bpm
  fading with acclimatisation, respiration +1-2 (Luks et al. 2017, Adv Physiol Educ 41:355).
- `confounder_artefact`: one isolated 5-min record with an absurd HR (185-215 or 28-38) at rest.

Events and confounders never overlap within a user (anomalies keep 12 h apart from anything).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from ..data.records import records_to_frame

EPOCH_MIN = 5
PER_DAY = 24 * 60 // EPOCH_MIN  # 288 five-minute epochs per day
ANOMALIES = ("acute", "bradycardia", "desaturation", "illness")
CONFOUNDERS = ("exercise", "alcohol", "travel", "altitude", "artefact")

# What each device profile measures (names must exist in configs/features_config.json).
DEVICE_FEATURES = {
    "full": ("hr", "hr_resting", "hrv_rmssd", "hrv_sdnn", "hrv_pnn50", "resp_rate", "spo2", "skin_temp",
             "steps", "distance", "calories", "accel_mag", "light", "sleep_state", "data_quality"),
    "mid": ("hr", "hr_resting", "hrv_rmssd", "steps", "sleep_state"),
    "hr_steps": ("hr", "steps"),
}
# stage codes inside the simulator; -1 = out of bed, 0 = awake in bed
OUT_OF_BED, IN_BED_AWAKE, LIGHT, DEEP, REM = -1, 0, 1, 2, 3
STAGE_LABEL = {OUT_OF_BED: "awake", IN_BED_AWAKE: "awake", LIGHT: "light", DEEP: "deep", REM: "rem"}
# activity states
REST, LIGHT_ACT, WALK, EXERCISE = 0, 1, 2, 3


@dataclass
class HeldoutSimConfig:
    n_users: int = 40
    days: int = 30
    seed: int = 0
    start: str = "2025-01-06"  # a Monday in January: no daylight-saving change inside 30 days
    device_mix: dict = field(default_factory=lambda: {"full": 0.45, "mid": 0.30, "hr_steps": 0.25})
    # anomalies: Poisson mean per user per 30 days, capped; weights pick the kind
    events_per_month: float = 1.0
    max_events: int = 3
    event_weights: dict = field(default_factory=lambda: {"acute": 1.0, "bradycardia": 1.0,
                                                         "desaturation": 2.0, "illness": 1.0})
    # confounders per user per 30 days (exercise comes from the person's habit instead)
    alcohol_per_month: float = 0.7
    travel_per_month: float = 0.12
    altitude_per_month: float = 0.10
    artefacts_per_month: float = 1.5
    exercise_per_week: dict = field(default_factory=lambda: {"low": 0.3, "moderate": 1.5, "high": 3.5})
    # wear habits
    night_off_fraction: float = 0.12     # people who take the watch off at night
    charge_per_day: dict = field(default_factory=lambda: {"full": 0.8, "mid": 0.3, "hr_steps": 0.15})
    max_missing_day_prob: float = 0.05
    sample_loss: float = 0.015           # single lost 5-min samples
    min_event_coverage: float = 0.75     # an event is only placed where the device is mostly worn


@dataclass
class HeldoutPopulation:
    records: list[dict]
    labels: pd.DataFrame   # user_id, start, end, kind
    users: pd.DataFrame    # true per-person physiology and habits
    events: pd.DataFrame   # labels plus subtype and amplitudes (analysis only)
    config: HeldoutSimConfig

    def frame(self, feature_config: FeatureConfig | None = None) -> pd.DataFrame:
        return records_to_frame(self.records, feature_config or default_feature_config())


# ---------------------------------------------------------------------------- person

def _age_group(age: float) -> str:
    for limit, label in ((30, "18-29"), (40, "30-39"), (50, "40-49"), (60, "50-59")):
        if age < limit:
            return label
    return "60+"


def draw_person(rng: np.random.Generator, cfg: HeldoutSimConfig, uid: str) -> dict:
    devices = list(cfg.device_mix)
    probs = np.array([cfg.device_mix[d] for d in devices], dtype=float)
    device = devices[rng.choice(len(devices), p=probs / probs.sum())]
    age = float(rng.uniform(18, 78))
    sex = "female" if rng.random() < 0.5 else "male"
    habit = ("low", "moderate", "high")[rng.choice(3, p=[0.35, 0.45, 0.20])]
    fit = {"low": -1.0, "moderate": 0.0, "high": 1.0}[habit]
    rhr = float(np.clip(rng.normal(65, 6.5) + 3.0 * (sex == "female") - 4.0 * fit, 50, 82))
    ln_rmssd = math.log(42) - 0.02 * (age - 40) + 0.15 * fit + rng.normal(0, 0.3)
    person = dict(
        user_id=uid, device=device, age=round(age, 1), age_group=_age_group(age), sex=sex, exercise=habit,
        rhr=round(rhr, 1),
        sleep_dip=float(rng.uniform(0.08, 0.15)),          # sleeping HR fraction below awake rest
        hr_max=round(208 - 0.7 * age, 1),
        rmssd=round(float(np.clip(math.exp(ln_rmssd), 10, 120)), 1),   # awake, at rest
        resp=round(float(np.clip(rng.normal(15, 1.4), 12, 18)), 1),
        spo2=round(float(np.clip(rng.normal(97.3, 0.9) - 0.02 * (age - 40), 95, 99)), 1),
        skin_sleep=round(float(rng.normal(34.4, 0.45)), 2),
        skin_drop_awake=float(rng.uniform(1.0, 2.2)),
        wake_h=float(np.clip(rng.normal(6.9, 0.6) + 0.01 * (40 - age), 5.3, 9.0)),
        sleep_h=float(np.clip(rng.normal(7.3, 0.55), 5.5, 9.0)),
        activity=float(rng.lognormal(0, 0.25) * {"low": 0.7, "moderate": 1.0, "high": 1.3}[habit]),
        hr_gain=float(rng.uniform(0.8, 1.25)),              # HR rise per unit of walking, person scale
        stride_m=float(rng.uniform(0.65, 0.8)),
        noise=float(rng.uniform(0.8, 1.5)),                 # optical sensor fit / skin: noise scale
        night_off=bool(rng.random() < cfg.night_off_fraction * (0.5 if device == "full" else 1.3)),
        charge_hour=float(rng.choice([7.5, 19.5, 21.0]) + rng.uniform(-0.5, 0.5)),
        charge_prob=cfg.charge_per_day[device],
        missing_day_prob=float(rng.uniform(0, cfg.max_missing_day_prob)),
        clock_offset_s=int(rng.integers(0, 45)),
        static_known=bool(rng.random() < 0.9),
    )
    return person


# ---------------------------------------------------------------------------- planning

class Timeline:
    """Labelled intervals of one user (epoch indices, end exclusive); refuses overlaps."""

    def __init__(self, n: int):
        self.n, self.items = n, []

    def free(self, s: int, e: int, kind: str) -> bool:
        if s < 0 or e > self.n or e <= s:
            return False
        return all(e + m <= a or s >= b + m for a, b, other, _ in self.items
                   for m in [max(_margin(kind), _margin(other))])

    def add(self, s: int, e: int, kind: str, info: dict | None = None):
        self.items.append((s, e, kind, info or {}))


def _margin(kind: str) -> int:
    """Epochs kept clear around an interval: 12 h around anomalies, 2 h between confounders."""
    return 12 * 12 if kind in ANOMALIES else 2 * 12


def _try_place(tl: Timeline, kind: str, candidates, worn: np.ndarray | None, min_cov: float) -> tuple | None:
    """First candidate (s, e, info) that is free and (if `worn` is given) mostly observed."""
    for s, e, info in candidates:
        if not tl.free(s, e, kind):
            continue
        if worn is not None and worn[s:e].mean() < min_cov:
            continue
        tl.add(s, e, kind, info)
        return s, e, info
    return None


def plan_multiday(rng, person, cfg, tl: Timeline, kinds: list[str]) -> dict:
    """Illness, travel and altitude: placed in days first because they change the sleep schedule."""
    days, plan = cfg.days, {"illness": [], "travel": [], "altitude": []}
    if "illness" in kinds and days >= 10:
        for _ in range(30):
            dur = float(rng.uniform(4, 12))
            start_day = float(rng.uniform(4, max(4.01, days - dur - 0.5)))
            s = int(start_day * PER_DAY)
            e = min(tl.n, s + int(dur * PER_DAY))
            info = dict(pre_days=float(rng.uniform(1, 3)), plateau_days=float(rng.uniform(1, 3)),
                        hr=float(rng.uniform(3, 10)), hrv_drop=float(rng.uniform(0.10, 0.35)),
                        resp=float(rng.uniform(0.5, 2.5)), temp=float(rng.uniform(0.3, 1.2)),
                        act_drop=float(rng.uniform(0.3, 0.7)), extra_sleep_h=float(rng.uniform(0.5, 2.0)))
            if _try_place(tl, "illness", [(s, e, info)], None, 0):
                plan["illness"].append((s, e, info))
                break
    if rng.random() < cfg.travel_per_month * days / 30 and days >= 6:
        for _ in range(20):
            shift = float(rng.integers(3, 10)) * (1 if rng.random() < 0.5 else -1)  # + = eastward
            rate = 1.0 if shift > 0 else 1.5                                          # h re-entrained per day
            dep = int(rng.integers(0, days - 3)) * PER_DAY + int(rng.uniform(8, 16) * 12)
            flight = int(rng.uniform(3, 11) * 12)
            e = min(tl.n, dep + flight + int(math.ceil(abs(shift) / rate)) * PER_DAY)
            info = dict(shift_h=shift, rate_h_per_day=rate, flight_epochs=flight, cabin_spo2=float(rng.uniform(2, 5)))
            if _try_place(tl, "confounder_travel", [(dep, e, info)], None, 0):
                plan["travel"].append((dep, e, info))
                break
    if rng.random() < cfg.altitude_per_month * days / 30 and days >= 6:
        for _ in range(20):
            s = int(rng.integers(0, days - 2)) * PER_DAY + int(rng.uniform(10, 16) * 12)
            e = min(tl.n, s + int(rng.uniform(2, 5) * PER_DAY))
            info = dict(spo2=float(rng.uniform(2, 6)), hr=float(rng.uniform(3, 8)), resp=float(rng.uniform(1, 2)))
            if _try_place(tl, "confounder_altitude", [(s, e, info)], None, 0):
                plan["altitude"].append((s, e, info))
                break
    return plan


def illness_profile(n: int, plan: dict) -> np.ndarray:
    """0..1 intensity per epoch: cosine ramp over the pre-symptomatic days, plateau, slow recovery."""
    prof = np.zeros(n)
    for s, e, info in plan["illness"]:
        t = (np.arange(s, e) - s) / PER_DAY
        up = info["pre_days"] + 1.0                       # peak about a day after symptoms start
        flat_end = min(up + info["plateau_days"], (e - s) / PER_DAY - 0.5)
        total = (e - s) / PER_DAY
        rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / up, 0, 1))
        fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - flat_end) / max(total - flat_end, 0.5), 0, 1))
        prof[s:e] = np.where(t < up, rise, np.where(t < flat_end, 1.0, fall))
    return prof


def travel_phase_h(n: int, plan: dict) -> np.ndarray:
    """Body clock minus local clock (hours) per epoch: jumps at landing, decays ~1-1.5 h/day."""
    phase = np.zeros(n)
    for s, e, info in plan["travel"]:
        land = s + info["flight_epochs"]
        t_days = (np.arange(land, e) - land) / PER_DAY
        left = np.maximum(abs(info["shift_h"]) - info["rate_h_per_day"] * t_days, 0)
        phase[land:e] = -np.sign(info["shift_h"]) * left  # flying east: body clock behind local clock
    return phase


# ---------------------------------------------------------------------------- sleep

def _night_stages(rng, length: int, alcohol: bool) -> np.ndarray:
    """Stage per epoch of one sleep period: 80-100 min cycles, deep early, REM late, brief awakenings."""
    k = np.arange(length)
    cycle = int(rng.integers(16, 21))
    j, pos = k // cycle, (k % cycle) / cycle
    deep_frac = np.clip(0.45 - 0.14 * j, 0.0, None)
    rem_frac = np.clip(0.10 + 0.08 * j, None, 0.45)
    if alcohol:  # alcohol suppresses REM in the first half of the night
        rem_frac = np.where(k < length / 2, rem_frac * 0.3, rem_frac)
    stage = np.full(length, LIGHT)
    stage[(pos >= 0.2) & (pos < 0.2 + deep_frac)] = DEEP
    stage[pos >= 1 - rem_frac] = REM
    flip = rng.random(length) < 0.08
    stage[flip] = LIGHT
    stage[rng.random(length) < (0.035 + 0.04 * alcohol)] = IN_BED_AWAKE
    stage[: int(rng.integers(1, 4))] = IN_BED_AWAKE   # sleep latency
    return stage


def build_sleep(rng, person, cfg, plan, illness: np.ndarray, phase: np.ndarray, start: pd.Timestamp):
    """Stage array (-1 out of bed) and the list of (onset, wake) epochs per night."""
    n = cfg.days * PER_DAY
    stage = np.full(n, OUT_OF_BED)
    nights = []
    for night in range(-1, cfg.days):
        wake_day = start + pd.Timedelta(days=night + 1)
        weekend = wake_day.day_of_week >= 5            # Saturday / Sunday mornings
        wake_h = person["wake_h"] + (rng.uniform(0.5, 2.0) if weekend else 0) + rng.normal(0, 0.35)
        dur_h = person["sleep_h"] + rng.normal(0, 0.45)
        if not weekend and rng.random() < 0.2:      # the odd short work night
            dur_h -= rng.uniform(0.5, 1.5)
        wake = (night + 1) * PER_DAY + int(wake_h * 12)
        ill = illness[min(max(wake - 1, 0), n - 1)]
        dur_h += ill * max((info["extra_sleep_h"] for *_, info in plan["illness"]), default=0)
        # jet lag: local sleep drifts towards the body clock, partly held by alarms and daylight
        ph = phase[min(max(wake - 1, 0), n - 1)]
        if ph != 0:  # ph < 0 after flying east (sleep later, alarm holds the wake time), > 0 after west
            onset_shift, wake_shift = (-0.5 * ph, -0.25 * ph) if ph < 0 else (-0.4 * ph, -0.5 * ph)
            wake += int(wake_shift * 12)
            dur_h += wake_shift - onset_shift
        onset = wake - int(max(dur_h, 3.5) * 12)
        s, e = max(onset, 0), min(wake, n)
        if e - s < 6:
            continue
        stage[s:e] = _night_stages(rng, e - s, alcohol=False)
        nights.append((s, e))
        # naps on sick days
        mid = (night + 1) * PER_DAY + 14 * 12
        if mid < n and illness[mid] > 0.5 and rng.random() < 0.6:
            ns, ne = mid, min(n, mid + int(rng.uniform(1, 2) * 12))
            stage[ns:ne] = np.where(rng.random(ne - ns) < 0.7, LIGHT, IN_BED_AWAKE)
    return stage, nights


# ---------------------------------------------------------------------------- wear

def build_wear(rng, person, cfg, nights) -> np.ndarray:
    n = cfg.days * PER_DAY
    worn = np.ones(n, dtype=bool)
    for d in range(cfg.days):
        if rng.random() < person["missing_day_prob"]:
            worn[d * PER_DAY:(d + 1) * PER_DAY] = False
        if rng.random() < person["charge_prob"]:
            s = d * PER_DAY + int((person["charge_hour"] + rng.normal(0, 0.4)) * 12)
            worn[max(s, 0):min(n, s + int(rng.uniform(30, 90) / EPOCH_MIN))] = False
    if person["night_off"]:
        p_off = rng.uniform(0.6, 1.0)
        for s, e in nights:
            if rng.random() < p_off:
                worn[max(0, s - 3):min(n, e + 3)] = False
    worn &= rng.random(n) >= cfg.sample_loss
    return worn


# ---------------------------------------------------------------------------- short events

def _day_slot(rng, day: int, h0: float, h1: float) -> int:
    """An epoch on `day` between clock hours h0 and h1."""
    return day * PER_DAY + int(rng.uniform(h0, h1) * 12)


def plan_short(rng, person, cfg, tl: Timeline, kinds: list[str], stage, nights, worn) -> dict:
    days = cfg.days
    awake_rest = stage == OUT_OF_BED
    plan = {k: [] for k in ("desaturation", "bradycardia", "acute", "exercise", "alcohol")}
    cov = cfg.min_event_coverage

    def night_candidates(lo_min, hi_min, tries=40):
        for _ in range(tries):
            s0, e0 = nights[int(rng.integers(len(nights)))]
            dur = int(rng.uniform(lo_min, hi_min) / EPOCH_MIN)
            lo, hi = s0 + 12, e0 - 6 - dur       # an hour after sleep onset, before waking
            if hi > lo:
                yield int(rng.integers(lo, hi)), dur

    for kind in kinds:
        if kind == "desaturation":
            cands = ((s, s + d, dict(nadir=float(rng.uniform(84, 90)), ramp=int(rng.integers(1, 4)),
                                     hr=float(rng.uniform(2, 6)))) for s, d in night_candidates(20, 150))
            got = _try_place(tl, kind, cands, worn, cov)
        elif kind == "bradycardia":
            def brady():
                for _ in range(40):
                    dur = int(math.exp(rng.uniform(math.log(20), math.log(240))) / EPOCH_MIN)
                    if rng.random() < 0.5 and nights:
                        s0, e0 = nights[int(rng.integers(len(nights)))]
                        s = int(rng.integers(s0, max(s0 + 1, e0 - dur)))
                    else:
                        s = _day_slot(rng, int(rng.integers(days)), 8, 21)
                    yield s, s + dur, dict(level=float(rng.uniform(30, 44)), abrupt=bool(rng.random() < 0.5),
                                           ramp=int(rng.integers(2, 7)))
            got = _try_place(tl, kind, brady(), worn, cov)
        elif kind == "acute":
            def acute():
                for _ in range(40):
                    sub = ("svt", "sinus", "af")[rng.choice(3, p=[0.35, 0.4, 0.25])]
                    lo, hi, level, ramp = {"svt": (10, 90, (150, 200), (0, 1)), "sinus": (30, 180, (105, 135), (2, 7)),
                                           "af": (30, 240, (110, 150), (0, 3))}[sub]
                    dur = int(rng.uniform(lo, hi) / EPOCH_MIN)
                    s = _day_slot(rng, int(rng.integers(days)), 8, 22)
                    if not awake_rest[s:s + dur].all():
                        continue
                    yield s, s + dur, dict(subtype=sub, level=float(rng.uniform(*level)),
                                           ramp=int(rng.integers(ramp[0], ramp[1] + 1)))
            got = _try_place(tl, kind, acute(), worn, cov)
        else:
            continue
        if got:
            plan[kind].append(got)

    # hard exercise sessions: evenings / early mornings on weekdays, late mornings on weekends
    rate = cfg.exercise_per_week[person["exercise"]] * days / 7
    for _ in range(int(rng.poisson(rate))):
        def sessions():
            for _ in range(15):
                day = int(rng.integers(days))
                weekend = (pd.Timestamp(cfg.start) + pd.Timedelta(days=day)).day_of_week >= 5
                h0, h1 = (9, 12) if weekend else ((6.5, 7.5) if rng.random() < 0.3 else (17.5, 20))
                dur = int(rng.uniform(25, 90) / EPOCH_MIN)
                s = _day_slot(rng, day, h0, h1)
                if awake_rest[s:s + dur].all():
                    yield s, s + dur, dict(target=float(np.clip(rng.uniform(0.75, 0.92) * person["hr_max"], 140, 180)),
                                           steps=float(rng.uniform(650, 850)), epoc=float(rng.uniform(5, 12)),
                                           tau_min=float(rng.uniform(20, 45)), hrv_drop=float(rng.uniform(0.1, 0.3)))
        got = _try_place(tl, "confounder_exercise", sessions(), worn, 0.5)
        if got:
            plan["exercise"].append(got)

    # alcohol nights: Friday and Saturday more likely
    for _ in range(int(rng.poisson(cfg.alcohol_per_month * days / 30))):
        order = sorted(range(len(nights)), key=lambda i: -rng.random() * (3 if _is_fri_sat(cfg, nights[i][0]) else 1))
        cands = ((nights[i][0], nights[i][1], dict(hr=float(rng.uniform(3, 8)), hrv_drop=float(rng.uniform(0.15, 0.4))))
                 for i in order)
        got = _try_place(tl, "confounder_alcohol", cands, None, 0)
        if got:
            plan["alcohol"].append(got)
    return plan


def _is_fri_sat(cfg, epoch: int) -> bool:
    return (pd.Timestamp(cfg.start) + pd.Timedelta(minutes=EPOCH_MIN * epoch)).day_of_week in (4, 5)


def _envelope(n_ep: int, ramp: int) -> np.ndarray:
    """Trapezoid 0..1 over an event: `ramp` epochs up and down (0 = abrupt), at most a quarter each."""
    w = np.ones(n_ep)
    ramp = min(ramp, n_ep // 4)
    if ramp > 0:
        r = np.arange(1, ramp + 1) / (ramp + 1)
        w[:ramp], w[-ramp:] = r, r[::-1]
    return w


# ---------------------------------------------------------------------------- activity

def build_activity(rng, person, cfg, stage, illness, plan_short_, plan_multi, start) -> tuple[np.ndarray, np.ndarray]:
    """Activity state and steps per epoch (out of bed only)."""
    n = stage.size
    hours = (np.arange(n) % PER_DAY) / 12
    dow = np.asarray((start + pd.to_timedelta(np.arange(n) // PER_DAY, unit="D")).day_of_week)
    weekend = dow >= 5
    # how likely a resting person starts moving, by hour: desk hours quiet, lunch and evening busier
    move = np.where(weekend, np.where((hours >= 10) & (hours < 18), 1.2, 0.8),
                    np.select([(hours >= 9) & (hours < 12), (hours >= 12) & (hours < 13.5), (hours >= 13.5) & (hours < 17)],
                              [0.55, 1.6, 0.55], 1.0))
    move = move * person["activity"] * (1 - illness * max((i["act_drop"] for *_, i in plan_multi["illness"]), default=0))
    u, u2 = rng.random(n), rng.random(n)
    state = np.zeros(n, dtype=np.int8)
    s = REST
    for i in range(n):
        if stage[i] != OUT_OF_BED:
            s = REST
        elif s == REST:
            p_go = 0.06 * move[i]
            s = WALK if u[i] < 0.35 * p_go else (LIGHT_ACT if u[i] < p_go else REST)
        elif s == LIGHT_ACT:
            s = REST if u[i] < 0.40 else (WALK if u[i] < 0.40 + 0.12 * move[i] else LIGHT_ACT)
        else:  # walking bouts of ~10-20 min
            s = REST if u[i] < 0.30 else (LIGHT_ACT if u[i] < 0.45 else WALK)
        state[i] = s
    steps = np.select([state == REST, state == LIGHT_ACT, state == WALK],
                      [np.where(u2 < 0.7, 0, rng.uniform(1, 30, n)), rng.uniform(30, 250, n), rng.uniform(350, 650, n)], 0)
    for s_, e_, info in plan_short_["exercise"]:
        state[s_:e_] = EXERCISE
        steps[s_:e_] = info["steps"] * rng.uniform(0.9, 1.1, e_ - s_)
    for s_, e_, info in plan_multi["travel"]:            # sitting in a plane
        f = s_ + info["flight_epochs"]
        state[s_:f] = REST
        steps[s_:f] = np.where(rng.random(f - s_) < 0.85, 0, rng.uniform(5, 60, f - s_))
    for kind in ("acute", "bradycardia"):               # symptomatic people sit or lie down
        for s_, e_, _ in plan_short_[kind]:
            state[s_:e_] = REST
            steps[s_:e_] = np.where(rng.random(e_ - s_) < 0.8, 0, rng.uniform(1, 15, e_ - s_))
    return state, np.round(steps)


# ---------------------------------------------------------------------------- physiology

def _ar1(rng, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) noise with stationary SD `sd` (physiological wander, not sensor noise)."""
    e = rng.normal(0, sd * math.sqrt(1 - phi ** 2), n)
    out = np.empty(n)
    acc = rng.normal(0, sd)
    for i in range(n):
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def _daily(rng, days: int, sd: float, phi: float = 0.5) -> np.ndarray:
    """A day-level offset (day-to-day variation), repeated over the day's epochs."""
    return np.repeat(_ar1(rng, days, phi, sd), PER_DAY)


def build_signals(rng, person, cfg, stage, state, steps, illness, phase, plans) -> dict:
    n = stage.size
    asleep = stage >= IN_BED_AWAKE
    clock_h = (np.arange(n) % PER_DAY) / 12
    body_h = (clock_h + phase) % 24
    circ = np.cos(2 * np.pi * (body_h - 16) / 24)           # peak late afternoon, trough early morning

    # activity HR increment, lagged: quick rise, slower fall (5-min means)
    gain = person["hr_gain"]
    target = np.select([state == LIGHT_ACT, state == WALK], [rng.uniform(6, 14, n) * gain, rng.uniform(18, 32, n) * gain], 0.0)
    awake_rest_hr = person["rhr"] + 3
    for s, e, info in plans["short"]["exercise"]:
        target[s:e] = info["target"] - awake_rest_hr + rng.normal(0, 3, e - s)
    inc = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc += (0.75 if target[i] > acc else 0.45) * (target[i] - acc)
        inc[i] = acc
    t = np.arange(n)
    for s, e, info in plans["short"]["exercise"]:   # EPOC: elevated HR after hard exercise
        tail = t[e:e + 48] - e
        inc[e:e + 48] += info["epoc"] * np.exp(-tail * EPOCH_MIN / info["tau_min"])

    # heart rate
    sleep_hr = person["rhr"] * (1 - person["sleep_dip"])
    stage_eff = np.select([stage == DEEP, stage == REM, stage == IN_BED_AWAKE, stage == LIGHT], [-2.5, 2.5, 4.0, 0.0], 0.0)
    night_pos = np.zeros(n)   # first hour of sleep higher, settling down
    for s, e in plans["nights"]:
        night_pos[s:e] = np.exp(-np.arange(e - s) / 12.0)
    day_hr = _daily(rng, cfg.days, sd=float(rng.uniform(1.0, 2.5)))
    hr = np.where(asleep, sleep_hr + stage_eff + 3.0 * night_pos + rng.normal(0, 1.5, n) * (stage == REM),
                  awake_rest_hr + 2.5 * circ + inc)
    hr = hr + day_hr + _ar1(rng, n, 0.6, 1.8)

    # HRV: ln RMSSD, higher asleep (deep most), lower when HR is up relative to the person's rest
    ln_rmssd = (math.log(person["rmssd"]) + np.select([stage == DEEP, stage == LIGHT, stage == REM], [0.35, 0.2, 0.05], 0.0)
                - 0.03 * np.clip(hr - np.where(asleep, sleep_hr, awake_rest_hr), -10, 60)
                + _daily(rng, cfg.days, 0.12) + _ar1(rng, n, 0.5, 0.12))
    for s, e, info in plans["short"]["exercise"]:
        tail = t[e:e + 72] - e
        ln_rmssd[e:e + 72] += math.log(1 - info["hrv_drop"]) * np.exp(-tail / 36)

    resp = (person["resp"] - 1.0 * asleep + np.select([state == LIGHT_ACT, state == WALK, state == EXERCISE], [2, 5, 14], 0)
            + 0.8 * rng.normal(0, 1, n) * (stage == REM) + _daily(rng, cfg.days, 0.3) + _ar1(rng, n, 0.5, 0.4))
    spo2 = person["spo2"] - 0.8 * asleep + _ar1(rng, n, 0.6, 0.5)
    skin = (person["skin_sleep"] - person["skin_drop_awake"] * ~asleep - 0.6 * (state >= WALK) + 0.3 * circ
            + _daily(rng, cfg.days, 0.2) + _ar1(rng, n, 0.8, 0.25))
    sig = dict(hr=hr, ln_rmssd=ln_rmssd, resp=resp, spo2=spo2, skin=skin)
    apply_events(rng, person, sig, stage, illness, plans)
    return sig


def apply_events(rng, person, sig, stage, illness, plans):
    """Each labelled event / confounder changes the signals inside its interval."""
    hr, ln_rmssd, resp, spo2, skin = sig["hr"], sig["ln_rmssd"], sig["resp"], sig["spo2"], sig["skin"]
    n = hr.size
    asleep = stage >= IN_BED_AWAKE
    clock_h = (np.arange(n) % PER_DAY) / 12
    # illness: all channels move together with the profile; fever peaks in the evening
    for *_, info in plans["multi"]["illness"]:
        p = illness
        hr += info["hr"] * p
        ln_rmssd += math.log(1 - info["hrv_drop"]) * p
        resp += info["resp"] * p
        skin += info["temp"] * p * (1 + 0.3 * np.cos(2 * np.pi * (clock_h - 19) / 24))
    for s, e, info in plans["multi"]["travel"]:
        f = s + info["flight_epochs"]
        spo2[s:f] -= info["cabin_spo2"]
        hr[s:f] += 3
    for s, e, info in plans["multi"]["altitude"]:
        days_in = (np.arange(s, e) - s) / PER_DAY
        spo2[s:e] -= info["spo2"] + 1.0 * asleep[s:e]
        hr[s:e] += info["hr"] * np.exp(-days_in / 3)         # acclimatisation over days
        resp[s:e] += info["resp"]
    for s, e, info in plans["short"]["alcohol"]:
        k = np.arange(e - s) / max(e - s, 1)
        hr[s:e] += info["hr"] * np.clip(1.3 - k, 0.3, 1.0)    # front-loaded in the night
        ln_rmssd[s:e] += math.log(1 - info["hrv_drop"])
        resp[s:e] += 0.5
        skin[s:e] += 0.2
    for s, e, info in plans["short"]["desaturation"]:
        w = _envelope(e - s, info["ramp"])
        spo2[s:e] = (1 - w) * spo2[s:e] + w * (info["nadir"] + rng.normal(0, 1.2, e - s))
        hr[s:e] += w * info["hr"]
        resp[s:e] += w * rng.normal(0, 1.5, e - s)
    for s, e, info in plans["short"]["bradycardia"]:
        usual = np.median(hr[s:e])
        level = min(info["level"], usual - 10)
        w = _envelope(e - s, 0 if info["abrupt"] else info["ramp"])
        hr[s:e] = (1 - w) * hr[s:e] + w * (level + rng.normal(0, 1.0, e - s))   # escape rhythms are regular
        ln_rmssd[s:e] += w * rng.normal(0.2, 0.4, e - s)
    for s, e, info in plans["short"]["acute"]:
        sub = info["subtype"]
        w = _envelope(e - s, info["ramp"])
        jitter = rng.normal(0, 8 if sub == "af" else 2, e - s)
        hr[s:e] = (1 - w) * hr[s:e] + w * (info["level"] + jitter)
        if sub == "af":
            ln_rmssd[s:e] += w * 0.6     # irregular RR intervals inflate RMSSD
        else:
            ln_rmssd[s:e] -= w * rng.uniform(0.5, 1.0)
        if sub == "sinus":
            resp[s:e] += w * rng.uniform(3, 8)


# ---------------------------------------------------------------------------- records

def _artefacts(rng, cfg, tl: Timeline, stage, state, worn) -> list[int]:
    """Isolated single samples at rest, outside every other label, where the device is worn."""
    n = stage.size
    out = []
    for _ in range(int(rng.poisson(cfg.artefacts_per_month * cfg.days / 30))):
        for _ in range(40):
            i = int(rng.integers(1, n - 1))
            if state[i] == REST and worn[i] and tl.free(i, i + 1, "confounder_artefact"):
                tl.add(i, i + 1, "confounder_artefact", {})
                out.append(i)
                break
    return out


def daily_resting_hr(hr: np.ndarray, observed: np.ndarray, stage: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Device-style resting HR: from the wake time on, the 15th percentile of the last 24 h at rest."""
    n = hr.size
    out = np.full(n, np.nan)
    rest = observed & (state == REST)
    wake_points = np.flatnonzero((stage[:-1] >= IN_BED_AWAKE) & (stage[1:] == OUT_OF_BED)) + 1
    bounds = list(wake_points) + [n]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < 12 * 6:            # naps: keep the morning value
            continue
        lo = max(0, a - PER_DAY)
        vals = hr[lo:a][rest[lo:a]]
        if vals.size >= 24:
            out[a:] = np.percentile(vals, 15)
    return out


def emit_records(rng, person, cfg, sig, stage, state, steps, worn, artefact_idx, start) -> list[dict]:
    n = stage.size
    feats = DEVICE_FEATURES[person["device"]]
    moving = state >= LIGHT_ACT
    asleep = stage >= IN_BED_AWAKE
    noise = person["noise"]
    hr = sig["hr"] + rng.normal(0, 1, n) * noise * np.where(moving, 3.0, 1.0)
    hr += np.where(moving & (rng.random(n) < 0.01), rng.normal(0, 15, n), 0)   # cadence lock-in, mild
    art_hi = rng.random(len(artefact_idx)) < 0.6
    for i, hi in zip(artefact_idx, art_hi):
        # a low glitch must still be absurd for this person: 20+ bpm under the neighbouring samples
        low_ok = min(hr[i - 1], hr[i + 1]) - 20 >= 28
        hr[i] = rng.uniform(185, 215) if hi or not low_ok else rng.uniform(28, min(38, min(hr[i - 1], hr[i + 1]) - 20))
    hr = np.clip(hr, 26, 228)
    cols: dict[str, np.ndarray] = {"hr": np.round(hr, 1), "steps": steps.astype(float)}
    still = ~moving
    if "hr_resting" in feats:
        cols["hr_resting"] = np.round(np.clip(daily_resting_hr(hr, worn, stage, state) + rng.normal(0, 0.5), 30, 190), 1)
    if "hrv_rmssd" in feats:
        ln = sig["ln_rmssd"] + rng.normal(0, 0.2, n)                  # 5-min RMSSD is a noisy estimate
        rmssd = np.clip(np.exp(ln), 3, 250)
        # HRV only when still; the mid device mostly at night
        p = np.where(asleep, 0.95, 0.6 if person["device"] == "full" else 0.15)
        cols["hrv_rmssd"] = np.where(still & (rng.random(n) < p), np.round(rmssd, 1), np.nan)
        if "hrv_sdnn" in feats:
            sdnn = rmssd * rng.uniform(1.1, 1.5, n) + rng.normal(0, 3, n)
            cols["hrv_sdnn"] = np.where(np.isnan(cols["hrv_rmssd"]), np.nan, np.round(np.clip(sdnn, 2, 390), 1))
            pnn = 100 / (1 + np.exp(-(np.log(rmssd) - math.log(55)) / 0.3)) + rng.normal(0, 3, n)
            cols["hrv_pnn50"] = np.where(np.isnan(cols["hrv_rmssd"]), np.nan, np.round(np.clip(pnn, 0, 100), 1))
    if "resp_rate" in feats:
        resp = np.clip(sig["resp"] + rng.normal(0, 0.6, n), 5, 58)
        cols["resp_rate"] = np.where(still & (rng.random(n) < np.where(asleep, 0.9, 0.4)), np.round(resp, 1), np.nan)
    if "spo2" in feats:
        spo2 = np.clip(np.round(sig["spo2"] + rng.normal(0, 0.7, n)), 70, 100)   # devices report whole percent
        cols["spo2"] = np.where(still & (rng.random(n) < np.where(asleep, 0.9, 0.12)), spo2, np.nan)
    if "skin_temp" in feats:
        cols["skin_temp"] = np.round(np.clip(sig["skin"] + rng.normal(0, 0.1, n), 26, 41), 2)
    if "distance" in feats:
        cols["distance"] = np.round(steps * person["stride_m"] * rng.uniform(0.9, 1.1, n), 1)
    if "calories" in feats:
        bmr = (1400 + 400 * (person["sex"] == "male")) / PER_DAY
        cols["calories"] = np.round(bmr + 0.045 * steps + 0.08 * np.clip(hr - person["rhr"], 0, None), 2)
    if "accel_mag" in feats:
        base = np.select([state == LIGHT_ACT, state == WALK, state == EXERCISE], [0.12, 0.35, 1.0], 0.02)
        cols["accel_mag"] = np.round(base * rng.lognormal(0, 0.3, n), 3)
    if "light" in feats:
        clock_h = (np.arange(n) % PER_DAY) / 12
        daylight = (clock_h > 8) & (clock_h < 16.5)
        outdoor = moving & daylight
        lux = np.where(asleep, rng.uniform(0, 3, n), np.where(outdoor, rng.lognormal(8.5, 1.0, n), rng.lognormal(5.3, 0.6, n)))
        cols["light"] = np.round(np.clip(lux, 0, 199000), 1)
    names = list(cols)
    arrays = [cols[k].tolist() for k in names]
    sleep_lab = [STAGE_LABEL[int(s)] for s in stage] if "sleep_state" in feats else None
    quality = None
    if "data_quality" in feats:
        q = np.where(moving, np.where(rng.random(n) < 0.3, "low", "medium"), "high")
        q = np.where(rng.random(n) < 0.03, "medium", q)
        for i in artefact_idx:
            if rng.random() < 0.5:
                q[i] = "low"
        quality = q.tolist()

    static = ({"age_group": person["age_group"], "sex": person["sex"], "exercise": person["exercise"]}
              if person["static_known"] else {})
    t0 = start.to_datetime64()
    # a per-user clock offset plus per-record jitter, always late (0-59 s) so a record stays inside its epoch
    jitter = rng.integers(0, 15, n) + person["clock_offset_s"]
    times = (t0 + np.arange(n) * np.timedelta64(EPOCH_MIN * 60, "s") + jitter.astype("timedelta64[s]"))
    stamps = np.datetime_as_string(times, unit="s").tolist()
    uid = person["user_id"]
    out = []
    for i in np.flatnonzero(worn).tolist():
        f = {k: a[i] for k, a in zip(names, arrays) if a[i] == a[i]}   # a != a only for NaN: not measured
        if sleep_lab is not None:
            f["sleep_state"] = sleep_lab[i]
        if quality is not None:
            f["data_quality"] = quality[i]
        out.append({"timestamp": stamps[i], "deviceId": uid, "features": f, "static_features": dict(static)})
    return out


# ---------------------------------------------------------------------------- population

def _pick_kinds(rng, cfg, device: str) -> list[str]:
    k = min(cfg.max_events, int(rng.poisson(cfg.events_per_month * cfg.days / 30)))
    kinds = [x for x in cfg.event_weights if x != "desaturation" or "spo2" in DEVICE_FEATURES[device]]
    w = np.array([cfg.event_weights[x] for x in kinds], dtype=float)
    picked = list(rng.choice(kinds, size=k, p=w / w.sum())) if k else []
    return [str(x) for x in picked]


def simulate_user(rng, cfg, uid: str) -> tuple[list[dict], dict, list[tuple]]:
    start = pd.Timestamp(cfg.start)
    n = cfg.days * PER_DAY
    person = draw_person(rng, cfg, uid)
    kinds = _pick_kinds(rng, cfg, person["device"])
    tl = Timeline(n)
    multi = plan_multiday(rng, person, cfg, tl, kinds)
    illness = illness_profile(n, multi)
    phase = travel_phase_h(n, multi)
    stage, nights = build_sleep(rng, person, cfg, multi, illness, phase, start)
    worn = build_wear(rng, person, cfg, nights)
    short = plan_short(rng, person, cfg, tl, [k for k in kinds if k != "illness"], stage, nights, worn)
    # alcohol reshapes that night's sleep (less early REM, more awakenings)
    for s, e, _ in short["alcohol"]:
        stage[s:e] = _night_stages(rng, e - s, alcohol=True)
    for s, e, _ in short["desaturation"]:   # desaturation only happens asleep
        stage[s:e] = np.where(stage[s:e] == IN_BED_AWAKE, LIGHT, stage[s:e])
    state, steps = build_activity(rng, person, cfg, stage, illness, short, multi, start)
    plans = {"multi": multi, "short": short, "nights": nights}
    sig = build_signals(rng, person, cfg, stage, state, steps, illness, phase, plans)
    artefact_idx = _artefacts(rng, cfg, tl, stage, state, worn)
    records = emit_records(rng, person, cfg, sig, stage, state, steps, worn, artefact_idx, start)
    person["n_records"] = len(records)
    person["wear_fraction"] = round(float(worn.mean()), 3)
    return records, person, tl.items


def simulate_heldout(n_users: int = 40, days: int = 30, seed: int = 0,
                     config: HeldoutSimConfig | None = None) -> HeldoutPopulation:
    """The held-out population. `config` overrides the defaults; n_users/days/seed are copied into it."""
    cfg = config or HeldoutSimConfig()
    cfg = HeldoutSimConfig(**{**cfg.__dict__, "n_users": n_users, "days": days, "seed": seed})
    root = np.random.SeedSequence(seed)
    start = pd.Timestamp(cfg.start)
    records, people, rows = [], [], []
    for k, child in enumerate(root.spawn(n_users)):   # one stream per user: user k does not depend on n_users
        uid = f"ho{seed:03d}-{k:03d}"
        recs, person, items = simulate_user(np.random.default_rng(child), cfg, uid)
        records.extend(recs)
        people.append(person)
        for s, e, kind, info in items:
            rows.append(dict(user_id=uid, start=start + pd.Timedelta(minutes=EPOCH_MIN * s),
                             end=start + pd.Timedelta(minutes=EPOCH_MIN * e), kind=kind,
                             detail=json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in info.items()})))
    events = pd.DataFrame(rows, columns=["user_id", "start", "end", "kind", "detail"])
    events = events.sort_values(["user_id", "start"], kind="stable").reset_index(drop=True)
    labels = events[["user_id", "start", "end", "kind"]].copy()
    return HeldoutPopulation(records=records, labels=labels, users=pd.DataFrame(people), events=events, config=cfg)
