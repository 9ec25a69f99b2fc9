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

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import FeatureConfig, default_feature_config

USER, TIME = "user_id", "timestamp"
STATIC_PREFIX = "static_"
ANONYMOUS_PREFIX = "anon-"

FeatureValue = float | int | str | None

# The supported timestamp range (wall-clock, inclusive start, exclusive end). Wearables with
# 5-minute records did not exist before 2000; pandas cannot hold dates past 2262 at all, and a
# far-future record would sit at the end of a baseline's timeline and stop every later window.
TIMESTAMP_MIN = datetime(2000, 1, 1)
TIMESTAMP_MAX = datetime(2100, 1, 1)
MAX_JSON_INT_DIGITS = 4000  # longer integers (Python refuses int() past 4,300 digits) are read as +-inf


def safe_json_int(text: str) -> int | float:
    """`json` parse_int: Python refuses int() of more than 4,300 digits with a ValueError (and a
    huge int overflows every float conversion later); such a number is read as +-inf, which
    validation reports as "not a finite number" at its line and field."""
    if len(text) > MAX_JSON_INT_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


JSON_DECODER = json.JSONDecoder(parse_int=safe_json_int)


def check_timestamp(ts: datetime) -> datetime:
    """`ts` if within [TIMESTAMP_MIN, TIMESTAMP_MAX); ValueError naming the range otherwise."""
    if not TIMESTAMP_MIN <= ts < TIMESTAMP_MAX:
        raise ValueError(f"{ts.isoformat()} is outside the supported range {TIMESTAMP_MIN.year}-01-01 .. "
                         f"{TIMESTAMP_MAX.year - 1}-12-31")
    return ts


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LENGTH = 128


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def device_id_problem(device: str) -> str | None:
    """Why a user id cannot be used, or None. A newline or other control character would break every
    line-based output (a Markdown code fence, a CSV row, a log line); JSON may spell a lone UTF-16
    surrogate ("\ud800"), which is no character, and every UTF-8 sink (SQLite, CSV, Arrow strings)
    refuses it. `Record` and `frame_validation` both ask this."""
    if _CONTROL_CHARACTER.search(device):
        return "contains a control character (newline, tab, NUL...)"
    if not is_valid_unicode(device):
        return "is not valid Unicode text (a lone surrogate such as \\ud800)"
    if len(device) > MAX_ID_LENGTH:
        return f"longer than {MAX_ID_LENGTH} characters"
    return None


class Record(BaseModel):
    """Structural validation of one record; config-driven checks live in `validation`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timestamp: datetime
    device_id: str | None = Field(default=None, alias="deviceId", max_length=MAX_ID_LENGTH)
    features: dict[str, FeatureValue] = Field(default_factory=dict)
    static_features: dict[str, FeatureValue] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _wall_clock(cls, ts: datetime) -> datetime:
        return check_timestamp(ts.replace(tzinfo=None))

    @field_validator("device_id")
    @classmethod
    def _printable_id(cls, device: str | None) -> str | None:
        problem = None if device is None else device_id_problem(device)
        if problem:
            raise ValueError(problem)
        return device

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


EncodedRecord = tuple[list[float], list[int], int]  # (feature values in config order, static codes, time in ns)
EPOCH = datetime(1970, 1, 1)  # naive: int64 nanoseconds since it are datetime64[ns] wall-clock times
_MICROSECOND = timedelta(microseconds=1)


def encode_record(rec: Record, config: FeatureConfig) -> EncodedRecord:
    """One record's features as numbers in the config's order (NaN = not given; a category as its code),
    its static codes (the default's code where not given or unknown) and its time as int64 nanoseconds
    since 1970 (naive wall-clock time, as datetime64[ns] holds it)."""
    index, bounds = config.feature_index, config.numeric_bounds
    row = [np.nan] * len(index)  # filled as a Python list: an item set on a list is cheaper than on an array
    for name, value in rec.features.items():
        j = index.get(name)  # names outside the config are the validator's to report
        if j is None:
            continue
        if name in bounds and type(value) is float:  # a validated record's numbers are floats
            row[j] = value
        else:
            row[j] = _encode(value, config.features[name])
    static = []
    for name, spec in config.static.items():
        code = spec.code(rec.static_features.get(name))
        static.append(spec.categories[spec.default] if code is None else code)
    return row, static, (rec.timestamp - EPOCH) // _MICROSECOND * 1000


def records_to_columns(records: Iterable[Record | dict], config: FeatureConfig | None = None,
                       user_id: str | None = None, encoded: Any = None) -> dict[str, np.ndarray]:
    """The columns of `records_to_frame` as numpy arrays (same names, dtypes, order and values).

    For callers that need a few rows without a DataFrame (the realtime path: building a
    12-row frame costs more than scoring it). `encoded`: an object whose `encoded(record, config)`
    gives `encode_record(record, config)`, remembered for records it has seen before
    (`validation.RecordMemo`, for a live stream's repeated records).
    """
    config = config or default_feature_config()
    records = [Record.model_validate(r) if isinstance(r, dict) else r for r in records]
    n = len(records)
    users = np.empty(n, dtype=object)
    users[:] = [user_id or r.device_id or f"{ANONYMOUS_PREFIX}0" for r in records]
    encode = encode_record if encoded is None else encoded.encoded
    rows = [encode(rec, config) for rec in records]
    columns = {USER: users, TIME: np.array([r[2] for r in rows], dtype=np.int64).view("datetime64[ns]")}
    # one array per block, [F, n] and [S, n], each column a contiguous row of it
    values = np.array([r[0] for r in rows], dtype=np.float64).reshape(n, len(config.features)).T.copy()
    columns.update(zip(config.features, values))
    static = np.array([r[1] for r in rows], dtype=np.int64).reshape(n, len(config.static)).T.copy()
    columns.update(zip(map(static_column, config.static), static))
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


def is_contract_frame(frame: pd.DataFrame, config: FeatureConfig | None = None) -> bool:
    """True for a frame in this package's contract (`records_to_frame`): `user_id`, `timestamp` as naive
    datetime64 (local wall-clock time), the config's features as numbers (categorical ones as their codes),
    `static_<name>` codes and the replay's `bl_` baseline columns, and nothing else."""
    config = config or default_feature_config()
    statics = {static_column(n) for n in config.static}
    if USER not in frame.columns or TIME not in frame.columns or frame[TIME].dtype.kind != "M" \
            or getattr(frame[TIME].dtype, "tz", None) is not None:
        return False
    for c in frame.columns:
        numeric = frame[c].dtype.kind in "biuf"
        if c in config.features or c in statics or (isinstance(c, str) and c.startswith("bl_")):
            if not numeric:
                return False
        elif c not in (USER, TIME):
            return False
    return True


def table_records(frame: pd.DataFrame, top_level: Iterable[str], config: FeatureConfig | None = None
                  ) -> list[dict[str, Any]]:
    """Records (as a parsed JSON history has them) of a caller's table in any layout: one row per record;
    the `top_level` columns (time, user) as record keys, the others as features (or static features where
    the config has that name), empty cells left out (`validation.validate_table` reads them)."""
    config = config or default_feature_config()
    top = set(top_level) & set(frame.columns)
    out = []
    for row in frame.to_dict("records"):
        rec: dict[str, Any] = {}
        feats: dict[str, Any] = {}
        static: dict[str, Any] = {}
        for name, value in row.items():
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
                continue
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif isinstance(value, np.generic):
                value = value.item()
            if name in top:
                rec[str(name)] = value
            elif name in config.static:
                static[str(name)] = value
            else:
                feats[str(name)] = value
        rec["features"] = feats
        if static:
            rec["static_features"] = static
        out.append(rec)
    return out


def frame_to_records(frame: pd.DataFrame, config: FeatureConfig | None = None,
                     given: Mapping[str, np.ndarray] | None = None, decimals: int | None = 4) -> list[dict[str, Any]]:
    """Inverse of `records_to_frame` (categorical codes back to labels, NaN omitted).

    `given`: per column (a feature or `static_<name>`), the rows whose value the source gave; the
    others (a time period derived from the hour, a static default) are left out, as the source left
    them out. `decimals`: numbers rounded to that many places (None: as they are)."""
    config = config or default_feature_config()
    given = given or {}
    out = []
    feat_names = [n for n in config.features if n in frame.columns]
    static_names = [n for n in config.static if static_column(n) in frame.columns]
    for i, row in enumerate(frame.itertuples(index=False)):
        r = row._asdict()
        feats: dict[str, Any] = {}
        for n in feat_names:
            v = r[n]
            if v is None or (isinstance(v, float) and math.isnan(v)) or (n in given and not given[n][i]):
                continue
            spec = config.features[n]
            if spec.is_numeric:
                feats[n] = float(v) if decimals is None else round(float(v), decimals)
            else:
                feats[n] = spec.category_label(int(v))
        rec = {"timestamp": pd.Timestamp(r[TIME]).isoformat(), "deviceId": str(r[USER]), "features": feats}
        if static_names:
            rec["static_features"] = {n: config.static[n].label(int(r[static_column(n)])) for n in static_names
                                      if static_column(n) not in given or given[static_column(n)][i]}
        out.append(rec)
    return out
