"""Validation of records that arrive as columns, without a pydantic object per record.

`validation.validate_items` checks one parsed JSON record at a time: right for text where every line
can be malformed in its own way. Two inputs are tables already: a device export converted to 5-minute
bins (fitbit.py: numbers, one timestamp and one user per row) and a JSONL history whose every line has
the plain record shape (`plain_records_frame`: the contract's keys, naive ISO timestamps, the config's
feature names). Going through per-record objects only to rebuild the table took most of their reading
time, so this module applies the same policy (validation.py's docstring) to the columns at once:

- row rejected: timestamp missing or outside the supported range, user id not printable or too
  long, no valid value left for a required feature or for any feature at all;
- field removed (NaN): +-inf, a value outside the config's valid range, an unknown category;
- duplicate (user, timestamp): the first row is kept, later rows are reported;
- rows out of time order are sorted (one warning per user); rows without a user get the source's
  anonymous id; spacing far from the sampling interval is noted per user.

Lines are row numbers (1-based), as `validate_items(enumerate(records, start=1))` numbers the same
rows, and the result is the same frame, counts and issues (tests/test_frame_validation.py). NaN
means "not observed" here, as a missing key does in a record: it is not an error.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from ..errors import InputFileError
from .records import (ANONYMOUS_PREFIX, TIME, TIMESTAMP_MAX, TIMESTAMP_MIN, USER, derive_time_period,
                      device_id_problem, static_column)
from .validation import (ASSIGNED, DUPLICATE_DROPPED, FIELD_REMOVED, SORTED, Limits, ValidationResult,
                         _fmt, _Report, check_spacing, check_value, validate_items)


def validate_frame(frame: pd.DataFrame, config: FeatureConfig | None = None, *, source: str = "<frame>",
                   anonymous_id: str | None = None, limits: Limits | None = None,
                   lines: np.ndarray | None = None) -> ValidationResult:
    """Validate a table of records: `user_id` (str or missing), `timestamp` (datetime64, naive local time),
    one column per feature of the config by its name (numbers; categorical labels or codes) and optional
    `static_<name>` columns. Other columns are reported once each and ignored. `lines`: each row's line
    in its source (default: the row number, 1-based)."""
    config = config or default_feature_config()
    limits = limits or Limits()
    if len(frame) > limits.max_records:
        raise InputFileError(f"{source}: more than {limits.max_records:,} records (the configured limit); "
                             "split the file or raise the limit")
    report = _Report(limits)
    n = len(frame)
    line = np.arange(1, n + 1) if lines is None else np.asarray(lines, np.int64)
    ok = np.ones(n, bool)

    for name in frame.columns:
        if name not in (USER, TIME) and name not in config.features and not _is_static(name, config):
            report.warning(None, name, "unknown column (not in the feature config); ignored")

    t = pd.to_datetime(frame[TIME]).to_numpy("datetime64[ns]") if TIME in frame else np.full(n, np.datetime64("NaT"))
    for i in np.flatnonzero(np.isnat(t)):
        report.error(int(line[i]), "timestamp", "missing")
    ok &= ~np.isnat(t)
    # as for a record: its fields are checked (and reported) before its timestamp range and user id
    values, removed = _feature_values(frame, config, ok, line, report)
    statics, static_given = _static_codes(frame, config, ok, line, report)
    outside = ok & ((t < np.datetime64(TIMESTAMP_MIN)) | (t >= np.datetime64(TIMESTAMP_MAX)))
    for i in np.flatnonzero(outside):
        iso = pd.Timestamp(t[i]).isoformat()
        report.error(int(line[i]), "timestamp", f"{iso} is outside the supported range {TIMESTAMP_MIN.year}-01-01 .. "
                                                f"{TIMESTAMP_MAX.year - 1}-12-31")
    users, bad_id = _user_ids(frame, n, ok, line, report)
    ok &= ~outside & ~bad_id
    _reject_empty_rows(values, removed, config, ok, line, report)

    n_valid = int(ok.sum())
    keep = np.flatnonzero(ok)
    users, t, line = users[keep], t[keep], line[keep]
    values = {k: v[keep] for k, v in values.items()}
    statics = {k: v[keep] for k, v in statics.items()}
    static_given = {k: v[keep] for k, v in static_given.items()}
    anonymous = np.array([u is None for u in users], bool)
    if anonymous.any():
        anonymous_id = anonymous_id or f"{ANONYMOUS_PREFIX}0"
        report.warning(None, "deviceId", f"{int(anonymous.sum())} record(s) without deviceId (first at line "
                       f"{int(line[anonymous][0])}) get the anonymous user id '{anonymous_id}', stable for this source",
                       ASSIGNED)
        users[anonymous] = anonymous_id

    order, dups = _sort_and_dedupe(users, t, line, values, report)
    columns = {USER: pd.Series(users[order], dtype=object), TIME: t[order]}
    columns.update({k: v[order] for k, v in values.items()})
    given = {static_column(k): v[order] for k, v in static_given.items()}
    if "time_period_primary" in columns and len(order):
        period = columns["time_period_primary"]
        missing = np.isnan(period)
        given["time_period_primary"] = ~missing
        if missing.any():
            period[missing] = derive_time_period(columns[TIME], config)[missing]
    columns.update({static_column(k): v[order] for k, v in statics.items()})
    out = pd.DataFrame(columns)
    check_spacing(out[USER].to_numpy(), out[TIME].to_numpy(), config, report)
    for issues in (report.errors, report.warnings):  # read in file order; whole-source notes first
        issues.sort(key=lambda i: -1 if i.line is None else i.line)
    counts = {"items": n, "accepted": len(out), "rejected": n - n_valid, "duplicates": dups,
              "fields_removed": report.actions[FIELD_REMOVED], "errors": report.n_errors,
              "warnings": report.n_warnings, "users": int(out[USER].nunique())}
    return ValidationResult.from_frame(out, report.errors, report.warnings, counts, config, source, given)


def validate_parsed(items: Iterable[tuple[int, Any]], config: FeatureConfig | None = None, *,
                    source: str = "<input>", anonymous_id: str | None = None,
                    limits: Limits | None = None) -> ValidationResult:
    """Parsed (line, record) pairs validated by columns when every record has the contract's plain shape
    (`plain_records_frame`), else one record at a time (`validation.validate_items`): same result."""
    config = config or default_feature_config()
    items = list(items)
    plain = plain_records_frame(items, config)
    if plain is None:
        return validate_items(items, config, source=source, anonymous_id=anonymous_id, limits=limits)
    frame, lines = plain
    return validate_frame(frame, config, source=source, anonymous_id=anonymous_id, limits=limits, lines=lines)


_PLAIN_KEYS = frozenset({"timestamp", "deviceId", "features", "static_features"})
_NAIVE_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")


def plain_records_frame(items: list[tuple[int, Any]], config: FeatureConfig) -> tuple[pd.DataFrame, np.ndarray] | None:
    """(frame for `validate_frame`, source lines) of parsed records that all have the plain shape: a JSON
    object with only the contract's keys, a naive ISO timestamp string, a string deviceId or none,
    `features` / `static_features` objects naming only the config's features, no NaN value. None when
    one record does not (a parse failure, an alias, a timezone, an unknown name...): such input gets
    validate_items, whose messages are per record, and a JSON NaN is an error there, not "missing"."""
    names, static_names = config.features.keys(), config.static.keys()
    lines, times, users, feats, statics = [], [], [], [], []
    for line, item in items:
        if type(item) is not dict or not item.keys() <= _PLAIN_KEYS:
            return None
        ts, user = item.get("timestamp"), item.get("deviceId")
        f, st = item.get("features", {}), item.get("static_features", {})
        if (type(ts) is not str or _NAIVE_ISO.fullmatch(ts) is None or (user is not None and type(user) is not str)
                or type(f) is not dict or not f.keys() <= names or type(st) is not dict or not st.keys() <= static_names
                or any(v != v for v in f.values())):
            return None
        lines.append(line)
        times.append(ts)
        users.append(user)
        feats.append(f)
        statics.append(st)
    try:
        t = pd.to_datetime(pd.Series(times, dtype=object), format="ISO8601")  # 2024-02-30, year 9999: not plain
    except (ValueError, OverflowError):
        return None
    frame = pd.DataFrame(feats, index=pd.RangeIndex(len(feats)))
    if any(statics):
        static = pd.DataFrame(statics, index=frame.index)
        frame = frame.join(static.rename(columns=lambda c: f"static_{c}"))
    frame.insert(0, TIME, t.to_numpy("datetime64[ns]"))
    frame.insert(0, USER, pd.Series(users, dtype=object))
    return frame, np.asarray(lines, np.int64)


def _is_static(name: str, config: FeatureConfig) -> bool:
    return name.startswith("static_") and name[len("static_"):] in config.static


def _user_ids(frame: pd.DataFrame, n: int, ok: np.ndarray, line: np.ndarray, report: _Report
              ) -> tuple[np.ndarray, np.ndarray]:
    """User ids as an object array (None where missing), and the rows whose id is unusable (reported
    with `records.device_id_problem`, the check `Record` makes), each distinct id checked once."""
    users = np.empty(n, dtype=object)
    bad = np.zeros(n, bool)
    if USER not in frame:
        return users, bad
    raw = frame[USER].to_numpy(dtype=object)
    present = np.flatnonzero(~pd.isna(raw))
    users[present] = [str(u) for u in raw[present]]
    codes, distinct = pd.factorize(users[present])
    problems = [device_id_problem(u) for u in distinct]
    for k in np.flatnonzero([p is not None for p in problems]):
        rows = present[codes == k]
        bad[rows] = True
        for i in rows[ok[rows]]:
            report.error(int(line[i]), "deviceId", problems[k])
    return users, bad


def _feature_values(frame: pd.DataFrame, config: FeatureConfig, ok: np.ndarray, line: np.ndarray,
                    report: _Report) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every feature column of the config as float64 (categorical: codes), NaN = not observed; and per
    column, the rows whose value was removed."""
    n = len(frame)
    values, removed = {}, {}
    for name, spec in config.features.items():
        col = np.full(n, np.nan)
        bad = np.zeros(n, bool)
        if name in frame:
            raw = frame[name]
            if spec.is_numeric and pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                x = raw.to_numpy(np.float64)
                lo, hi = spec.valid_range or (-np.inf, np.inf)
                observed = ~np.isnan(x)
                bad = observed & ~((x >= lo) & (x <= hi) & np.isfinite(x))
                col = np.where(bad, np.nan, x)
            else:  # labels or codes (or anything in an object column): each distinct value checked once
                obj = raw.to_numpy(dtype=object)
                for rows, value in _distinct(obj):
                    v, problem = check_value(_plain(value, not spec.is_numeric), spec)
                    if problem:
                        bad[rows] = True
                    elif v is not None:
                        col[rows] = float(v) if spec.is_numeric else float(spec.category_code(v))
            for i in np.flatnonzero(ok & bad):
                _, problem = check_value(_plain(raw.iloc[i], not spec.is_numeric), spec)
                report.error(int(line[i]), f"features.{name}", problem, FIELD_REMOVED)
        values[name] = col
        removed[name] = bad
    return values, removed


def _distinct(obj: np.ndarray) -> list[tuple[np.ndarray, Any]]:
    """(rows, value) for each distinct observed value of an object column. Distinct by type as well as
    value (True == 1 == 1.0 in a dict, but True is an error where 1 is a code); None and NaN are not
    observed. A column of strings only (the usual labels) is grouped in one pass."""
    if pd.api.types.infer_dtype(obj, skipna=True) == "string":
        codes, uniques = pd.factorize(obj, use_na_sentinel=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return [(order[bounds[k]:bounds[k + 1]], uniques[k]) for k in range(len(uniques))]
    groups: dict[Any, list[int]] = {}
    values: dict[Any, Any] = {}
    for i, v in enumerate(obj):
        if v is None or (isinstance(v, float) and v != v):
            continue
        try:
            key = (type(v), v)
            hash(key)
        except TypeError:  # a list or an object: its own group
            key = ("unhashable", i)
        groups.setdefault(key, []).append(i)
        values.setdefault(key, v)
    return [(np.asarray(rows, np.int64), values[key]) for key, rows in groups.items()]


def _plain(value, categorical: bool = False):
    """A numpy scalar as the Python value a JSON reader would give (so messages read the same); a
    category code held in a float column (2.0) as the integer it stands for."""
    value = value.item() if isinstance(value, np.generic) else value
    if categorical and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _reject_empty_rows(values: dict[str, np.ndarray], removed: dict[str, np.ndarray], config: FeatureConfig,
                       ok: np.ndarray, line: np.ndarray, report: _Report) -> None:
    """Rows without a valid value for a required feature, or without any valid value after removals."""
    n = len(ok)
    any_value = np.zeros(n, bool)
    any_removed = np.zeros(n, bool)
    for name, col in values.items():
        any_value |= ~np.isnan(col)
        any_removed |= removed[name]
    required = config.required_features
    if required:
        has_required = np.zeros(n, bool)
        removed_required = np.zeros(n, bool)
        for name in required:
            has_required |= ~np.isnan(values[name])
            removed_required |= removed[name]
        where = f"features.{required[0]}" if len(required) == 1 else "features"
        for i in np.flatnonzero(ok & ~has_required):
            why = "no valid value left" if removed_required[i] else "missing"
            report.error(int(line[i]), where, f"{why} for the required feature(s) {', '.join(required)}")
        ok &= has_required
    for i in np.flatnonzero(ok & any_removed & ~any_value):
        names = [k for k, r in removed.items() if r[i]]
        report.error(int(line[i]), f"features.{names[0]}", "no valid value left in the record "
                     f"(removed: {', '.join(names)})")
    ok &= ~(any_removed & ~any_value)


def _static_codes(frame: pd.DataFrame, config: FeatureConfig, ok: np.ndarray, line: np.ndarray,
                  report: _Report) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Static feature codes per row, the config default where absent or invalid (reported); and the
    rows whose code came from the source."""
    out, given = {}, {}
    for name, spec in config.static.items():
        default = spec.categories[spec.default]
        codes = np.full(len(frame), default, np.int64)
        given[name] = np.zeros(len(frame), bool)
        col = static_column(name)
        if col in frame:
            for rows, value in _distinct(frame[col].to_numpy(dtype=object)):
                code = spec.code(_plain(value, True))
                if code is not None:
                    codes[rows] = code
                    given[name][rows] = True
                    continue
                for i in rows[ok[rows]]:
                    report.error(int(line[i]), f"static_features.{name}",
                                 f"{_fmt(value)} is not a category of {name} ({', '.join(spec.categories)}); "
                                 f"'{spec.default}' is used", FIELD_REMOVED)
        out[name] = codes
    return out, given


def _sort_and_dedupe(users: np.ndarray, t: np.ndarray, line: np.ndarray, values: dict[str, np.ndarray],
                     report: _Report) -> tuple[np.ndarray, int]:
    """Row order by (user, timestamp, line), without later duplicates of a (user, timestamp); the
    warnings and errors validation.py gives for the same records."""
    n = len(users)
    if not n:
        return np.zeros(0, np.int64), 0
    codes, names = pd.factorize(users, sort=True)
    # steps back in time per user, in input order
    running = pd.Series(t).groupby(codes).cummax().to_numpy()
    prev = pd.Series(running).groupby(codes).shift(1).to_numpy("datetime64[ns]")
    back = ~np.isnat(prev) & (t < prev)
    for c in np.unique(codes[back]):
        mine = np.flatnonzero(back & (codes == c))
        report.warning(None, "timestamp", f"user '{names[c]}': {len(mine)} record(s) out of time order "
                       f"(first at line {int(line[mine[0]])}); records were sorted by timestamp", SORTED)
    order = np.lexsort((line, t, codes))
    same = np.zeros(n, bool)
    same[1:] = (codes[order][1:] == codes[order][:-1]) & (t[order][1:] == t[order][:-1])
    if not same.any():
        return order, 0
    first = order.copy()  # per sorted row: the row of the first occurrence of its (user, timestamp)
    for k in range(1, n):
        if same[k]:
            first[k] = first[k - 1]
    for k in np.flatnonzero(same):
        i, j = order[k], first[k]
        identical = all(_equal(v[i], v[j]) for v in values.values())
        report.error(int(line[i]), "timestamp", f"duplicate of line {int(line[j])} for user '{users[i]}' at "
                     f"{pd.Timestamp(t[i]).isoformat()} ({'identical values' if identical else 'values differ'}); "
                     "the first occurrence is kept", DUPLICATE_DROPPED)
    return order[~same], int(same.sum())


def _equal(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN == NaN: both not observed
