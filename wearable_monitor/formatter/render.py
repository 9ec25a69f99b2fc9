"""The renderer: a case -> the user message (Markdown between the data markers) and the short summary."""
from __future__ import annotations

import re

from ..config import FeatureConfig
from ..verdict.findings import LEVEL_NAMES, Level
from .case import _OVER_NIGHTS
from .schema import DATA_BEGIN, DATA_END, GAP_FACTOR, LANGUAGES, PERSONAL_DAYS, SEVERITY_ORDER, SUMMARY_MAX_CHARS
from .strings import _SAFE_UNITS, ENUMS, FEATURE_NAMES, RED_FLAG_LIMIT, T, _enum, _feature, _period_hours, _with_unit
from .text import _f, _pct, quote


class _Renderer:
    """Turns one case into the user content of one language."""

    def __init__(self, config: FeatureConfig, lang: str):
        self.config, self.lang, self.t = config, lang, T[lang]

    def lines(self, case: dict, summary: str) -> list[str]:
        t = self.t
        out = [f"**{t['summary']}**{t['colon']}{summary}", "", DATA_BEGIN, ""]
        for section in (self.person, self.window, self.score, self.drivers, self.measured, self.baseline,
                        self.pattern, self.findings, self.quality, self.attention):
            body = section(case)
            if body:
                out += body + [""]
        return out + [DATA_END, "", t["closing"]]

    def person(self, case: dict) -> list[str]:
        t, p = self.t, case["person"]
        user = quote(case["user_id"]) if case["user_id"] is not None else t["no_user"]

        def static(name: str) -> str:
            v = p.get(name)
            if v is None:
                return t["unknown"]
            spec = self.config.static.get(name)
            if name in ENUMS and v in ENUMS[name][self.lang]:
                return ENUMS[name][self.lang][v]
            return v if spec is not None and v in spec.categories else quote(v)

        return [f"### {t['person']}", f"- {t['user']}{t['colon']}{user}",
                f"- {t['age']}{t['colon']}{static('age_group')} · {t['sex']}{t['colon']}{static('sex')} · "
                f"{t['exercise']}{t['colon']}{static('exercise')}"]

    def window(self, case: dict) -> list[str]:
        t, w, v = self.t, case["window"], case["verdict"] or {}
        if w is None:
            return []
        out = [f"### {t['window']}"]
        if w["start"] or w["end"]:
            out.append(f"- {t['period']}{t['colon']}{_span(w['start'])} → {_span(w['end'])}")
        if w["time_period"]:
            out.append(f"- {t['time_period']}{t['colon']}{_enum('time_period', w['time_period'], self.lang)}"
                       f"{_period_hours(self.config, w['time_period'], self.lang)}")
        if w["n_points"] is not None:
            size = v.get("window_size") or self.config.window_size
            out.append("- " + t["points"].format(n=w["n_points"], size=size))
        if w["observed_fraction"] is not None:
            out.append("- " + t["observed"].format(p=_pct(w["observed_fraction"])))
        return out

    def score(self, case: dict) -> list[str]:
        t, v = self.t, case["verdict"]
        if v is None:
            return []
        verdict = {True: t["anomaly"], False: t["normal"], None: t["verdict_unknown"]}[v["is_anomaly"]]
        out = [f"### {t['score']}", f"- {t['result']}{t['colon']}{verdict}"]
        if v.get("level") is not None:
            out.append(f"- {t['level']}{t['colon']}**{LEVEL_NAMES[Level.parse(v['level'])][self.lang]}**")
            for r in v["reasons"]:
                title = _pick(r["title"], self.lang) or quote(r["code"] or "?")
                src = t.get(f"src_{r['source']}") or quote(r["source"] or "?")
                out.append(f"  - {LEVEL_NAMES[Level.parse(r['level'])][self.lang]}{t['colon']}{title}"
                           + t["paren"].format(s=src))
        if v["anomaly_score"] is not None or v["threshold"] is not None:
            out.append("- " + t["score_line"].format(s=_f(v["anomaly_score"], 3), t=_f(v["threshold"], 3),
                                                     m=_f(v["margin"], 3, sign=True)))
        return out

    def drivers(self, case: dict) -> list[str]:
        t = self.t
        if not case["drivers"]:
            return []
        out = [f"### {t['drivers']}"]
        for d in case["drivers"]:
            parts = [_with_unit(d["value"], d["unit"])]
            if d["baseline_mean"] is not None:
                mean = _f(d["baseline_mean"], 1)
                if d["baseline_std"] is not None:
                    mean += f" ± {_f(d['baseline_std'], 1)}"
                parts.append(f"{t['baseline_short']} {mean}" + (f" {d['unit']}" if d["unit"] in _SAFE_UNITS else ""))
            if d["z_score"] is not None:
                side = t["above"] if d["z_score"] > 0 else t["below"] if d["z_score"] < 0 else t["at"]
                parts.append(t["z_side"].format(z=_f(d["z_score"], 1, sign=True), side=side))
            if d["z_personal"] is not None:
                parts.append(t["vs_personal"].format(z=_f(d["z_personal"], 1, sign=True)))
            if d["importance"] is not None:
                parts.append(f"{t['importance']} {_f(d['importance'], 3)}")
            out.append(f"- {_feature(d['feature'], self.lang)}{t['colon']}{t['sep'].join(parts)}")
        return out

    def measured(self, case: dict) -> list[str]:
        t = self.t
        if not case["measurements"]:
            return []
        out = [f"### {t['measured']}"]
        for m in case["measurements"]:
            stats = [f"{t[k]} {_with_unit(m[k], m['unit'])}" for k in ("mean", "min", "max") if m[k] is not None]
            out.append(f"- {_feature(m['feature'], self.lang)}{t['colon']}{t['sep'].join(stats) or '?'}")
        return out

    def baseline(self, case: dict) -> list[str]:
        t, b = self.t, case["baseline"]
        if b is None:
            return [f"### {t['baseline']}", f"- {t['no_baseline']}"] if case["verdict"] is not None else []
        head = [f"{t['source']}{t['colon']}{_enum('source', b['source'], self.lang)}"] if b["source"] else []
        if b["alpha"] is not None:
            p = round(100 * b["alpha"])
            head.append(t["alpha"].format(a=_f(b["alpha"], 2), p=f"{p} %", g=f"{100 - p} %"))
        if b["days_of_history"] is not None:
            head.append(t["days"].format(d=b["days_of_history"]))
        out = [f"### {t['baseline']}"] + ([f"- {t['sep'].join(head)}"] if head else [])
        for m in b["metrics"]:
            parts = []
            for key, label in (("", "used"), ("personal_", "personal"), ("group_", "group")):
                if m[key + "mean"] is not None:
                    sd = f" ± {_f(m[key + 'std'], 1)}" if m[key + "std"] is not None else ""
                    parts.append(f"{t[label]} {_with_unit(m[key + 'mean'], None)}{sd}")
            unit = ("，" if self.lang == "zh" else ", ") + m["unit"] if m["unit"] in _SAFE_UNITS else ""
            out.append(f"- {_feature(m['metric'], self.lang, m['feature'])}{unit}{t['colon']}{t['sep'].join(parts) or '?'}")
        return out

    def pattern(self, case: dict) -> list[str]:
        t, p = self.t, case["pattern"]
        if p is None:
            return []
        facts = []
        if p["consecutive_anomalous_days"] is not None:
            facts.append(t["consecutive"].format(k=p["consecutive_anomalous_days"]))
        if p["longest_anomalous_run"] is not None:
            facts.append(t["longest"].format(k=p["longest_anomalous_run"]))
        if p["days_total"]:
            facts.append(t["anom_days"].format(a=p["anomalous_days"], d=p["days_total"]))
        if p["insufficient_days"]:
            facts.append(t["insufficient_days"].format(n=p["insufficient_days"]))
        if p["limited_days"]:
            facts.append(t["limited_days"].format(n=p["limited_days"]))
        if p["trend"]:
            trend = _enum("trend", p["trend"], self.lang)
            if p["trend_slope"] is not None:
                slope = t["slope"].format(s=_f(p["trend_slope"], 3, sign=True))
                trend += f"（{slope}）" if self.lang == "zh" else f" ({slope})"
            facts.append(t["trend"].format(t=trend))
        if p["alert"] is not None:
            alert = t["yes"] if p["alert"] else t["no"]
            if p["alert_dates"]:
                dates = ", ".join(_span(d) for d in p["alert_dates"])
                alert += f"（{dates}）" if self.lang == "zh" else f" ({dates})"
            if p["alert_after_days"] is not None:
                alert += " · " + t["alert_rule"].format(n=p["alert_after_days"])
            facts.append(t["alert"].format(v=alert))
        out = [f"### {t['pattern']}"] + ([f"- {t['sep'].join(facts)}"] if facts else [])
        if p["days"]:
            out += ["", t["days_head"], "|---|---:|---:|---:|---:|---|"]
            for d in p["days"]:
                flag = t["too_little"] if d["sufficient"] is False else (
                    {True: t["yes"], False: t["no"], None: "?"}[d["is_anomalous_day"]])
                out.append(f"| {_span(d['date'])} | {_f(d['windows'], 0)} | {_f(d['anomalous_windows'], 0)} | "
                           f"{_f(d['anomaly_share'], 2)} | {_f(d['weighted_share'], 2)} | {flag} |")
            if p["days_total"] > len(p["days"]):
                out += ["", t["days_shown"].format(n=len(p["days"]), d=p["days_total"])]
            nights = [d for d in p["days"] if d["vitals_flags"]]
            if nights:
                out += ["", t["vitals_head"]] + [
                    f"- {_span(d['date'])}: {_OVER_NIGHTS.sub(lambda m: t['over_nights'].format(n=m[1]), d['vitals_flags'])}"
                    for d in nights]
                if any("resting_hr_day " in d["vitals_flags"] for d in nights):
                    out.append(t["day_stand_in"])
        return out

    def findings(self, case: dict) -> list[str]:
        t, fs = self.t, case["findings"]
        if not fs:
            return []
        shown = f" ({t['shown'].format(n=len(fs), d=case['findings_total'])})" if case["findings_total"] > len(fs) else ""
        out = [f"### {t['findings']}{shown}"]
        for f in fs:
            sev = f"**{ENUMS['severity'][self.lang][f['severity']]}** · " if f["severity"] in SEVERITY_ORDER else (
                f"{quote(f['severity'])} · " if f["severity"] else "")  # no severity: insufficient data etc.
            what = " / ".join(quote(x) for x in (f["rule"], f["metric"]) if x is not None) or "?"
            facts = []
            if f["value"] is not None:
                val = _f(f["value"], 1) if isinstance(f["value"], (int, float)) else quote(f["value"])
                facts.append(f"{t['value']} {val}")
            ev = f["evidence"]
            named = {"mean": t["mean"], "std": t["sd"]}
            for k, v in ev.items():
                if k == "sigma":
                    facts.append(f"{_f(v, 1)}σ")
                elif k == "n":
                    facts.append(f"n = {v}")
                else:
                    facts.append(f"{named.get(k) or quote(k)} {_f(v, 1)}")
            if f["period"]:
                facts.append(f"{_span(f['period']['start'])} → {_span(f['period']['end'])}")
            status = _enum("status", f["status"], self.lang)
            out.append(f"- {sev}{status} · {what}{t['colon']}{t['sep'].join(facts) or '?'}")
            for key in ("title", "advice"):
                text = _pick(f[key], self.lang)
                if text:
                    out.append(f"  - {t[key]}{t['colon']}{quote(text)}")
        return out

    def quality(self, case: dict) -> list[str]:
        t, dq = self.t, case["data_quality"]
        facts = []
        if dq is not None:
            if dq["missing_fraction"] is not None:
                facts.append(t["missing"].format(p=_pct(dq["missing_fraction"])))
            if dq["max_gap_minutes"] is not None:
                facts.append(t["gap"].format(g=_f(dq["max_gap_minutes"], 0)))
            if dq["low_quality_points"] is not None:
                facts.append(t["lowq"].format(n=dq["low_quality_points"]))
        if not facts and not case["caveats"]:
            return []
        out = [f"### {t['quality']}"] + ([f"- {t['sep'].join(facts)}"] if facts else [])
        gap = GAP_FACTOR * self.config.sampling_minutes
        if case["caveats"]:
            out.append(f"- {t['caveats']}{t['colon'].rstrip()}")
            out += [f"  - {t['cav_' + c].format(g=gap, d=PERSONAL_DAYS)}" for c in case["caveats"]]
        return out

    def attention(self, case: dict) -> list[str]:
        t = self.t
        body = []
        for r in case.get("attention") or []:
            title, advice = _pick(r["title"], self.lang) or quote(r["code"] or "?"), _pick(r["advice"], self.lang)
            body.append(f"**{LEVEL_NAMES[Level.parse(r['level'])][self.lang]}**{t['colon']}{title}"
                        + (f"{t['colon']}{advice}" if advice else ""))
        body += [t["rf_" + f].format(v=_f(RED_FLAG_LIMIT[f], 0) if RED_FLAG_LIMIT[f] else "")
                 for f in case["red_flags"]]
        return [f"### {t['attention']}"] + [f"- {b}" for b in (body or [t["rf_none"]])]


def _span(value: str | None) -> str:
    """Dates we normalised are shown plainly; anything else from the data is quoted."""
    if value is None:
        return "?"
    return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?", value) else quote(value)


def _pick(texts: dict | None, lang: str) -> str | None:
    if not texts:
        return None
    return texts.get(lang) or next(iter(texts.values()))


def _summary_parts(case: dict, config: FeatureConfig, lang: str) -> list[tuple[int, str]]:
    """(priority, text) pieces of the short summary, in reading order; lower priority = kept first."""
    t, v, parts = T[lang], case["verdict"], []
    if v is not None and v.get("level") is not None:
        top = v["reasons"][0] if v["reasons"] else None
        why = (_pick(top["title"], lang) or "") if top else ""
        parts.append((0, f"{t['level']} {LEVEL_NAMES[Level.parse(v['level'])][lang]}" + (f"{t['colon']}{why}" if why else "")))
        if v["anomaly_score"] is not None and v["threshold"] is not None:
            parts.append((1, t["s_model"].format(s=_f(v["anomaly_score"], 3), t=_f(v["threshold"], 3))))
    elif v is not None and v["anomaly_score"] is not None and v["threshold"] is not None:
        key = {True: "s_anomaly", False: "s_normal", None: "s_score"}[v["is_anomaly"]]
        parts.append((0, t[key].format(s=_f(v["anomaly_score"], 3), t=_f(v["threshold"], 3))))
    w = case["window"]
    if w is not None and w["time_period"] and w["n_points"] is not None:
        parts.append((6, t["s_window"].format(p=_enum("time_period", w["time_period"], lang), n=w["n_points"])))
    if case["drivers"]:
        d = case["drivers"][0]
        name = FEATURE_NAMES[lang].get(d["feature"]) or quote(d["feature"])
        val = _with_unit(d["value"], d["unit"])
        key = "s_driver" if d["z_score"] is not None else "s_driver_noz"
        parts.append((2, t[key].format(f=name, v=val, z=_f(d["z_score"], 1, sign=True))))
    b = case["baseline"]
    if b is not None and b["source"] in t["s_src"] and b["alpha"] is not None:
        key = "s_baseline" if b["days_of_history"] is not None else "s_baseline_nodays"
        parts.append((7, t[key].format(src=t["s_src"][b["source"]], a=_f(b["alpha"], 2), d=b["days_of_history"])))
    p = case["pattern"]
    if p is not None and p["consecutive_anomalous_days"] is not None:
        trend = _enum("trend", p["trend"], lang) if p["trend"] in ENUMS["trend"]["en"] else "?"
        parts.append((3, t["s_pattern"].format(k=p["consecutive_anomalous_days"], t=trend,
                                                a=p["anomalous_days"], d=p["days_total"])))
    if p is not None and p["alert"]:
        parts.append((3, t["s_alert"]))
    if p is not None and p["days"]:
        usable = [d for d in p["days"] if d["sufficient"] is not False] or [{"anomaly_share": None}]
        peak = max(usable, key=lambda d: (d["anomaly_share"] or 0, d.get("date") or ""))  # latest wins ties
        if peak["anomaly_share"] and peak["date"]:
            parts.append((5, t["s_peak"].format(date=_span(peak["date"]), p=_pct(peak["anomaly_share"]))))
    real = [f for f in case["findings"] if f["status"] == "finding"]
    if real:
        top = next((s for s in SEVERITY_ORDER if any(f["severity"] == s for f in real)), "?")
        parts.append((4, t["s_findings"].format(n=len(real), sev=top)))
    if case["red_flags"]:
        parts.append((1, t["s_flags"].format(f=", ".join(t["s_flag"][f] for f in case["red_flags"]))))
    dq = case["data_quality"]
    if "missing_data" in case["caveats"] and dq is not None and dq["missing_fraction"] is not None:
        parts.append((5, t["s_missing"].format(p=_pct(dq["missing_fraction"]))))
    return parts


def _join_summary(parts: list[str], lang: str) -> str:
    t = T[lang]
    return (t["sep"].join(parts) + t["end"] + (" " if lang == "en" else "") if parts else "") + t["s_closing"]


def user_content(case: dict, config: FeatureConfig, lang: str, summary: str) -> str:
    """The user message: the case's facts as Markdown, between the data markers."""
    return "\n".join(_Renderer(config, lang).lines(case, summary))


def summaries(case: dict, config: FeatureConfig) -> dict[str, str]:
    """Short paragraph per language. Pieces are kept by priority while *every* language stays
    within SUMMARY_MAX_CHARS, so both summaries carry the same facts."""
    parts = {lang: _summary_parts(case, config, lang) for lang in LANGUAGES}
    n = len(parts["en"])
    keep: set[int] = set()
    for i in sorted(range(n), key=lambda i: parts["en"][i][0]):
        trial = keep | {i}
        if all(len(_join_summary([parts[lang][j][1] for j in sorted(trial)], lang)) <= SUMMARY_MAX_CHARS
               for lang in LANGUAGES):
            keep = trial
    return {lang: _join_summary([parts[lang][j][1] for j in sorted(keep)], lang) for lang in LANGUAGES}
