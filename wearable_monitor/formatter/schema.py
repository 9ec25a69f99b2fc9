"""What the formatter accepts (validated input models) and the fixed values of a case."""
from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..errors import FormatterInputError


CASE_SCHEMA = "wearable_monitor.case/1"


LANGUAGES = ("en", "zh")


DATA_BEGIN, DATA_END = "⟦DATA BEGIN⟧", "⟦DATA END⟧"


SUMMARY_MAX_CHARS = 200


SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


# Thresholds for caveats and red flags. The red flags mirror the doctor-advice rules in the
# system prompt, so the model sees in the data the same limits it is told to act on.
MISSING_CAVEAT = 0.2        # >= 20 % of values missing in the window


GAP_FACTOR = 2              # gap longer than 2 sampling intervals


PERSONAL_DAYS = 7           # fewer days of history -> baseline still mostly group-based


SPO2_LOW, HR_REST_HIGH, HR_REST_LOW = 90.0, 120.0, 40.0


# Length caps for strings from uploaded data: long enough to be recognisable, short enough that
# a pasted essay cannot dominate the prompt.
MAX_ID, MAX_NAME, MAX_TITLE, MAX_ADVICE = 80, 48, 160, 240


def _no_bool(v: Any) -> Any:
    # pydantic would turn True into 1.0; a boolean where a number belongs is a bug upstream.
    if isinstance(v, bool):
        raise ValueError("expected a number, got a boolean")
    return v


Num = Annotated[Optional[float], BeforeValidator(_no_bool)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WindowIn(_In):
    start: Any = None
    end: Any = None
    time_period: Any = None
    n_points: Num = None
    observed_fraction: Num = None


class TopFeatureIn(_In):
    feature: Any = None
    importance: Num = None
    value: Num = None
    unit: Any = None
    baseline_mean: Num = None
    baseline_std: Num = None
    z_score: Num = None


class BaselineMetricIn(_In):
    mean: Num = None
    std: Num = None
    personal_mean: Num = None
    personal_std: Num = None
    group_mean: Num = None
    group_std: Num = None


class BaselineIn(_In):
    source: Any = None
    alpha: Num = None
    days_of_history: Num = None
    metrics: dict[str, BaselineMetricIn] = {}


class MeasurementIn(_In):
    mean: Num = None
    min: Num = None
    max: Num = None
    unit: Any = None


class DataQualityIn(_In):
    missing_fraction: Num = None
    low_quality_points: Num = None
    max_gap_minutes: Num = None
    heart_rate_missing: Optional[bool] = None


class DetailsIn(_In):
    window_size: Num = None
    model_output: Num = None
    prediction_confidence: Num = None


class ReasonIn(_In):
    source: Any = None
    code: Any = None
    level: Any = None
    title: Any = None
    advice: Any = None


class ResultIn(_In):
    is_anomaly: Optional[bool] = None
    level: Any = None
    reasons: list[ReasonIn] = []
    anomaly_score: Num = None
    threshold: Num = None
    details: Optional[DetailsIn] = None
    user_id: Any = None
    deviceId: Any = None
    window: Optional[WindowIn] = None
    top_features: list[TopFeatureIn] = []
    baseline: Optional[BaselineIn] = None
    measurements: dict[str, MeasurementIn] = {}
    data_quality: Optional[DataQualityIn] = None
    static: dict[str, Any] = {}
    input_issues: list[Any] = []  # what validation changed in the records (detector.predict)


class DayIn(_In):
    date: Any = None
    windows: Num = None
    anomalous_windows: Num = None
    anomaly_share: Num = None
    weighted_share: Num = None
    sufficient: Optional[bool] = None   # False: too few windows that day to call it normal or not
    is_anomalous_day: Optional[bool] = None
    limited_channels: Optional[bool] = None  # heart rate and steps only that day (patterns.py)
    vitals_flags: Optional[str] = None  # vitals.py: "resting_hr +5.1 bpm; hrv -27%" (shown only in that shape)


class PatternIn(_In):
    days: list[DayIn] = []
    consecutive_anomalous_days: Num = None
    trend: Any = None
    trend_slope: Num = None
    alert: Optional[bool] = None
    alert_dates: list[Any] = []
    pattern_days: Num = None            # patterns.summarize_pattern: the longest anomalous run
    longest_anomalous_run: Num = None
    config: dict[str, Any] = {}         # PatternConfig as a dict (alert_consecutive_days...)
    user_id: Any = None


class FindingIn(_In):
    rule: Any = None
    metric: Any = None
    severity: Any = None
    status: Any = None
    value: Any = None
    evidence: dict[str, Any] = {}
    period: Optional[dict[str, Any]] = None
    title: Any = None
    advice: Any = None


def _validate(model: type[_In], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise FormatterInputError(f"{where}: expected an object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        raise FormatterInputError(f"{where}{loc}: {err['msg']} (got {str(err.get('input'))[:60]!r})") from None
