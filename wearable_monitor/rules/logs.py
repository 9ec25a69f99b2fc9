"""Daily logs and user profiles: validation (pydantic) and the per-user daily frame.

A daily log is one JSON object per user and day (architecture.md section 6);
null means *not logged* and stays NaN (never imputed). Structural problems
(wrong type, negative minutes, bedtime not HH:MM, duplicate user-day) are
errors naming the line and field. Values that are well-formed but physically
implausible are the engine's business: it flags them as data problems and
excludes them (see `engine.clean`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError  # noqa: F401 - defined in errors.py, importable from here as before
from .config import DAILY_NUMERIC

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
NonNeg = float | None


class DailyLog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=128)
    date: date
    weight_kg: NonNeg = Field(None, gt=0)
    body_fat_pct: NonNeg = Field(None, ge=0, le=100)
    systolic: NonNeg = Field(None, gt=0)
    diastolic: NonNeg = Field(None, gt=0)
    resting_hr: NonNeg = Field(None, gt=0)
    calories_kcal: NonNeg = Field(None, ge=0)
    calories_target: NonNeg = Field(None, gt=0)
    protein_g: NonNeg = Field(None, ge=0)
    protein_target_g: NonNeg = Field(None, gt=0)
    carbs_g: NonNeg = Field(None, ge=0)
    fat_g: NonNeg = Field(None, ge=0)
    exercise_minutes: NonNeg = Field(None, ge=0, le=1440)
    hr_zone_high_minutes: NonNeg = Field(None, ge=0, le=1440)
    sleep_hours: NonNeg = Field(None, ge=0, le=24)
    sleep_quality: NonNeg = Field(None, ge=0)
    bedtime: str | None = None
    health_score: NonNeg = Field(None, ge=0)

    @field_validator("bedtime")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not _HHMM.match(v):
            raise ValueError(f"bedtime must be HH:MM (24 h local time), got {v!r}")
        return v

    @field_validator(*DAILY_NUMERIC, mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number, not a boolean")
        if isinstance(v, float) and not np.isfinite(v):
            raise ValueError("must be a finite number (use null for not logged)")
        return v


class UserProfile(BaseModel):
    """The personal-rules input of the document (ageGroup, gender, conditions, medications, customThresholds).

    Extra fields (the simulator's users.jsonl carries the person's true physiology) are ignored.
    """
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    user_id: str
    age_group: str | int | None = Field(None, alias="ageGroup")
    sex: str | None = Field(None, alias="gender")
    height_cm: float | None = Field(None, gt=50, lt=260)
    conditions: list[str] = Field(default_factory=list, alias="healthConditions")
    medications: list[str] = Field(default_factory=list)
    custom_thresholds: dict[str, Any] = Field(default_factory=dict, alias="customThresholds")

    @field_validator("sex")
    @classmethod
    def _sex(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip().lower()
        return {"m": "male", "f": "female"}.get(v, v)


def _error_lines(err: ValidationError, where: str) -> list[str]:
    return [f"{where}: {'.'.join(str(p) for p in e['loc']) or '<line>'}: {e['msg']}" for e in err.errors()]


def parse_jsonl(lines: Iterable[str], model: type[BaseModel], source: str = "<input>") -> list[BaseModel]:
    """Validate every non-empty line; collect all problems, then raise one InputError."""
    out, problems = [], []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: invalid JSON: {err.msg}")
            continue
        try:
            item = model.model_validate(obj)
        except ValidationError as err:
            problems.extend(_error_lines(err, where))
            continue
        out.append((no, item))
    if model is DailyLog:
        seen: dict[tuple[str, date], int] = {}
        for no, item in out:
            key = (item.user_id, item.date)
            if key in seen:
                problems.append(f"{source}:{no}: date: duplicate log for user {item.user_id!r} on {item.date} "
                                f"(first at line {seen[key]})")
            seen.setdefault(key, no)
    if problems:
        raise InputError("\n".join(problems))
    return [item for _, item in out]


def read_daily_logs(path: str | Path) -> list[DailyLog]:
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        return parse_jsonl(f, DailyLog, str(path))


def read_profiles(path: str | Path) -> dict[str, UserProfile]:
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        return {p.user_id: p for p in parse_jsonl(f, UserProfile, str(path))}


def bedtime_hours(values: pd.Series | np.ndarray, day_starts_at_hour: int = 12) -> np.ndarray:
    """'HH:MM' -> hours after `day_starts_at_hour` (23:30 -> 11.5, 01:00 -> 13 with noon):
    bedtimes around midnight stay close together instead of wrapping from 23.9 to 0.1."""
    s = pd.Series(values, dtype="object")
    hm = s.str.extract(r"^(\d{2}):(\d{2})$").astype(float)
    hours = hm[0] + hm[1] / 60.0
    return ((hours - day_starts_at_hour) % 24).to_numpy(dtype=np.float64)


def logs_to_frame(logs: Iterable[DailyLog | dict]) -> pd.DataFrame:
    """All users' logs as one DataFrame (user_id, date, metrics...), sorted, NaN = not logged."""
    rows = [l.model_dump() if isinstance(l, BaseModel) else DailyLog.model_validate(l).model_dump() for l in logs]
    frame = pd.DataFrame(rows, columns=["user_id", "date", *DAILY_NUMERIC, "bedtime"])
    return normalise_frame(frame)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a daily DataFrame (e.g. the simulator's `Population.daily`) to the engine's dtypes."""
    missing = [c for c in ("user_id", "date") if c not in frame]
    if missing:
        raise InputError(f"daily frame: missing column(s) {missing}")
    out = pd.DataFrame({"user_id": frame["user_id"].astype(str),
                        "date": pd.to_datetime(frame["date"]).dt.normalize()})
    for col in DAILY_NUMERIC:
        out[col] = pd.to_numeric(frame[col], errors="raise").astype(np.float64) if col in frame else np.nan
    out["bedtime"] = frame["bedtime"].astype(object).where(frame["bedtime"].notna(), None) if "bedtime" in frame else None
    return out.sort_values(["user_id", "date"], kind="stable").reset_index(drop=True)


def user_days(frame: pd.DataFrame, user_id: str) -> pd.DataFrame:
    """One user's logs reindexed to a contiguous daily DatetimeIndex (missing days = NaN rows),
    so that window rules can use calendar-day rolling windows."""
    u = frame[frame["user_id"] == user_id].set_index("date").drop(columns="user_id")
    if u.empty:
        return u
    days = pd.date_range(u.index.min(), u.index.max(), freq="D")
    return u.reindex(days)
