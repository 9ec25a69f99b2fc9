"""Nightly vitals: each night's resting values against the same person's earlier nights.

The night is the cleanest daily measurement a wearable makes: no exercise, no meals, little
posture change. Published screening rules read it directly; NightSignal (Alavi et al. 2022)
alerts when the nightly resting heart rate is at least 4 bpm over the median of earlier nights,
two nights running. This module generalises that rule to every vital a device reports, each with
a physiologically meaningful floor (not a value fitted to our simulator):

    resting HR  +4 bpm          (NightSignal)
    HRV (RMSSD) -25 %           (relative: HRV scales differ many-fold between people)
    respiration +1.5 breaths/min
    SpO2        -3 points
    skin temp   +0.8 degC

Resting HR is the device's resting-HR estimate; for a user whose device gives none, the heart rate
of records with no steps (a device exporting only heart rate and steps still gets the rule).

People differ in how much their nights wander: one real Fitbit user's nightly resting HR moves by a
robust SD of 5-6 bpm from night to night, another's by 2-3. A fixed +4 bpm is then a strict rule for
the second and a coin toss for the first (two noise nights over +4 bpm running: about two alert days a
month for a 6 bpm spread). So each night is held to the larger of the signal's fixed floor and a
*personal floor*: k times the person's own spread (1.4826 x the median absolute deviation of the same
reference nights, the robust SD that pairs with the median reference; for a relative signal as a
fraction of the reference). k is not fitted: it spends a budget, `noise_alert_days_per_30` (0.5, the
product's false-alert target), on a person whose nights are only normal noise: one night passes k SDs
with probability p, two running with p**2, and 30 * p**2 = 0.5 gives k = 1.13. For most people k x
spread is under the fixed floor and the rule is NightSignal's; only a wandering person's floor rises.
Measured (`python scripts/tune_day_rules.py`, last block; `wearable-monitor evaluate`): the real
labelled Fitbit users' false alert days far from the illness 2 -> 0 of 74 (every budget from about 0.18
to 0.76 gives the same), each still alerted in the week before onset; our simulator's tuning population
unchanged (simulated nights wander less); the idea came from those real users' false alerts (README).

A night whose value passes a floor is "deviant"; the multi-day pattern (patterns.py) makes the
day anomalous and the usual two-days-running rule makes the alert, so this is NightSignal's
"two nights running" for every vital. Only earlier nights form the reference: no look-ahead.

A gradual fall crosses the floor late: HRV 10 % lower each night is 30 % down on the third night,
but the night before was only 20 % down, so "two deviant nights running" waits another night or
misses it in the night-to-night noise. A signal with `sustained_nights` = N also has a *sustained*
rule: N consecutive nights, each further off than the one before, on average at least 80 % of the
floor off the reference of the nights before them, the last by the full floor. Such a night makes
the day anomalous (a watch); two such days running alert, as any vital two nights running does
(patterns.py, `PatternConfig.sustained_fall_alerts`: alerting on the first falling day cost false
alert days on both simulators and caught no illness the other rules missed). "Each
further off" is what makes it a fall rather than a noisy dip: without it, the rule doubled the
false alert days it added on held-out simulated users. Only HRV has the rule: for resting HR it
added false alert days on the tuning population (0.27 -> 0.39 per 30 user-days) and caught no
illness earlier there or on the real Fitbit users (scripts/tune_day_rules.py prints both).

Hard exercise is not illness: the night after a day with at least 30 minutes at a vigorous cadence
(>= 130 steps/min, about 6 METs: Tudor-Locke C et al., Int J Behav Nutr Phys Act 2019;16:8) has a
higher resting HR for physiological reasons (cardiac parasympathetic reactivation takes 24-48 h after
hard sessions: Stanley J et al., Sports Med 2013;43:1259-1277), so its resting HR does not count as
deviant (`exercise_guard`). On the development populations (our simulator's seed 1001, with every
channel and as heart rate and steps; the second simulator's seeds 17 and 23, never the reported seed
0) it removed up to 0.13 false alert days per 30 user-days and no caught illness; the real users'
alerts did not change. HRV is suppressed after hard exercise too, but its fall is the early sign of
the seed's 7-day example, and guarding it lost 2 of those 30 people for a small gain
(`python scripts/tune_day_rules.py` prints the guard off and on). A workout without steps is not seen.

Many people take the watch off at night (two of the six shared Fitbit users have a night on fewer
than half of their days). For them resting HR has a day-time stand-in, `resting_hr_day`: the
median heart rate of 09:00-22:00 records after at least 15 minutes without steps (Mishra et al.
2020 use 12), against the same reading of earlier days, with the same +4 bpm floor. It counts only
on dates whose night has no resting-HR value, so a person who wears the watch at night keeps
exactly NightSignal's nightly rule. On the tuning population's copy that never wears the watch at
night (heart rate and steps) it takes caught illnesses from 0 to 30 of 39, at 0.14 false alert days
per 30 user-days; with nights it catches 2 more of 39 (all channels, and heart rate and steps) at no
more false alert days (scripts/tune_day_rules.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

STEPS = "steps"
_MAD_TO_SD = 1.4826  # median absolute deviation -> standard deviation of a normal distribution
RECORD_MINUTES = 5  # each record counts for 5 minutes (the 5-minute record contract)


@dataclass(frozen=True)
class VitalSignal:
    source: str                 # column of the record frame
    direction: int              # +1: a rise is the concern, -1: a fall
    floor: float                # smallest deviation that counts (in `unit`)
    unit: str                   # "bpm", "%", ...: how the deviation is reported
    relative: bool = False      # deviation as a fraction of the reference (HRV)
    min_reference_nights: int = 3
    sustained_nights: int = 0   # > 1: also the sustained-fall rule over this many nights (docstring)
    # "night": 00:00 to night_end_hour; "day_rest": day_hours, at records after rest_minutes without steps
    hours: str = "night"
    # a day-time stand-in counts only on dates where the named night signal has no value (docstring)
    stands_in_for: str | None = None
    # for a user whose records never carry `source`, this column stands in at rows with no steps (at
    # rest): a device that reports heart rate but no resting-HR estimate still gets the nightly rule
    fallback: str | None = None
    # hard exercise the day before raises the night's resting HR and lowers its HRV for a day or two
    # (Stanley J et al., Sports Med 2013;43:1259-1277): such a night is not deviant (VitalsConfig.exercise_*)
    exercise_guard: bool = False


def _default_signals() -> dict[str, VitalSignal]:
    return {
        # NightSignal waits for a week of nights: nightly resting HR of real people wanders by 3-6 bpm
        "resting_hr": VitalSignal("hr_resting", +1, 4.0, "bpm", min_reference_nights=7, fallback="hr",
                                  exercise_guard=True),
        # nights without the watch: the same reading from the day's rest (same floor: measured on the real
        # Fitbit users, day-to-day spread of day-time resting HR 2.4-4.9 bpm vs 2.0-5.5 bpm for nights)
        "resting_hr_day": VitalSignal("hr_resting", +1, 4.0, "bpm", min_reference_nights=7, fallback="hr",
                                      hours="day_rest", stands_in_for="resting_hr"),
        "hrv": VitalSignal("hrv_rmssd", -1, 0.25, "%", relative=True, sustained_nights=3),
        "resp_rate": VitalSignal("resp_rate", +1, 1.5, "breaths/min"),
        "spo2": VitalSignal("spo2", -1, 3.0, "points"),
        "skin_temp": VitalSignal("skin_temp", +1, 0.8, "degC"),
    }


@dataclass(frozen=True)
class VitalsConfig:
    night_end_hour: int = 7          # the night of date d: 00:00 - 07:00 of d (NightSignal)
    min_night_points: int = 12       # an hour of 5-minute records, or the night has no value
    reference_nights: int = 60       # median of up to this many earlier nights
    day_hours: tuple[int, int] = (9, 22)   # "day_rest" signals: records from 09:00 to 22:00 ...
    rest_minutes: int = 15           # ... with no steps for this long (Mishra et al. 2020: 12 minutes)
    # the sustained rule (docstring): the run's mean deviation, as a fraction of the floor
    sustained_mean_fraction: float = 0.8
    # a day with at least `exercise_minutes` of records at a vigorous cadence (>= 130 steps/min, about 6 METs:
    # Tudor-Locke C et al., Int J Behav Nutr Phys Act 2019;16:8, CADENCE-Adults) guards the next night (docstring)
    exercise_minutes: float = 30.0  # 0: off
    exercise_cadence: float = 130.0
    # the personal floor (module docstring): expected false alert days per 30 days that one vital's
    # "two nights running" may cost a person whose nights are only noise; None: the fixed floors alone
    noise_alert_days_per_30: float | None = 0.5
    signals: dict[str, VitalSignal] = field(default_factory=_default_signals)

    def __post_init__(self) -> None:
        budget = self.noise_alert_days_per_30
        if budget is not None and not 0.0 < budget < 30.0:
            raise ValueError(f"noise_alert_days_per_30 must be > 0 and < 30 (days per 30), or None; got {budget}")

    @property
    def spread_factor(self) -> float:
        """k of the personal floor: P(one noise night >= k robust SDs) = p with 30 * p**2 = the budget."""
        if self.noise_alert_days_per_30 is None:
            return 0.0
        return NormalDist().inv_cdf(1.0 - math.sqrt(self.noise_alert_days_per_30 / 30.0))

    @property
    def sources(self) -> tuple[str, ...]:
        """The record columns the signals read (with fallbacks, and steps to tell rest from activity)."""
        cols = [s.source for s in self.signals.values()]
        fallbacks = [s.fallback for s in self.signals.values() if s.fallback]
        return tuple(dict.fromkeys(cols + fallbacks + ([STEPS] if fallbacks else [])))


def nightly_vitals(frame: pd.DataFrame, config: VitalsConfig = VitalsConfig()) -> pd.DataFrame:
    """One row per (user, date) with a night or a day-time rest reading: per signal value,
    reference, deviation and flag.

    `frame`: records (or a scored table carrying the source columns) with user_id and timestamp.
    Columns: user_id, date, <name>, <name>_reference, <name>_deviation, <name>_deviant for each
    signal present (and <name>_sustained, the mean deviation of a sustained run ending that night or
    NaN, for a signal with `sustained_nights`), then vitals_anomalous (any signal deviant or
    sustained), vitals_sustained (a sustained run ends that night) and vitals_flags (readable text).
    """
    ts = pd.DatetimeIndex(frame["timestamp"])
    hour = np.asarray(ts.hour)
    hours = {"night": hour < config.night_end_hour}
    if STEPS in frame and any(s.hours == "day_rest" for s in config.signals.values()):  # rest needs steps
        hours["day_rest"] = (hour >= config.day_hours[0]) & (hour < config.day_hours[1]) & _rested(frame, config)
    signals = {n: s for n, s in config.signals.items()
               if (s.source in frame or s.fallback in frame) and s.hours in hours}
    used = np.logical_or.reduce([hours[s.hours] for s in signals.values()]) if signals else np.zeros(0, bool)
    if not signals or not used.any():
        return _empty(signals)
    part = pd.DataFrame({"user_id": frame["user_id"].to_numpy(dtype=object)[used], "date": ts[used].normalize()})
    values: dict[tuple, np.ndarray] = {}  # a night signal and its day-time stand-in read the same values
    for name, s in signals.items():
        key = (s.source, s.fallback)
        if key not in values:
            values[key] = signal_values(frame, s)
        part[name] = np.where(hours[s.hours], values[key], np.nan)[used]
    grouped = part.groupby(["user_id", "date"], sort=True)
    medians, counts = grouped.median(), grouped.count()
    nights = medians.where(counts >= config.min_night_points).reset_index()
    if config.exercise_minutes > 0 and STEPS in frame:
        nights["after_exercise"] = _after_exercise(frame, nights, config)
    return score_nights(nights, config)


def _after_exercise(frame: pd.DataFrame, nights: pd.DataFrame, config: VitalsConfig) -> np.ndarray:
    """Per night row: the calendar day before it had `exercise_minutes` at a vigorous cadence."""
    steps = pd.to_numeric(frame[STEPS], errors="coerce").to_numpy(dtype=np.float64)
    hard = np.nan_to_num(steps) >= config.exercise_cadence * RECORD_MINUTES
    if not hard.any():
        return np.zeros(len(nights), bool)
    ts = pd.DatetimeIndex(frame["timestamp"])
    per_day = pd.DataFrame({"user_id": frame["user_id"].to_numpy(dtype=object)[hard],
                            "date": ts[hard].normalize() + pd.Timedelta(days=1)}).value_counts()
    records = per_day.reindex(pd.MultiIndex.from_frame(nights[["user_id", "date"]].astype({"date": "datetime64[ns]"})))
    return (records.fillna(0).to_numpy() * RECORD_MINUTES) >= config.exercise_minutes


def _rested(frame: pd.DataFrame, config: VitalsConfig) -> np.ndarray:
    """Per row: the user's records show no steps for at least `rest_minutes` up to and including
    this one, each record counting for 5 minutes (three still records make 15 minutes). A gap of
    more than two records breaks the rest, and so does a record whose steps are unknown."""
    steps = pd.to_numeric(frame[STEPS], errors="coerce").to_numpy(dtype=np.float64)
    ts = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8
    users = frame["user_id"].to_numpy(dtype=object)
    n = len(steps)
    if not n:
        return np.zeros(0, bool)
    still = steps == 0
    step_ns = RECORD_MINUTES * 60 * 10**9
    breaks = np.ones(n, bool)  # a row that starts a new run of still records
    breaks[1:] = (users[1:] != users[:-1]) | (np.diff(ts) > 2 * step_ns) | ~still[:-1]
    run_start = np.maximum.accumulate(np.where(breaks, np.arange(n), 0))
    return still & (ts - ts[run_start] + step_ns >= config.rest_minutes * 60 * 10**9)


def signal_values(frame: pd.DataFrame, s: VitalSignal) -> np.ndarray:
    """Per row: the signal's source; for a user whose records never carry it, the fallback at
    rest (no steps). Per user, not per row: a device's resting-HR estimate and raw heart rate at
    rest differ by a few bpm, and mixing them night to night would read as a change (measured:
    filling single missing rows lost a real pre-symptom alert and added false ones)."""
    def column(name: str) -> np.ndarray:
        if name not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)

    values = column(s.source)
    if s.fallback and s.fallback in frame and len(frame):
        users = frame["user_id"].to_numpy(dtype=object)
        has_source = pd.Series(~np.isnan(values)).groupby(users).transform("any").to_numpy(dtype=bool)
        steps = column(STEPS)
        at_rest = np.isnan(steps) | (steps == 0)
        values = np.where(~has_source & at_rest, column(s.fallback), values)
    return values


def score_nights(nights: pd.DataFrame, config: VitalsConfig = VitalsConfig()) -> pd.DataFrame:
    """`nights`: user_id, date and one column of nightly values per signal name, sorted by date."""
    signals = {n: s for n, s in config.signals.items() if n in nights}
    if nights.empty or not signals:
        return _empty(signals)
    out = []
    for _, g in nights.groupby("user_id", sort=False):
        g = g.reset_index(drop=True)
        day = pd.DatetimeIndex(g["date"]).normalize().to_numpy().astype("datetime64[D]").astype(np.int64)
        guarded = g["after_exercise"].to_numpy(bool) if "after_exercise" in g else np.zeros(len(g), bool)
        for name, s in signals.items():
            values = g[name].to_numpy(dtype=np.float64)
            ref, dev, floor, deviant = _against_earlier_nights(values, s, config)
            if s.exercise_guard:
                deviant &= ~guarded
            g[f"{name}_reference"], g[f"{name}_deviation"], g[f"{name}_deviant"] = ref, dev, deviant
            g[f"{name}_floor"] = floor
            if s.sustained_nights > 1:
                g[f"{name}_sustained"] = _sustained_runs(values, day, s, config)
        for name, s in signals.items():  # a stand-in speaks only where its night signal is silent
            if s.stands_in_for in signals:
                g[f"{name}_deviant"] &= ~np.isfinite(g[s.stands_in_for].to_numpy(dtype=np.float64))
        out.append(g)
    table = pd.concat(out, ignore_index=True)
    deviant = table[[f"{n}_deviant" for n in signals]].to_numpy(dtype=bool)
    sustained = [f"{n}_sustained" for n, s in signals.items() if s.sustained_nights > 1]
    table["vitals_sustained"] = table[sustained].notna().to_numpy().any(axis=1) if sustained else False
    table["vitals_anomalous"] = deviant.any(axis=1) | table["vitals_sustained"].to_numpy(dtype=bool)
    table["vitals_deviant_count"] = deviant.sum(axis=1)  # a stand-in never counts beside its night signal
    # which vitals deviate, a stand-in under the name of the night signal it stands in for: "two nights
    # running" asks the same vital twice (patterns.with_runs), as NightSignal asks resting HR twice
    names = np.array([s.stands_in_for or n for n, s in signals.items()], dtype=object)
    table["vitals_deviant_signals"] = [",".join(dict.fromkeys(names[row])) for row in deviant]
    table["vitals_flags"] = [_describe(row, signals) for row in table.to_dict("records")]
    return table


def _against_earlier_nights(values: np.ndarray, s: VitalSignal, config: VitalsConfig):
    """Per night: reference (median of earlier nights with a value), signed deviation, the floor it is
    held to (the signal's floor, or the person's own night-to-night spread times
    `config.spread_factor` where that is larger), deviant flag.

    Deviant nights stay in the reference, as in NightSignal: holding them out for two weeks (the
    baselines' guard) was measured and raised false alert days without catching more illnesses.
    """
    n = len(values)
    finite = np.isfinite(values)
    ref, dev, floor = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    k = config.spread_factor
    for i in np.flatnonzero(finite):
        earlier = _earlier(values, finite, i, config)
        if len(earlier) < s.min_reference_nights:
            continue
        ref[i] = float(np.median(earlier))
        dev[i] = _deviation(values[i], ref[i], s)
        floor[i] = s.floor
        if k > 0:
            spread = _MAD_TO_SD * float(np.median(np.abs(earlier - ref[i])))
            floor[i] = max(s.floor, k * (spread / abs(ref[i]) if s.relative else spread))
    return ref, dev, floor, np.nan_to_num(dev, nan=-np.inf) >= np.nan_to_num(floor, nan=np.inf)


def _earlier(values: np.ndarray, finite: np.ndarray, i: int, config: VitalsConfig) -> np.ndarray:
    """The last `reference_nights` values with a value before position i."""
    return values[:i][finite[:i]][-config.reference_nights:]


def _reference_before(values: np.ndarray, finite: np.ndarray, i: int, s: VitalSignal, config: VitalsConfig) -> float:
    """Median of the earlier nights (`_earlier`); NaN if fewer than `s.min_reference_nights`."""
    earlier = _earlier(values, finite, i, config)
    return float(np.median(earlier)) if len(earlier) >= s.min_reference_nights else np.nan


def _deviation(values, reference: float, s: VitalSignal):
    """Signed so that a concerning change is positive; relative signals as a fraction of the reference."""
    return s.direction * (values - reference) / (reference if s.relative else 1.0)


def _sustained_runs(values: np.ndarray, day: np.ndarray, s: VitalSignal, config: VitalsConfig) -> np.ndarray:
    """Per night: the mean deviation of the sustained run of `s.sustained_nights` consecutive nights
    ending there (each night against the median of the nights before the run), else NaN."""
    n, N = len(values), s.sustained_nights
    finite = np.isfinite(values)
    out = np.full(n, np.nan)
    for i in range(N - 1, n):
        lo = i - N + 1
        if day[i] - day[lo] != N - 1 or not finite[lo:i + 1].all():
            continue  # not N calendar nights in a row, each with a value
        ref = _reference_before(values, finite, lo, s, config)
        if np.isnan(ref):
            continue
        dev = _deviation(values[lo:i + 1], ref, s)
        falling = bool((np.diff(dev) >= 0).all())  # each night further off than the one before
        if falling and dev.mean() >= config.sustained_mean_fraction * s.floor and dev[-1] >= s.floor:
            out[i] = float(dev.mean())
    return out


def _describe(row: dict, signals: dict[str, VitalSignal]) -> str:
    def signed(name: str, s: VitalSignal, deviation: float) -> str:
        value = s.direction * deviation  # back to the raw sign: +5 bpm, -27 %
        return f"{name} {value * 100:+.0f}%" if s.relative else f"{name} {value:+.1f} {s.unit}"

    parts = []
    for name, s in signals.items():
        if row[f"{name}_deviant"]:
            parts.append(signed(name, s, row[f"{name}_deviation"]))
        sustained = row.get(f"{name}_sustained")
        if sustained is not None and np.isfinite(sustained):
            parts.append(f"{signed(name, s, sustained)} on average over {s.sustained_nights} nights")
    return "; ".join(parts)


def _empty(signals: dict[str, VitalSignal]) -> pd.DataFrame:
    cols = ["user_id", "date"] + [f"{n}{suffix}" for n in signals
                                  for suffix in ("", "_reference", "_deviation", "_floor", "_deviant")]
    cols += [f"{n}_sustained" for n, s in signals.items() if s.sustained_nights > 1]
    return pd.DataFrame(columns=cols + ["vitals_anomalous", "vitals_sustained", "vitals_deviant_count", "vitals_flags",
                                        "vitals_deviant_signals"])
