"""Rules configuration: `configs/rules_config.json`, validated with pydantic.

Every threshold of the engine lives in that JSON file. The models below have no
default values for thresholds on purpose: a missing key is an error naming the
key, so the file stays the single source of truth. Unknown keys are errors too
(a typo must not silently fall back to something else).

Personalisation merges partial dicts over the defaults (age group -> sex ->
conditions -> medications -> the user's ``customThresholds``) and re-validates
the result, so a bad custom threshold is reported with the user and the key.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from ..config import CONFIG_DIR, ConfigError, StrictModel

DEFAULT_RULES_CONFIG = CONFIG_DIR / "rules_config.json"

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# what a rule finding is: a finding proper, or why it is not one (yet)
FINDING, INSUFFICIENT, AWAITING, DATA_PROBLEM = "finding", "insufficient_data", "awaiting_confirmation", "data_problem"
STATUSES = (FINDING, INSUFFICIENT, AWAITING, DATA_PROBLEM)
Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
Ladder = dict[Severity, float]

# numeric daily-log fields (architecture.md section 6); bedtime is parsed to hours separately
DAILY_NUMERIC = ("weight_kg", "body_fat_pct", "systolic", "diastolic", "resting_hr", "calories_kcal",
                 "calories_target", "protein_g", "protein_target_g", "carbs_g", "fat_g", "exercise_minutes",
                 "hr_zone_high_minutes", "sleep_hours", "sleep_quality", "health_score")


def _check_ladder(ladder: dict[str, float], name: str, increasing: bool) -> None:
    """Severity thresholds must get stricter with severity (higher for 'above', lower for 'below')."""
    if not ladder:
        raise ValueError(f"{name}: needs at least one severity level")
    values = [ladder[s] for s in SEVERITIES if s in ladder]
    pairs = list(zip(values, values[1:]))
    if any((b <= a) if increasing else (b >= a) for a, b in pairs):
        order = "increase" if increasing else "decrease"
        raise ValueError(f"{name}: thresholds must {order} with severity, got {ladder}")


class Confirm(StrictModel):
    """Secondary verification: wait for the next reading before reporting."""
    enabled: bool
    within_days: int = Field(ge=1)
    keep_fraction: float = Field(gt=0, le=1)  # next reading must keep this share of the deviation


class PersonalRange(StrictModel):
    """The document's "个人差异 / 个人正常范围": learn a person's own normal range from their history
    when they sit stably outside the population range (see docs/rules.md, personal normal range)."""
    enabled: bool
    sides: list[Literal["low", "high"]]
    window_days: int = Field(ge=2)      # prior days the range is learned from (today excluded)
    min_points: int = Field(ge=2)       # readings needed in that window
    max_sd: dict[str, float]            # robust sd at most this (per metric): "stable"
    k_sd: float = Field(gt=0)           # personal bound = median -/+ max(k_sd x robust sd, min_band)
    min_band: dict[str, float]


class RuleBase(StrictModel):
    enabled: bool
    cooldown_days: int = Field(ge=0)
    label_kinds: list[str] | dict[str, list[str]]  # simulator event kinds this rule should find


class SuddenChange(RuleBase):
    metrics: list[str]
    window_days: int = Field(ge=2)
    min_points: dict[str, int]
    sigma: Ladder
    min_std: dict[str, float]
    confirm: Confirm

    @model_validator(mode="after")
    def _check(self):
        bad = [m for m in self.metrics if m not in DAILY_NUMERIC]
        if bad:
            raise ValueError(f"metrics: unknown daily metric(s) {bad}; known: {list(DAILY_NUMERIC)}")
        for key in ("min_points", "min_std"):
            if "default" not in getattr(self, key):
                raise ValueError(f"{key}: needs a 'default' entry")
        _check_ladder(self.sigma, "sigma", increasing=True)
        return self

    def min_points_for(self, metric: str) -> int:
        return self.min_points.get(metric, self.min_points["default"])

    def min_std_for(self, metric: str) -> float:
        return self.min_std.get(metric, self.min_std["default"])


class WeightDailyChange(RuleBase):
    severity: Ladder
    max_gap_days: int = Field(ge=1)
    confirm: Confirm

    @model_validator(mode="after")
    def _check(self):
        _check_ladder(self.severity, "severity", increasing=True)
        return self


class WeightWeeklyChange(RuleBase):
    limit_kg: float = Field(gt=0)
    days: int = Field(ge=2)
    min_points: int = Field(ge=2)
    severity: Severity


class BloodPressureRange(RuleBase):
    systolic_high: Ladder
    diastolic_high: Ladder
    systolic_low: Ladder
    diastolic_low: Ladder
    recent_days: int = Field(ge=1)  # no reading this recent -> insufficient data
    confirm: Confirm
    personal_range: PersonalRange

    @model_validator(mode="after")
    def _check(self):
        for name in ("systolic_high", "diastolic_high"):
            _check_ladder(getattr(self, name), name, increasing=True)
        for name in ("systolic_low", "diastolic_low"):
            _check_ladder(getattr(self, name), name, increasing=False)
        return self


class RestingHrRange(RuleBase):
    high: Ladder
    low: Ladder
    recent_days: int = Field(ge=1)
    confirm: Confirm
    personal_range: PersonalRange

    @model_validator(mode="after")
    def _check(self):
        _check_ladder(self.high, "high", increasing=True)
        _check_ladder(self.low, "low", increasing=False)
        return self


class StreakRatio(RuleBase):
    """value / target below (or above) `ratio` on `days` logged days in a row."""
    value: str
    target: str
    direction: Literal["below", "above"]
    ratio: float = Field(gt=0)
    days: int = Field(ge=1)
    max_missing_days: int = Field(ge=0)
    severity: Severity

    @model_validator(mode="after")
    def _check(self):
        for key in ("value", "target"):
            if getattr(self, key) not in DAILY_NUMERIC:
                raise ValueError(f"{key}: unknown daily metric {getattr(self, key)!r}")
        return self


class MacroImbalance(RuleBase):
    recommended_energy_share: dict[Literal["carbs", "protein", "fat"], float]
    kcal_per_g: dict[Literal["carbs", "protein", "fat"], float]
    max_relative_deviation: float = Field(gt=0)
    days: int = Field(ge=1)
    max_missing_days: int = Field(ge=0)
    severity: Severity

    @model_validator(mode="after")
    def _check(self):
        for key in ("recommended_energy_share", "kcal_per_g"):
            if set(getattr(self, key)) != {"carbs", "protein", "fat"}:
                raise ValueError(f"{key}: needs exactly carbs, protein and fat")
        if abs(sum(self.recommended_energy_share.values()) - 1.0) > 1e-6:
            raise ValueError("recommended_energy_share: shares must sum to 1")
        return self


class ExerciseDrop(RuleBase):
    recent_days: int = Field(ge=1)
    baseline_days: int = Field(ge=1)
    ratio: float = Field(gt=0, lt=1)
    min_recent_points: int = Field(ge=1)
    min_baseline_points: int = Field(ge=1)
    min_baseline_minutes: float = Field(ge=0)
    severity: Severity


class ExerciseSurge(RuleBase):
    days: int = Field(ge=1)
    baseline_days: int = Field(ge=1)
    ratio: float = Field(gt=1)
    min_baseline_points: int = Field(ge=1)
    min_baseline_minutes: float = Field(ge=0)
    max_missing_days: int = Field(ge=0)
    severity: Severity


class ExerciseIntensity(RuleBase):
    recent_days: int = Field(ge=1)
    baseline_days: int = Field(ge=1)
    k_sigma: float = Field(gt=0)
    min_abs_share: float = Field(ge=0, le=1)
    min_daily_minutes: float = Field(ge=0)
    min_recent_points: int = Field(ge=1)
    min_baseline_points: int = Field(ge=2)
    severity: Severity


class SleepDuration(RuleBase):
    days: int = Field(ge=1)
    max_missing_days: int = Field(ge=0)
    severe_h: float = Field(gt=0)   # nights at or below: severe shortage
    short_h: float = Field(gt=0)    # at or below: insufficient sleep
    long_h: float = Field(gt=0)     # at or above: excessive sleep
    severity: dict[Literal["severe", "short", "long"], Severity]

    @model_validator(mode="after")
    def _check(self):
        if not self.severe_h < self.short_h < self.long_h:
            raise ValueError("need severe_h < short_h < long_h")
        if set(self.severity) != {"severe", "short", "long"}:
            raise ValueError("severity: needs severe, short and long")
        return self


class SleepQualityDecline(RuleBase):
    days: int = Field(ge=3)             # nights in a row, each scored lower than the night before
    min_total_drop: float = Field(ge=0)  # total fall over them must exceed this (document: none, 0)
    severity: Severity


class BedtimeIrregular(RuleBase):
    window_days: int = Field(ge=2)
    min_points: int = Field(ge=2)
    max_std_hours: float = Field(gt=0)
    day_starts_at_hour: int = Field(ge=0, le=23)
    severity: Severity


class HealthScoreDrop(RuleBase):
    days: int = Field(ge=2)
    min_points: int = Field(ge=2)
    drop_points: float = Field(gt=0)
    severity: Severity


class HealthScoreVolatility(RuleBase):
    recent_days: int = Field(ge=3)
    baseline_days: int = Field(ge=3)
    ratio: float = Field(gt=1)
    min_recent_points: int = Field(ge=3)
    min_baseline_points: int = Field(ge=3)
    min_baseline_std: float = Field(ge=0)
    severity: Severity


class BmiCategory(RuleBase):
    window_days: int = Field(ge=1)
    min_points: int = Field(ge=1)
    severity: dict[Literal["underweight", "overweight", "obese"], Severity | None]


class BodyFatCategory(RuleBase):
    window_days: int = Field(ge=1)
    min_points: int = Field(ge=1)
    margin_pct: float = Field(ge=0)
    severity: Severity


class Rules(StrictModel):
    sudden_change: SuddenChange
    weight_daily_change: WeightDailyChange
    weight_weekly_change: WeightWeeklyChange
    blood_pressure_range: BloodPressureRange
    resting_hr_range: RestingHrRange
    protein_low: StreakRatio
    protein_high: StreakRatio
    calories_high: StreakRatio
    calories_low: StreakRatio
    macro_imbalance: MacroImbalance
    exercise_drop: ExerciseDrop
    exercise_surge: ExerciseSurge
    exercise_intensity: ExerciseIntensity
    sleep_duration: SleepDuration
    sleep_quality_decline: SleepQualityDecline
    bedtime_irregular: BedtimeIrregular
    health_score_drop: HealthScoreDrop
    health_score_volatility: HealthScoreVolatility
    bmi_category: BmiCategory
    body_fat_category: BodyFatCategory


class BloodPressureRef(StrictModel):
    elevated_systolic: float
    stage1_systolic: float
    stage1_diastolic: float
    stage2_systolic: float
    stage2_diastolic: float


class Reference(StrictModel):
    blood_pressure: BloodPressureRef
    resting_hr_normal: tuple[float, float]
    max_hr_base: float
    target_zone_fraction: tuple[float, float]
    bmi_cutoffs: dict[Literal["underweight_below", "overweight_from", "obese_from"], float]
    body_fat_normal: dict[Literal["male", "female"], tuple[float, float]]
    body_fat_base_age: float
    body_fat_per_decade: float


class MaxChange(StrictModel):
    """What a body can do: a change larger than abs + per_day x days since the last accepted
    reading is implausible (a typo or another person on the scale), not a health event."""
    abs: float = Field(gt=0)
    per_day: float = Field(ge=0)


class DataQuality(StrictModel):
    plausible: dict[str, tuple[float, float]]
    min_pulse_pressure: float = Field(ge=0)
    macro_energy_tolerance: float = Field(gt=0)
    spike_jump: dict[str, float]
    spike_reference_days: int = Field(ge=1)
    spike_confirm: Confirm
    max_change: dict[str, MaxChange]
    level_shift_readings: int = Field(ge=2)

    @model_validator(mode="after")
    def _check(self):
        for key in ("plausible", "spike_jump", "max_change"):
            bad = [m for m in getattr(self, key) if m not in DAILY_NUMERIC]
            if bad:
                raise ValueError(f"{key}: unknown daily metric(s) {bad}")
        for m, (lo, hi) in self.plausible.items():
            if lo >= hi:
                raise ValueError(f"plausible.{m}: min {lo} must be below max {hi}")
        return self


class MissingData(StrictModel):
    sparse_window_factor: float = Field(ge=1)
    sparse_sensitivity: float = Field(gt=0, le=1)
    min_history: dict[str, int]  # the document's minimum data: readings logged so far, per metric, for every rule

    @model_validator(mode="after")
    def _check(self):
        bad = [m for m in self.min_history if m not in DAILY_NUMERIC]
        if bad:
            raise ValueError(f"min_history: unknown daily metric(s) {bad}")
        return self


class Danger(StrictModel):
    """A clinically dangerous range of one metric: told at once, never silenced."""
    high: float | None = None   # at or above
    low: float | None = None    # at or below
    severity: Severity          # at least this severity, whatever personalisation says


class Safety(StrictModel):
    comment: str = Field("", alias="_comment")
    dangerous: dict[str, Danger]
    notify_unconfirmed: bool    # a dangerous reading is notified before any confirmation

    @model_validator(mode="after")
    def _check(self):
        bad = [m for m in self.dangerous if m not in DAILY_NUMERIC]
        if bad:
            raise ValueError(f"dangerous: unknown daily metric(s) {bad}")
        return self


class Feedback(StrictModel):
    min_precision: float = Field(gt=0, le=1)
    sensitivity_step: float = Field(gt=0, lt=1)
    min_sensitivity: float = Field(gt=0, le=1)
    min_labelled: int = Field(ge=1)
    match_tolerance_days: int = Field(ge=0)


class Notifications(StrictModel):
    action_required: list[Severity]
    channels: dict[Severity, list[Literal["in_app", "email", "sms", "wechat"]]]


class Personalisation(StrictModel):
    age_groups: dict[str, tuple[float, float]]
    overrides: dict[Literal["age_group", "sex", "conditions", "medications"], dict[str, dict[str, Any]]]


class RulesConfig(StrictModel):
    version: Literal[1]
    comment: str = Field("", alias="_comment")
    rules: Rules
    reference: Reference
    data_quality: DataQuality
    missing_data: MissingData
    feedback: Feedback
    notifications: Notifications
    personalisation: Personalisation
    safety: Safety

    def rule(self, name: str) -> RuleBase:
        return getattr(self.rules, name)

    @property
    def rule_names(self) -> list[str]:
        return list(Rules.model_fields)


def _format_error(err: ValidationError, where: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"{where}: key '{key}': {e['msg']}")
    return "\n".join(lines)


def parse_rules_config(data: dict, where: str = "rules config") -> RulesConfig:
    """Validate a config dict; raise ConfigError naming the offending key(s)."""
    try:
        return RulesConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, where)) from None


def read_rules_dict(path: str | Path = DEFAULT_RULES_CONFIG) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: rules config file not found") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None


def load_rules_config(path: str | Path | None = None) -> RulesConfig:
    path = Path(path or DEFAULT_RULES_CONFIG)
    return parse_rules_config(read_rules_dict(path), where=str(path))


def deep_merge(base: dict, override: dict) -> dict:
    """Merge `override` into a copy of `base` key by key (severity ladders too: {"MEDIUM": 150}
    changes one level; validation afterwards rejects a ladder the merge made inconsistent).
    Unknown keys are kept so that validation names them."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
