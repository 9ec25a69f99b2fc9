"""Trend tools of the rules document: moving averages, (robust) statistics, linear trend.

All functions work on a contiguous daily series (NaN = not logged) and are
*causal* where they describe history: the value at day t uses days < t only
(``prior_*``), so a day is never compared with a baseline that contains itself.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-9
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this = its standard deviation


def reached_above(x: np.ndarray | float, threshold: np.ndarray | float) -> np.ndarray | bool:
    """x >= threshold, tolerant of float noise (72.1 - 70.1 = 1.99999...)."""
    t = np.asarray(threshold, dtype=np.float64)
    return np.asarray(x) >= t - EPS * np.maximum(1.0, np.abs(t))


def reached_below(x: np.ndarray | float, threshold: np.ndarray | float) -> np.ndarray | bool:
    t = np.asarray(threshold, dtype=np.float64)
    return np.asarray(x) <= t + EPS * np.maximum(1.0, np.abs(t))


def exceeds_above(x: np.ndarray | float, threshold: np.ndarray | float) -> np.ndarray | bool:
    """x > threshold, strictly (the document's ">"), tolerant of float noise: 72.0 - 70.0 = 2.0 does
    not exceed 2, 72.1 - 70.1 = 1.99999... does not either."""
    t = np.asarray(threshold, dtype=np.float64)
    return np.asarray(x) > t + EPS * np.maximum(1.0, np.abs(t))


def exceeds_below(x: np.ndarray | float, threshold: np.ndarray | float) -> np.ndarray | bool:
    """x < threshold, strictly (the document's "<", or below a closed normal range)."""
    t = np.asarray(threshold, dtype=np.float64)
    return np.asarray(x) < t - EPS * np.maximum(1.0, np.abs(t))


def compare(x, threshold, above: bool, strict: bool):
    """One comparator for every rule: above/below, strict (">", "<") or inclusive (">=", "<=")."""
    if above:
        return exceeds_above(x, threshold) if strict else reached_above(x, threshold)
    return exceeds_below(x, threshold) if strict else reached_below(x, threshold)


def moving_average(s: pd.Series, days: int, min_points: int = 1) -> pd.Series:
    """Trailing `days`-day mean including today (the document's 7-day moving average)."""
    return s.rolling(days, min_periods=min_points).mean()


def _prior_window(s: pd.Series, days: int) -> np.ndarray:
    """[len(s), days]: row t holds the `days` values before day t (NaN before the series starts).
    A strided view, no copy: the prior_* statistics below are reductions along its rows."""
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    padded = np.concatenate([np.full(days, np.nan), x[:-1] if len(x) else x])
    return np.lib.stride_tricks.sliding_window_view(padded, days)[: len(x)]


def _reduce(window: np.ndarray, fn, rows: np.ndarray, **kw) -> np.ndarray:
    """`fn` (a nan-aware numpy reduction) along each of the chosen `rows`, NaN elsewhere. The callers
    choose rows with enough values, so numpy never warns about an empty slice (and no warnings filter,
    which is process-wide and not thread-safe, has to be touched in the served app)."""
    out = np.full(window.shape[0], np.nan)
    if rows.any():
        out[rows] = fn(window[rows], axis=1, **kw)
    return out


def prior_stats(s: pd.Series, days: int, min_points: int) -> pd.DataFrame:
    """Mean, sample std and count of the `days` days *before* each day (NaN below min_points)."""
    w = _prior_window(s, days)
    n = np.isfinite(w).sum(axis=1)
    ok = n >= max(min_points, 1)
    return pd.DataFrame({"mean": _reduce(w, np.nanmean, ok), "std": _reduce(w, np.nanstd, ok & (n >= 2), ddof=1),
                         "n": n.astype(np.float64)}, index=s.index)


def prior_median(s: pd.Series, days: int, min_points: int = 1) -> pd.Series:
    """Median of the logged values in the `days` days before each day: one bad reading in the
    history does not move it (the reference for spotting an isolated spike)."""
    w = _prior_window(s, days)
    return pd.Series(_reduce(w, np.nanmedian, np.isfinite(w).sum(axis=1) >= max(min_points, 1)), index=s.index)


def prior_robust(s: pd.Series, days: int, min_points: int) -> pd.DataFrame:
    """Median and MAD-sd of the `days` days before each day (NaN below min_points)."""
    w = _prior_window(s, days)
    n = np.isfinite(w).sum(axis=1)
    ok = n >= max(min_points, 1)
    med = _reduce(w, np.nanmedian, ok)
    sd = MAD_TO_SD * _reduce(np.abs(w - med[:, None]), np.nanmedian, ok)
    return pd.DataFrame({"median": med, "sd": sd, "n": n.astype(np.float64)}, index=s.index)


def robust_stats(x: np.ndarray) -> tuple[float, float]:
    """(median, MAD-sd) of the finite values of x."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(x))
    return med, float(MAD_TO_SD * np.median(np.abs(x - med)))


def linear_trend(y: np.ndarray, x: np.ndarray | None = None) -> tuple[float, float, int]:
    """Least-squares slope and intercept over the finite points; (nan, nan, n) if n < 2."""
    y = np.asarray(y, dtype=np.float64)
    x = np.arange(len(y), dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    ok = np.isfinite(y)
    n = int(ok.sum())
    if n < 2 or np.ptp(x[ok]) == 0:
        return float("nan"), float("nan"), n
    slope, intercept = np.polyfit(x[ok], y[ok], 1)
    return float(slope), float(intercept), n


def rolling_slope(s: pd.Series, days: int, min_points: int) -> pd.DataFrame:
    """Least-squares slope per day over the trailing `days` days (NaN-aware, vectorised):
    slope = cov(t, y) / var(t) using only the logged days of each window."""
    y = s.to_numpy(dtype=np.float64)
    t = np.arange(len(y), dtype=np.float64)
    ok = np.isfinite(y)
    frame = pd.DataFrame({"n": ok.astype(float), "t": np.where(ok, t, 0.0), "y": np.where(ok, y, 0.0),
                          "tt": np.where(ok, t * t, 0.0), "ty": np.where(ok, t * y, 0.0)}, index=s.index)
    r = frame.rolling(days, min_periods=1).sum()
    n = r["n"]
    var_t = r["tt"] - r["t"] ** 2 / n.where(n > 0)
    cov = r["ty"] - r["t"] * r["y"] / n.where(n > 0)
    slope = (cov / var_t.where(var_t > EPS)).where(n >= min_points)
    return pd.DataFrame({"slope": slope, "n": n})


def streaks(cond: pd.Series, valid: pd.Series, days: int, max_missing_days: int) -> tuple[np.ndarray, np.ndarray]:
    """"n days in a row" on logged days: (end, start) where end[t] is True when t is logged and
    the last `days` logged days up to t all satisfy `cond` and lie within `days + max_missing_days`
    calendar days; start[t] is the position of the first of them. An unlogged day lengthens the
    window instead of breaking the streak or being counted as a pass."""
    n = len(cond)
    idx = np.flatnonzero(valid.to_numpy(dtype=bool))
    end = np.zeros(n, dtype=bool)
    start = np.full(n, -1, dtype=np.int64)
    if len(idx) < days:
        return end, start
    ok = cond.to_numpy(dtype=bool)[idx]
    run = pd.Series(ok.astype(np.float64)).rolling(days).sum().to_numpy() >= days
    first = np.r_[np.full(days - 1, -(10**9)), idx[: len(idx) - days + 1]]
    hit = run & ((idx - first) < days + max_missing_days)
    end[idx[hit]] = True
    start[idx[hit]] = first[hit]
    return end, start


def last_logged_window(valid: pd.Series, days: int) -> np.ndarray:
    """Position of the first of the last `days` logged days up to each day (-1 if fewer)."""
    idx = np.flatnonzero(valid.to_numpy(dtype=bool))
    out = np.full(len(valid), -1, dtype=np.int64)
    if len(idx) >= days:
        out[idx[days - 1:]] = idx[: len(idx) - days + 1]
    return out


def next_valid(valid: np.ndarray) -> np.ndarray:
    """Position of the next logged day after each day (len(valid) if none)."""
    n = len(valid)
    pos = np.where(valid, np.arange(n), n)
    after = np.minimum.accumulate(pos[::-1])[::-1]   # first valid at or after i
    return np.r_[after[1:], n]
