"""Online statistics of one (user, metric, period): running moments, the day clock and the guard,
and the blend of the personal baseline with the group prior."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from ..config import FeatureConfig
from .config import ALL, BaselineConfig, ForgettingConfig, GuardConfig, MeanStd


Moments = tuple[float, float, float]  # (count, mean, M2 = sum of squared deviations)


def moments_of(x: np.ndarray) -> Moments:
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


def merge_capped(old: Moments, new: Moments, cap: float) -> Moments:
    """Merge with exponential forgetting: the old part is shrunk so the result stays <= cap."""
    return _shrink(_merge(_shrink(old, cap - new[0]), new), cap)


def _std(n: float, m2: float) -> float:
    return math.sqrt(max(m2, 0.0) / (n - 1)) if n > 1 else math.nan


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
            raw = moments_of(values)
            win = raw if lo <= values.min() and values.max() <= hi else moments_of(np.clip(values, lo, hi))
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
        self.count, self.mean, self.m2 = merge_capped((self.count, self.mean, self.m2), win,
                                                       f.max_effective_count)
        self.day_count, self.day_mean, self.day_m2 = merge_capped(
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
        self.count, self.mean, self.m2 = merge_capped(
            (self.count, self.p_mean, self.m2), (self.p_count, self.p_mean, self.p_m2), f.max_effective_count)
        self.day_count, self.day_mean, self.day_m2 = merge_capped(
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


state_values = operator.attrgetter(*STATE_FIELDS)  # MetricState -> tuple in column order


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


class BlendedBaseline(NamedTuple):
    """The baseline of one metric and period for one user, as the detector uses it (immutable; a
    NamedTuple, built several times cheaper than a frozen dataclass: a realtime call makes one per key)."""

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
        return self._asdict()


def source_of(alpha: float) -> str:
    return "group" if alpha <= 0 else "personal" if alpha >= 1 else "blend"


def blended(state: MetricState, group: MeanStd, cfg: BaselineConfig, min_std: float) -> BlendedBaseline:
    pm, ps, a = state.personal(cfg, min_std)
    mean, std = blend(pm, ps, a, group[0], group[1])
    sd, sz = state.suspect(min_std)
    return BlendedBaseline(mean=float(mean), std=float(std), alpha=a, personal_mean=pm, personal_std=ps,
                           group_mean=group[0], group_std=group[1], n=state.count,
                           days_of_history=state.days, source=source_of(a), suspect_days=sd, suspect_z=sz)
