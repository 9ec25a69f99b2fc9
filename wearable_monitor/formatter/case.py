"""The case builder: validated inputs -> language-neutral, rounded facts in a fixed key order."""
from __future__ import annotations

import re
from typing import Any

from ..config import FeatureConfig
from ..verdict.findings import Level
from .schema import (CASE_SCHEMA, GAP_FACTOR, HR_REST_HIGH, HR_REST_LOW, LANGUAGES, MAX_ADVICE, MAX_ID, MAX_NAME,
                     MAX_TITLE, MISSING_CAVEAT, PERSONAL_DAYS, SEVERITY_ORDER, SPO2_LOW, FindingIn, PatternIn, ReasonIn,
                     ResultIn)
from ..data.validation import DUPLICATE_DROPPED, FIELD_REMOVED, IGNORED, REJECTED
from .strings import _canon
from .text import _r, _when, clean_text


class CaseBuilder:
    """Validated inputs -> the case: language-neutral, rounded, JSON-safe facts in a fixed key order."""

    def __init__(self, config: FeatureConfig, max_features: int = 5, max_findings: int = 10, max_days: int = 14):
        self.config = config
        self.max_features, self.max_findings, self.max_days = max_features, max_findings, max_days

    def _unit(self, feature: str | None, given: Any = None) -> str | None:
        spec = self.config.features.get(feature or "")
        if spec is not None:
            return spec.unit or None  # config is the source of truth for units
        return (clean_text(given, 24) or None) if given is not None else None

    def _static(self, name: str, value: Any) -> str | None:
        spec = self.config.static.get(name)
        if value is None:
            return None
        if spec is not None and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = spec.label(value)
            except KeyError:
                pass
        s = clean_text(value, 24)
        return None if s.lower() in ("", "unknown") else (s.lower() if spec and s.lower() in spec.categories else s)

    def build(self, res: ResultIn | None, pat: PatternIn | None, fnd: list[FindingIn]) -> dict:
        """The case of validated inputs (module docstring: its keys, in this order)."""
        kind = "+".join(k for k, present in (("realtime", res), ("pattern", pat), ("rules", fnd)) if present)
        user = None
        if res is not None:
            user = res.user_id if res.user_id is not None else res.deviceId
        if user is None and pat is not None:
            user = pat.user_id
        case: dict[str, Any] = {"schema": CASE_SCHEMA, "kind": kind,
                                "user_id": clean_text(user, MAX_ID) if user is not None else None}
        static = res.static if res is not None else {}
        case["person"] = {k: self._static(k, static.get(k)) for k in ("age_group", "sex", "exercise")}
        case["verdict"] = self._verdict(res) if res is not None else None
        case["window"] = self._window(res) if res is not None and res.window is not None else None
        case["drivers"] = self._drivers(res) if res is not None else []
        case["measurements"] = self._measurements(res) if res is not None else []
        case["baseline"] = self._baseline(res) if res is not None and res.baseline is not None else None
        case["pattern"] = self._pattern(pat) if pat is not None else None
        findings = sorted((self._finding(f) for f in fnd), key=_finding_key)
        case["findings"] = findings[: self.max_findings]
        case["findings_total"] = len(findings)
        dq = res.data_quality if res is not None else None
        case["data_quality"] = None if dq is None else {
            "missing_fraction": _r(dq.missing_fraction, 3),
            "low_quality_points": _r(dq.low_quality_points, 0),
            "max_gap_minutes": _r(dq.max_gap_minutes, 1)}
        case["caveats"] = self._caveats(case, res)
        case["red_flags"] = _red_flags(case)
        case["attention"] = _attention(case)
        return case

    def _verdict(self, res: ResultIn) -> dict:
        score, thr = _r(res.anomaly_score, 3), _r(res.threshold, 3)
        is_anom = res.is_anomaly
        if is_anom is None and score is not None and thr is not None:
            is_anom = score >= thr  # same rule as BaseDetector.predict
        margin = _r(score - thr, 3) if score is not None and thr is not None else None
        size = res.details.window_size if res.details is not None else None
        return {"is_anomaly": is_anom, "level": _level(res.level), "anomaly_score": score, "threshold": thr,
                "margin": margin, "window_size": _r(size, 0),
                "reasons": [_reason(r) for r in res.reasons if _level(r.level) is not None]}

    def _window(self, res: ResultIn) -> dict:
        w = res.window
        return {"start": _when(w.start), "end": _when(w.end), "time_period": _canon("time_period", w.time_period),
                "n_points": _r(w.n_points, 0), "observed_fraction": _r(w.observed_fraction, 3)}

    def _metric_source(self, metric: str) -> str:
        """Feature behind a baseline metric name: 'hrv' -> 'hrv_rmssd', 'hr_resting_night' -> 'hr_resting'."""
        for name, spec in self.config.baseline_metrics.items():
            if metric == name or any(metric == f"{name}_{p}" for p in spec.periods if p != "all"):
                return spec.source
        return metric

    def _metric_for(self, feature: str) -> str | None:
        for name, spec in self.config.baseline_metrics.items():
            if spec.source == feature:
                return name
        return None

    def _drivers(self, res: ResultIn) -> list[dict]:
        bl_metrics = res.baseline.metrics if res.baseline is not None else {}
        # Most important first; name breaks ties so the order never depends on dict/list accidents.
        feats = sorted(res.top_features, key=lambda t: (-(t.importance if _r(t.importance, 6) is not None else -1),
                                                        clean_text(t.feature)))
        out = []
        for t in feats[: self.max_features]:
            name = clean_text(t.feature) if t.feature is not None else "?"
            z = t.z_score
            if z is None and None not in (t.value, t.baseline_mean) and t.baseline_std:
                z = (t.value - t.baseline_mean) / t.baseline_std
            key = self._metric_for(name) or name
            period = res.window.time_period if res.window is not None else None
            # the detector compares with the time-of-day baseline when one exists (hr_resting_night)
            m = bl_metrics.get(f"{key}_{clean_text(period)}") if period is not None else None
            m = m or bl_metrics.get(key)
            zp = None
            if m is not None and None not in (t.value, m.personal_mean) and m.personal_std:
                zp = (t.value - m.personal_mean) / m.personal_std  # deviation from the person alone
            out.append({"feature": name, "value": _r(t.value, 1), "unit": self._unit(name, t.unit),
                        "importance": _r(t.importance, 3), "baseline_mean": _r(t.baseline_mean, 1),
                        "baseline_std": _r(t.baseline_std, 1), "z_score": _r(z, 1),
                        "z_personal": _r(zp, 1)})
        return out

    def _order(self, names: list[str]) -> list[str]:
        known = list(self.config.features)
        return sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n))

    def _measurements(self, res: ResultIn) -> list[dict]:
        items = {clean_text(k): v for k, v in res.measurements.items()}
        return [{"feature": k, "mean": _r(items[k].mean, 1), "min": _r(items[k].min, 1),
                 "max": _r(items[k].max, 1), "unit": self._unit(k, items[k].unit)}
                for k in self._order(list(items))]

    def _baseline(self, res: ResultIn) -> dict:
        b = res.baseline
        metrics = []
        items = {clean_text(k): v for k, v in b.metrics.items()}
        for k in self._order(list(items)):
            m = items[k]
            feature = self._metric_source(k)
            metrics.append({"metric": k, "feature": feature, "unit": self._unit(feature),
                            **{f: _r(getattr(m, f), 1) for f in ("mean", "std", "personal_mean",
                                                                 "personal_std", "group_mean", "group_std")}})
        return {"source": _canon("source", b.source), "alpha": _r(b.alpha, 2),
                "days_of_history": _r(b.days_of_history, 0), "metrics": metrics}

    def _pattern(self, p: PatternIn) -> dict:
        days = [{"date": _when(d.date), "windows": _r(d.windows, 0), "anomalous_windows": _r(d.anomalous_windows, 0),
                 "anomaly_share": _r(d.anomaly_share, 2), "weighted_share": _r(d.weighted_share, 2),
                 "sufficient": d.sufficient, "is_anomalous_day": d.is_anomalous_day,
                 "vitals_flags": d.vitals_flags if d.vitals_flags and _VITALS_FLAGS.fullmatch(d.vitals_flags) else None}
                for d in p.days]
        days.sort(key=lambda d: d["date"] or "")
        longest = p.longest_anomalous_run if p.longest_anomalous_run is not None else p.pattern_days
        alert_after = p.config.get("alert_consecutive_days")
        alert_after = alert_after if isinstance(alert_after, (int, float)) and not isinstance(alert_after, bool) else None
        return {"days": days[-self.max_days:], "days_total": len(days),
                "anomalous_days": sum(1 for d in days if d["is_anomalous_day"]),
                "insufficient_days": sum(1 for d in days if d["sufficient"] is False),
                "limited_days": sum(1 for d in p.days if d.limited_channels is True),
                "consecutive_anomalous_days": _r(p.consecutive_anomalous_days, 0),
                "longest_anomalous_run": _r(longest, 0), "alert_after_days": _r(alert_after, 0),
                "trend": _canon("trend", p.trend), "trend_slope": _r(p.trend_slope, 3), "alert": p.alert,
                "alert_dates": [_when(x) for x in p.alert_dates[-self.max_days:]]}

    def _finding(self, f: FindingIn) -> dict:
        value = f.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = _r(value, 1)
        elif value is not None:
            value = clean_text(value, MAX_NAME)
        known = ("mean", "std", "sigma", "n")
        ev = {}
        for k in list(known) + sorted(str(k) for k in f.evidence if k not in known):
            v = f.evidence.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and _r(v, 2) is not None:
                ev[clean_text(k, 24)] = _r(v, 0) if k == "n" else _r(v, 1)
        period = None
        if f.period:
            period = {"start": _when(f.period.get("start")), "end": _when(f.period.get("end"))}
        return {"rule": clean_text(f.rule) if f.rule is not None else None,
                "metric": clean_text(f.metric) if f.metric is not None else None,
                "severity": _canon("severity", f.severity),
                # the rule engine always sets a status; an older finding without one is a plain finding
                "status": _canon("status", f.status) or "finding",
                "value": value, "evidence": ev, "period": period,
                "title": _bilingual(f.title, MAX_TITLE), "advice": _bilingual(f.advice, MAX_ADVICE)}

    def _caveats(self, case: dict, res: ResultIn | None) -> list[str]:
        out = []
        dq, w, b = case["data_quality"] or {}, case["window"] or {}, case["baseline"]
        missing = dq.get("missing_fraction")
        if (missing is not None and missing >= MISSING_CAVEAT) or (
                w.get("observed_fraction") is not None and w["observed_fraction"] <= 1 - MISSING_CAVEAT):
            out.append("missing_data")
        if res is not None and res.data_quality is not None and res.data_quality.heart_rate_missing:
            out.append("no_heart_rate")
        if res is not None and any(isinstance(i, dict) and i.get("action") in DROPPED for i in res.input_issues):
            out.append("input_changed")
        if dq.get("max_gap_minutes") is not None and dq["max_gap_minutes"] > GAP_FACTOR * self.config.sampling_minutes:
            out.append("gaps")
        if dq.get("low_quality_points"):
            out.append("low_quality")
        size = (case["verdict"] or {}).get("window_size") or self.config.window_size
        if w.get("n_points") is not None and w["n_points"] < size:
            out.append("short_window")
        if res is not None:
            if b is None:
                out.append("no_baseline")
            elif b["source"] == "group" or (b["days_of_history"] is not None and b["days_of_history"] < PERSONAL_DAYS):
                out.append("cold_start")
        if any(f["status"] in ("insufficient_data", "data_problem") for f in case["findings"]):
            out.append("rule_data_problem")
        return out


def _level(value: Any) -> str | None:
    """A verdict level as written by the detector ('normal', 'watch', 'alert', 'urgent'), else None."""
    try:
        return Level.parse(value).label if isinstance(value, str) else None
    except ValueError:
        return None


def _reason(r: "ReasonIn") -> dict:
    """One reason of the verdict, cleaned like any other text from the data."""
    return {"source": clean_text(r.source, 16) if r.source is not None else None,
            "code": clean_text(r.code, MAX_NAME) if r.code is not None else None,
            "level": _level(r.level), "title": _bilingual(r.title, MAX_TITLE),
            "advice": _bilingual(r.advice, MAX_ADVICE)}


def _attention(case: dict) -> list[dict]:
    """The verdict's reasons a person should act on: every red flag, and anything at alert or urgent."""
    v = case.get("verdict") or {}
    return [r for r in v.get("reasons") or [] if r["source"] == "red_flag" or r["level"] in ("alert", "urgent")]


def _bilingual(value: Any, max_len: int) -> dict | None:
    """Rule titles/advice come as {"en","zh"} (or a plain string): keep both, cleaned."""
    if value is None:
        return None
    if isinstance(value, dict):
        out = {lang: clean_text(value[lang], max_len) for lang in LANGUAGES if value.get(lang) is not None}
        return out or None
    return {lang: clean_text(value, max_len) for lang in LANGUAGES}


# Only text in the exact shape vitals.py writes reaches the prompt (no free text from a pattern dict).
# A part may end in " on average over N nights" (a sustained fall, vitals.py); that suffix is
# rendered in the prompt's language (`over_nights`).
# input_issues actions that took data away (validation.py): the caveat says the score rests on the rest
DROPPED = frozenset({REJECTED, FIELD_REMOVED, DUPLICATE_DROPPED, IGNORED})
_VITAL = r"[a-z_]{2,20} [+-]\d{1,3}(?:\.\d)?(?:%| (?:bpm|breaths/min|points|degC))(?: on average over \d nights)?"


_VITALS_FLAGS = re.compile(rf"{_VITAL}(?:; {_VITAL}){{0,9}}")


_OVER_NIGHTS = re.compile(r" on average over (\d) nights")


def _finding_key(f: dict) -> tuple:
    sev = SEVERITY_ORDER.index(f["severity"]) if f["severity"] in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return (f["status"] != "finding", sev, f["rule"] or "", f["metric"] or "", (f["period"] or {}).get("start") or "")


def _red_flags(case: dict) -> list[str]:
    """Facts in the data that match the doctor-advice rules of the system prompt. A result with a verdict
    level carries its own red flags (`_attention`); the window means are read only for older results."""
    values: dict[str, list[float]] = {}
    if (case.get("verdict") or {}).get("level") is not None:
        return ["critical_finding"] if any(f["severity"] == "CRITICAL" and f["status"] == "finding"
                                           for f in case["findings"]) else []
    for m in case["measurements"]:
        if m["mean"] is not None:
            values.setdefault(m["feature"], []).append(m["mean"])
    for d in case["drivers"]:
        if d["value"] is not None:
            values.setdefault(d["feature"], []).append(d["value"])
    flags = []
    if any(v < SPO2_LOW for v in values.get("spo2", [])):
        flags.append("spo2_below_90")
    if any(v > HR_REST_HIGH for v in values.get("hr_resting", [])):
        flags.append("resting_hr_above_120")
    if any(v < HR_REST_LOW for v in values.get("hr_resting", [])):
        flags.append("resting_hr_below_40")
    if any(f["severity"] == "CRITICAL" and f["status"] == "finding" for f in case["findings"]):
        flags.append("critical_finding")
    return flags
