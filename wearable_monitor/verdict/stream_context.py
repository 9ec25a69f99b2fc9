"""Context on the 5-minute stream: at rest, asleep or awake, and sustained runs of records.

Shared by the red flags (absolute thresholds) and the personal-baseline deviations. Everything
works on one user's rows, sorted by time, as numpy columns (records.records_to_columns or the
columns of a frame), so the realtime window and the batch replay share one code path.

- At rest: at most `rest_max_steps` steps in the record and those of the `rest_minutes` before
  it (Apple Watch's heart-rate notifications wait for 10 inactive minutes). A few steps are not
  activity: wrist devices count arm movement while seated, and cadence studies call 1-19
  steps/min "incidental movement" (Tudor-Locke C et al., Br J Sports Med 2018;52:776-788); the
  default 30 steps in 10 minutes is 3 steps/min, far below any walking, and one of those records must
  have no steps at all (a trickle of steps in every record is pedalling). Where the record has a wrist
  acceleration, movement of at least `rest_max_accel_g` in those minutes is not rest either (cycling
  counts no steps). Rows of a user whose records carry
  no step count at all are read by the accelerometer alone where it has a reading in those minutes
  (at rest when none reaches `rest_max_accel_g`); otherwise they have *unknown* activity (-1), unless
  the record holds the device's own resting-HR estimate (`hr_resting`), taken at rest by definition.
- Rest seen by steps alone: a record without an accelerometer reading is "at rest" on its step count
  only, and step counts do not see exercise without steps (cycling, rowing, strength training, a home
  workout). `movement_sensed` says which rows had the accelerometer; evidence that exercise also
  produces (a heart-rate rise) asks such rows for a longer run before it alerts (red_flags.py,
  deviations.py: `steps_only_levels`).
- Awake: `sleep_state` says awake; without a sleep stage, the local hours `awake_hours`.
- A sustained run: consecutive qualifying records, no two further apart than `max_gap_minutes`,
  at least `min_records` of them (never fewer than two: one record is never sustained).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import FeatureConfig
from ..data.records import TIME

REST, ACTIVE, UNKNOWN = 1, 0, -1


@dataclass(frozen=True)
class StreamSettings:
    sampling_minutes: float = 5.0
    rest_minutes: float = 10.0
    rest_max_steps: float = 30.0   # steps allowed in the rest_minutes (incidental movement, not activity)
    # Movement without steps (cycling, rowing, weights): a wrist acceleration of at least 0.1 g (gravity
    # removed) in the rest_minutes is not rest: Hildebrand M et al., Med Sci Sports Exerc 2014;46:1816-1824
    # put moderate activity at ~100 mg of wrist ENMO. Rows without an accelerometer reading use steps only.
    rest_max_accel_g: float = 0.1
    # Recovery: heart rate and breathing stay up, HRV down, for tens of minutes after exercise (the slow
    # phase of heart-rate recovery; Michael S et al., Front Physiol 2017;8:301). A record with walking
    # cadence (>= 60 steps/min, Tudor-Locke 2018) starts `recovery_minutes` in which a rise is not read as
    # a deviation from the person's baseline at rest.
    active_steps_per_minute: float = 60.0
    recovery_minutes: float = 45.0
    max_gap_minutes: float = 10.0
    skip_low_quality: bool = True
    awake_hours: tuple[int, int] = (9, 21)

    def min_records(self, minutes: float) -> int:
        return max(2, int(math.ceil(minutes / self.sampling_minutes - 1e-9)))


@dataclass
class StreamContext:
    """Per-row context of one user's rows (arrays of the same length)."""
    minutes: np.ndarray      # float64 minutes since the first row
    rest: np.ndarray         # int8: REST / ACTIVE / UNKNOWN
    awake: np.ndarray        # bool
    usable: np.ndarray       # bool: not a low-quality record
    times: np.ndarray        # datetime64[ns]
    asleep: np.ndarray       # bool: the record's sleep stage says asleep (not inferred from the hour)
    sleep_known: np.ndarray  # bool: the record carries a sleep stage
    recovering: np.ndarray   # bool: within recovery_minutes after a record at walking cadence
    periods: np.ndarray      # object: the row's time period for baselines (period_of_rows), sleep counted as night
    movement_sensed: np.ndarray  # bool: the record has a wrist-accelerometer reading (rest not on steps alone)
    settings: StreamSettings  # what it was made with (a reader may reuse it only for the same settings)

    def __len__(self) -> int:
        return len(self.minutes)


def column(cols: Mapping[str, Any], name: str, n: int) -> np.ndarray | None:
    """Column `name` as float64 rows (a scalar, e.g. a realtime window's baseline, is broadcast);
    None when the rows do not have it."""
    v = cols.get(name)
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float64)
    return np.full(n, float(v)) if v.ndim == 0 else v


def column_or_nan(cols: Mapping[str, Any], name: str, n: int) -> np.ndarray:
    v = column(cols, name, n)
    return np.full(n, np.nan) if v is None else v


def stream_context(cols: Mapping[str, Any], config: FeatureConfig, settings: StreamSettings) -> StreamContext:
    times = np.asarray(cols[TIME]).astype("datetime64[ns]")
    n = len(times)
    minutes = (times - times[0]).astype("timedelta64[s]").astype(np.float64) / 60.0 if n else np.zeros(0)
    steps = column_or_nan(cols, "steps", n)
    accel = column(cols, "accel_mag", n)
    # sums over each row's rest minutes (t - rest_minutes, t]: a cumulative sum and one binary search per row
    lo = np.searchsorted(minutes, minutes - settings.rest_minutes, side="right")

    def in_rest_minutes(values: np.ndarray) -> np.ndarray:
        csum = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
        return csum[1:] - csum[lo]

    # a missing reading counts as none (0): no steps, no movement
    moving = None if accel is None else \
        in_rest_minutes(np.where(np.isnan(accel), 0.0, accel) >= settings.rest_max_accel_g)
    if np.isfinite(steps).any():
        still = in_rest_minutes(np.where(np.isnan(steps), 0.0, steps)) <= settings.rest_max_steps
        # ... and at least one record without steps: sitting still gives zero-step records between the odd
        # step, while a steady trickle of steps in every record is rhythmic movement (pedalling, an elliptical)
        still &= in_rest_minutes(np.isfinite(steps) & (steps <= 0)) > 0
        if moving is not None:
            still &= moving == 0
        rest = np.where(still, REST, ACTIVE).astype(np.int8)
    else:
        # no step count: a record with the device's own resting-HR estimate was taken at rest by definition
        rest = np.where(np.isfinite(column_or_nan(cols, "hr_resting", n)), REST, UNKNOWN).astype(np.int8)
        if moving is not None and np.isfinite(accel).any():
            # ... and a wrist accelerometer alone (a research band that counts no steps) tells rest as well:
            # a reading in the rest minutes and none of them at the movement level
            seen = in_rest_minutes(np.isfinite(accel)) > 0
            rest = np.where(seen, np.where(moving == 0, REST, ACTIVE), rest).astype(np.int8)
    hours = ((times - times.astype("datetime64[D]")).astype("timedelta64[h]").astype(np.int64)) if n else np.zeros(0, int)
    by_hour = (hours >= settings.awake_hours[0]) & (hours < settings.awake_hours[1])
    sleep = column_or_nan(cols, "sleep_state", n)
    spec = config.features.get("sleep_state")
    awake_code = spec.categories.get("awake") if spec is not None and spec.categories else None
    awake = np.where(np.isfinite(sleep), sleep == awake_code, by_hour) if awake_code is not None else by_hour
    asleep = np.isfinite(sleep) & (sleep != awake_code) if awake_code is not None else np.zeros(n, bool)
    active = steps >= settings.active_steps_per_minute * settings.sampling_minutes
    last_active = np.maximum.accumulate(np.where(active, minutes, -np.inf)) if n else np.zeros(0)
    recovering = (minutes - last_active) <= settings.recovery_minutes
    usable = np.ones(n, bool)
    quality = config.features.get("data_quality")
    if settings.skip_low_quality and quality is not None and quality.categories and "low" in quality.categories:
        usable = column_or_nan(cols, "data_quality", n) != quality.categories["low"]
    return StreamContext(minutes=minutes, rest=rest, awake=np.asarray(awake, bool), usable=usable, times=times,
                         asleep=asleep, sleep_known=np.isfinite(sleep), recovering=recovering,
                         periods=period_of_rows(times, config, asleep),
                         movement_sensed=np.zeros(n, bool) if accel is None else np.isfinite(accel),
                         settings=settings)


def runs(mask: np.ndarray, minutes: np.ndarray, max_gap_minutes: float, min_records: int,
         measured: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(first, last) row index of each sustained run of True rows (see the module docstring).

    `measured`: rows where the signal was measured at all. A row without a measurement (a device that
    samples SpO2 every few records, a low-quality record) neither extends nor breaks a run: only a
    measured row outside the condition, or more than `max_gap_minutes` between qualifying rows, does.
    """
    if measured is not None:
        keep = np.flatnonzero(measured)
        return [(int(keep[a]), int(keep[b])) for a, b in runs(np.asarray(mask)[keep], minutes[keep],
                                                              max_gap_minutes, min_records)]
    idx = np.flatnonzero(mask)
    if len(idx) < min_records:
        return []
    # a new run starts where the previous qualifying row is not the row before, or is too long ago
    breaks = (np.diff(idx) != 1) | (np.diff(minutes[idx]) > max_gap_minutes)
    starts = np.r_[0, np.flatnonzero(breaks) + 1]
    ends = np.r_[starts[1:] - 1, len(idx) - 1]
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends) if e - s + 1 >= min_records]


def steps_only_levels(first: int, last: int, level: int, min_records: int, ctx: StreamContext,
                      minutes: float | None, settings: StreamSettings) -> list[tuple[int, int]]:
    """(level, min_records) pairs a run over rows [first, last] stands for, for evidence that exercise also
    produces. Where no row of the run had an accelerometer reading (rest seen by steps alone) and
    `minutes` is longer than the run's own minimum, the run is one level lower until it has held
    `minutes`: a window sees the full level only once the run is that long inside it (window_runs).
    Rows of unknown activity are lowered elsewhere (red_flags.py), not twice."""
    if minutes is None or ctx.movement_sensed[first:last + 1].any() or (ctx.rest[first:last + 1] == UNKNOWN).any():
        return [(level, min_records)]
    long_enough = settings.min_records(minutes)
    if long_enough <= min_records:
        return [(level, min_records)]
    out = [(max(level - 1, 1), min_records)]
    if last - first + 1 >= long_enough:
        out.append((level, long_enough))
    return out


def period_of_rows(times: np.ndarray, config: FeatureConfig, asleep: np.ndarray | None = None) -> np.ndarray:
    """The config's time period ("morning", ..., "night") of each row, by its local hour; rows whose
    sleep stage says asleep count as "night" whatever the hour (a late sleeper's 07:00 is sleep, and
    sleeping heart rate belongs with the night's)."""
    hours = (np.asarray(times).astype("datetime64[h]").astype(np.int64) % 24) if len(times) else np.zeros(0, int)
    out = config.period_by_hour[hours]
    if asleep is not None and "night" in config.time_periods:
        out = np.where(asleep, "night", out).astype(object)
    return out


def baseline_at(cols: Mapping[str, Any], metric: str, periods: np.ndarray,
                use_period: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) per row of baseline `metric`: the row's time-period baseline (bl_<metric>_<period>_*)
    where the rows have one with a positive std, else the all-day one. `use_period` limits where the
    period baseline replaces the all-day one. None when the rows have no such baseline."""
    n = len(periods)
    mean, std = column(cols, f"bl_{metric}_mean", n), column(cols, f"bl_{metric}_std", n)
    if mean is None or std is None:
        return None
    for period in dict.fromkeys(periods.tolist()):
        pm, ps = column(cols, f"bl_{metric}_{period}_mean", n), column(cols, f"bl_{metric}_{period}_std", n)
        if pm is None or ps is None:
            continue
        use = (periods == period) & np.isfinite(pm) & (ps > 0)  # NaN compares False, quietly
        if use_period is not None:
            use &= use_period
        mean, std = np.where(use, pm, mean), np.where(use, ps, std)
    return mean, std


@dataclass
class EvidenceRun:
    """A sustained run of one finding kind over rows [first, last] of one user."""
    source: str
    code: str
    level: int
    first: int
    last: int
    min_records: int
    evidence: dict[str, Any] = field(default_factory=dict)
    family: str = ""          # runs of one family (e.g. "hr>=") shadow their lower levels in a window


def window_runs(runs_: list[EvidenceRun], end_index: np.ndarray, window_size: int,
                last_row: int | None = None) -> list[list[EvidenceRun]]:
    """Per window (ending at row `end_index[i]`, `window_size` rows): the runs that hold for at least
    their `min_records` rows inside it. A window sees a run only once the run is sustained within
    the window itself, so the realtime window and the batch replay agree."""
    end_index = np.asarray(end_index, np.int64)
    out: list[list[EvidenceRun]] = [[] for _ in range(len(end_index))]
    if not runs_ or not len(end_index):
        return out
    order = np.argsort(end_index, kind="stable")
    sorted_ends = end_index[order]
    for run in runs_:
        lo_end = run.first + run.min_records - 1
        hi_end = run.last - run.min_records + window_size
        if last_row is not None:
            hi_end = min(hi_end, last_row)
        a = np.searchsorted(sorted_ends, lo_end, side="left")
        b = np.searchsorted(sorted_ends, hi_end, side="right")
        for j in order[a:b]:
            out[j].append(run)
    return out


def strongest_per_family(runs_: list[EvidenceRun]) -> list[EvidenceRun]:
    """One run per family: the highest level, and at equal levels the furthest threshold (a 155 bpm run is
    not also "above 100" and "above 120")."""
    def strength(r: EvidenceRun) -> tuple[int, float]:
        t = r.evidence.get("threshold")
        far = 0.0 if t is None else (float(t) if r.evidence.get("op") == ">=" else -float(t))
        return r.level, far

    best: dict[str, EvidenceRun] = {}
    for r in runs_:
        key = r.family or r.code
        if key not in best or strength(r) > strength(best[key]):
            best[key] = r
    return sorted(best.values(), key=lambda r: -r.level)
