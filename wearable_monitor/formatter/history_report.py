"""LLM-ready Markdown for a whole history, history first (the upload tab, /analyze_history).

A realtime result is about one hour; an uploaded history is about weeks. Its text opens with what
the weeks show: the alert periods with the days around each, the red flags and rule findings, the
person's baseline and how it moved, what the device does not measure (said as such, never as
"missing data"), and only then the latest window. Two lengths: `short` (at most 400 words, for a
chat box) and `full`. Same facts in English and Chinese; the system prompt is the formatter's.

    case = history_case(days, scored, frame, findings=rule_findings, latest=latest_result, config=cfg)
    llm = render_history(case, "zh", length="short")      # formatter.LLMInput
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from ..data.markers import MARKER_KINDS, Marker
from ..verdict.findings import LEVEL_NAMES, Level
from . import DATA_BEGIN, DATA_END, SYSTEM_PROMPT, LLMInput, clean_text, quote
from ..data.records import TIME, USER

SHORT_WORDS = 400
AROUND_DAYS = 2
MAX_PERIODS = {"short": 3, "full": 8}
#: channels a person's device may simply not have; reported as "not measured by this device"
OPTIONAL_CHANNELS = ("hrv_rmssd", "resp_rate", "spo2", "skin_temp", "sleep_state", "steps")

T = {
    "en": {"title": "Health history", "summary": "Summary", "span": "{d} days with data, {a} to {b}",
           "periods": "Alert periods", "no_periods": "No day reached the alert level.",
           "period": "{a} to {b} ({n} day(s)), peak level **{lv}**: {why}",
           "around": "days around it", "flags": "Red flags and findings", "no_flags": "No red flag was met.",
           "flag_line": "{title}: on {n} day(s), first {a}, last {b}", "rules": "Daily-log rule findings",
           "baseline": "Personal baseline", "bl_line": "{name}: {mean} ± {std} {unit} ({src}, {days} days of history)",
           "moved": "{name} moved from {a} (first-week median) to {b} {unit} (last-week median)",
           "not_measured": "Not measured by this device (not missing data): {ch}",
           "latest": "Latest window", "latest_line": "{end}: level **{lv}**{why}",
           "levels": "Days by level: {counts}", "more": "{n} more period(s) not shown",
           "closing": "Reminder: this is a screening aid, not a diagnosis. Please answer using the structure "
                      "given in the system prompt, starting from the alert periods.",
           "s_alerts": "{n} alert period(s) in {d} days; latest {a} to {b}", "s_none": "no alert period in {d} days",
           "s_flags": "red flags met: {f}", "s_latest": "latest window {lv}", "sep": "; ", "end": ".", "list": ", ",
           "src": {"personal": "personal", "group": "group", "blend": "blended"},
           "events": "Events entered by the person", "event_line": "{d}: {kind}{note}",
           "explained": "Alert days with an entered event on the same day ({days}): the alert is explained by the "
                        "event, so it is not a false alarm (the alert still stands; nothing is dismissed).",
           "s_events": "{n} event(s) entered", "marker_tag": "event",
           "more_events": "{n} earlier event(s) not shown"},
    "zh": {"title": "健康历史", "summary": "摘要", "span": "共 {d} 天有数据，{a} 至 {b}",
           "periods": "警示时段", "no_periods": "没有任何一天达到警示等级。",
           "period": "{a} 至 {b}（{n} 天），最高等级 **{lv}**：{why}",
           "around": "前后几天", "flags": "红旗指标与发现", "no_flags": "未触发任何红旗指标。",
           "flag_line": "{title}：共 {n} 天，首次 {a}，最近 {b}", "rules": "日常记录规则发现",
           "baseline": "个人基线", "bl_line": "{name}：{mean} ± {std} {unit}（{src}，历史 {days} 天）",
           "moved": "{name}从第一周中位数 {a} 变为最后一周中位数 {b} {unit}",
           "not_measured": "此设备不测量（并非数据缺失）：{ch}",
           "latest": "最近窗口", "latest_line": "{end}：等级 **{lv}**{why}",
           "levels": "各等级天数：{counts}", "more": "另有 {n} 个时段未显示",
           "closing": "提醒：这是筛查辅助工具，不是诊断。请按系统提示中的结构回答，先说明警示时段。",
           "s_alerts": "{d} 天中有 {n} 个警示时段；最近一次 {a} 至 {b}", "s_none": "{d} 天中没有警示时段",
           "s_flags": "触发的红旗指标：{f}", "s_latest": "最近窗口 {lv}", "sep": "；", "end": "。", "list": "、",
           "src": {"personal": "个人", "group": "群体", "blend": "混合"},
           "events": "本人记录的事件", "event_line": "{d}：{kind}{note}",
           "explained": "当天记录了事件的警示日（{days}）：警示可由该事件解释，因此不算误报（警示仍然保留，不被忽略）。",
           "s_events": "记录了 {n} 个事件", "marker_tag": "事件",
           "more_events": "另有 {n} 个较早的事件未显示"},
}
NAMES = {"en": {"hr_resting": "Resting heart rate", "hrv": "HRV (RMSSD)", "resp_rate": "Respiration",
                "spo2": "Blood oxygen", "skin_temp": "Skin temperature", "hr": "Heart rate", "hrv_rmssd": "HRV (RMSSD)",
                "sleep_state": "Sleep stages", "steps": "Steps"},
         "zh": {"hr_resting": "静息心率", "hrv": "心率变异性 (RMSSD)", "resp_rate": "呼吸频率", "spo2": "血氧",
                "skin_temp": "皮肤温度", "hr": "心率", "hrv_rmssd": "心率变异性 (RMSSD)", "sleep_state": "睡眠分期",
                "steps": "步数"}}


def _day(d: Any) -> str:
    return pd.Timestamp(d).strftime("%Y-%m-%d")


def _rank(label: str) -> int:
    try:
        return int(Level.parse(label))
    except ValueError:
        return 0


def _alert_periods(days: pd.DataFrame) -> list[dict]:
    """Runs of days at alert or urgent (a one-day gap without an alert does not split a period)."""
    ranks = days["level"].map(_rank).to_numpy()
    dates = pd.DatetimeIndex(days["date"]).normalize()
    hit = np.flatnonzero(ranks >= int(Level.ALERT))
    periods: list[list[int]] = []
    for i in hit:
        if periods and (dates[i] - dates[periods[-1][-1]]).days <= 2:
            periods[-1].append(i)
        else:
            periods.append([i])
    out = []
    for idx in periods:
        codes: dict[str, int] = {}
        for i in idx:
            for c in str(days["reasons"].iat[i] or "").split("; "):
                if c:
                    codes[c] = codes.get(c, 0) + 1
        lo, hi = dates[idx[0]] - pd.Timedelta(days=AROUND_DAYS), dates[idx[-1]] + pd.Timedelta(days=AROUND_DAYS)
        near = days[(dates >= lo) & (dates <= hi)]
        out.append({"start": _day(dates[idx[0]]), "end": _day(dates[idx[-1]]), "days": len(idx),
                    "peak": Level(int(ranks[idx].max())).label,
                    "reasons": [c for c, _ in sorted(codes.items(), key=lambda kv: -kv[1])][:4],
                    "around": [{"date": _day(r.date), "level": r.level,
                                "vitals": clean_text(getattr(r, "vitals_flags", "") or "", 120) or None}
                               for r in near.itertuples()]})
    return out


def _explained_days(days: pd.DataFrame, markers: list[Marker]) -> list[str]:
    """Alert or urgent days with an entered event on the same day (not false alarms)."""
    if not markers or not len(days):
        return []
    marked = {m.date.isoformat() for m in markers}
    alert = days[days["level"].map(_rank) >= int(Level.ALERT)]
    return sorted({_day(d) for d in alert["date"]} & marked)


def _red_flag_days(days: pd.DataFrame) -> list[dict]:
    out: dict[str, list[str]] = {}
    for r in days.itertuples():
        for c in str(r.reasons or "").split("; "):
            if c.startswith("red_flag:"):
                out.setdefault(c.split(":", 1)[1], []).append(_day(r.date))
    return [{"code": code, "days": len(set(d)), "first": min(d), "last": max(d)} for code, d in out.items()]


def _moved(frame: pd.DataFrame) -> dict | None:
    """Median at-rest heart rate of the first and the last week (the device's resting-HR estimate)."""
    col = "hr_resting" if "hr_resting" in frame and frame["hr_resting"].notna().any() else None
    if col is None or len(frame) == 0:
        return None
    t = pd.DatetimeIndex(frame[TIME])
    first = frame.loc[t < t.min() + pd.Timedelta(days=7), col].median()
    last = frame.loc[t > t.max() - pd.Timedelta(days=7), col].median()
    if not (np.isfinite(first) and np.isfinite(last)) or (t.max() - t.min()).days < 14:
        return None
    return {"metric": "hr_resting", "first_week": round(float(first), 1), "last_week": round(float(last), 1),
            "unit": "bpm"}


def history_case(days: pd.DataFrame, frame: pd.DataFrame, findings: list[dict] | None = None,
                 latest: dict | None = None, config: FeatureConfig | None = None,
                 markers: list[Marker] | None = None) -> dict:
    """Language-neutral facts of one user's history (day table with `level`/`reasons`, records frame,
    the events the person entered: `markers.Marker`)."""
    config = config or default_feature_config()
    days = days.sort_values("date").reset_index(drop=True)
    user = str(days[USER].iat[0]) if len(days) else None
    levels = {lv.label: int((days["level"] == lv.label).sum()) for lv in Level} if len(days) else {}
    measured = [c for c in OPTIONAL_CHANNELS if c in config.features and c in frame and frame[c].notna().any()]
    not_measured = [c for c in OPTIONAL_CHANNELS if c in config.features and c not in measured]
    case = {"user_id": clean_text(user, 80) if user else None,
            "span": {"days": int(len(days)), "start": _day(days["date"].iat[0]) if len(days) else None,
                     "end": _day(days["date"].iat[-1]) if len(days) else None},
            "levels": levels, "alert_periods": _alert_periods(days) if len(days) else [],
            "red_flags": _red_flag_days(days) if len(days) else [],
            "rule_findings": [{"severity": f.get("severity"), "title": f.get("title"), "status": f.get("status"),
                               "end": (f.get("period") or {}).get("end")}
                              for f in (findings or []) if f.get("status") == "finding"],
            "baseline": None, "moved": _moved(frame), "not_measured": not_measured, "latest": None,
            "markers": [m.to_dict() for m in (markers or [])],
            "explained_days": _explained_days(days, markers or [])}
    if latest:
        b = latest.get("baseline") or {}
        metrics = {k: v for k, v in (b.get("metrics") or {}).items()
                   if k in ("hr_resting", "hrv", "resp_rate", "spo2", "skin_temp") and v.get("mean") is not None
                   and (k != "hrv" or "hrv_rmssd" in measured) and (k not in ("resp_rate", "spo2", "skin_temp")
                                                                   or k in measured)}
        case["baseline"] = {"source": b.get("source"), "days": b.get("days_of_history"),
                            "metrics": {k: {"mean": round(float(v["mean"]), 1), "std": round(float(v["std"]), 1)}
                                        for k, v in metrics.items()}}
        reasons = latest.get("reasons") or []
        case["latest"] = {"end": (latest.get("window") or {}).get("end"), "level": latest.get("level"),
                          "top": reasons[0].get("title") if reasons else None}
    return case


def _level(label: str | None, lang: str) -> str:
    try:
        return LEVEL_NAMES[Level.parse(label)][lang]
    except (ValueError, TypeError):
        return str(label)


REASONS = {
    "pattern:multi_day_alert": {"en": "anomalous days running (nightly vitals)", "zh": "连续多日异常（夜间指标）"},
    "pattern:multi_vital_night": {"en": "several vitals off the same night", "zh": "同一夜多项指标偏离"},
    "pattern:anomalous_day": {"en": "one anomalous day", "zh": "单日异常"},
    "baseline:multi_channel": {"en": "several vitals off the baseline at once", "zh": "多项指标同时偏离基线"},
    "model:window_score": {"en": "learned model score", "zh": "学习模型得分"},
}
DIRECTION = {"high": {"en": "above", "zh": "高于"}, "low": {"en": "below", "zh": "低于"}}


def _reason_text(code: str, lang: str) -> str:
    """'red_flag:hr_high_rest' -> the red flag's own title; other codes -> a readable phrase."""
    from ..verdict.red_flags import default_red_flag_config

    source, _, name = code.partition(":")
    spec = default_red_flag_config().flags.get(name) if source == "red_flag" else None
    if spec is not None:
        title = getattr(spec.title, lang)
        return title.replace("{value}", f"{spec.value:g}").replace(" for {minutes} min", "").replace(
            "持续 {minutes} 分钟", "")
    if code in REASONS:
        return REASONS[code][lang]
    metric, _, side = name.rpartition("_")
    if source == "baseline" and side in DIRECTION and metric in NAMES[lang]:
        base = "personal baseline" if lang == "en" else "个人基线"
        return f"{NAMES[lang][metric]} {DIRECTION[side][lang]} {base}" if lang == "en" else \
            f"{NAMES[lang][metric]}{DIRECTION[side][lang]}{base}"
    return quote(code)


reason_text = _reason_text  # public name: a reason code as a readable phrase in `lang`


def render_history(case: dict, lang: str = "en", length: str = "full", config: FeatureConfig | None = None) -> LLMInput:
    if length not in ("short", "full"):
        raise ValueError("length must be 'short' or 'full'")
    config = config or default_feature_config()
    t, names = T[lang], NAMES[lang]
    span = case["span"]
    periods = case["alert_periods"]
    lines = [f"## {t['title']}" + (f" · {quote(case['user_id'])}" if case["user_id"] else ""), "", DATA_BEGIN, ""]
    if span["days"]:
        lines.append("- " + t["span"].format(d=span["days"], a=span["start"], b=span["end"]))
        counts = t["list"].join(f"{_level(k, lang)} {v}" for k, v in case["levels"].items() if v)
        lines.append("- " + t["levels"].format(counts=counts))
    lines += ["", f"### {t['periods']}"]
    if not periods:
        lines.append("- " + t["no_periods"])
    shown = periods[-MAX_PERIODS[length]:]
    for p in shown:
        why = t["list"].join(_reason_text(c, lang) for c in p["reasons"][:(2 if length == "short" else 4)])
        lines.append("- " + t["period"].format(a=p["start"], b=p["end"], n=p["days"], lv=_level(p["peak"], lang), why=why))
        if length == "full":
            marked = _marker_labels(case, lang)
            for d in p["around"]:
                extra = f" · {quote(d['vitals'])}" if d["vitals"] else ""
                extra += f" · {t['marker_tag']}: {marked[d['date']]}" if d["date"] in marked else ""
                lines.append(f"  - {d['date']}: {_level(d['level'], lang)}{extra}")
    if len(periods) > len(shown):
        lines.append("- " + t["more"].format(n=len(periods) - len(shown)))
    lines += _events_lines(case, lang, length)
    lines += ["", f"### {t['flags']}"]
    if not case["red_flags"]:
        lines.append("- " + t["no_flags"])
    for f in case["red_flags"][:(3 if length == "short" else 10)]:
        lines.append("- " + t["flag_line"].format(title=_reason_text(f"red_flag:{f['code']}", lang), n=f["days"],
                                                  a=f["first"], b=f["last"]))
    rules = case["rule_findings"][:(2 if length == "short" else 8)]
    if rules:
        lines.append(f"- {t['rules']}:")
        for r in rules:
            title = clean_text((r["title"] or {}).get(lang) or (r["title"] or {}).get("en") or "", 160)
            lines.append(f"  - {r['severity']} · {title} ({r['end']})")
    b = case["baseline"]
    if b and b["metrics"]:
        lines += ["", f"### {t['baseline']}"]
        for k, m in b["metrics"].items():
            unit = {"hr_resting": "bpm", "hrv": "ms", "resp_rate": "/min", "spo2": "%", "skin_temp": "°C"}.get(k, "")
            lines.append("- " + t["bl_line"].format(name=names.get(k, k), mean=m["mean"], std=m["std"], unit=unit,
                                                    src=t["src"].get(b["source"], b["source"]), days=b["days"]))
    if case["moved"]:
        mv = case["moved"]
        lines.append("- " + t["moved"].format(name=names["hr_resting"],
                                              a=mv["first_week"], b=mv["last_week"], unit=mv["unit"]))
    if case["not_measured"]:
        lines += ["", "- " + t["not_measured"].format(ch=t["list"].join(names.get(c, c) for c in case["not_measured"]))]
    if case["latest"]:
        lat = case["latest"]
        top = clean_text((lat["top"] or {}).get(lang) or "", 160) if lat.get("top") else ""
        lines += ["", f"### {t['latest']}",
                  "- " + t["latest_line"].format(end=str(lat["end"]).replace("T", " "), lv=_level(lat["level"], lang),
                                                 why=(": " if lang == "en" else "：") + top if top else "")]
    lines += ["", DATA_END, "", t["closing"]]
    summary = _summary(case, lang)
    body = f"**{t['summary']}**{': ' if lang == 'en' else '：'}{summary}\n\n" + "\n".join(lines)
    return LLMInput(system_prompt=SYSTEM_PROMPT[lang], user_content=body, summary=summary, case=case, language=lang)


def _marker_labels(case: dict, lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in case.get("markers") or []:
        label = MARKER_KINDS[m["kind"]][1 if lang == "zh" else 0]
        out[m["date"]] = f"{out[m['date']]}, {label}" if m["date"] in out else label
    return out


def _events_lines(case: dict, lang: str, length: str) -> list[str]:
    """The events the person entered (newest last) and which alert days they explain."""
    markers = case.get("markers") or []
    if not markers:
        return []
    t = T[lang]
    lines = ["", f"### {t['events']}"]
    shown = markers[-(5 if length == "short" else 40):]
    for m in shown:
        note = quote(clean_text(m["note"], 120)) if m.get("note") else ""
        note = (f"（{note}）" if lang == "zh" else f" ({note})") if note else ""
        lines.append("- " + t["event_line"].format(d=m["date"], kind=MARKER_KINDS[m["kind"]][1 if lang == "zh" else 0],
                                                   note=note))
    if len(markers) > len(shown):
        lines.append("- " + t["more_events"].format(n=len(markers) - len(shown)))
    if case.get("explained_days"):
        lines.append("- " + t["explained"].format(days=t["list"].join(case["explained_days"])))
    return lines


def _summary(case: dict, lang: str) -> str:
    t = T[lang]
    parts = []
    periods, d = case["alert_periods"], case["span"]["days"]
    if periods:
        parts.append(t["s_alerts"].format(n=len(periods), d=d, a=periods[-1]["start"], b=periods[-1]["end"]))
    else:
        parts.append(t["s_none"].format(d=d))
    if case["red_flags"]:
        parts.append(t["s_flags"].format(f=t["list"].join(_reason_text(f"red_flag:{f['code']}", lang)
                                                     for f in case["red_flags"][:2])))
    if case.get("markers"):
        parts.append(t["s_events"].format(n=len(case["markers"])))
    if case["latest"] and case["latest"].get("level"):
        parts.append(t["s_latest"].format(lv=_level(case["latest"]["level"], lang)))
    closing = "Screening aid, not a diagnosis." if lang == "en" else "筛查辅助，非诊断。"
    return t["sep"].join(parts) + t["end"] + (" " if lang == "en" else "") + closing


def word_count(text: str) -> int:
    """Words for English; for Chinese, two characters count as one word (a common reading-time rule)."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return len(text.split()) + cjk // 2
