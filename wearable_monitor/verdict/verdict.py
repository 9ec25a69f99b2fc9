"""One verdict from all the evidence: red flags, personal-baseline deviations, the model, the pattern.

The stream evidence (red_flags.py, deviations.py) is computed on one user's rows and then read per
window: a window holds a finding when the finding's run is sustained inside the window itself, so
the realtime call (the window's own rows) and the batch replay (all rows, windows by end index)
give the same answer. The learned model's score adds a `model` finding at the level `model_level`
(watch: it explains, it does not raise an alert on its own; docs/evaluation.md shows why).

    evidence = StreamEvidence.of(columns_of_one_user, feature_config)
    findings = evidence.window_findings(rows)          # realtime: all rows are the window
    levels = evidence.window_levels(end_index, 12)      # batch: per window
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import FeatureConfig
from .deviations import DeviationConfig, deviation_finding, deviation_runs
from .findings import Finding, Level, Verdict, decide
from .patterns import PatternConfig, is_night_kind
from .red_flags import RedFlagConfig, default_red_flag_config, red_flag_runs, run_finding
from .stream_context import EvidenceRun, StreamContext, stream_context, strongest_per_family, window_runs

EVIDENCE_SOURCES = ("red_flag", "baseline")
#: per-window level columns: the stream sources, then the multi-day pattern carried from the day before
WINDOW_SOURCES = (*EVIDENCE_SOURCES, "pattern")


@dataclass(frozen=True)
class VerdictConfig:
    # The learned model's finding level. Watch: the model explains but never raises an alert alone; the
    # ablation in docs/evaluation.md (wearable-monitor evaluate) decides whether it earns more.
    model_level: str = "watch"
    # A multi-day pattern alert (the same evidence two days running, a sustained vital fall included: patterns.py)
    pattern_level: str = "alert"
    # A single deviant night / day score without the second day: something to watch ...
    anomalous_day_level: str = "watch"
    # ... unless this many different vitals deviate that night (e.g. resting HR up, HRV down and
    # respiration up together): several systems at once is the persistence a second night would show
    multi_vital_night: int = 3
    deviations: DeviationConfig = field(default_factory=DeviationConfig)


@dataclass
class StreamEvidence:
    """The sustained runs of every stream evidence source in one user's rows."""
    cols: Mapping[str, Any]
    runs: list[EvidenceRun]
    sampling_minutes: float
    red_flags: RedFlagConfig
    context: StreamContext  # the rows' context (rest, sleep, periods): the baseline write reuses it

    @property
    def n_rows(self) -> int:
        return len(self.context)

    @classmethod
    def of(cls, cols: Mapping[str, Any], config: FeatureConfig, red_flags: RedFlagConfig | None = None,
           deviations: DeviationConfig | None = None) -> "StreamEvidence":
        red_flags = red_flags or default_red_flag_config()
        settings = red_flags.settings(config.sampling_minutes)
        ctx = stream_context(cols, config, settings)
        found = red_flag_runs(cols, config, red_flags, ctx=ctx) + deviation_runs(cols, config, deviations, ctx=ctx,
                                                                                  settings=settings)
        return cls(cols=cols, runs=found, sampling_minutes=float(config.sampling_minutes), red_flags=red_flags,
                   context=ctx)

    def finding(self, run: EvidenceRun, first: int | None = None, last: int | None = None) -> Finding:
        if run.source == "red_flag":
            return run_finding(run, self.cols, self.red_flags, first, last, self.sampling_minutes)
        return deviation_finding(run, self.cols, self.sampling_minutes)

    def window_findings(self, first_row: int = 0, last_row: int | None = None) -> list[Finding]:
        """Findings of the window over rows [first_row, last_row] (default: all rows are the window)."""
        last_row = self.n_rows - 1 if last_row is None else last_row
        size = last_row - first_row + 1
        held = window_runs(self.runs, np.array([last_row]), size, last_row=last_row)[0] if size > 0 else []
        return [self.finding(r, first_row, last_row) for r in strongest_per_family(held)]

    def window_levels(self, end_index: np.ndarray, window_size: int) -> dict[str, np.ndarray | list[str]]:
        """Per window: the highest level of each source and the reasons (`source:code`, strongest first)."""
        per_window = window_runs(self.runs, end_index, window_size, last_row=self.n_rows - 1)
        out: dict[str, Any] = {f"level_{s}": np.zeros(len(end_index), np.int8) for s in EVIDENCE_SOURCES}
        reasons = []
        for i, held in enumerate(per_window):
            kept = strongest_per_family(held)
            for r in kept:
                col = out[f"level_{r.source}"]
                col[i] = max(col[i], r.level)
            reasons.append("; ".join(f"{r.source}:{r.code}" for r in
                                     sorted(kept, key=lambda r: (-r.level, EVIDENCE_SOURCES.index(r.source)))))
        out["reasons"] = reasons
        return out


def model_finding(score: float, threshold: float, cfg: VerdictConfig = VerdictConfig(),
                  top_feature: str | None = None) -> Finding | None:
    """The learned model's finding when its window score reaches its calibrated threshold."""
    if not (score >= threshold):
        return None
    drv = f" (strongest input: {top_feature})" if top_feature else ""
    drv_zh = f"（主要输入：{top_feature}）" if top_feature else ""
    return Finding(source="model", code="window_score", level=Level.parse(cfg.model_level),
                   title={"en": f"Learned model: window score {score:.3f} reaches its threshold {threshold:.3f}{drv}",
                          "zh": f"学习模型：窗口得分 {score:.3f} 达到阈值 {threshold:.3f}{drv_zh}"},
                   evidence={"score": score, "threshold": threshold},
                   citation="Phased LSTM + TFT checkpoint; threshold calibrated on held-out simulated users")


def window_verdict(findings: list[Finding]) -> Verdict:
    return decide(findings)


def combine_levels(levels: Mapping[str, np.ndarray], model_flags: np.ndarray | None,
                   cfg: VerdictConfig = VerdictConfig()) -> np.ndarray:
    """Per window: the verdict level from the per-source levels (and the model's flag)."""
    out = np.zeros(len(next(iter(levels.values()))), np.int8)
    for s in WINDOW_SOURCES:
        if f"level_{s}" in levels:
            out = np.maximum(out, np.asarray(levels[f"level_{s}"], np.int8))
    if model_flags is not None:
        out = np.maximum(out, np.where(model_flags, int(Level.parse(cfg.model_level)), 0).astype(np.int8))
    return out


def level_labels(levels: np.ndarray) -> np.ndarray:
    names = np.array([lv.label for lv in Level], dtype=object)
    return names[np.asarray(levels, np.int64)]


def day_verdicts(days, scored, cfg: VerdictConfig = VerdictConfig()):
    """The day table with the day's verdict: `level` (highest of its windows' levels, a multi-day pattern
    alert, an anomalous day) and `reasons` (`source:code`, strongest first, each once)."""
    if "level" not in scored or days.empty:
        return days.assign(level="normal", reasons="")
    win = _window_days(scored).assign(lv=_own_window_levels(scored, cfg),
                                      reasons=_stream_reasons(scored["reasons"]))
    agg = win.groupby(["user_id", "date"], sort=False).agg(
        lv=("lv", "max"), reasons=("reasons", lambda r: "; ".join(dict.fromkeys(
            c for s in r if s for c in s.split("; "))))).reset_index()
    out = days.astype({"date": "datetime64[ns]"}).merge(agg.astype({"date": "datetime64[ns]"}),
                                                       on=["user_id", "date"], how="left")
    lv = out["lv"].fillna(0).to_numpy(np.int64).copy()
    reasons = out["reasons"].fillna("").tolist()
    pattern, codes = day_pattern_levels(out, cfg)
    for i in np.flatnonzero(pattern):
        lv[i] = max(lv[i], int(pattern[i]))
        reasons[i] = "; ".join(x for x in (f"pattern:{codes[i]}", reasons[i]) if x)
    out["level"] = level_labels(lv)
    out["reasons"] = reasons
    return out.drop(columns=["lv"])


def _window_days(scored):
    """(user_id, date) of each window: the day table's key for the window table's rows."""
    import pandas as pd

    return pd.DataFrame({"user_id": scored["user_id"].to_numpy(),
                         "date": pd.DatetimeIndex(scored["timestamp"]).normalize()})


def _own_window_levels(scored, cfg: VerdictConfig) -> np.ndarray:
    """Per window: the level of its own evidence (stream sources and the model), without the pattern it
    carries from the day before, which is that day's and not this one's. A table without per-source
    columns (older tables) has only `level`."""
    if "level_red_flag" not in scored:
        return scored["level"].map({lv.label: int(lv) for lv in Level}).to_numpy()
    flags = scored["model_anomalous"].to_numpy(bool) if "model_anomalous" in scored else None
    return combine_levels({f"level_{s}": scored[f"level_{s}"].to_numpy() for s in EVIDENCE_SOURCES
                           if f"level_{s}" in scored}, flags, cfg)


def _stream_reasons(reasons) -> list[str]:
    """Each window's reasons without the carried pattern's (only windows that carry one are rewritten)."""
    out = reasons.fillna("").astype(str).tolist()  # a plain list: iterating an Arrow string column is slow
    for i in np.flatnonzero(reasons.str.contains("pattern:", regex=False, na=False).to_numpy(bool)):
        out[i] = _without_pattern(out[i])
    return out


def _without_pattern(reasons: str) -> str:
    return "; ".join(r for r in str(reasons or "").split("; ") if r and not r.startswith("pattern:"))


def day_pattern_levels(days, cfg: VerdictConfig = VerdictConfig()):
    """Per row of the day table: the pattern's verdict level that day (0 when none) and its reason code."""
    anomalous = days["is_anomalous_day"].to_numpy(bool)
    deviant = days["vitals_deviant_count"].to_numpy() if "vitals_deviant_count" in days else np.zeros(len(days))
    multi = anomalous & (np.nan_to_num(np.asarray(deviant, np.float64)) >= cfg.multi_vital_night)
    return _pattern_levels(days["alert"].to_numpy(bool), multi, anomalous, cfg)


def morning_levels(days, cfg: VerdictConfig = VerdictConfig(), pattern: PatternConfig = PatternConfig()):
    """Per row of the day table: the pattern's level and reason code as known when that day's night
    ends, from night-time readings only (the alert of a run of a night-time vital, several night
    vitals deviant at once, one deviant night); 0 when the day's pattern needs the day itself."""
    names = days["vitals_deviant_signals"].fillna("") if "vitals_deviant_signals" in days else [""] * len(days)
    nightly = np.array([sum(1 for k in str(n).split(",") if k and is_night_kind(k, pattern)) for n in names])
    night_alert = days["alert_at_night"].to_numpy(bool) if "alert_at_night" in days else np.zeros(len(days), bool)
    sustained = days["vitals_sustained"].to_numpy(bool) if "vitals_sustained" in days else np.zeros(len(days), bool)
    return _pattern_levels(night_alert, nightly >= cfg.multi_vital_night, (nightly > 0) | sustained, cfg)


def _pattern_levels(alert: np.ndarray, multi: np.ndarray, anomalous: np.ndarray, cfg: VerdictConfig):
    """(level, reason code) per day: the pattern level for an alert or several vitals at once, the
    anomalous-day level for any other anomalous day, 0 otherwise."""
    level = np.where(alert | multi, int(Level.parse(cfg.pattern_level)),
                     np.where(anomalous, int(Level.parse(cfg.anomalous_day_level)), 0)).astype(np.int8)
    codes = np.array([_pattern_code(a, m) if lv else "" for a, m, lv in zip(alert, multi, level)], dtype=object)
    return level, codes


def carry_pattern(scored, days, cfg: VerdictConfig = VerdictConfig(), pattern: PatternConfig | None = None,
                  night_end_hour: int | None = None):
    """The window table with each window carrying the multi-day pattern of the day before its own, and,
    with `night_end_hour`, from that hour on also what its own day's finished night already says.

    A day is judged once it is over (its night, its day score, the run of days before it), so a window
    reads the newest finished day. Most of a day's pattern is known earlier: nightly vitals are read
    from 00:00 to `night_end_hour` (vitals.py), so a run of a night-time vital is known that morning, as
    NightSignal's morning alert is (`morning_levels`). A window at or after that hour carries it when
    the day had its sufficient windows (`pattern.min_windows_per_day`) by then, so a night with too
    little data says nothing early. `detect_realtime(window, history=...)` reads the same days and also
    the day so far: the replay never says more than the live call. `level_pattern`, `level`,
    `is_anomaly` and `reasons` follow; calling it again (say after `rejudge_table` and a new day table)
    replaces the earlier carry.
    """
    import pandas as pd

    scored = scored.copy()
    pattern = pattern or PatternConfig()
    keys = _window_days(scored)
    dates = pd.DatetimeIndex(days["date"]).normalize()
    carry, codes = _per_window(keys, days["user_id"], dates + pd.Timedelta(days=1), *day_pattern_levels(days, cfg))
    if night_end_hour is not None and len(days):
        after = np.asarray(pd.DatetimeIndex(scored["timestamp"]).hour) >= night_end_hour
        early = keys[~after].value_counts()  # windows of each day before the night's end
        per_day = pd.MultiIndex.from_arrays([days["user_id"], dates])
        enough = early.reindex(per_day).fillna(0).to_numpy() >= pattern.min_windows_per_day
        level, morning_codes = morning_levels(days, cfg, pattern)
        today, today_codes = _per_window(keys, days["user_id"], dates, np.where(enough, level, 0), morning_codes)
        today = np.where(after, today, 0)
        codes = np.where(today > carry, today_codes, codes)
        carry = np.maximum(carry, today).astype(np.int8)
    scored["level_pattern"] = carry
    reasons = _stream_reasons(scored["reasons"])
    stream_level = combine_levels({f"level_{s}": scored[f"level_{s}"].to_numpy() for s in EVIDENCE_SOURCES}, None, cfg)
    pattern_level = scored["level_pattern"].to_numpy()
    for i in np.flatnonzero(pattern_level > 0):
        reasons[i] = _with_pattern_reason(reasons[i], codes[i], pattern_level[i], stream_level[i])
    scored["reasons"] = reasons
    flags = scored["model_anomalous"].to_numpy(bool) if "model_anomalous" in scored else None
    level = combine_levels({f"level_{s}": scored[f"level_{s}"].to_numpy() for s in WINDOW_SOURCES}, flags, cfg)
    scored["level"] = level_labels(level)
    scored["is_anomaly"] = level >= int(Level.ALERT)
    return scored


def _per_window(keys, user_ids, dates, level: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level, code) of each window (`keys`: its user_id and date) from per-(user, date) values; 0 and ""
    where its date has none (the last row of a repeated user-date wins)."""
    import pandas as pd

    table = pd.DataFrame({"user_id": np.asarray(user_ids), "date": dates, "level": level, "code": codes})
    table = table[table["level"] > 0].drop_duplicates(["user_id", "date"], keep="last")
    got = keys.merge(table, on=["user_id", "date"], how="left")
    return got["level"].fillna(0).to_numpy(np.int8), got["code"].fillna("").to_numpy(dtype=object)


def _with_pattern_reason(stream: str, code: str, level: int, stream_level: int) -> str:
    """A window's reasons with the carried pattern's: first when it is the strongest, else last."""
    if not code:
        return stream
    parts = (f"pattern:{code}", stream) if level > stream_level else (stream, f"pattern:{code}")
    return "; ".join(x for x in parts if x)


def pattern_finding(day, cfg: VerdictConfig = VerdictConfig()) -> Finding:
    """The multi-day pattern's finding for one row of the day table (alert: the pattern alerts that day)."""
    alert = bool(day["alert"])
    multi = int(day.get("vitals_deviant_count", 0) or 0) >= cfg.multi_vital_night
    flags = str(day.get("vitals_flags", "") or "")
    run = int(day.get("pattern_days", 0) or 0)
    level = Level.parse(cfg.pattern_level if (alert or multi) else cfg.anomalous_day_level)
    what_en = f"nightly vitals: {flags}" if flags else "the day's window scores stand out from earlier days"
    what_zh = f"夜间指标：{flags}" if flags else "当天窗口得分高于此前各天"
    if alert:
        title = {"en": f"Multi-day pattern: {run} anomalous day(s) running ({what_en})",
                 "zh": f"多日模式：连续 {run} 天异常（{what_zh}）"}
    elif multi:
        title = {"en": f"Several vitals off the personal nightly baseline at once ({what_en})",
                 "zh": f"多项夜间指标同时偏离个人基线（{what_zh}）"}
    else:
        title = {"en": f"Anomalous day, not yet a second one running ({what_en})",
                 "zh": f"当天异常，尚未连续第二天（{what_zh}）"}
    advice = {"en": "Several days off the personal baseline often come with an infection, poor sleep, alcohol or "
                    "stress. Note how you feel; with symptoms, consider a test or a doctor.",
              "zh": "连续多日偏离个人基线常见于感染、睡眠不佳、饮酒或压力。请留意自身感受；如有症状，可考虑检测或就医。"}
    return Finding(source="pattern", code=_pattern_code(alert, multi), level=level, title=title,
                   evidence={"date": str(getattr(day["date"], "date", lambda: day["date"])()),
                             "pattern_days": run, "vitals_flags": flags},
                   advice=advice, citation="NightSignal (Alavi et al., Nat Med 2022): nightly resting HR >= 4 bpm "
                                           "over the median of earlier nights, two nights running")


def _pattern_code(alert: bool, multi_vital: bool) -> str:
    return "multi_day_alert" if alert else "multi_vital_night" if multi_vital else "anomalous_day"


def apply_verdict(result: dict, verdict: Verdict) -> dict:
    """Write a verdict into a realtime result dict (is_anomaly, level, reasons, advice)."""
    result.update(is_anomaly=verdict.is_anomaly, level=verdict.level.label,
                  reasons=[f.to_dict() for f in verdict.reasons], advice=verdict.to_dict()["advice"])
    return result


def rejudge(result: dict, threshold: float, cfg: VerdictConfig = VerdictConfig()) -> dict:
    """A copy of a realtime result with the model read at another threshold (a visitor's choice):
    only the model's finding changes; red flags, deviations and the pattern stay as they were."""
    out = dict(result, threshold=round(float(threshold), 4))
    score = float(result["anomaly_score"])
    out["details"] = dict(result.get("details", {}), model_anomalous=bool(score >= threshold),
                          prediction_confidence=round(abs(score - threshold), 4))
    kept = [Finding.from_dict(f) for f in result.get("reasons", []) if f.get("source") != "model"]
    top = result.get("top_features") or []
    model = model_finding(score, float(threshold), cfg, top[0]["feature"] if top else None)
    return apply_verdict(out, decide(kept + ([model] if model else [])))


def rejudge_table(scored, threshold: float, cfg: VerdictConfig = VerdictConfig()):
    """The per-window table with the model read at another threshold (level and is_anomaly follow)."""
    scored = scored.copy()
    scored["model_anomalous"] = scored["anomaly_score"].to_numpy() >= threshold
    levels = {f"level_{s}": scored[f"level_{s}"].to_numpy() for s in WINDOW_SOURCES if f"level_{s}" in scored}
    level = combine_levels(levels, scored["model_anomalous"].to_numpy(), cfg)
    scored["level"] = level_labels(level)
    scored["is_anomaly"] = level >= int(Level.ALERT)
    return scored


#: a daily-log rule's severity as a verdict level (rules document: CRITICAL "needs immediate attention")
RULE_LEVELS = {"CRITICAL": Level.URGENT, "HIGH": Level.ALERT, "MEDIUM": Level.WATCH, "LOW": Level.WATCH}


def rule_finding(d: Mapping[str, Any]) -> Finding | None:
    """A daily-log rule finding (rules/finding.py's dict) as verdict evidence; None when it is not a
    finding about the person (insufficient data, a data problem). Unconfirmed readings count as watch."""
    status, severity = d.get("status"), d.get("severity")
    if status not in ("finding", "awaiting_confirmation") or severity not in RULE_LEVELS:
        return None
    level = RULE_LEVELS[severity] if status == "finding" else Level.WATCH
    period = d.get("period") or {}
    return Finding(source="rule", code=f"{d.get('rule')}:{d.get('metric')}", level=level,
                   title=dict(d.get("title") or {}), advice=dict(d.get("advice") or {}),
                   evidence={"severity": severity, "status": status, "value": d.get("value")},
                   start=period.get("start"), end=period.get("end"), citation="Rules document (daily-log rules)")


def with_rule_findings(days, findings: list[Mapping[str, Any]]):
    """The day table with each rule finding's level on the last day of its period (per user)."""
    import pandas as pd

    if days.empty or not findings:
        return days
    days = days.copy()
    rank = {lv.label: int(lv) for lv in Level}
    level = days["level"].map(rank).to_numpy().copy()
    reasons = days["reasons"].tolist()
    dates = pd.DatetimeIndex(days["date"]).normalize()
    for d in findings:
        f = rule_finding(d)
        if f is None or f.end is None:
            continue
        hit = np.flatnonzero((days["user_id"].to_numpy() == d.get("user_id")) & (dates == pd.Timestamp(f.end)))
        for i in hit:
            level[i] = max(level[i], int(f.level))
            reasons[i] = "; ".join(x for x in (reasons[i], f"rule:{f.code}") if x)
    days["level"] = level_labels(level)
    days["reasons"] = reasons
    return days
