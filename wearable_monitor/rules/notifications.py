"""Bilingual (en / zh) text for findings, and notifications shaped as in the rules document:
title, description, severity, recommendations, actionRequired, timestamp (+ channels).

Text is plain and cautious: a screening aid, not a diagnosis.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Protocol

import pandas as pd

from .config import AWAITING, DATA_PROBLEM, INSUFFICIENT, RulesConfig


class Finding(Protocol):
    """What the texts read of a rule finding (finding.Finding). A finding renders its own texts
    (`Finding.to_dict`), so this module names the fields it reads instead of importing the class."""

    user_id: str
    rule: str
    metric: str
    status: str
    severity: str | None
    value: float | None
    start: pd.Timestamp
    end: pd.Timestamp
    evidence: dict[str, Any]
    id: int | None

METRIC_NAMES = {
    "weight_kg": ("weight", "体重"), "body_fat_pct": ("body fat", "体脂率"), "systolic": ("systolic blood pressure", "收缩压"),
    "diastolic": ("diastolic blood pressure", "舒张压"), "blood_pressure": ("blood pressure", "血压"),
    "resting_hr": ("resting heart rate", "静息心率"), "protein_g": ("protein intake", "蛋白质摄入"),
    "calories_kcal": ("calorie intake", "热量摄入"), "macros": ("macronutrient balance", "营养素比例"),
    "exercise_minutes": ("exercise time", "运动时长"), "hr_zone_high_minutes": ("high heart-rate zone time", "高心率区间时长"),
    "hr_zone_high_share": ("high-intensity share", "高强度运动占比"), "sleep_hours": ("sleep duration", "睡眠时长"),
    "sleep_quality": ("sleep quality", "睡眠质量"), "bedtime": ("bedtime", "入睡时间"),
    "health_score": ("health score", "健康评分"), "bmi": ("BMI", "BMI"), "carbs_g": ("carbohydrates", "碳水化合物"),
    "fat_g": ("fat", "脂肪"), "calories_target": ("calorie target", "热量目标"), "protein_target_g": ("protein target", "蛋白质目标"),
}

# rule -> (title en, title zh, advice en, advice zh); advice items separated by " | "
TEXTS: dict[str, tuple[str, str, str, str]] = {
    "sudden_change": ("Sudden change in {metric_en}", "{metric_zh}突变",
                      "Re-measure under the same conditions | If the change persists, discuss it with a doctor",
                      "在相同条件下重新测量 | 若变化持续，请咨询医生"),
    "weight_daily_change": ("Weight changed by {change_kg} kg in a day", "体重单日变化 {change_kg} kg",
                            "Weigh at the same time of day on the same scale | Watch for swelling, dehydration or illness",
                            "每天同一时间、同一体重秤测量 | 留意水肿、脱水或身体不适"),
    "weight_weekly_change": ("Weight changed by {change_kg} kg in a week", "体重一周变化 {change_kg} kg",
                             "Review recent diet and fluid intake | Unexplained weight change deserves a doctor's opinion",
                             "回顾近期饮食和饮水 | 原因不明的体重变化建议就医咨询"),
    "blood_pressure_range": ("Blood pressure {systolic}/{diastolic} mmHg ({category})", "血压 {systolic}/{diastolic} mmHg（{category}）",
                             "Re-measure after 5 minutes seated rest | Repeated high readings should be reviewed by a doctor",
                             "静坐休息5分钟后复测 | 多次偏高请就医评估"),
    "resting_hr_range": ("Resting heart rate {value} bpm is {direction}", "静息心率 {value} 次/分 偏{direction_zh}",
                         "Check again after rest | Seek care if you feel dizzy, faint or short of breath",
                         "休息后再次测量 | 如有头晕、晕厥或气短请及时就医"),
    "protein_low": ("Protein below {threshold_pct}% of target for {logged_days} days", "连续{logged_days}天蛋白质摄入低于目标的{threshold_pct}%",
                    "Add quality protein: eggs, fish, lean meat, dairy, soy", "增加优质蛋白质食物：蛋、鱼、瘦肉、奶、豆制品"),
    "protein_high": ("Protein above {threshold_pct}% of target for {logged_days} days", "连续{logged_days}天蛋白质摄入高于目标的{threshold_pct}%",
                     "Balance protein with vegetables and whole grains", "注意搭配蔬菜和全谷物，均衡饮食"),
    "calories_high": ("Calories above {threshold_pct}% of target for {logged_days} days", "连续{logged_days}天热量摄入超过目标的{threshold_pct}%",
                      "Control portion sizes | Add some activity", "控制饮食量 | 适当增加运动"),
    "calories_low": ("Calories below {threshold_pct}% of target for {logged_days} days", "连续{logged_days}天热量摄入低于目标的{threshold_pct}%",
                     "Eat regular meals; very low intake can harm health", "规律进餐，长期摄入过低不利健康"),
    "macro_imbalance": ("Macronutrient split off balance ({worst})", "营养素比例失衡（{worst_zh}）",
                        "Aim for the recommended split of carbohydrates, protein and fat", "参考推荐比例调整碳水、蛋白质和脂肪"),
    "exercise_drop": ("Exercise dropped to {ratio_pct}% of your usual", "运动量降至平时的{ratio_pct}%",
                      "Short walks count; restart gently", "从短时间散步开始，循序渐进恢复"),
    "exercise_surge": ("Exercise at {ratio_pct}% of your usual for several days", "连续多天运动量达到平时的{ratio_pct}%",
                       "Allow recovery days to avoid over-training", "安排休息日，避免过度训练"),
    "exercise_intensity": ("High-intensity share of exercise is unusually {direction}", "高强度运动占比异常偏{direction_zh}",
                           "Keep most training within your target heart-rate zone", "大部分训练保持在目标心率区间内"),
    "sleep_duration": ("Sleep {band} for several nights ({value} h average)", "连续多晚睡眠{band_zh}（平均 {value} 小时）",
                       "Keep a regular sleep window | Persistent sleep problems deserve a doctor's advice",
                       "保持规律作息 | 持续睡眠问题建议咨询医生"),
    "sleep_quality_decline": ("Sleep quality falling for {n_nights} nights", "睡眠质量连续{n_nights}晚下降",
                              "Reduce screens and caffeine before bed", "睡前减少电子屏幕和咖啡因"),
    "bedtime_irregular": ("Irregular bedtime (spread {value} h)", "作息不规律（入睡时间标准差 {value} 小时）",
                          "Go to bed at about the same time every day", "尽量每天同一时间入睡"),
    "health_score_drop": ("Health score fell {drop} points in a week", "健康评分一周下降{drop}分",
                          "Look at sleep, activity and stress this week", "关注本周的睡眠、运动和压力"),
    "health_score_volatility": ("Health score swinging more than usual", "健康评分波动异常",
                                "Look for what changed in your routine", "留意近期作息或生活习惯的变化"),
    "bmi_category": ("BMI {value} ({category})", "BMI {value}（{category_zh}）",
                     "Discuss a healthy weight range with a professional", "可咨询专业人士了解健康体重范围"),
    "body_fat_category": ("Body fat {value}% is outside the usual range", "体脂率 {value}% 超出参考范围",
                          "Combine balanced diet with strength and aerobic exercise", "均衡饮食并结合力量和有氧运动"),
}

ZH_WORDS = {"high": "高", "low": "低", "up": "高", "down": "低", "severe": "严重不足", "short": "不足", "long": "过多",
            "carbs": "碳水化合物", "protein": "蛋白质", "fat": "脂肪", "normal": "正常", "elevated": "偏高",
            "stage_1": "高血压1期", "stage_2": "高血压2期", "underweight": "偏瘦", "overweight": "超重", "obese": "肥胖"}
EN_BAND = {"severe": "severely short", "short": "too short", "long": "too long"}
DISCLAIMER = ("Screening aid, not a diagnosis.", "本提示仅供筛查参考，不能替代医疗诊断。")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _fields(f: Finding) -> dict[str, str]:
    ev = f.evidence
    en, zh = METRIC_NAMES.get(f.metric, (f.metric, f.metric))
    d: dict[str, Any] = {k: v for k, v in ev.items() if isinstance(v, (int, float, str))}
    d.update(metric_en=en, metric_zh=zh, value=f.value if f.value is not None else "?")
    if "threshold_ratio" in ev:
        d["threshold_pct"] = round(100 * ev["threshold_ratio"])
    if "ratio" in ev and isinstance(ev["ratio"], float):
        d["ratio_pct"] = round(100 * ev["ratio"])
    if "nights" in ev:
        d["n_nights"] = len(ev["nights"])
    for key in ("direction", "worst", "category", "band"):
        if key in ev:
            d[f"{key}_zh"] = ZH_WORDS.get(str(ev[key]), str(ev[key]))
    if "band" in ev:
        d["band"] = EN_BAND.get(ev["band"], ev["band"])
    if f.rule == "bmi_category" and "category" in ev:
        d["category_zh"] = ZH_WORDS.get(ev["category"], ev["category"])
    if f.rule == "blood_pressure_range":
        d["category"] = str(ev.get("category", "")).replace("_", " ")
    return {k: _fmt(v) for k, v in d.items()}


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def finding_texts(f: Finding) -> dict[str, dict[str, str]]:
    """{"title": {"en", "zh"}, "advice": {"en", "zh"}} for any finding status."""
    fields = _Safe(_fields(f))
    en_metric, zh_metric = fields["metric_en"], fields["metric_zh"]
    if f.status == INSUFFICIENT:
        req = f.evidence.get("requirement", "")
        return {"title": {"en": f"Not enough data to check {en_metric} ({f.rule})",
                          "zh": f"{zh_metric}数据不足，暂无法检测（{f.rule}）"},
                "advice": {"en": f"Needs {req}.", "zh": f"需要：{req}。"}}
    if f.status == AWAITING:
        t_en, t_zh, _, _ = TEXTS.get(f.rule, (f.rule, f.rule, "", ""))
        return {"title": {"en": "Awaiting confirmation: " + t_en.format_map(fields),
                          "zh": "待确认：" + t_zh.format_map(fields)},
                "advice": {"en": "Take another reading; the alert is held until it confirms the change.",
                           "zh": "请再测量一次；确认变化后才会发出提醒。"}}
    if f.status == DATA_PROBLEM and f.evidence.get("reason") == "profile_error":
        return {"title": {"en": "Personal thresholds rejected; analysed with the standard ones",
                          "zh": "个性化阈值无效，已按标准阈值分析"},
                "advice": {"en": f"Fix the profile: {f.evidence.get('error', '')}",
                           "zh": f"请修正个人配置：{f.evidence.get('error', '')}"}}
    if f.status == DATA_PROBLEM and f.evidence.get("reason") in ("implausible_change", "level_shift"):
        return {"title": {"en": f"{en_metric} reading changed faster than a body can: probably a typo or "
                                f"another device/person; not used",
                          "zh": f"{zh_metric}读数变化超出生理可能，疑似录入错误或换了设备/人员，未采用"},
                "advice": {"en": "Please re-measure and correct the entry.", "zh": "请重新测量并更正记录。"}}
    if f.status == DATA_PROBLEM:
        reason = f.evidence.get("reason", "")
        return {"title": {"en": f"{en_metric} reading excluded as a likely measurement error ({reason})",
                          "zh": f"{zh_metric}读数疑似测量误差，已排除（{reason}）"},
                "advice": {"en": "Check the device and re-measure.", "zh": "请检查设备并重新测量。"}}
    t_en, t_zh, a_en, a_zh = TEXTS[f.rule]
    if f.evidence.get("urgent") and f.evidence.get("confirmed") is False:
        return {"title": {"en": "Unconfirmed, re-measure now: " + t_en.format_map(fields),
                          "zh": "未确认，请立即复测：" + t_zh.format_map(fields)},
                "advice": {"en": "This reading is in a dangerous range and has not been confirmed by a second "
                                 "measurement. Re-measure now; if it is confirmed, or you feel unwell (chest pain, "
                                 "shortness of breath, severe headache, fainting), seek medical care immediately.",
                           "zh": "该读数处于危险范围，尚未经第二次测量确认。请立即复测；若复测仍异常或出现胸痛、气短、"
                                 "剧烈头痛、晕厥等不适，请立即就医。"}}
    if f.evidence.get("confirmed") is False:
        t_en, t_zh = "Unconfirmed (no re-measurement came): " + t_en, "未确认（无复测读数）：" + t_zh
    return {"title": {"en": t_en.format_map(fields), "zh": t_zh.format_map(fields)},
            "advice": {"en": a_en.replace(" | ", ". ") + ".", "zh": a_zh.replace(" | ", "；") + "。"}}


def _description(f: Finding, lang: str) -> str:
    ev = f.evidence
    p = f"{f.start.date()}..{f.end.date()}"
    if lang == "zh":
        parts = [f"时间：{p}。", f"严重程度：{f.severity}。"]
        if "mean" in ev and "sigma" in ev:
            parts.append(f"偏离个人30天均值 {ev['sigma']:.1f} 个标准差（均值 {ev['mean']:.1f}）。")
        if ev.get("urgent") and ev.get("confirmed") is False:
            parts.append("读数处于危险范围，未经确认即时通知：请立即复测。")
        elif ev.get("confirmed") is False:
            parts.append("尚无后续读数确认。")
        parts.append(DISCLAIMER[1])
        return "".join(parts)
    parts = [f"Period {p}.", f"Severity {f.severity}."]
    if "mean" in ev and "sigma" in ev:
        parts.append(f"{ev['sigma']:.1f} standard deviations from your recent mean {ev['mean']:.1f}.")
    if ev.get("urgent") and ev.get("confirmed") is False:
        parts.append("Told at once because the reading is in a dangerous range: unconfirmed, re-measure now.")
    elif ev.get("confirmed") is False:
        parts.append("No later reading has confirmed it yet.")
    parts.append(DISCLAIMER[0])
    return " ".join(parts)


def to_notification(f: Finding, cfg: RulesConfig, lang: str = "en", timestamp: datetime | None = None) -> dict:
    """The document's AnomalyNotification; lang 'en', 'zh' or 'both' (then text fields are {en, zh})."""
    texts = finding_texts(f)
    _, _, a_en, a_zh = TEXTS.get(f.rule, ("", "", "", ""))
    recs = {"en": [s for s in a_en.split(" | ") if s], "zh": [s for s in a_zh.split(" | ") if s]}
    if f.evidence.get("urgent") and f.evidence.get("confirmed") is False:
        recs = {"en": ["Re-measure now (unconfirmed reading)"] + recs["en"], "zh": ["请立即复测（读数未确认）"] + recs["zh"]}
    desc = {"en": _description(f, "en"), "zh": _description(f, "zh")}
    pick = (lambda d: d) if lang == "both" else (lambda d: d[lang])
    return {"title": pick(texts["title"]), "description": pick(desc), "severity": f.severity,
            "recommendations": pick(recs),
            "actionRequired": f.severity in cfg.notifications.action_required,
            "timestamp": (timestamp or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
            "channels": list(cfg.notifications.channels.get(f.severity, [])) if f.severity else [],
            "user_id": f.user_id, "rule": f.rule, "finding_id": f.id}
