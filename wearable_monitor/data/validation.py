"""Config-driven validation of records: every problem is reported with its line and field.

`records.Record` checks the structure (timestamp, deviceId, dict shapes); this
module adds what the feature config knows (names, valid ranges, categories,
required features) and what only a whole file shows (users, order, duplicates).

One policy for every source (JSON window, JSONL history, Fitbit import):

- **record rejected** (not used at all): not a JSON object / not valid JSON,
  missing or unparsable timestamp, bad deviceId, `features` not an object, or no
  valid value left for any required feature (e.g. ``hr``).
- **field removed** (the field becomes NaN = missing, the rest of the record is
  kept): numeric value outside the config ``valid_range`` (this covers SpO2 > 100
  and negative steps), NaN/inf, a non-number, an unknown category label/code.
- **ignored with a warning**: unknown feature, static feature or top-level names.
- **read under the config's name, with one warning per source**: a feature given
  by a spelling variant or a common alias (``HR``, ``heart_rate`` -> ``hr``,
  ``respiratory_rate`` -> ``resp_rate``, see `FEATURE_ALIASES`), and a top-level
  key from `KEY_HINTS` (``user_id`` -> ``deviceId``) when the record lacks the
  proper key. A record giving both a name and its alias keeps the proper name;
  the alias is removed as an error.
- **duplicate (user, timestamp)**: the first occurrence (lowest line) is kept,
  later lines are dropped and reported as errors.
- **unordered** records: sorted by (user, timestamp) (stable), one warning per user.
- **no deviceId**: the record gets an anonymous user id that is stable for the
  source (derived from the file name), reported as a warning.
- **spacing far from the config's sampling interval** (a user's median step under
  half or over three times it, e.g. 1-minute records): one note per user; the
  records are kept as they are.

Nothing is silently dropped or invented: every removal appears in
`ValidationResult.errors` with its line number and field.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..config import FeatureConfig, FeatureSpec, default_feature_config
from ..errors import InputFileError  # noqa: F401 - defined in errors.py, importable from here as before
from .records import (ANONYMOUS_PREFIX, TIME, USER, EncodedRecord, Record, encode_record, frame_to_records,
                      records_to_frame, static_column, table_records)

RECORD_KEYS = {"timestamp", "deviceId", "device_id", "features", "static_features"}
KEY_HINTS = {"user_id": "deviceId", "userId": "deviceId", "user": "deviceId", "device": "deviceId",
             "time": "timestamp", "datetime": "timestamp", "ts": "timestamp"}
# Names that stand for a record's own keys (time, user) in a table's columns, not for measurements.
TOP_LEVEL_NAMES = frozenset(RECORD_KEYS - {"features", "static_features"}) | frozenset(KEY_HINTS)

# Names other exports use for the config's features (after lower-casing, spaces/hyphens -> "_").
# Ambiguous names stay out: "temperature" (skin or core?), "rr" (rate or RR interval?). A bare "hrv"
# is read as RMSSD, what most wearables report; Apple Health's HRV is SDNN: name it hrv_sdnn.
FEATURE_ALIASES = {
    "heart_rate": "hr", "heartrate": "hr", "pulse": "hr", "bpm": "hr",
    "resting_hr": "hr_resting", "resting_heart_rate": "hr_resting", "rhr": "hr_resting",
    "hrv": "hrv_rmssd", "rmssd": "hrv_rmssd", "sdnn": "hrv_sdnn", "pnn50": "hrv_pnn50",
    "respiratory_rate": "resp_rate", "respiration_rate": "resp_rate", "breathing_rate": "resp_rate",
    "oxygen_saturation": "spo2", "blood_oxygen": "spo2", "sp_o2": "spo2",
    "skin_temperature": "skin_temp", "wrist_temperature": "skin_temp",
    "step_count": "steps", "step": "steps",
    "sleep_stage": "sleep_state",
}


def canonical_feature_name(name: Any, config: FeatureConfig) -> str | None:
    """The config feature an input name stands for: itself, a spelling variant ("HR", "Heart-Rate",
    camelCase "heartRate") or an alias in `FEATURE_ALIASES` ("heart_rate" -> "hr"); None if it stands
    for none."""
    if name in config.features:
        return name
    text = str(name).strip()
    # as written first ("SpO2" is spo2, not sp_o2), then with camelCase words split ("restingHeartRate")
    for spelling in (text, re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)):
        key = re.sub(r"[\s\-]+", "_", spelling.lower())
        key = FEATURE_ALIASES.get(key, key)
        if key in config.features:
            return key
    return None


def _top_level_target(key: str, item: dict) -> str | None:
    """The record key a `KEY_HINTS` name stands for, if the record lacks that key itself."""
    target = KEY_HINTS.get(key)
    proper = ("deviceId", "device_id") if target == "deviceId" else (target,)
    return target if target and not any(k in item for k in proper) else None


# Issue actions: what happened to the data because of the issue.
REJECTED, FIELD_REMOVED, DUPLICATE_DROPPED = "record rejected", "field removed", "duplicate dropped"
IGNORED, SORTED, ASSIGNED, CONVERTED = "ignored", "sorted", "anonymous id assigned", "converted"
NOTED = "noted"  # nothing was changed; the data differ from what the model was built for


@dataclass(frozen=True)
class Limits:
    """Guards against inputs that would exhaust memory or flood the report."""

    max_bytes: int = 200 * 2**20   # a year of 5-minute records for ~10 users is ~100 MB of JSONL
    max_records: int = 2_000_000
    max_issues: int = 10_000       # issues stored per list; counts stay exact beyond it


@dataclass(frozen=True)
class Issue:
    line: int | None   # 1-based line in the source; None = about the whole source
    field: str         # e.g. "features.hr", "timestamp", "<json>", "<record>"
    message: str
    action: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.field}" if self.line is not None else self.field
        return f"{where}: {self.message} ({self.action})"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message, "action": self.action}


@dataclass(frozen=True)
class ParseFailure:
    """Stands in for an item a reader could not parse, so it is reported at its line."""

    message: str
    field: str = "<json>"


class FrameRecords(Sequence):
    """The records of a validated frame, made (as `Record`s) the first time one is asked for. `given`:
    per derived column (a time period from the hour, a static default), the rows whose value came
    from the source; the others are left out, as the source left them out."""

    def __init__(self, frame: pd.DataFrame, config: FeatureConfig, given: dict[str, np.ndarray] | None = None):
        self._frame, self._config, self._given = frame, config, given or {}

    def __len__(self) -> int:
        return len(self._frame)

    def __getitem__(self, i):
        return self._records[i]

    @cached_property
    def _records(self) -> list[Record]:
        return [Record.model_validate(r)
                for r in frame_to_records(self._frame, self._config, given=self._given, decimals=None)]


@dataclass
class ValidationResult:
    """Accepted records (sorted by user, timestamp; unique pairs) plus the per-line report.

    `history` holds the optional history part of a window file (same policy). A result made from
    columns (`from_frame`, frame_validation.py) holds its frame and makes `records` only when asked.
    """

    records: Sequence[Record]
    errors: list[Issue]
    warnings: list[Issue]
    counts: dict[str, int]
    config: FeatureConfig
    source: str = "<input>"
    history: ValidationResult | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, errors: list[Issue], warnings: list[Issue], counts: dict[str, int],
                   config: FeatureConfig, source: str, given: dict[str, np.ndarray] | None = None
                   ) -> "ValidationResult":
        """A result whose frame is already made; `given`: see `FrameRecords`."""
        out = cls(FrameRecords(frame, config, given), errors, warnings, counts, config, source)
        out.__dict__["frame"] = frame  # the cached_property's slot: the frame is the result itself
        return out

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The records in columnar form (`records.records_to_frame`)."""
        return records_to_frame(self.records, self.config)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected or removed (warnings allowed)."""
        return self.counts.get("errors", 0) == 0

    def _users_and_times(self) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.records, FrameRecords) or "frame" in self.__dict__:
            return self.frame[USER].to_numpy(), self.frame[TIME].to_numpy()
        return (np.array([r.device_id for r in self.records], dtype=object),
                np.array([r.timestamp for r in self.records], dtype="datetime64[ns]"))

    @property
    def users(self) -> dict[str, int]:
        return dict(Counter(self._users_and_times()[0].tolist()))

    def summary(self, max_issues: int = 20) -> str:
        c = self.counts
        lines = [f"source: {self.source}",
                 f"records: {c['accepted']} accepted of {c['items']} read "
                 f"({c['rejected']} rejected, {c['duplicates']} duplicates dropped, "
                 f"{c['fields_removed']} fields removed)"]
        users = self.users
        if users:
            shown = ", ".join(f"{u}: {n}" for u, n in list(users.items())[:10])
            lines.append(f"users: {len(users)} ({shown}{', ...' if len(users) > 10 else ''})")
        if len(self.records):
            times = self._users_and_times()[1]
            first, last = (pd.Timestamp(x).isoformat() for x in (times.min(), times.max()))
            lines.append(f"time span: {first} .. {last}")
        for title, issues, total in (("errors", self.errors, c["errors"]), ("warnings", self.warnings, c["warnings"])):
            if total:
                lines.append(f"{title} ({total}):")
                lines += [f"  {i}" for i in issues[:max_issues]]
                if total > min(len(issues), max_issues):
                    lines.append(f"  ... and {total - min(len(issues), max_issues)} more")
        if self.history is not None:
            lines.append("history:")
            lines += ["  " + s for s in self.history.summary(max_issues).splitlines()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "ok": self.ok, "counts": dict(self.counts), "users": self.users,
               "errors": [i.to_dict() for i in self.errors],
               "warnings": [i.to_dict() for i in self.warnings]}
        if self.history is not None:
            out["history"] = self.history.to_dict()
        return out


class _Report:
    """Collects issues with exact counts but a bounded stored list."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.n_errors = self.n_warnings = self.n_aliases = 0
        self.actions: Counter[str] = Counter()
        self.aliases: dict[tuple[str, str], list[int]] = {}  # (given name, read as) -> [records, first line]

    @property
    def remarks(self) -> int:
        """Issues and aliases so far (a record that adds none validated without a remark)."""
        return self.n_errors + self.n_warnings + self.n_aliases

    def alias(self, line, given: str, target: str) -> None:
        seen = self.aliases.setdefault((given, target), [0, line])
        seen[0] += 1
        self.n_aliases += 1

    def report_aliases(self) -> None:
        """One warning per alias for the whole source (not one per record)."""
        for (given, target), (n, first) in self.aliases.items():
            self.warning(None, given, f"read as '{target}' in {n:,} record(s) (first at line {first})", CONVERTED)

    def error(self, line, field, message, action=REJECTED):
        self.n_errors += 1
        self.actions[action] += 1
        if len(self.errors) < self.limits.max_issues:
            self.errors.append(Issue(line, field, message, action))

    def warning(self, line, field, message, action=IGNORED):
        self.n_warnings += 1
        if len(self.warnings) < self.limits.max_issues:
            self.warnings.append(Issue(line, field, message, action))


def _fmt(value: Any) -> str:
    """Show a value as the user wrote it (260, 97.5, 'deep'), short."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"an integer of {len(str(abs(value))) if value.bit_length() < 14000 else 'over 4,300'} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_value(value: Any, spec: FeatureSpec) -> tuple[Any, str | None]:
    """(clean value, None) or (None, problem) for one feature value; None in = missing."""
    if value is None:
        return None, None
    if spec.is_numeric:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"{_fmt(value)} is {_type_name(value)}, expected a number"
        try:
            v = float(value)
        except OverflowError:  # an integer beyond the float range (JSON allows any number of digits)
            v = math.inf
        if not math.isfinite(v):
            return None, f"{_fmt(value)} is not a finite number"
        if spec.valid_range and not spec.valid_range[0] <= v <= spec.valid_range[1]:
            lo, hi = spec.valid_range
            unit = f" {spec.unit}" if spec.unit else ""
            return None, f"{_fmt(value)} is outside the valid range [{lo:g}, {hi:g}]{unit}"
        return v, None
    if spec.category_code(value) is None:
        return None, f"{_fmt(value)} is not a category of {spec.name} ({', '.join(spec.categories)})"
    return value, None


def _clean_features(line: int, feats: dict, config: FeatureConfig, report: _Report) -> tuple[dict, list[str]]:
    clean, removed = {}, []
    bounds = config.numeric_bounds
    for given, value in feats.items():
        # The common case in one test: a number within range under the config's own name (`check_value`
        # gives the same result for it; NaN and +-inf fail the comparison and take the long way).
        b = bounds.get(given)
        if b is not None and type(value) in (float, int) and b[0] <= value <= b[1]:
            clean[given] = float(value)
            continue
        name, spec = given, config.features.get(given)
        if spec is None:
            target = canonical_feature_name(name, config)
            if target is None:
                report.warning(line, f"features.{name}", "unknown feature name (not in the feature config)")
                continue
            if target in feats or target in clean or target in removed:
                report.error(line, f"features.{name}", f"another name for '{target}', which the record "
                             f"already gives; that value is used", FIELD_REMOVED)
                continue
            report.alias(line, f"features.{name}", target)
            name, spec = target, config.features[target]
        v, problem = check_value(value, spec)
        if problem:
            report.error(line, f"features.{given}", problem, FIELD_REMOVED)
            removed.append(name)
        elif v is not None:
            clean[name] = v
    return clean, removed


def _clean_static(line: int, static: dict, config: FeatureConfig, report: _Report) -> dict:
    clean = {}
    for name, value in static.items():
        spec = config.static.get(name)
        if spec is None:
            report.warning(line, f"static_features.{name}", "unknown static feature name")
        elif value is not None and spec.code(value) is None:
            report.error(line, f"static_features.{name}",
                         f"{_fmt(value)} is not a category of {name} ({', '.join(spec.categories)}); "
                         f"'{spec.default}' is used", FIELD_REMOVED)
        elif value is not None:
            clean[name] = value
    return clean


def validate_item(line: int, item: Any, config: FeatureConfig, report: _Report) -> Record | None:
    """One item -> Record, or None if rejected; every problem goes into `report`."""
    if isinstance(item, ParseFailure):
        report.error(line, item.field, item.message)
        return None
    if not isinstance(item, dict):
        report.error(line, "<record>", f"expected a JSON object, got {_type_name(item)}")
        return None
    renamed, flat = {}, {}
    for key in item:
        if key in RECORD_KEYS:
            continue
        target = _top_level_target(key, item) if isinstance(key, str) else None
        if target and target not in renamed.values():
            renamed[key] = target
            report.alias(line, str(key), target)
            continue
        if key not in KEY_HINTS and canonical_feature_name(key, config) is not None:
            flat[key] = item[key]  # a flat record ({"timestamp", "deviceId", "hr": 72}): a measurement
            report.alias(line, str(key), f"features.{key}")
            continue
        hint = f"; the record's own '{KEY_HINTS[key]}' is used" if key in KEY_HINTS else ""
        report.warning(line, str(key) or "<empty name>", f"unknown top-level field{hint}")
    if renamed:
        item = {**item, **{target: item[key] for key, target in renamed.items()}}
    if flat and isinstance(item.get("features", {}), dict):
        nested = item.get("features") or {}
        for key in flat.keys() & nested.keys():
            report.error(line, str(key), "given both at the top level and in 'features'; the latter is used",
                         FIELD_REMOVED)
        item = {**item, "features": {**flat, **nested}}
    ts = item.get("timestamp")
    if ts is None:
        report.error(line, "timestamp", "missing")
        return None
    if not isinstance(ts, str):
        # Epoch numbers would be read as UTC, but records carry local wall-clock time.
        report.error(line, "timestamp", f"{_fmt(ts)} is {_type_name(ts)}, expected an ISO-8601 string")
        return None
    device = item.get("deviceId", item.get("device_id"))
    if isinstance(device, int) and not isinstance(device, bool):
        report.warning(line, "deviceId", f"number {device} converted to the string '{device}'", CONVERTED)
        device = str(device)
    feats, static = item.get("features") or {}, item.get("static_features") or {}
    for name, value in (("features", feats), ("static_features", static)):
        if not isinstance(value, dict):
            report.error(line, name, f"expected an object of name -> value, got {_type_name(value)}")
            return None
    feats, removed = _clean_features(line, feats, config, report)
    static = _clean_static(line, static, config, report)
    try:
        rec = Record.model_validate({"timestamp": ts, "deviceId": device, "features": feats,
                                     "static_features": static})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "<record>"
            report.error(line, where, f"{_fmt(err.get('input'))}: {err['msg']}")
        return None
    required = config.required_features
    if required and not any(n in feats for n in required):
        why = "no valid value left" if any(n in removed for n in required) else "missing"
        report.error(line, f"features.{required[0]}" if len(required) == 1 else "features",
                     f"{why} for the required feature(s) {', '.join(required)}")
        return None
    if removed and not feats:  # every value it carried was invalid: nothing of it can be used
        report.error(line, f"features.{removed[0]}", "no valid value left in the record "
                     f"(removed: {', '.join(removed)})")
        return None
    return rec


def _assign_anonymous(kept: list[tuple[int, Record]], anonymous_id: str, report: _Report) -> list[tuple[int, Record]]:
    lines = [line for line, r in kept if r.device_id is None]
    if not lines:
        return kept
    report.warning(None, "deviceId", f"{len(lines)} record(s) without deviceId (first at line {lines[0]}) "
                   f"get the anonymous user id '{anonymous_id}', stable for this source", ASSIGNED)
    return [(line, r if r.device_id is not None else r.model_copy(update={"device_id": anonymous_id}))
            for line, r in kept]


def _sort_and_dedupe(kept: list[tuple[int, Record]], report: _Report) -> tuple[list[Record], int]:
    """Sort by (user, timestamp, line); keep the first line of each (user, timestamp)."""
    last: dict[str, Any] = {}
    unordered: dict[str, list[int]] = {}
    for line, r in kept:  # input order: count steps back in time per user
        prev = last.get(r.device_id)
        if prev is not None and r.timestamp < prev:
            unordered.setdefault(r.device_id, []).append(line)
        last[r.device_id] = r.timestamp if prev is None else max(prev, r.timestamp)
    for user, lines in unordered.items():
        report.warning(None, "timestamp", f"user '{user}': {len(lines)} record(s) out of time order "
                       f"(first at line {lines[0]}); records were sorted by timestamp", SORTED)
    kept = sorted(kept, key=lambda lr: (lr[1].device_id, lr[1].timestamp, lr[0]))
    out: list[Record] = []
    first_line, dups = 0, 0
    for line, r in kept:
        if out and out[-1].device_id == r.device_id and out[-1].timestamp == r.timestamp:
            same = "identical values" if out[-1].features == r.features else "values differ"
            report.error(line, "timestamp", f"duplicate of line {first_line} for user '{r.device_id}' at "
                         f"{r.timestamp.isoformat()} ({same}); the first occurrence is kept", DUPLICATE_DROPPED)
            dups += 1
            continue
        out.append(r)
        first_line = line
    return out, dups


SPACING_MIN_RECORDS = 24  # a user's spacing is judged from this many records on


def check_spacing(users: np.ndarray, times: np.ndarray, config: FeatureConfig, report: _Report,
                  min_records: int = SPACING_MIN_RECORDS) -> None:
    """One note per user whose median record spacing is far from the config's sampling interval:
    windows are `window_size` records, so 1-minute records make a 12-minute window, not an hour.
    `users`, `times`: the accepted records' columns, sorted by user."""
    step = float(config.sampling_minutes)
    if not len(users):
        return
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(users)]):
        if b - a < min_records:
            continue
        ts = np.asarray(times[a:b], dtype="datetime64[s]").astype(np.int64)
        spacing = float(np.median(np.diff(ts))) / 60.0
        if not step / 2 <= spacing <= 3 * step:
            report.warning(None, "timestamp",
                           f"user '{users[a]}': records every {spacing:g} min (median); the model reads "
                           f"{step:g}-minute "
                           f"records, so a {config.window_size}-record window spans {config.window_size * spacing:g} "
                           f"min instead of {config.window_size * step:g}; aggregate to {step:g}-minute records "
                           "first for scores that mean what they say", NOTED)


def validate_table(frame: pd.DataFrame, config: FeatureConfig | None = None, *,
                   source: str = "<table>") -> ValidationResult:
    """A caller's table in any layout (a time column, a user column, one column per feature under any
    name `canonical_feature_name` reads) validated row by row as records are (line = row, 1-based).
    A column that names nothing is reported once and ignored."""
    config = config or default_feature_config()
    # the frame contract's own names: its user column, and static_<name> columns of codes
    names = {static_column(n): n for n in config.static if static_column(n) in frame.columns and n not in frame.columns}
    if USER in frame.columns and "deviceId" not in frame.columns:
        names[USER] = "deviceId"
    frame = frame.rename(columns=names)
    unknown = [c for c in frame.columns
               if c not in TOP_LEVEL_NAMES and c not in config.static and canonical_feature_name(c, config) is None]
    out = validate_items(enumerate(table_records(frame.drop(columns=unknown), TOP_LEVEL_NAMES, config), start=1),
                         config, source=source)
    out.warnings[:0] = [Issue(None, str(c), "unknown column (not in the feature config); ignored", IGNORED)
                        for c in unknown]
    out.counts["warnings"] += len(unknown)
    return out


_PLAIN = (str, float, int, type(None))  # exact types (bool and numpy scalars are not among them)


class RecordMemo:
    """Records validated before, for a stream that sends them again.

    A live stream's realtime windows overlap: each call repeats all but the newest of its records.
    Validating a record depends on nothing but the record and the config, so a record that validated
    without any remark (no issue, no name read as another) is kept with a copy of what was given, under
    its timestamp and user. The same record given again (equal to that copy, every value a plain str,
    int, float or None) is not validated again; anything else, a changed value or a record with a
    remark, goes through `validate_item` as usual, so the report is the same as without the memo.
    The records it holds also keep their encoded form (`encoded`, for `records.records_to_columns`).
    Bounded: emptied when full (a stream needs only its last window's records).
    """

    def __init__(self, config: FeatureConfig, max_records: int = 1024):
        self.config, self.max_records = config, max_records
        self._entries: dict[tuple, tuple[dict, Record]] = {}
        self._encoded: dict[int, list] = {}  # id(record) -> [record, its encode_record or None], held records only

    @staticmethod
    def _key(item: Any) -> tuple | None:
        if type(item) is not dict:
            return None
        key = (item.get("timestamp"), item.get("deviceId"), item.get("device_id"))
        return key if type(key[0]) is str and all(type(k) in _PLAIN for k in key) else None

    @staticmethod
    def _is_plain(item: dict) -> bool:
        """Every value plain data, nested one level at most (what a JSON record of scalars is)."""
        for v in item.values():
            if type(v) is dict:
                for x in v.values():
                    if type(x) not in _PLAIN:
                        return False
            elif type(v) not in _PLAIN:
                return False
        return True

    def get(self, item: Any) -> Record | None:
        key = self._key(item)
        entry = None if key is None else self._entries.get(key)
        if entry is None or entry[0] != item or not self._is_plain(item):
            return None
        return entry[1]

    def put(self, item: Any, record: Record) -> None:
        key = self._key(item)
        if key is None or not self._is_plain(item):
            return
        if len(self._encoded) >= self.max_records:  # >= len(_entries): a record given again changed is a new entry here
            self._entries.clear()
            self._encoded.clear()
        # a copy no later change of the caller's dicts reaches
        self._entries[key] = ({k: dict(v) if type(v) is dict else v for k, v in item.items()}, record)
        self._encoded[id(record)] = [record, None]

    def encoded(self, record: Record, config: FeatureConfig) -> EncodedRecord:
        """`encode_record(record, config)`, made once for a record this memo holds (the identity check
        keeps a reused id of a freed record from answering for another)."""
        slot = self._encoded.get(id(record))
        if slot is None or slot[0] is not record or config is not self.config:
            return encode_record(record, config)
        if slot[1] is None:
            slot[1] = encode_record(record, config)
        return slot[1]


def validate_items(items: Iterable[tuple[int, Any]], config: FeatureConfig | None = None, *,
                   source: str = "<input>", anonymous_id: str | None = None,
                   limits: Limits | None = None, memo: RecordMemo | None = None) -> ValidationResult:
    """Validate (line, item) pairs: items are parsed JSON values or `ParseFailure`s.

    `memo`: records validated before (`RecordMemo`, made for this config), for a live stream.
    Raises `InputFileError` when the record-count limit is exceeded.
    """
    config = config or default_feature_config()
    limits = limits or Limits()
    report = _Report(limits)
    if memo is not None and memo.config is not config:
        raise ValueError("validate_items: the memo was made for another feature config")
    kept: list[tuple[int, Record]] = []
    n_items = 0
    for line, item in items:
        n_items += 1
        if n_items > limits.max_records:
            raise InputFileError(f"{source}: more than {limits.max_records:,} records (the configured limit); "
                                 "split the file or raise the limit")
        rec = None if memo is None else memo.get(item)
        if rec is None:
            remarks = report.remarks
            rec = validate_item(line, item, config, report)
            if memo is not None and rec is not None and report.remarks == remarks:
                memo.put(item, rec)
        if rec is not None:
            kept.append((line, rec))
    report.report_aliases()
    kept = _assign_anonymous(kept, anonymous_id or f"{ANONYMOUS_PREFIX}0", report)
    n_valid = len(kept)
    records, dups = _sort_and_dedupe(kept, report)
    if len(records) >= SPACING_MIN_RECORDS:  # fewer cannot give any user that many
        check_spacing(np.array([r.device_id for r in records], dtype=object),
                      np.array([r.timestamp for r in records], dtype="datetime64[ns]"), config, report)
    for issues in (report.errors, report.warnings):  # read in file order; whole-source notes first
        issues.sort(key=lambda i: -1 if i.line is None else i.line)
    counts = {"items": n_items, "accepted": len(records), "rejected": n_items - n_valid, "duplicates": dups,
              "fields_removed": report.actions[FIELD_REMOVED],
              "errors": report.n_errors, "warnings": report.n_warnings,
              "users": len({r.device_id for r in records})}
    return ValidationResult(records, report.errors, report.warnings, counts, config, source)
