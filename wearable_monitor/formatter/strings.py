"""The string table (en / zh): feature names, enum labels, units and every sentence of the text."""
from __future__ import annotations

from typing import Any

from ..config import FeatureConfig
from .schema import HR_REST_HIGH, HR_REST_LOW, MAX_NAME, SEVERITY_ORDER, SPO2_LOW
from .text import _f, clean_text, quote


FEATURE_NAMES = {
    "en": {"hr": "Heart rate", "hr_resting": "Resting heart rate", "hrv_rmssd": "HRV RMSSD",
           "hrv_sdnn": "HRV SDNN", "hrv_pnn50": "HRV pNN50", "resp_rate": "Respiration rate",
           "spo2": "Blood oxygen SpO2", "skin_temp": "Skin temperature", "steps": "Steps",
           "distance": "Distance", "calories": "Energy expenditure", "accel_mag": "Acceleration",
           "gyro_mag": "Rotation rate", "light": "Ambient light", "sleep_state": "Sleep state",
           "hrv": "HRV RMSSD"},
    "zh": {"hr": "心率", "hr_resting": "静息心率", "hrv_rmssd": "心率变异性 RMSSD",
           "hrv_sdnn": "心率变异性 SDNN", "hrv_pnn50": "心率变异性 pNN50", "resp_rate": "呼吸频率",
           "spo2": "血氧饱和度 SpO2", "skin_temp": "皮肤温度", "steps": "步数", "distance": "距离",
           "calories": "能量消耗", "accel_mag": "加速度", "gyro_mag": "角速度", "light": "环境光照",
           "sleep_state": "睡眠状态", "hrv": "心率变异性 RMSSD"},
}


ENUMS = {
    "time_period": {"en": {"morning": "morning", "day": "daytime", "evening": "evening", "night": "night"},
                    "zh": {"morning": "上午", "day": "白天", "evening": "傍晚", "night": "夜间"}},
    "sex": {"en": {"female": "female", "male": "male"}, "zh": {"female": "女", "male": "男"}},
    "exercise": {"en": {"low": "low", "moderate": "moderate", "high": "high"},
                 "zh": {"low": "低", "moderate": "中等", "high": "高"}},
    "source": {"en": {"personal": "personal baseline", "group": "group baseline",
                      "blend": "blend of personal and group baselines"},
               "zh": {"personal": "个人基线", "group": "群体基线", "blend": "个人与群体混合基线"}},
    "trend": {"en": {"rising": "rising", "falling": "falling", "stable": "stable"},
              "zh": {"rising": "上升", "falling": "下降", "stable": "平稳"}},
    "status": {"en": {"finding": "finding", "insufficient_data": "insufficient data",
                      "awaiting_confirmation": "awaiting confirmation", "data_problem": "data problem"},
               "zh": {"finding": "发现", "insufficient_data": "数据不足",
                      "awaiting_confirmation": "待确认", "data_problem": "数据问题"}},
    "severity": {"en": {s: s for s in SEVERITY_ORDER},
                 "zh": {"CRITICAL": "CRITICAL 危急", "HIGH": "HIGH 高", "MEDIUM": "MEDIUM 中", "LOW": "LOW 低"}},
}


def _canon(kind: str, value: Any) -> str | None:
    """Known enum value in canonical lower/upper case, cleaned free text otherwise, None if absent."""
    if value is None:
        return None
    s = clean_text(value, MAX_NAME)
    key = s.upper() if kind == "severity" else s.lower()
    return key if key in ENUMS[kind]["en"] else (s or None)


def _enum(kind: str, value: str | None, lang: str) -> str:
    if value is None:
        return "?"
    return ENUMS[kind][lang].get(value) or quote(value)


# Per-language phrases. Every number in the texts comes from the case and is formatted by the
# same code for both languages, so the two texts contain the same set of numbers.
T = {
    "en": {
        "summary": "Structured summary", "person": "Person", "user": "User", "no_user": "not given",
        "age": "Age group", "sex": "Sex", "exercise": "Exercise level", "unknown": "unknown",
        "window": "Window", "period": "Period", "time_period": "Time of day",
        "points": "{n} of {size} expected 5-minute records", "observed": "{p} of values observed",
        "score": "Screening score", "anomaly": "**anomaly** (unusual for this person)",
        "normal": "**no anomaly** (within this person's usual range)", "verdict_unknown": "not stated",
        "result": "Result", "score_line": "Score {s} vs threshold {t} (margin {m}; higher = more unusual)",
        "drivers": "What drove the score", "baseline_short": "baseline", "above": "above", "below": "below",
        "at": "at", "z_side": "z {z} ({side} baseline)", "source": "Source", "vs_personal": "against the personal baseline alone: z {z}", "importance": "importance",
        "measured": "Measured in this window", "mean": "mean", "min": "min", "max": "max",
        "baseline": "Personal baseline", "used": "used", "personal": "personal", "group": "group",
        "alpha": "α = {a}: {p} personal, {g} group", "days": "{d} days of history",
        "no_baseline": "No baseline information: deviations cannot be judged against this person's normal.",
        "pattern": "Multi-day pattern",
        "consecutive": "{k} consecutive anomalous days up to the latest day",
        "longest": "longest anomalous run: {k} days", "insufficient_days": "days with too little data: {n}",
        "limited_days": "days with heart rate and steps only: {n} (fewer signals, so the model needs a clearer change there)",
        "alert_rule": "raised after {n} consecutive anomalous days", "too_little": "too little data",
        "anom_days": "{a} of {d} days anomalous", "trend": "trend: {t}", "slope": "slope {s} per day",
        "alert": "pattern alert: {v}", "yes": "yes", "no": "no",
        "days_head": "| Date | Windows | Anomalous windows | Share | Weighted share | Anomalous day |",
        "vitals_head": "Nights whose vitals left the person's usual range (against the median of earlier nights):",
        "day_stand_in": "(resting_hr_day: the day's resting heart rate, read on a date without a night reading)",
        "over_nights": " on average over {n} nights, each lower than the one before",
        "days_shown": "Last {n} of {d} days shown.",
        "findings": "Rule findings", "shown": "showing {n} of {d}", "value": "value", "sd": "SD",
        "title": "Title", "advice": "Advice",
        "quality": "Data quality", "missing": "Missing values: {p}", "gap": "longest gap: {g} min",
        "lowq": "low-quality points: {n}", "caveats": "Caveats",
        "cav_missing_data": "many values are missing, so the score rests on partial data",
        "cav_no_heart_rate": "no heart rate in this window: the score rests on the other channels only",
        "cav_input_changed": "validation rejected records or removed values of this window (the result's "
                             "input_issues say which); the score rests on what remained",
        "cav_gaps": "the window has gaps longer than {g} minutes",
        "cav_low_quality": "some points were marked low quality by the device",
        "cav_short_window": "the window has fewer records than the model expects",
        "cav_cold_start": "the baseline is still mostly group-based (fewer than {d} days of personal history)",
        "cav_no_baseline": "no personal baseline was available",
        "cav_rule_data_problem": "some rules could not be evaluated reliably (insufficient data or data problems)",
        "attention": "Points for medical attention",
        "level": "Verdict", "paren": " ({s})", "src_red_flag": "red flag", "src_baseline": "personal baseline",
        "src_pattern": "multi-day pattern", "src_rule": "rule", "src_model": "learned model",
        "rf_spo2_below_90": "SpO2 below {v} % in this window: if it stays below {v} %, advise seeing a doctor promptly.",
        "rf_resting_hr_above_120": "Resting heart rate above {v} bpm: advise seeing a doctor if it comes with symptoms.",
        "rf_resting_hr_below_40": "Resting heart rate below {v} bpm: advise seeing a doctor if it comes with symptoms.",
        "rf_critical_finding": "A CRITICAL rule finding is present: advise discussing it with a doctor soon.",
        "rf_none": "None of the doctor-advice thresholds is met by these data; symptoms are not recorded here.",
        "closing": "Reminder: this is a screening aid, not a diagnosis. Please answer using the structure given in "
                   "the system prompt.",
        # summary pieces
        "s_anomaly": "Anomaly: score {s} ≥ threshold {t}", "s_normal": "No anomaly: score {s} < threshold {t}",
        "s_score": "Score {s}, threshold {t}", "s_model": "model score {s} (threshold {t})", "s_window": "{p} window, {n} points",
        "s_driver": "top driver {f} {v} (z {z})", "s_driver_noz": "top driver {f} {v}",
        "s_baseline": "{src} baseline α {a}, {d} days", "s_baseline_nodays": "{src} baseline α {a}",
        "s_pattern": "{k} anomalous days in a row ({a} of {d} days), trend {t}",
        "s_alert": "pattern alert raised", "s_peak": "peak {date}: {p} of windows anomalous", "s_findings": "rule findings: {n} (top {sev})",
        "s_flags": "check: {f}", "s_missing": "{p} missing", "s_closing": "Screening aid, not a diagnosis.",
        "s_src": {"personal": "personal", "group": "group", "blend": "blended"},
        "s_flag": {"spo2_below_90": "SpO2 < 90 %", "resting_hr_above_120": "resting HR > 120",
                   "resting_hr_below_40": "resting HR < 40", "critical_finding": "CRITICAL finding"},
        "sep": "; ", "end": ".", "colon": ": ",
    },
    "zh": {
        "summary": "结构化摘要", "person": "用户信息", "user": "用户", "no_user": "未提供",
        "age": "年龄段", "sex": "性别", "exercise": "运动水平", "unknown": "未知",
        "window": "时间窗口", "period": "时段", "time_period": "时间段",
        "points": "{n} / {size} 条 5 分钟记录", "observed": "已观测数值 {p}",
        "score": "筛查分数", "anomaly": "**异常**（对此人而言不寻常）",
        "normal": "**无异常**（在此人通常范围内）", "verdict_unknown": "未说明",
        "result": "结果", "score_line": "分数 {s}，阈值 {t}（差值 {m}；越高越不寻常）",
        "drivers": "驱动分数的特征", "baseline_short": "基线", "above": "高于", "below": "低于",
        "at": "等于", "z_side": "z {z}（{side}基线）", "source": "来源", "vs_personal": "仅对比个人基线：z {z}", "importance": "重要性",
        "measured": "本窗口测量值", "mean": "均值", "min": "最小", "max": "最大",
        "baseline": "个人基线", "used": "采用", "personal": "个人", "group": "群体",
        "alpha": "α = {a}：个人占 {p}，群体占 {g}", "days": "历史 {d} 天",
        "no_baseline": "无基线信息：无法对照此人的常态判断偏离程度。",
        "pattern": "多日模式",
        "consecutive": "截至最近一天连续 {k} 天异常",
        "longest": "最长连续异常：{k} 天", "insufficient_days": "{n} 天数据不足",
        "limited_days": "{n} 天只有心率和步数（信号较少，模型需要更明显的变化）",
        "alert_rule": "连续 {n} 天异常即触发", "too_little": "数据不足",
        "anom_days": "{d} 天中 {a} 天异常", "trend": "趋势：{t}", "slope": "斜率 {s} / 天",
        "alert": "模式提醒：{v}", "yes": "是", "no": "否",
        "days_head": "| 日期 | 窗口数 | 异常窗口 | 占比 | 加权占比 | 异常日 |",
        "vitals_head": "夜间体征偏离个人常态的日期（对比此前各夜的中位数）：",
        "day_stand_in": "（resting_hr_day：当晚无数据时，改看当天的静息心率）",
        "over_nights": "（连续 {n} 晚逐晚下降的平均值）",
        "days_shown": "仅显示 {d} 天中的最后 {n} 天。",
        "findings": "规则发现", "shown": "显示 {d} 条中的 {n} 条", "value": "数值", "sd": "标准差",
        "title": "标题", "advice": "建议",
        "quality": "数据质量", "missing": "缺失值：{p}", "gap": "最长间隔：{g} 分钟",
        "lowq": "低质量点：{n}", "caveats": "注意事项",
        "cav_missing_data": "缺失值较多，分数基于不完整的数据",
        "cav_no_heart_rate": "该窗口没有心率数据：分数仅基于其他通道",
        "cav_input_changed": "校验时剔除了该窗口的部分记录或数值（见结果中的 input_issues）；分数基于剩余数据",
        "cav_gaps": "窗口内有超过 {g} 分钟的间隔",
        "cav_low_quality": "部分数据点被设备标记为低质量",
        "cav_short_window": "窗口记录数少于模型预期",
        "cav_cold_start": "基线仍主要来自群体（个人历史少于 {d} 天）",
        "cav_no_baseline": "没有可用的个人基线",
        "cav_rule_data_problem": "部分规则无法可靠评估（数据不足或数据问题）",
        "attention": "需要医疗关注的要点",
        "level": "结论", "paren": "（{s}）", "src_red_flag": "红旗指标", "src_baseline": "个人基线",
        "src_pattern": "多日模式", "src_rule": "规则", "src_model": "学习模型",
        "rf_spo2_below_90": "本窗口 SpO2 低于 {v} %：如持续低于 {v} %，建议尽快就医。",
        "rf_resting_hr_above_120": "静息心率高于 {v} bpm：如伴有症状，建议就医。",
        "rf_resting_hr_below_40": "静息心率低于 {v} bpm：如伴有症状，建议就医。",
        "rf_critical_finding": "存在 CRITICAL 级规则发现：建议尽快与医生讨论。",
        "rf_none": "这些数据未达到任何就医建议阈值；此处未记录症状。",
        "closing": "提醒：这是筛查辅助工具，不是诊断。请按系统提示中的结构回答。",
        "s_anomaly": "异常：分数 {s} ≥ 阈值 {t}", "s_normal": "无异常：分数 {s} < 阈值 {t}",
        "s_score": "分数 {s}，阈值 {t}", "s_model": "模型得分 {s}（阈值 {t}）", "s_window": "{p}窗口 {n} 个点",
        "s_driver": "主要驱动 {f} {v}（z {z}）", "s_driver_noz": "主要驱动 {f} {v}",
        "s_baseline": "{src}基线 α {a}，{d} 天", "s_baseline_nodays": "{src}基线 α {a}",
        "s_pattern": "连续 {k} 天异常（{d} 天中 {a} 天），趋势{t}",
        "s_alert": "已触发模式提醒", "s_peak": "峰值 {date}：异常窗口占 {p}", "s_findings": "规则发现 {n} 条，最高 {sev}",
        "s_flags": "注意：{f}", "s_missing": "缺失 {p}", "s_closing": "筛查辅助，非诊断。",
        "s_src": {"personal": "个人", "group": "群体", "blend": "混合"},
        "s_flag": {"spo2_below_90": "SpO2 < 90 %", "resting_hr_above_120": "静息心率 > 120",
                   "resting_hr_below_40": "静息心率 < 40", "critical_finding": "CRITICAL 发现"},
        "sep": "；", "end": "。", "colon": "：",
    },
}


RED_FLAG_LIMIT = {"spo2_below_90": SPO2_LOW, "resting_hr_above_120": HR_REST_HIGH,
                  "resting_hr_below_40": HR_REST_LOW, "critical_finding": None}


def _feature(name: str, lang: str, label_of: str | None = None) -> str:
    """Display name of a feature: known ones by name plus code, unknown (uploaded) ones quoted."""
    label = FEATURE_NAMES[lang].get(label_of or name)
    return f"{label} ({quote(name)})" if label else quote(name)


def _with_unit(x: float | None, unit: str | None, nd: int = 1) -> str:
    if x is None:
        return "?"
    if not unit:
        return _f(x, nd)
    return f"{_f(x, nd)} {unit}" if unit in _SAFE_UNITS else f"{_f(x, nd)} {quote(unit)}"


_SAFE_UNITS = {"bpm", "ms", "%", "breaths/min", "degC", "steps/5min", "m/5min", "kcal/5min", "g", "deg/s", "lux"}


def _period_hours(config: FeatureConfig, period: str | None, lang: str) -> str:
    if period not in config.time_periods:
        return ""
    a, b = config.time_periods[period]
    hours = f"{a:02d}:00-{b:02d}:00"
    return f"（{hours}）" if lang == "zh" else f" ({hours})"
