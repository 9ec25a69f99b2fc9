"""The data contract: one record per 5-minute interval, and its columnar form.

A record (the seed's shape)::

    {"timestamp": "2024-01-01T08:00:00", "deviceId": "ab60",
     "features": {"hr": 72.0, "hrv_rmssd": 30.0, "sleep_state": "light", ...},
     "static_features": {"age_group": 2, "sex": "female", "exercise": 1}}

Timestamps are the wearer's local wall-clock time (circadian features depend on
it). A timestamp carrying a UTC offset is read as the wall-clock time in that
offset; the offset itself is dropped.

The columnar form (`records_to_frame`) is what every later step uses: one row
per record, sorted by (user_id, timestamp), columns

- ``user_id`` (str), ``timestamp`` (datetime64[ns], naive local time)
- one float64 column per feature of the config; categorical features hold
  their integer code; NaN means *not observed* (never silently imputed)
- ``static_<name>`` int64 codes per static feature (config default when absent)
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .config import FeatureConfig, default_feature_config

USER, TIME = "user_id", "timestamp"
STATIC_PREFIX = "static_"
ANONYMOUS_PREFIX = "anon-"

FeatureValue = float | int | str | None


class Record(BaseModel):
    """Structural validation of one record; config-driven checks live in `validation`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timestamp: datetime
    device_id: str | None = Field(default=None, alias="deviceId", max_length=128)
    features: dict[str, FeatureValue] = Field(default_factory=dict)
    static_features: dict[str, FeatureValue] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _wall_clock(cls, ts: datetime) -> datetime:
        return ts.replace(tzinfo=None)

    @field_validator("features")
    @classmethod
    def _finite(cls, feats: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
        for name, value in feats.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"features.{name}: {value} is not a finite number")
        return feats


def static_column(name: str) -> str:
    return f"{STATIC_PREFIX}{name}"


def derive_time_period(timestamps: pd.Series | pd.DatetimeIndex, config: FeatureConfig) -> np.ndarray:
    """Code of `time_period_primary` from the hour of day (used when a record does not say)."""
    spec = config.features.get("time_period_primary")
    hours = pd.DatetimeIndex(timestamps).hour.to_numpy()
    lut = np.array([spec.categories[config.time_period_of_hour(h)] for h in range(24)], dtype=np.float64)
    return lut[hours]


def _encode(value: FeatureValue, spec) -> float:
    if value is None:
        return np.nan
    if spec.is_numeric:
        return float(value)
    code = spec.category_code(value)
    return np.nan if code is None else float(code)


def records_to_columns(records: Iterable[Record | dict], config: FeatureConfig | None = None,
                       user_id: str | None = None) -> dict[str, np.ndarray]:
    """The columns of `records_to_frame` as numpy arrays (same names, dtypes, order and values).

    For callers that need a few rows without a DataFrame (the realtime path: building a
    12-row frame costs more than scoring it).
    """
    config = config or default_feature_config()
    names = list(config.features)
    rows_user, rows_time, cols = [], [], {n: [] for n in names}
    statics = {n: [] for n in config.static}
    for rec in records:
        if isinstance(rec, dict):
            rec = Record.model_validate(rec)
        rows_user.append(user_id or rec.device_id or f"{ANONYMOUS_PREFIX}0")
        rows_time.append(rec.timestamp)
        for n in names:
            cols[n].append(_encode(rec.features.get(n), config.features[n]))
        for n, spec in config.static.items():
            code = spec.code(rec.static_features.get(n))
            statics[n].append(spec.categories[spec.default] if code is None else code)
    users = np.empty(len(rows_user), dtype=object)
    users[:] = rows_user
    columns = {USER: users, TIME: np.asarray(rows_time, dtype="datetime64[ns]").reshape(-1)}
    columns.update({n: np.asarray(cols[n], dtype=np.float64) for n in names})
    columns.update({static_column(n): np.asarray(statics[n], dtype=np.int64) for n in config.static})
    if "time_period_primary" in config.features and len(users):
        period = columns["time_period_primary"]
        missing = np.isnan(period)
        if missing.any():
            period[missing] = derive_time_period(columns[TIME], config)[missing]
    # stable sort by (user, timestamp), skipped when already in order (validated input always is)
    t = columns[TIME]
    same = users[1:] == users[:-1]
    if not ((users[1:] > users[:-1]) | (same & (t[1:] >= t[:-1]))).all():
        codes = pd.factorize(users, sort=True)[0]
        order = np.lexsort((t, codes))  # lexsort is stable
        columns = {k: v[order] for k, v in columns.items()}
    return columns


def records_to_frame(records: Iterable[Record | dict], config: FeatureConfig | None = None,
                     user_id: str | None = None) -> pd.DataFrame:
    """Columnar form of records (see module docstring).

    Values are assumed already checked by `validation`; an unknown category here
    becomes NaN. `user_id` overrides/assigns the user for records without deviceId.
    Sorting is stable; duplicate handling is the validator's job.
    """
    columns = records_to_columns(records, config, user_id)
    # one DataFrame construction from all columns (inserting column by column is far slower)
    columns[USER] = pd.Series(columns[USER], dtype=object)
    return pd.DataFrame(columns)


def frame_to_records(frame: pd.DataFrame, config: FeatureConfig | None = None) -> list[dict[str, Any]]:
    """Inverse of `records_to_frame` (categorical codes back to labels, NaN omitted)."""
    config = config or default_feature_config()
    out = []
    feat_names = [n for n in config.features if n in frame.columns]
    static_names = [n for n in config.static if static_column(n) in frame.columns]
    for row in frame.itertuples(index=False):
        r = row._asdict()
        feats: dict[str, Any] = {}
        for n in feat_names:
            v = r[n]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            spec = config.features[n]
            feats[n] = round(float(v), 4) if spec.is_numeric else spec.category_label(int(v))
        rec = {"timestamp": pd.Timestamp(r[TIME]).isoformat(), "deviceId": str(r[USER]), "features": feats}
        if static_names:
            rec["static_features"] = {n: config.static[n].label(int(r[static_column(n)])) for n in static_names}
        out.append(rec)
    return out
