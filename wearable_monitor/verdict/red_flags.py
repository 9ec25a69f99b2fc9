"""Always-on physiological red flags: absolute, clinically anchored thresholds on the stream.

Thresholds live in `configs/red_flags.json` (pydantic-validated; each with its source: NEWS2,
device makers' notifications, clinical patient pages), never fitted to a simulator. A red flag is
a *sustained* run of records beyond a threshold in a stated context (at rest, awake at rest,
asleep; stream_context.py), so a single record, a motion artefact or an exercise bout is not one.

    cfg = load_red_flag_config()
    runs = red_flag_runs(columns_of_one_user, feature_config, cfg)     # sustained runs
    findings = [run_finding(r, cfg, columns) for r in runs]            # findings.Finding
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator

from ..config import CONFIG_DIR, ConfigError, FeatureConfig, StrictModel, strip_comments
from .findings import Finding, Level
from .stream_context import (UNKNOWN, EvidenceRun, StreamContext, StreamSettings, baseline_at, column_or_nan,
                             runs, steps_only_levels, stream_context)

DEFAULT_RED_FLAGS = CONFIG_DIR / "red_flags.json"
CONTEXT_TEXT = {"rest": {"en": "at rest", "zh": "静息"}, "awake_rest": {"en": "awake at rest", "zh": "清醒静息"},
                "asleep": {"en": "asleep", "zh": "睡眠中"}, "any": {"en": "any activity", "zh": "任何活动"}}
UNKNOWN_ACTIVITY = {"en": "activity unknown (the records carry no step count), so reported one level lower",
                    "zh": "活动状态未知（记录中没有步数），因此降低一级报告"}
STEPS_ONLY = {"en": "at rest by the step count alone, which does not see cycling or other exercise without steps: "
                    "one level lower until it lasts {minutes} min",
              "zh": "仅凭步数判断为静息，而步数无法反映骑车等无步数的运动：持续 {minutes} 分钟前降低一级报告"}
ACTIVITY_UNKNOWN_TITLE = {"en": " (activity unknown: no step count)", "zh": "（活动状态未知：无步数）"}


class Texts(StrictModel):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class FlagSpec(StrictModel):
    signal: str
    op: Literal["<=", ">="]
    value: float
    min_minutes: float = Field(gt=0)
    context: Literal["rest", "awake_rest", "asleep", "any"]
    level: Literal["watch", "alert", "urgent"]
    source: str = Field(min_length=10)  # every threshold says where it comes from
    # a low heart rate inside the person's own established range (personal weight >= 0.5, within
    # `personal_sd` sd of their baseline for the period) is their normal (trained athletes), not a red flag
    personal_exempt: bool = False
    personal_sd: float = Field(default=3.0, gt=0)
    # Exercise raises this signal, and step counts do not see exercise without steps (cycling, rowing,
    # strength training): where the rest of a run rests on steps alone (no accelerometer reading), the
    # flag is one level lower until the run has held this many minutes (stream_context.steps_only_levels)
    min_minutes_steps_only: float | None = Field(default=None, gt=0)
    title: Texts
    advice: Texts

    def beyond(self, x: np.ndarray) -> np.ndarray:
        return (x <= self.value) if self.op == "<=" else (x >= self.value)  # NaN compares False, quietly


class RedFlagConfig(StrictModel):
    schema_version: Literal[1]
    rest_minutes: float = Field(gt=0)
    rest_max_steps: float = Field(default=30.0, ge=0)
    rest_max_accel_g: float = Field(default=0.1, gt=0)
    max_gap_minutes: float = Field(gt=0)
    skip_low_quality: bool = True
    awake_hours: tuple[int, int]
    flags: dict[str, FlagSpec]

    @field_validator("awake_hours")
    @classmethod
    def _hours(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 <= v[0] < v[1] <= 24):
            raise ValueError("awake_hours must be [start, end) with 0 <= start < end <= 24")
        return v

    def settings(self, sampling_minutes: float) -> StreamSettings:
        return StreamSettings(sampling_minutes=sampling_minutes, rest_minutes=self.rest_minutes,
                              rest_max_steps=self.rest_max_steps, rest_max_accel_g=self.rest_max_accel_g,
                              max_gap_minutes=self.max_gap_minutes, skip_low_quality=self.skip_low_quality,
                              awake_hours=tuple(self.awake_hours))


def parse_red_flag_config(raw: Mapping, where: str = "red_flags") -> RedFlagConfig:
    try:
        return RedFlagConfig.model_validate(strip_comments(dict(raw)))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: key '{key}': {first['msg']}") from None


def load_red_flag_config(path: str | Path | None = None) -> RedFlagConfig:
    path = Path(path or DEFAULT_RED_FLAGS)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_red_flag_config(raw, where=str(path))


@lru_cache(maxsize=1)
def default_red_flag_config() -> RedFlagConfig:
    return load_red_flag_config()


def _context_mask(spec: FlagSpec, ctx: StreamContext) -> np.ndarray:
    """Rows where the flag's context holds (unknown activity allowed: reported a level lower)."""
    not_active = ctx.rest != 0
    if spec.context == "rest":
        return not_active
    if spec.context == "awake_rest":
        return not_active & ctx.awake
    if spec.context == "asleep":
        return not_active & ~ctx.awake
    return np.ones(len(ctx), bool)


def _within_personal_range(cols: Mapping[str, Any], x: np.ndarray, spec: FlagSpec, ctx: StreamContext) -> np.ndarray:
    """Rows whose value lies inside the person's own established range (see FlagSpec.personal_exempt)."""
    n = len(x)

    def col(name: str) -> np.ndarray:
        return column_or_nan(cols, name, n)

    if spec.signal in ("hr", "hr_resting"):
        # heart rate at rest in this time of day where kept; else the resting-HR field (night rows: night)
        base = baseline_at(cols, "hr_rest", ctx.periods) or baseline_at(cols, "hr_resting", ctx.periods, ~ctx.awake)
    else:
        base = baseline_at(cols, spec.signal, ctx.periods)
    if base is None:
        return np.zeros(n, bool)
    mean, std = base
    personal = col("bl_alpha") >= 0.5
    with np.errstate(invalid="ignore"):
        inside = (x >= mean - spec.personal_sd * std) if spec.op == "<=" else (x <= mean + spec.personal_sd * std)
    return personal & np.isfinite(mean) & inside


def red_flag_runs(cols: Mapping[str, Any], config: FeatureConfig, cfg: RedFlagConfig | None = None,
                  ctx: StreamContext | None = None) -> list[EvidenceRun]:
    """Sustained runs of every red flag in one user's rows (sorted by time)."""
    cfg = cfg or default_red_flag_config()
    ctx = ctx or stream_context(cols, config, cfg.settings(config.sampling_minutes))
    settings = cfg.settings(config.sampling_minutes)
    out: list[EvidenceRun] = []
    signals: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # several flags read the same signal
    for code, spec in cfg.flags.items():
        if spec.signal not in cols:
            continue
        if spec.signal not in signals:
            x = np.asarray(cols[spec.signal], dtype=np.float64)
            signals[spec.signal] = x, np.isfinite(x) & ctx.usable
        x, measured = signals[spec.signal]
        k = settings.min_records(spec.min_minutes)
        mask = spec.beyond(x) & measured
        if np.count_nonzero(mask) < k:  # the common case: too few records beyond it to form a run
            continue
        mask &= _context_mask(spec, ctx)
        if spec.personal_exempt:
            mask &= ~_within_personal_range(cols, x, spec, ctx)
        for first, last in runs(mask, ctx.minutes, settings.max_gap_minutes, k, measured):
            seg = x[first:last + 1][np.isfinite(x[first:last + 1])]
            level = Level.parse(spec.level)
            unknown = spec.context != "any" and bool((ctx.rest[first:last + 1] == UNKNOWN).any())
            if unknown:
                level = Level(max(int(Level.WATCH), int(level) - 1))
            for run_level, need in steps_only_levels(first, last, int(level), k, ctx, spec.min_minutes_steps_only,
                                                     settings):
                out.append(EvidenceRun(
                    source="red_flag", code=code, level=run_level, first=first, last=last, min_records=need,
                    family=f"{spec.signal}{spec.op}",
                    evidence={"signal": spec.signal, "threshold": spec.value, "op": spec.op,
                              "median": float(np.median(seg)),
                              "extreme": float(seg.min() if spec.op == "<=" else seg.max()),
                              "records": int(len(seg)), "context": spec.context,
                              "activity_unknown": unknown, "steps_only": run_level < int(level)}))
    return out


def run_finding(run: EvidenceRun, cols: Mapping[str, Any], cfg: RedFlagConfig | None = None,
                first: int | None = None, last: int | None = None, sampling_minutes: float = 5.0) -> Finding:
    """The Finding of a red-flag run, over rows [first, last] (default: the whole run)."""
    cfg = cfg or default_red_flag_config()
    spec = cfg.flags[run.code]
    first = run.first if first is None else max(first, run.first)
    last = run.last if last is None else min(last, run.last)
    times = np.asarray(cols["timestamp"]).astype("datetime64[ns]")
    minutes = float((times[last] - times[first]).astype("timedelta64[s]").astype(np.float64) / 60.0) \
        + sampling_minutes
    value = spec.value if not float(spec.value).is_integer() else int(spec.value)
    title = {lang: getattr(spec.title, lang).format(value=value, minutes=int(round(minutes)))
             for lang in ("en", "zh")}
    advice = {lang: getattr(spec.advice, lang) for lang in ("en", "zh")}
    evidence = dict(run.evidence, minutes=round(minutes, 1), context_text=CONTEXT_TEXT[spec.context])
    x = np.asarray(cols[spec.signal], dtype=np.float64)[first:last + 1]
    x = x[np.isfinite(x)]
    if len(x):
        evidence.update(median=float(np.median(x)), extreme=float(x.min() if spec.op == "<=" else x.max()),
                        records=int(len(x)))
    if run.evidence.get("activity_unknown"):  # "at rest" in the title is then an assumption: say so
        title = {lang: f"{title[lang]}{ACTIVITY_UNKNOWN_TITLE[lang]}" for lang in title}
        advice = {lang: f"{advice[lang]} ({UNKNOWN_ACTIVITY[lang]})" for lang in advice}
    elif run.evidence.get("steps_only"):
        need = int(round(spec.min_minutes_steps_only or 0))
        advice = {lang: f"{advice[lang]} ({STEPS_ONLY[lang].format(minutes=need)})" for lang in advice}
    return Finding(source="red_flag", code=run.code, level=Level(run.level), title=title, evidence=evidence,
                   advice=advice, start=times[first].astype("datetime64[s]").item(),
                   end=times[last].astype("datetime64[s]").item(), citation=spec.source)
