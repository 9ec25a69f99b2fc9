"""Records -> the values a baseline may learn from: its metric's source feature, by time period and day."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import FeatureConfig
from ..data.records import TIME
from ..verdict.stream_context import REST, StreamContext, StreamSettings, stream_context
from .config import ALL, BaselineConfig
from .state import BaselineKey


# what an at-rest baseline needs besides its source: the columns stream_context reads for "at rest"
REST_COLUMNS = ("steps", "hr_resting", "sleep_state", "accel_mag")


def _at_rest(rows, config: FeatureConfig, context: StreamContext | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows taken at rest, each row's period with sleep counted as night), by the same definitions as
    the verdict's evidence (default settings). `context`: the same rows' context, already made (the
    realtime verdict's), used when it was made with these settings."""
    settings = StreamSettings(sampling_minutes=config.sampling_minutes)
    if context is None or context.settings != settings or len(context) != len(rows[TIME]):
        context = stream_context({c: rows[c] for c in (TIME, *REST_COLUMNS) if c in rows}, config, settings)
    return context.rest == REST, context.periods


def usable_values(rows, config: FeatureConfig, bcfg: BaselineConfig,
                   keys: list[BaselineKey], is_normal, context: StreamContext | None = None
                   ) -> dict[BaselineKey, np.ndarray]:
    """Per key the source values with NaN wherever a value must not update the baseline.

    `rows`: a frame, or its columns as numpy arrays (anything with `in` and `[name]`). `context`: the
    rows' stream context if the caller has it (`_at_rest`).
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
    periods = config.period_by_hour[hours]
    rest, rest_periods = _at_rest(rows, config, context) if any(k.at_rest for k in keys) else (None, None)
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


def day_bounds(day: np.ndarray) -> np.ndarray:
    """Start offsets of each run of equal days, plus the end (days are sorted)."""
    if not day.size:
        return np.zeros(1, dtype=np.int64)
    if day[0] == day[-1]:  # one day (sorted): the realtime case
        return np.array([0, day.size], dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(day[1:] != day[:-1]) + 1, [day.size]))


def static_label(config: FeatureConfig, name: str, value: Any, where: str) -> str | None:
    spec = config.static.get(name)
    if spec is None or value is None:
        return None
    code = spec.code(value)
    if code is None:
        raise ValueError(f"{where}.{name}: '{value}' is not one of {sorted(spec.categories)}")
    return spec.label(code)
