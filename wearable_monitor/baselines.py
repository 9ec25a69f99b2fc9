"""Adaptive baselines: personal (learned online, guarded) blended with group priors.

For every user, baseline metric and time period (`FeatureConfig.baseline_metrics`, e.g.
``hr_resting`` over periods ``all`` and ``night``) we keep running moments of the metric's
source feature. The baseline a detector sees is

    mean = a * personal_mean + (1 - a) * group_mean
    std  = sqrt(a * personal_std^2 + (1 - a) * group_std^2)     (blend of variances)

with ``a = curve(days_of_history / full_personal_days)`` (fully personal from 7 days) and the
group prior looked up by age group and sex in ``configs/baseline_config.json``.

Day clock. A baseline changes only at day boundaries: values of the current ("open") day are
collected in the state's today-moments and folded in when the first row of a later day
arrives. So the baseline for any row is built from data strictly before the row's day, the
same in realtime (`UserDataManager`) and in batch replay (`causal_baseline_columns`), which
share the update code below.

The guard (why an ongoing anomaly is not learned):
1. values with ``data_quality == low`` or flagged by the caller (``is_normal`` False) are ignored;
2. once ``winsor_min_count`` values exist, values are winsorised at mean +- winsor_k * sd,
   so one wild value moves the mean by a bounded amount;
3. the day's winsorised level is compared with the distribution of past day levels: a day
   deviating by more than ``day_k`` sd is *frozen* (kept aside in pending moments, not merged);
   a normal day ends the freeze and discards the pending days (they were the anomaly);
4. after more than ``max_frozen_days`` consecutive frozen days the change is taken as a lasting
   level shift: the baseline re-centres on the pending level and keeps its learned spread.
Known limit: a day level is the mean of whatever hours were observed, so a day worn only at
night can look deviant for period ``all`` and be held back (never learned wrongly, just skipped).
Optionally the effective counts are capped (exponential forgetting) so slow drift is followed.

Storage is SQLite (stdlib sqlite3, WAL, one IMMEDIATE transaction per read-modify-write, busy
timeout), so several threads or processes can update one file without losing updates and a
killed process leaves the last committed state. A screening aid, not a diagnosis.
"""
from __future__ import annotations

import json
import math
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import sqlite_store
from .config import CONFIG_DIR, ConfigError, FeatureConfig, default_feature_config, strip_comments
from .records import TIME, USER, static_column
from .stream_context import REST, StreamSettings, period_of_rows, stream_context

DEFAULT_BASELINE_CONFIG = CONFIG_DIR / "baseline_config.json"
ALL = "all"
SCHEMA_VERSION = 1
Moments = tuple[float, float, float]  # (count, mean, M2 = sum of squared deviations)


# ----------------------------------------------------------------------------- config

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlendConfig(_Strict):
    full_personal_days: float = Field(7.0, gt=0)
    curve: Literal["linear", "smoothstep"] = "linear"
    min_personal_count: int = Field(12, ge=2)


class GuardConfig(_Strict):
    skip_low_quality: bool = True
    winsor_k: float = Field(4.0, gt=0)
    winsor_min_count: int = Field(30, ge=2)
    day_k: float = Field(3.0, gt=0)
    min_guard_days: int = Field(3, ge=2)
    min_day_values: int = Field(6, ge=1)
    max_frozen_days: int = Field(10, ge=0)
    day_std_floor_frac: float = Field(0.25, ge=0)


class ForgettingConfig(_Strict):
    max_effective_count: float = Field(8640.0, gt=1)
    max_effective_days: float = Field(60.0, gt=1)


class PeriodAdjust(_Strict):
    mean_add: float = 0.0
    mean_mul: float = Field(1.0, gt=0)
    std_mul: float = Field(1.0, gt=0)


MeanStd = tuple[float, float]


class GroupTable(_Strict):
    overall: dict[str, MeanStd]
    by_age_sex: dict[str, dict[str, dict[str, MeanStd]]] = {}
    period_adjust: dict[str, dict[str, PeriodAdjust]] = {}

    @model_validator(mode="after")
    def _positive_std(self) -> "GroupTable":
        cells = [("overall", self.overall)] + [(f"by_age_sex.{a}.{s}", c) for a, by_sex in self.by_age_sex.items()
                                               for s, c in by_sex.items()]
        for where, cell in cells:
            for metric, (mean, std) in cell.items():
                if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                    raise ValueError(f"{where}.{metric}: needs a finite mean and a std > 0, got [{mean}, {std}]")
        return self


class BaselineConfig(_Strict):
    """Policy and group priors of the adaptive baseline (`configs/baseline_config.json`)."""

    schema_version: int = 1
    blend: BlendConfig = BlendConfig()
    guard: GuardConfig = GuardConfig()
    forgetting: ForgettingConfig = ForgettingConfig()
    min_std: dict[str, float] = {}
    group: GroupTable
    path: str = ""

    def alpha(self, days: float | np.ndarray) -> float | np.ndarray:
        """Personal weight from days of history (0 at cold start, 1 from `full_personal_days`)."""
        if np.ndim(days) == 0:  # scalar fast path; same IEEE operations as the array path
            x = min(max(float(days) / self.blend.full_personal_days, 0.0), 1.0)
        else:
            x = np.clip(np.asarray(days, dtype=np.float64) / self.blend.full_personal_days, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x) if self.blend.curve == "smoothstep" else x

    def group_stats(self, metric: str, period: str = ALL, age_group: str | None = None,
                    sex: str | None = None) -> MeanStd:
        """Group (mean, std) for a metric; unknown age or sex pools the matching cells.

        Pooling is an equal-weight mixture: mean of means, variance = mean of variances +
        variance of the means. Neither known -> the explicit `overall` entry.
        """
        table = self.group.by_age_sex
        age_known = age_group in table
        sex_known = any(sex in by_sex for by_sex in table.values())
        cells = []
        for a in ([age_group] if age_known else list(table)):
            by_sex = table[a]
            cells += [by_sex[s][metric] for s in ([sex] if sex in by_sex else list(by_sex)) if metric in by_sex[s]]
        if (age_known or sex_known) and cells:
            means = np.array([m for m, _ in cells])
            var = float(np.mean([s * s for _, s in cells]) + means.var())
            mean, std = float(means.mean()), math.sqrt(var)
        elif metric in self.group.overall:
            mean, std = self.group.overall[metric]
        else:
            raise ConfigError(f"{self.path or 'baseline_config'}: group.overall has no metric '{metric}'")
        adj = self.group.period_adjust.get(period, {}).get(metric)
        if adj is not None:
            mean, std = mean * adj.mean_mul + adj.mean_add, std * adj.std_mul
        return mean, std

    def check_against(self, config: FeatureConfig) -> None:
        """Cross-check with the feature config: every baseline metric has a group prior, labels exist."""
        where = self.path or "baseline_config"
        for metric in config.all_baseline_metrics:
            if metric not in self.group.overall:
                raise ConfigError(f"{where}: group.overall has no entry for baseline metric '{metric}'")
            for a, by_sex in self.group.by_age_sex.items():
                for s, cell in by_sex.items():
                    if metric not in cell:
                        raise ConfigError(f"{where}: group.by_age_sex.{a}.{s} has no entry for '{metric}'")
        for name, labels in (("age_group", self.group.by_age_sex.keys()),
                             ("sex", {s for by_sex in self.group.by_age_sex.values() for s in by_sex})):
            spec = config.static.get(name)
            for label in labels:
                if spec is not None and label not in spec.categories:
                    raise ConfigError(f"{where}: group.by_age_sex uses {name} '{label}', "
                                      f"not a category of static feature '{name}'")
        for period in self.group.period_adjust:
            if period not in config.time_periods:
                raise ConfigError(f"{where}: group.period_adjust.{period} is not a time period")


def parse_baseline_config(raw: dict, where: str = "baseline_config") -> BaselineConfig:
    try:
        return BaselineConfig.model_validate({**strip_comments(raw), "path": where})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{where}: {loc}: {err['msg']}") from exc


def load_baseline_config(path: str | Path | None = None) -> BaselineConfig:
    """Load and validate a baseline config; errors name the file and the key."""
    path = Path(path) if path else DEFAULT_BASELINE_CONFIG
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return parse_baseline_config(raw, where=str(path))


_DEFAULT_BCFG: BaselineConfig | None = None


def default_baseline_config() -> BaselineConfig:
    global _DEFAULT_BCFG
    if _DEFAULT_BCFG is None:
        _DEFAULT_BCFG = load_baseline_config()
    return _DEFAULT_BCFG


# ----------------------------------------------------------------------------- running moments

def _moments(x: np.ndarray) -> Moments:
    n = x.size
    if n == 0:
        return 0.0, 0.0, 0.0
    mean = float(x.sum()) / n
    d = x - mean
    return float(n), mean, float(d @ d)


def _merge(a: Moments, b: Moments) -> Moments:
    """Combine two batches' moments (Chan et al.); with b of size 1 this is Welford's update."""
    na, ma, qa = a
    nb, mb, qb = b
    if nb == 0:
        return a
    if na == 0:
        return b
    n = na + nb
    d = mb - ma
    return n, ma + d * nb / n, qa + qb + d * d * na * nb / n


def _shrink(a: Moments, n_max: float) -> Moments:
    """Same mean and variance, effective count at most n_max (older data weigh less)."""
    n, mean, m2 = a
    if n <= n_max:
        return a
    if n_max <= 0:
        return 0.0, 0.0, 0.0
    return n_max, mean, m2 * n_max / n


def _merge_capped(old: Moments, new: Moments, cap: float) -> Moments:
    """Merge with exponential forgetting: the old part is shrunk so the result stays <= cap."""
    return _shrink(_merge(_shrink(old, cap - new[0]), new), cap)


def _std(n: float, m2: float) -> float:
    return math.sqrt(max(m2, 0.0) / (n - 1)) if n > 1 else math.nan


# ----------------------------------------------------------------------------- per-metric state

class BaselineKey(NamedTuple):
    metric: str
    period: str
    source: str
    at_rest: bool = False  # only records taken at rest update it (stream_context.py)

    @property
    def name(self) -> str:
        """`hr_resting` for period all, `hr_resting_night` otherwise (the bl_ column stem)."""
        return self.metric if self.period == ALL else f"{self.metric}_{self.period}"


def baseline_keys(config: FeatureConfig) -> list[BaselineKey]:
    """Every stored baseline: the model's metrics, then the verdict's evidence baselines."""
    return [BaselineKey(m, p, spec.source, spec.at_rest)
            for m, spec in config.all_baseline_metrics.items() for p in spec.periods]


# what an at-rest baseline needs besides its source: the columns stream_context reads for "at rest"
REST_COLUMNS = ("steps", "hr_resting", "sleep_state", "accel_mag")


def _at_rest(rows, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(rows taken at rest, each row's period with sleep counted as night), by the same definitions as
    the verdict's evidence (default settings)."""
    ctx = stream_context({c: rows[c] for c in (TIME, *REST_COLUMNS) if c in rows}, config,
                         StreamSettings(sampling_minutes=config.sampling_minutes))
    return ctx.rest == REST, period_of_rows(ctx.times, config, ctx.asleep)


@dataclass
class MetricState:
    """Everything stored per (user, metric, period); all fields are persisted as columns.

    `count/mean/m2`: accepted (winsorised) values; `day_*`: moments of accepted day levels;
    `p_*`: pending moments of frozen days; `t_*`: the open day (raw and winsorised moments).
    """

    count: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    days: int = 0
    day_count: float = 0.0
    day_mean: float = 0.0
    day_m2: float = 0.0
    frozen_days: int = 0
    p_count: float = 0.0
    p_mean: float = 0.0
    p_m2: float = 0.0
    p_day_count: float = 0.0
    p_day_mean: float = 0.0
    p_day_m2: float = 0.0
    p_days: int = 0
    t_count: float = 0.0
    t_mean: float = 0.0
    t_m2: float = 0.0
    t_wmean: float = 0.0
    t_wm2: float = 0.0

    @property
    def std(self) -> float:
        return _std(self.count, self.m2)

    def copy(self) -> "MetricState":
        """A field-by-field copy (5x cheaper than dataclasses.replace; the realtime path copies 8 per call)."""
        new = object.__new__(MetricState)
        new.__dict__.update(self.__dict__)
        return new

    @property
    def day_std(self) -> float:
        return _std(self.day_count, self.day_m2)

    def winsor_bounds(self, guard: GuardConfig, min_std: float) -> tuple[float, float]:
        if self.count < guard.winsor_min_count:
            return -math.inf, math.inf
        half = guard.winsor_k * max(self.std, min_std)
        return self.mean - half, self.mean + half

    def add_today(self, values: np.ndarray, guard: GuardConfig, min_std: float) -> int:
        """Collect usable values of the open day; bounds come from the state at the day's start."""
        if values.size == 0:
            return 0
        lo, hi = self.winsor_bounds(guard, min_std)
        if values.size == 1:  # the realtime case (one new record): the same moments without array calls
            x = float(values[0])
            raw = (1.0, x, 0.0)
            win = raw if lo <= x <= hi else (1.0, min(max(x, lo), hi), 0.0)
        else:
            raw = _moments(values)
            win = raw if lo <= values.min() and values.max() <= hi else _moments(np.clip(values, lo, hi))
        n, self.t_mean, self.t_m2 = _merge((self.t_count, self.t_mean, self.t_m2), raw)
        _, self.t_wmean, self.t_wm2 = _merge((self.t_count, self.t_wmean, self.t_wm2), win)
        self.t_count = n
        return values.size

    def close_day(self, cfg: BaselineConfig, min_std: float) -> str:
        """Fold the open day in (or hold it back); returns the event name, '' if the day was empty."""
        n = self.t_count
        if n == 0:
            return ""
        g, f = cfg.guard, cfg.forgetting
        raw, win = (n, self.t_mean, self.t_m2), (n, self.t_wmean, self.t_wm2)
        self.t_count = self.t_mean = self.t_m2 = self.t_wmean = self.t_wm2 = 0.0
        if n < g.min_day_values:
            if self.frozen_days:
                return "skipped"  # too few values to judge while an anomaly is suspected
            ready = False
        else:
            ready = self.day_count >= g.min_guard_days and self.count >= g.winsor_min_count
        if ready and abs(win[1] - self.day_mean) > g.day_k * self._day_sd(g, min_std):
            self.frozen_days += 1
            self.p_count, self.p_mean, self.p_m2 = _merge((self.p_count, self.p_mean, self.p_m2), raw)
            self.p_day_count, self.p_day_mean, self.p_day_m2 = _merge(
                (self.p_day_count, self.p_day_mean, self.p_day_m2), (1.0, raw[1], 0.0))
            self.p_days += 1
            if self.frozen_days <= g.max_frozen_days:
                return "frozen"
            self._accept_shift(f)
            return "shift"
        self._clear_pending()  # a normal day: the frozen days were a transient anomaly
        self.count, self.mean, self.m2 = _merge_capped((self.count, self.mean, self.m2), win,
                                                       f.max_effective_count)
        self.day_count, self.day_mean, self.day_m2 = _merge_capped(
            (self.day_count, self.day_mean, self.day_m2), (1.0, win[1], 0.0), f.max_effective_days)
        self.days += 1
        return "update"

    def _day_sd(self, g: GuardConfig, min_std: float) -> float:
        # the sd of past day levels, floored: a few calm days must not make every day "deviant"
        sd = self.day_std if self.day_count > 1 else 0.0
        floor = g.day_std_floor_frac * max(self.std if self.count > 1 else 0.0, min_std)
        return max(sd, floor, 1e-12)

    def _accept_shift(self, f: ForgettingConfig) -> None:
        """A lasting level change: re-centre on the pending level, keep the learned spread."""
        self.count, self.mean, self.m2 = _merge_capped(
            (self.count, self.p_mean, self.m2), (self.p_count, self.p_mean, self.p_m2), f.max_effective_count)
        self.day_count, self.day_mean, self.day_m2 = _merge_capped(
            (self.day_count, self.p_day_mean, self.day_m2), (self.p_day_count, self.p_day_mean, self.p_day_m2),
            f.max_effective_days)
        self.days += self.p_days
        self._clear_pending()

    def _clear_pending(self) -> None:
        self.frozen_days = self.p_days = 0
        self.p_count = self.p_mean = self.p_m2 = 0.0
        self.p_day_count = self.p_day_mean = self.p_day_m2 = 0.0

    def suspect(self, min_std: float) -> tuple[float, float]:
        """(days held back in a row, their level in personal sd from the baseline).

        The guard's memory doubles as multi-day evidence: days just held back as deviant are
        what an ongoing illness looks like (NightSignal-style, but for every metric and period).
        """
        if not self.frozen_days or self.count < 2 or self.p_count == 0:
            return 0.0, 0.0
        return float(self.frozen_days), float((self.p_mean - self.mean) / max(self.std, min_std, 1e-12))

    def personal(self, cfg: BaselineConfig, min_std: float) -> tuple[float, float, float]:
        """(personal mean, floored personal std, alpha); alpha 0 until enough values exist."""
        if self.count < cfg.blend.min_personal_count:
            return (self.mean if self.count else math.nan), math.nan, 0.0
        return self.mean, max(self.std, min_std), float(cfg.alpha(self.days))


STATE_FIELDS = [f.name for f in fields(MetricState)]
_state_values = operator.attrgetter(*STATE_FIELDS)  # MetricState -> tuple in column order


def blend(personal_mean, personal_std, alpha, group_mean, group_std):
    """Blended (mean, std); works on floats and on numpy arrays alike (same arithmetic)."""
    if (isinstance(alpha, (float, int)) and isinstance(group_mean, (float, int))) or \
            (np.ndim(alpha) == 0 and np.ndim(group_mean) == 0):  # scalar fast path, same IEEE operations
        a = float(alpha)
        pm, ps = (float(personal_mean), float(personal_std)) if a > 0 else (0.0, 0.0)
        gs = float(group_std)
        return a * pm + (1.0 - a) * float(group_mean), math.sqrt(a * ps * ps + (1.0 - a) * (gs * gs))
    a = np.asarray(alpha, dtype=np.float64)
    pm = np.where(a > 0, personal_mean, 0.0)
    ps = np.where(a > 0, personal_std, 0.0)
    mean = a * pm + (1.0 - a) * np.asarray(group_mean, dtype=np.float64)
    std = np.sqrt(a * ps * ps + (1.0 - a) * np.square(np.asarray(group_std, dtype=np.float64)))
    return mean, std


@dataclass(frozen=True)
class BlendedBaseline:
    """The baseline of one metric and period for one user, as the detector uses it."""

    mean: float
    std: float
    alpha: float
    personal_mean: float
    personal_std: float
    group_mean: float
    group_std: float
    n: float
    days_of_history: int
    source: str  # "personal" | "group" | "blend"
    suspect_days: float = 0.0  # consecutive earlier days held back by the guard as deviant
    suspect_z: float = 0.0     # their level vs the personal baseline, in personal sd

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _source(alpha: float) -> str:
    return "group" if alpha <= 0 else "personal" if alpha >= 1 else "blend"


def blended(state: MetricState, group: MeanStd, cfg: BaselineConfig, min_std: float) -> BlendedBaseline:
    pm, ps, a = state.personal(cfg, min_std)
    mean, std = blend(pm, ps, a, group[0], group[1])
    sd, sz = state.suspect(min_std)
    return BlendedBaseline(mean=float(mean), std=float(std), alpha=a, personal_mean=pm, personal_std=ps,
                           group_mean=group[0], group_std=group[1], n=state.count,
                           days_of_history=state.days, source=_source(a), suspect_days=sd, suspect_z=sz)


# ----------------------------------------------------------------------------- SQLite storage

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _day_iso(day: int | None) -> str | None:
    return None if day is None else str(np.datetime64(int(day), "D"))


def _day_int(iso: str | None) -> int | None:
    return None if iso is None else int(np.datetime64(iso, "D").astype(np.int64))


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, profile TEXT NOT NULL DEFAULT '{{}}',
    days INTEGER NOT NULL DEFAULT 0, open_day TEXT, open_has_data INTEGER NOT NULL DEFAULT 0,
    last_ts TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stats (
    user_id TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,
    {", ".join(f"{n} REAL NOT NULL" for n in STATE_FIELDS)},
    updated_at TEXT NOT NULL, PRIMARY KEY (user_id, metric, period));
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, metric TEXT NOT NULL,
    period TEXT NOT NULL, event TEXT NOT NULL, day TEXT, updated_at TEXT NOT NULL,
    count REAL NOT NULL, mean REAL, std REAL, day_mean REAL, frozen_days INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS history_key ON history (user_id, metric, period, id);
"""


@dataclass
class UserRow:
    user_id: str
    profile: dict[str, Any] = field(default_factory=dict)
    days: int = 0
    open_day: int | None = None
    open_has_data: bool = False
    last_ts: np.datetime64 | None = None

    def copy(self) -> "UserRow":
        return UserRow(self.user_id, dict(self.profile), self.days, self.open_day, self.open_has_data, self.last_ts)


class BaselineStorage:
    """Durable per-user baseline state in one SQLite file (":memory:" for tests).

    Every read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent writers
    (threads with their own storage object, or processes) serialise instead of losing updates;
    WAL + synchronous=NORMAL survives a killed process (not guaranteed against power loss).
    One object may be shared by threads: its connection is guarded by a lock.

    The realtime path reads a user's row and states twice per window (baseline lookup, then
    ingest) and writes them once. The last state of up to `max_cached_users` users is kept in
    memory next to SQLite's `PRAGMA data_version`, which changes when another connection (thread
    or process) commits: while it has not changed, the remembered state is what the file holds
    (this connection's own writes go through `transaction`, which forgets, or through ingest,
    which remembers what it wrote once it has committed). SQLite stays the only source of truth.
    """

    def __init__(self, path: str | Path = ":memory:", baseline_config: BaselineConfig | None = None,
                 busy_timeout_s: float = 30.0, max_cached_users: int = 10_000):
        self.path = str(path)
        self.config = baseline_config or default_baseline_config()
        self._lock = threading.RLock()
        self._snapshots: OrderedDict[str, tuple[int, UserRow, dict]] = OrderedDict()  # user -> (data_version, ...)
        self.max_cached_users = max_cached_users
        self._conn = sqlite_store.connect(self.path, busy_timeout_s, shared_across_threads=True)
        with self.transaction() as conn:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ConfigError(f"{self.path}: baseline database schema {row[0]}, expected {SCHEMA_VERSION}")

    # -- plumbing
    @contextmanager
    def transaction(self) -> Iterator:
        """Exclusive-write transaction: the whole block commits or nothing does."""
        with self._lock:
            self._snapshots.clear()  # the block may write any user's state: forget what was remembered
            with sqlite_store.transaction(self._conn, self._lock) as conn:
                yield conn

    def _data_version(self) -> int:
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def _snapshot(self, user_id: str, in_transaction: bool = False) -> tuple[UserRow, dict, int]:
        """(user row, stored states, data_version) as fresh objects the caller may change.

        Call with the lock held. From memory while no other connection has committed since it
        was read; otherwise read in one transaction (the caller's, or a read transaction here).
        The version is read before the rows, so a commit in between only makes the next call
        read again.
        """
        version = self._data_version()
        hit = self._snapshots.get(user_id)
        if hit is not None and hit[0] == version:
            self._snapshots.move_to_end(user_id)
            user, states = hit[1], hit[2]
        else:
            conn = self._conn
            if not in_transaction:
                conn.execute("BEGIN")  # one consistent snapshot of user row and stats
            try:
                user, states = self._read_user(conn, user_id), self._read_states(conn, user_id)
            finally:
                if not in_transaction:
                    conn.execute("COMMIT")
            self._remember(user_id, version, user, states)
        return user.copy(), {k: st.copy() for k, st in states.items()}, version

    def _remember(self, user_id: str, version: int, user: UserRow, states: dict) -> None:
        """Keep a user's committed state (call with the lock held, after the commit)."""
        self._snapshots[user_id] = (version, user, states)
        self._snapshots.move_to_end(user_id)
        while len(self._snapshots) > self.max_cached_users:
            self._snapshots.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "BaselineStorage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _min_std(self, metric: str) -> float:
        return float(self.config.min_std.get(metric, 0.0))

    @staticmethod
    def _ensure_user(conn, user_id: str) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        conn.execute("INSERT INTO users (user_id, updated_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
                     (user_id, _now()))

    @staticmethod
    def _read_state(conn, user_id: str, metric: str, period: str) -> MetricState | None:
        row = conn.execute(f"SELECT {', '.join(STATE_FIELDS)} FROM stats WHERE user_id=? AND metric=? AND period=?",
                           (user_id, metric, period)).fetchone()
        if row is None:
            return None
        st = MetricState(*row)
        st.days, st.frozen_days, st.p_days = int(st.days), int(st.frozen_days), int(st.p_days)
        return st

    @staticmethod
    def _write_state(conn, user_id: str, metric: str, period: str, st: MetricState,
                     event: str | None = None, day: int | None = None) -> None:
        """Store the state; with an event also append a history snapshot of it."""
        conn.execute(f"INSERT OR REPLACE INTO stats (user_id, metric, period, {', '.join(STATE_FIELDS)}, updated_at) "
                     f"VALUES (?, ?, ?, {', '.join('?' * len(STATE_FIELDS))}, ?)",
                     (user_id, metric, period, *[getattr(st, n) for n in STATE_FIELDS], _now()))
        if event:
            BaselineStorage._write_history(conn, user_id, metric, period, st, event, day)

    @staticmethod
    def _write_states(conn, user_id: str, states: list[tuple[str, str, MetricState]]) -> None:
        """Store several states in one statement (no history snapshot)."""
        now = _now()
        conn.executemany(f"INSERT OR REPLACE INTO stats (user_id, metric, period, {', '.join(STATE_FIELDS)}, "
                         f"updated_at) VALUES (?, ?, ?, {', '.join('?' * len(STATE_FIELDS))}, ?)",
                         [(user_id, metric, period, *_state_values(st), now) for metric, period, st in states])

    @staticmethod
    def _write_history(conn, user_id: str, metric: str, period: str, st: MetricState, event: str,
                       day: int | None) -> None:
        std = st.std
        conn.execute("INSERT INTO history (user_id, metric, period, event, day, updated_at, count, mean, std, "
                     "day_mean, frozen_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (user_id, metric, period, event, _day_iso(day), _now(), st.count,
                      st.mean if st.count else None, None if math.isnan(std) else std,
                      st.day_mean if st.day_count else None, st.frozen_days))

    def _read_user(self, conn, user_id: str) -> UserRow:
        row = conn.execute("SELECT profile, days, open_day, open_has_data, last_ts FROM users WHERE user_id=?",
                           (user_id,)).fetchone()
        if row is None:
            return UserRow(user_id)
        return UserRow(user_id, json.loads(row[0]), int(row[1]), _day_int(row[2]), bool(row[3]),
                       None if row[4] is None else np.datetime64(row[4], "ns"))

    def _write_user(self, conn, u: UserRow) -> None:
        if not isinstance(u.user_id, str) or not u.user_id:
            raise ValueError(f"user_id must be a non-empty string, got {u.user_id!r}")
        conn.execute("INSERT INTO users (user_id, profile, days, open_day, open_has_data, last_ts, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET profile=excluded.profile, "
                     "days=excluded.days, open_day=excluded.open_day, open_has_data=excluded.open_has_data, "
                     "last_ts=excluded.last_ts, updated_at=excluded.updated_at",
                     (u.user_id, json.dumps(u.profile, sort_keys=True), u.days, _day_iso(u.open_day),
                      int(u.open_has_data), None if u.last_ts is None else str(u.last_ts), _now()))

    def _read_states(self, conn, user_id: str) -> dict[tuple[str, str], MetricState]:
        rows = conn.execute(f"SELECT metric, period, {', '.join(STATE_FIELDS)} FROM stats WHERE user_id=?",
                            (user_id,)).fetchall()
        out = {}
        for r in rows:
            st = MetricState(*r[2:])
            st.days, st.frozen_days, st.p_days = int(st.days), int(st.frozen_days), int(st.p_days)
            out[(r[0], r[1])] = st
        return out

    # -- public API
    def get(self, user_id: str, metric: str, period: str = ALL) -> MetricState | None:
        """Stored state of one metric and period, or None for a user/metric never seen."""
        with self._lock:
            return self._read_state(self._conn, user_id, metric, period)

    def set_stats(self, user_id: str, metric: str, mean: float, std: float, count: float,
                  period: str = ALL, days: int | None = None) -> MetricState:
        """Seed a baseline from known summary stats (sample std, ddof=1), replacing any state.

        A seeded baseline is evidence about the person: `days` says how many days of history it
        summarises (None: an established baseline, `blend.full_personal_days`, so it is used at
        full personal weight). The user's days of history are raised to at least `days`, so the
        result's baseline block reports the alpha and source the seeded metric is used with.
        Fewer than `blend.min_personal_count` values cannot make a personal baseline: refused.
        """
        if not (math.isfinite(mean) and math.isfinite(std) and std >= 0 and count >= 1):
            raise ValueError(f"set_stats({user_id}, {metric}): need finite mean, std >= 0, count >= 1")
        if count < self.config.blend.min_personal_count:
            raise ValueError(f"set_stats({user_id}, {metric}): count {count} is below blend.min_personal_count "
                             f"{self.config.blend.min_personal_count}; so few values would never be used as a "
                             "personal baseline (update() them in instead)")
        if days is None:
            days = math.ceil(self.config.blend.full_personal_days)
        st = MetricState(count=float(count), mean=float(mean), m2=float(std) ** 2 * (count - 1), days=int(days))
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            self._write_state(conn, user_id, metric, period, st, event="seed")
            conn.execute("UPDATE users SET days = MAX(days, ?), updated_at = ? WHERE user_id = ?",
                         (int(days), _now(), user_id))
        return st

    def update(self, user_id: str, metric: str, values: Iterable[float] | float, period: str = ALL,
               winsorise: bool = True) -> MetricState:
        """Merge already-vetted values now (Welford / batch merge), atomically; no day guard.

        This is the low-level path (the seed's `update`); frames should go through
        `UserDataManager.ingest`, which applies the quality, anomaly and day-level guards.
        Values are winsorised at mean +- winsor_k*sd once enough data exist. Non-finite values
        raise, they are not dropped.
        """
        x = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if not np.isfinite(x).all():
            raise ValueError(f"update({user_id}, {metric}): value {x[~np.isfinite(x)][0]} is not finite")
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            st = self._read_state(conn, user_id, metric, period) or MetricState()
            if x.size:
                lo, hi = st.winsor_bounds(self.config.guard, self._min_std(metric)) if winsorise else (-np.inf, np.inf)
                st.count, st.mean, st.m2 = _merge_capped((st.count, st.mean, st.m2), _moments(np.clip(x, lo, hi)),
                                                         self.config.forgetting.max_effective_count)
                self._write_state(conn, user_id, metric, period, st, event="update")
        return st

    def history(self, user_id: str, metric: str, period: str = ALL) -> pd.DataFrame:
        """Snapshots after each change (seed / update / day / frozen / shift), oldest first, for charts."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, event, day, updated_at, count, mean, std, day_mean, frozen_days FROM history "
                "WHERE user_id=? AND metric=? AND period=? ORDER BY id", (user_id, metric, period)).fetchall()
        df = pd.DataFrame(rows, columns=["id", "event", "day", "updated_at", "count", "mean", "std", "day_mean",
                                         "frozen_days"])
        df["day"] = pd.to_datetime(df["day"])
        df["updated_at"] = pd.to_datetime(df["updated_at"])
        return df.astype({"count": float, "mean": float, "std": float, "day_mean": float})

    def reset(self, user_id: str) -> None:
        """Forget everything about a user (stats, history, profile)."""
        with self.transaction() as conn:
            for table in ("stats", "history", "users"):
                conn.execute(f"DELETE FROM {table} WHERE user_id=?", (user_id,))

    def list_users(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT user_id FROM users ORDER BY user_id")]

    def get_profile(self, user_id: str) -> dict[str, Any]:
        """Static features of a user as stored (labels, e.g. {"age_group": "40-49"}); {} if unknown."""
        with self._lock:
            row = self._conn.execute("SELECT profile FROM users WHERE user_id=?", (user_id,)).fetchone()
        return {} if row is None else json.loads(row[0])

    def set_profile(self, user_id: str, profile: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            conn.execute("UPDATE users SET profile=?, updated_at=? WHERE user_id=?",
                         (json.dumps(dict(profile), sort_keys=True), _now(), user_id))


# ----------------------------------------------------------------------------- frame -> usable values

def _period_lut(config: FeatureConfig) -> np.ndarray:
    """Time period by hour of day (memoised per config object: ingest runs per realtime window)."""
    lut = _PERIOD_LUTS.get(id(config))
    if lut is None or lut[0] is not config:
        lut = _PERIOD_LUTS[id(config)] = (config, np.array([config.time_period_of_hour(h) for h in range(24)],
                                                           dtype=object))
    return lut[1]


_PERIOD_LUTS: dict[int, tuple[FeatureConfig, np.ndarray]] = {}


def _usable_values(rows, config: FeatureConfig, bcfg: BaselineConfig,
                   keys: list[BaselineKey], is_normal) -> dict[BaselineKey, np.ndarray]:
    """Per key the source values with NaN wherever a value must not update the baseline.

    `rows`: a frame, or its columns as numpy arrays (anything with `in` and `[name]`).
    """
    n = len(rows[TIME])
    ok = np.ones(n, dtype=bool)
    if is_normal is not None:
        mask = np.asarray(is_normal)
        if mask.shape != (n,) or mask.dtype != bool:
            raise ValueError(f"is_normal must be a boolean array of length {n} (one per row), "
                             f"got dtype {mask.dtype} and shape {mask.shape}")
        ok &= mask
    dq = config.features.get("data_quality")
    if bcfg.guard.skip_low_quality and dq is not None and "data_quality" in rows and "low" in dq.categories:
        ok &= np.asarray(rows["data_quality"], dtype=np.float64) != dq.categories["low"]
    hours = np.asarray(rows[TIME], dtype="datetime64[ns]").astype("datetime64[h]").astype(np.int64) % 24
    periods = _period_lut(config)[hours]
    rest, rest_periods = _at_rest(rows, config) if any(k.at_rest for k in keys) else (None, None)
    out = {}
    for key in keys:
        if key.source not in rows:
            out[key] = np.full(n, np.nan)
            continue
        v = np.array(rows[key.source], dtype=np.float64)  # a copy: NaN is written into it
        if key.at_rest:
            keep = ok & rest if key.period == ALL else ok & rest & (rest_periods == key.period)
        else:
            keep = ok if key.period == ALL else ok & (periods == key.period)
        v[~keep] = np.nan
        out[key] = v
    return out


def _day_bounds(day: np.ndarray) -> np.ndarray:
    """Start offsets of each run of equal days, plus the end (days are sorted)."""
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]]) if day.size else np.zeros(0, dtype=np.int64)
    return np.r_[starts, day.size]


def _static_label(config: FeatureConfig, name: str, value: Any, where: str) -> str | None:
    spec = config.static.get(name)
    if spec is None or value is None:
        return None
    code = spec.code(value)
    if code is None:
        raise ValueError(f"{where}.{name}: '{value}' is not one of {sorted(spec.categories)}")
    return spec.label(code)


# ----------------------------------------------------------------------------- realtime manager

@dataclass
class IngestReport:
    rows: int                      # rows given
    skipped_rows: int              # rows at or before the last ingested timestamp (already seen)
    closed_days: list[str]         # days folded into the baseline by this call
    events: dict[str, list[tuple[str, str]]]  # key -> [(day, event)], event in update/frozen/shift/skipped


class UserDataManager:
    """What the detector uses: guarded ingestion and blended baselines per user.

    `ingest` feeds rows (one user's frame slice, in time order; rows already seen are skipped
    by timestamp); `baseline_for` returns the blended baselines at the start of the open day
    (or of a later day, `as_of`), i.e. from data strictly before that day.
    """

    def __init__(self, storage: BaselineStorage, feature_config: FeatureConfig | None = None,
                 baseline_config: BaselineConfig | None = None):
        self.storage = storage
        self.config = feature_config or default_feature_config()
        self.bcfg = baseline_config or storage.config
        self.bcfg.check_against(self.config)
        self.keys = baseline_keys(self.config)
        self._group_cache: dict[tuple, MeanStd] = {}
        self._ingest_columns = [USER, TIME, "data_quality", *dict.fromkeys(k.source for k in self.keys),
                                *(REST_COLUMNS if any(k.at_rest for k in self.keys) else ()),
                                *(static_column(n) for n in self.config.static)]

    def _min_std(self, metric: str) -> float:
        return float(self.bcfg.min_std.get(metric, 0.0))

    def _close_open_day(self, user: UserRow, states: dict, events: dict) -> None:
        """Close the open day for every key; events collect (day, event, snapshot) for history."""
        for key in self.keys:
            st = states[key.metric, key.period]
            ev = st.close_day(self.bcfg, self._min_std(key.metric))
            if ev:
                events.setdefault(key, []).append((user.open_day, ev, replace(st)))
        user.days += int(user.open_has_data)
        user.open_has_data = False

    def ingest(self, user_id: str, frame_rows, is_normal=None) -> IngestReport:
        """Guarded update from one user's rows (frame contract columns); one atomic transaction.

        `frame_rows`: a frame, or its columns as numpy arrays (`features.frame_columns`).
        """
        if TIME not in frame_rows:
            raise ValueError(f"ingest({user_id}): frame has no '{TIME}' column")
        n_rows = len(frame_rows[TIME])
        if USER in frame_rows:
            others = {str(u) for u in set(np.asarray(frame_rows[USER], dtype=object).tolist())} - {user_id}
            if others:
                raise ValueError(f"ingest({user_id}): frame rows belong to other users too: {sorted(others)[:3]}")
        # only the columns ingest reads, as arrays, in time order
        rows = {c: np.asarray(frame_rows[c]) for c in self._ingest_columns if c in frame_rows}
        ts = rows[TIME].astype("datetime64[ns]")
        mask = None if is_normal is None else np.asarray(is_normal)
        if n_rows > 1 and (ts[1:] < ts[:-1]).any():
            order = np.argsort(ts, kind="stable")
            rows = {c: v[order] for c, v in rows.items()}
            ts = ts[order]
            if mask is not None and mask.shape == (n_rows,):
                mask = mask[order]
        values = _usable_values(rows, self.config, self.bcfg, self.keys, mask)
        events: dict[BaselineKey, list] = {}
        closed: list[str] = []
        st = self.storage
        with st._lock:  # held until the committed state is remembered (no other thread in between)
            with sqlite_store.transaction(st._conn, st._lock) as conn:
                user, stored, version = st._snapshot(user_id, in_transaction=True)
                states = {(k.metric, k.period): stored.get((k.metric, k.period), MetricState()) for k in self.keys}
                start = 0 if user.last_ts is None else int(np.searchsorted(ts, user.last_ts, side="right"))
                day = ts[start:].astype("datetime64[D]").astype(np.int64)
                bounds = _day_bounds(day)
                for a, b in zip(bounds[:-1], bounds[1:]):
                    d = int(day[a])
                    if user.open_day is not None and d > user.open_day:
                        closed.append(_day_iso(user.open_day))
                        self._close_open_day(user, states, events)
                    user.open_day = d
                    for key in self.keys:
                        seg = values[key][start + a:start + b]
                        seg = seg[~np.isnan(seg)]
                        user.open_has_data |= states[key.metric, key.period].add_today(
                            seg, self.bcfg.guard, self._min_std(key.metric)) > 0
                if start < len(ts):
                    user.last_ts = ts[-1]
                self._update_profile(user, rows)
                st._write_user(conn, user)
                st._write_states(conn, user_id, [(k.metric, k.period, states[k.metric, k.period]) for k in self.keys])
                for key in self.keys:
                    for d, ev, snap in events.get(key, []):
                        st._write_history(conn, user_id, key.metric, key.period, snap, ev, d)
                committed = (user, {**stored, **states})
            # Committed (an exception above rolls back and skips this): no other connection could
            # commit while this one held the write lock, so the version read inside still holds.
            st._remember(user_id, version, *committed)
        return IngestReport(rows=n_rows, skipped_rows=start, closed_days=closed,
                            events={k.name: [(_day_iso(d), e) for d, e, _ in v] for k, v in events.items()})

    def _update_profile(self, user: UserRow, rows: Mapping[str, np.ndarray]) -> None:
        """Fill unknown profile entries from the rows' static columns (last row wins)."""
        for name, spec in self.config.static.items():
            col = static_column(name)
            if col in rows and len(rows[col]):
                label = spec.label(int(rows[col][-1]))
                if label != spec.default and user.profile.get(name) in (None, spec.default):
                    user.profile[name] = label

    def _state_as_of(self, user_id: str, as_of: Any = None) -> tuple[UserRow, dict]:
        with self.storage._lock:
            user, stored, _ = self.storage._snapshot(user_id)
        # fresh objects, so closing the open day in memory below touches no one else's
        states = {(k.metric, k.period): stored.get((k.metric, k.period)) or MetricState() for k in self.keys}
        if as_of is not None and user.open_day is not None:
            day = int(np.datetime64(pd.Timestamp(as_of).to_datetime64(), "D").astype(np.int64))
            if day > user.open_day:  # the open day is over by then: close it in memory, not on disk
                self._close_open_day(user, states, {})
        return user, states

    def _labels(self, user: UserRow, static: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        src = user.profile if static is None else static
        return (_static_label(self.config, "age_group", src.get("age_group"), "static"),
                _static_label(self.config, "sex", src.get("sex"), "static"))

    def baseline_for(self, user_id: str, static: Mapping[str, Any] | None = None,
                     as_of: Any = None) -> dict[str, BlendedBaseline]:
        """Blended baseline per key name (`hr_resting`, `hr_resting_night`, ...).

        `static`: labels or codes ({"age_group": "40-49", "sex": 0}); None -> stored profile.
        `as_of`: a timestamp; baselines for that day (default: the open day).
        """
        user, states = self._state_as_of(user_id, as_of)
        return self._blended(user, states, static)

    def _blended(self, user: UserRow, states: dict, static: Mapping[str, Any] | None) -> dict[str, BlendedBaseline]:
        age, sex = self._labels(user, static)
        return {k.name: blended(states[k.metric, k.period], self._group_stats(k, age, sex),
                                self.bcfg, self._min_std(k.metric)) for k in self.keys}

    def _group_stats(self, key: BaselineKey, age: str | None, sex: str | None) -> MeanStd:
        """`bcfg.group_stats`, memoised: it depends on the (fixed) baseline config only."""
        cache_key = (key.metric, key.period, age, sex)
        stats = self._group_cache.get(cache_key)
        if stats is None:
            stats = self._group_cache[cache_key] = self.bcfg.group_stats(key.metric, key.period, age, sex)
        return stats

    def days_of_history(self, user_id: str, as_of: Any = None) -> int:
        """Days with usable data before the open day (or before `as_of`'s day)."""
        return self._state_as_of(user_id, as_of)[0].days

    def summary(self, user_id: str, static: Mapping[str, Any] | None = None, as_of: Any = None) -> dict[str, Any]:
        """The result's `baseline` block (architecture section 5)."""
        user, states = self._state_as_of(user_id, as_of)
        alpha = float(self.bcfg.alpha(user.days))
        metrics = {name: {"mean": b.mean, "std": b.std, "personal_mean": b.personal_mean,
                          "personal_std": b.personal_std, "group_mean": b.group_mean, "group_std": b.group_std,
                          "suspect_days": b.suspect_days, "suspect_z": b.suspect_z, "source": b.source}
                   for name, b in self._blended(user, states, static).items()}
        return {"source": _source(alpha), "alpha": alpha, "days_of_history": user.days, "metrics": metrics}

    def baseline_columns(self, user_id: str, frame_rows: pd.DataFrame,
                         static: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """`frame_rows` with the bl_ columns of `causal_baseline_columns`, from the stored state.

        Each row gets the baseline of its day (no look-ahead). Rows on a day before the open
        day get the current state (the store keeps no rewind). `static` None -> the rows'
        static columns if present, else the stored profile.
        """
        names = [n for n in ("age_group", "sex") if n in self.config.static]
        if static is None and len(frame_rows) and all(static_column(n) in frame_rows.columns for n in names):
            static = {n: int(frame_rows[static_column(n)].iloc[0]) for n in names}
        days = frame_rows[TIME].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        cols = {f"bl_{k.name}_{s}": np.full(len(days), np.nan) for k in self.keys
                for s in ("mean", "std", "suspect_days", "suspect_z")}
        cols["bl_alpha"], cols["bl_days"] = np.full(len(days), np.nan), np.full(len(days), np.nan)
        for d in np.unique(days):
            rows = days == d
            user, states = self._state_as_of(user_id, as_of=d)
            for name, b in self._blended(user, states, static).items():
                cols[f"bl_{name}_mean"][rows], cols[f"bl_{name}_std"][rows] = b.mean, b.std
                cols[f"bl_{name}_suspect_days"][rows], cols[f"bl_{name}_suspect_z"][rows] = b.suspect_days, b.suspect_z
            cols["bl_alpha"][rows], cols["bl_days"][rows] = self.bcfg.alpha(user.days), user.days
        return frame_rows.assign(**cols)


# ----------------------------------------------------------------------------- causal batch replay

def causal_baseline_columns(frame: pd.DataFrame, feature_config: FeatureConfig | None = None,
                            baseline_config: BaselineConfig | None = None, is_normal=None) -> pd.DataFrame:
    """Frame with `bl_<key>_mean/std`, `bl_alpha`, `bl_days`, built from days strictly before each row's day.

    Replays the same guarded day-level update as `UserDataManager.ingest` (loop over days, not
    rows), starting each user from an empty personal state. Group priors use the rows'
    `static_age_group` / `static_sex` codes (unknown when absent).
    """
    config = feature_config or default_feature_config()
    bcfg = baseline_config or default_baseline_config()
    bcfg.check_against(config)
    for col in (USER, TIME):
        if col not in frame.columns:
            raise ValueError(f"causal_baseline_columns: frame has no '{col}' column")
    keys = baseline_keys(config)
    n = len(frame)
    if n == 0:
        names = [f"bl_{k.name}_{s}" for k in keys for s in ("mean", "std", "suspect_days", "suspect_z")] + ["bl_alpha", "bl_days"]
        return frame.assign(**{c: np.zeros(0) for c in names})
    ts = frame[TIME].to_numpy(dtype="datetime64[ns]")
    user_codes = pd.factorize(frame[USER])[0]
    order = np.lexsort((ts, user_codes))  # the contract sorts by (user, time); do not rely on it
    needed = [c for c in {k.source for k in keys} | {TIME, "data_quality"} | {static_column(n) for n in config.static}
              | (set(REST_COLUMNS) if any(k.at_rest for k in keys) else set()) if c in frame.columns]
    sframe = frame[needed].iloc[order]
    mask = None if is_normal is None else np.asarray(is_normal)
    if mask is not None and mask.shape == (n,):
        mask = mask[order]
    values = _usable_values(sframe, config, bcfg, keys, mask)
    day = ts[order].astype("datetime64[D]").astype(np.int64)
    ucodes = user_codes[order]
    # a new "run" wherever the user or the day changes; users are contiguous after the sort
    run_start = np.flatnonzero(np.r_[True, (day[1:] != day[:-1]) | (ucodes[1:] != ucodes[:-1])])
    run_end = np.r_[run_start[1:], n]
    run_user = ucodes[run_start]
    user_first_run = np.r_[True, run_user[1:] != run_user[:-1]]
    personal = {k: np.full((len(run_start), 3), np.nan) for k in keys}
    suspect = {k: np.zeros((len(run_start), 2)) for k in keys}
    has_data = np.zeros(len(run_start), dtype=bool)
    for key in keys:
        v, out, min_std = values[key], personal[key], float(bcfg.min_std.get(key.metric, 0.0))
        finite = ~np.isnan(v)
        csum = np.r_[0, np.cumsum(finite)]  # usable values before each row -> slices of the compacted array
        vu = v[finite]
        st = MetricState()
        for i, (a, b) in enumerate(zip(run_start, run_end)):
            if user_first_run[i]:
                st = MetricState()
            out[i] = st.personal(bcfg, min_std)
            suspect[key][i] = st.suspect(min_std)
            if st.add_today(vu[csum[a]:csum[b]], bcfg.guard, min_std):
                has_data[i] = True
            st.close_day(bcfg, min_std)
    # days of history: days with any usable value before this day, per user
    days_before = np.cumsum(has_data) - has_data
    first_idx = np.maximum.accumulate(np.where(user_first_run, np.arange(len(run_start)), 0))
    days_before = days_before - days_before[first_idx]
    reps = run_end - run_start
    age_codes, sex_codes = (sframe[static_column(s)].to_numpy(dtype=np.int64) if static_column(s) in sframe.columns
                            else None for s in ("age_group", "sex"))
    result = {}
    for key in keys:
        pm, ps, pa = (np.repeat(personal[key][:, j], reps) for j in range(3))
        gm, gs = _group_per_row(config, bcfg, key, age_codes, sex_codes, n)
        mean, std = blend(pm, ps, pa, gm, gs)
        result[f"bl_{key.name}_mean"], result[f"bl_{key.name}_std"] = mean, std
        result[f"bl_{key.name}_suspect_days"] = np.repeat(suspect[key][:, 0], reps)
        result[f"bl_{key.name}_suspect_z"] = np.repeat(suspect[key][:, 1], reps)
    row_days = np.repeat(days_before, reps).astype(np.float64)
    result["bl_alpha"] = np.asarray(bcfg.alpha(row_days), dtype=np.float64)
    result["bl_days"] = row_days
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    out = frame.copy()
    for name, col in result.items():
        out[name] = col[inverse]
    return out


def _group_per_row(config: FeatureConfig, bcfg: BaselineConfig, key: BaselineKey,
                   age_codes: np.ndarray | None, sex_codes: np.ndarray | None, n: int):
    """Group (mean, std) per row via a small lookup table over the static codes."""
    def codes_and_labels(name: str, codes: np.ndarray | None):
        spec = config.static.get(name)
        if spec is None:
            return np.zeros(n, dtype=np.int64), [None]
        if codes is None:  # no static column: everyone is the config default ("unknown")
            codes = np.full(n, spec.categories[spec.default], dtype=np.int64)
        return codes, [spec.label(c) for c in range(spec.cardinality)]
    ai, ages = codes_and_labels("age_group", age_codes)
    si, sexes = codes_and_labels("sex", sex_codes)
    table = np.array([[bcfg.group_stats(key.metric, key.period, a, s) for s in sexes] for a in ages])
    return table[ai, si, 0], table[ai, si, 1]
