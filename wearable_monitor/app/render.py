"""Text and tables for the page: results in, Markdown strings and DataFrames out (no components).

Everything user- or data-derived (ids, file names, messages quoting the input, titles from a
manifest) goes through `wearable_monitor.escaping` exactly once, here.
"""
from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from ..detector import InputError
from ..escaping import markdown_lines, markdown_text
from ..verdict.findings import LEVEL_NAMES, Level
from ..formatter import FormatterInputError
from ..data.markers import annotate_days
from ..data.validation import InputFileError
from .i18n import ABOUT_FACTS, COLUMN_WORDS, PERIOD_WORDS, SOURCE_WORDS, VALUE_WORDS, localize_error, t, word

log = logging.getLogger(__name__)
EXPECTED_ERRORS = (InputFileError, InputError, FormatterInputError, ValueError, KeyError)

DRIVER_COLUMNS = ["feature", "importance", "value", "baseline_mean", "baseline_std", "z_score"]  # unit: in the name
FINDING_COLUMNS = ["id", "user_id", "rule", "metric", "status", "severity", "start", "end", "title"]
DAY_COLUMNS = ["user_id", "date", "level", "reasons", "markers", "explained_by_marker", "windows", "anomalous_windows",
               "anomaly_share", "day_score", "reference_score", "sufficient", "limited_channels", "model_anomalous",
               "vitals_flags", "is_anomalous_day", "pattern_days", "alert", "trend"]
USER_FINDING_COLUMNS = ["id", "rule", "metric", "severity", "episode_start", "episode_end", "value", "status"]
BASELINE_COLUMNS = ["metric", "personal_mean", "personal_std", "group_mean", "group_std", "blend_mean", "blend_std"]


def error_message(exc: BaseException, lang: str) -> str:
    """A message for the page: what was wrong with the input, never a traceback. The message may
    quote the input (ids, file names, `<window>`), so it is escaped (every line) for Markdown."""
    if isinstance(exc, EXPECTED_ERRORS):
        text = localize_error(str(exc).strip().strip("'\""), lang)
        return t("error", lang, msg=markdown_lines(text, max_len=4000))
    log.exception("unexpected error in an app handler")
    return t("error", lang, msg=t("error_internal", lang, kind=type(exc).__name__,
                                  msg=markdown_text(str(exc), max_len=300)))


def headed(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The table with its column headers in `lang` (English keeps the column ids); in Chinese also the
    cells that are words (true/false, trends, finding statuses)."""
    if lang != "zh":
        return frame
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == bool or out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_cell_word)
    return out.rename(columns={c: COLUMN_WORDS[c][1] for c in out.columns if c in COLUMN_WORDS})


def _cell_word(value):
    """A cell's word in Chinese (booleans, trends, statuses); anything else unchanged."""
    if isinstance(value, (bool, np.bool_)):
        return VALUE_WORDS[bool(value)][1]
    return VALUE_WORDS[value][1] if isinstance(value, str) and value in VALUE_WORDS else value


def empty(columns: list[str], lang: str = "en") -> pd.DataFrame:
    """An empty table that still has its headers (Gradio heads a column-less table "1 2 3")."""
    return headed(pd.DataFrame(columns=columns), lang)


def level_name(level: str | None, lang: str) -> str:
    try:
        return LEVEL_NAMES[Level.parse(level)]["zh" if lang == "zh" else "en"]
    except (ValueError, TypeError):
        return str(level)


def verdict_markdown(result: dict, lang: str) -> str:
    level = result.get("level") or ("alert" if result["is_anomaly"] else "normal")
    head = t(f"level_{level}", lang)
    reasons = [f"- **{level_name(r.get('level'), lang)}** · "
               + markdown_text((r.get("title") or {}).get(lang) or (r.get("title") or {}).get("en", ""))
               for r in result.get("reasons", [])]
    advice = markdown_text((result.get("advice") or {}).get(lang, ""))
    why = f"\n\n**{t('reasons', lang)}**\n\n" + "\n".join(reasons) if reasons else ""
    w, b = result.get("window", {}), result.get("baseline", {})
    line = t("score_line", lang, score=result["anomaly_score"], threshold=result["threshold"],
             user=markdown_text(result.get("user_id", "?")), start=str(w.get("start", "?")).replace("T", " "),
             end=str(w.get("end", "?")).replace("T", " "), period=word(PERIOD_WORDS, w.get("time_period"), lang),
             source=word(SOURCE_WORDS, b.get("source"), lang), alpha=b.get("alpha") or 0.0,
             days=b.get("days_of_history", 0))
    q = result.get("data_quality") or {}
    quality = t("quality_line", lang, missing=q.get("missing_fraction") or 0.0, gap=q.get("max_gap_minutes") or 0)
    note = f"{advice} {t('screening_note', lang)}".strip()
    warning = (result.get("details") or {}).get("threshold_warning")
    warn = f"\n\n⚠️ {markdown_text(warning, 400)}" if warning and lang != "zh" else \
        (f"\n\n⚠️ {t('threshold_far', lang)}" if warning else "")
    return f"## {head}{why}\n\n{note}\n\n{line}\n\n{quality}{warn}"


def drivers_table(result: dict, lang: str = "en") -> pd.DataFrame:
    """The features that drove the score; the unit goes with the name so every column fits."""
    rows = [{**{c: f.get(c) for c in DRIVER_COLUMNS},
             "feature": f"{f.get('feature')} ({f['unit']})" if f.get("unit") else f.get("feature")}
            for f in result.get("top_features", [])]
    return headed(pd.DataFrame(rows, columns=DRIVER_COLUMNS).round({"importance": 3, "value": 2, "baseline_mean": 2,
                                                                     "baseline_std": 2, "z_score": 2}), lang)


def findings_table(findings: list[dict], lang: str) -> pd.DataFrame:
    rows = [{"id": f.get("id"), "user_id": f.get("user_id"), "rule": f.get("rule"), "metric": f.get("metric"),
             "status": f.get("status"), "severity": f.get("severity"), "start": f.get("period", {}).get("start"),
             "end": f.get("period", {}).get("end"), "title": (f.get("title") or {}).get(lang, "")}
            for f in findings]
    return headed(pd.DataFrame(rows, columns=FINDING_COLUMNS), lang)


def days_table(days: pd.DataFrame, markers: list, lang: str = "en") -> pd.DataFrame:
    """The per-day table; `markers` and `explained_by_marker` labelled in `lang` (an alert day with an
    entered event is explained by it, not a false alarm)."""
    days = annotate_days(days, markers, lang)
    out = days[[c for c in DAY_COLUMNS if c in days]].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    if lang == "zh" and "level" in out:
        out["level"] = out["level"].map(lambda v: level_name(v, lang))
    return headed(out.round({"anomaly_share": 3, "day_score": 3, "reference_score": 3}), lang)


def profile_text(profile: dict, lang: str) -> str:
    """A stored profile as words ("age group 30-39 · sex female"), '' when nothing is known."""
    parts = [f"{word(COLUMN_WORDS, k, lang)} {markdown_text(v, 40)}" for k, v in (profile or {}).items()
             if v not in (None, "")]
    return " · ".join(parts)


def about_markdown(card: dict, lang: str, client_snippet: str) -> str:
    """Model card facts from summary.json; only what the file states (row names in `lang`)."""
    lines = [f"### {t('about_model', lang)}"]
    if not card:
        lines.append(t("no_card", lang))
    else:
        m = card.get("metrics", {}).get("test", {})
        d = card.get("data", {})
        users = d.get("users", {})
        values = {"model": card.get("model"), "parameters": card.get("parameters"), "threshold": card.get("threshold"),
                  "threshold_criterion": card.get("threshold_criterion"),
                  "window": (card.get("window") or {}).get("label"), "data": d.get("source"),
                  "seed_days": f"{d.get('seed')} / {d.get('days')}",
                  "users_split": f"{users.get('train')} / {users.get('val')} / {users.get('test')}"}
        lines += [f"| {t('fact', lang)} | {t('value', lang)} |", "|---|---|"]
        lines += [f"| {word(ABOUT_FACTS, k, lang)} | {markdown_text(v, 200) if isinstance(v, str) else v} |"
                  for k, v in values.items() if v is not None]
        keys = ["window_pr_auc", "window_precision", "window_recall", "window_f1", "event_recall",
                "event_precision", "event_f1", "false_alarms_per_user_day"]
        if m:
            lines += ["", f"**{t('test_metrics', lang)}**", "",
                      "| " + " | ".join(word(COLUMN_WORDS, k, lang) for k in keys) + " |", "|" + "---|" * len(keys),
                      "| " + " | ".join("n/a" if m.get(k) is None else f"{m[k]:.3g}" for k in keys) + " |"]
    lines += ["", f"### {t('byod_title', lang)}", "", t("byod_table", lang)]
    lines += ["", f"### {t('client_usage', lang)}", "", client_snippet, "", t("endpoints", lang),
              "", f"### {t('mcp_title', lang)}", "", t("mcp_help", lang), "", t("disclaimer", lang)]
    return "\n".join(lines)


_DEV_TEXT = re.compile(r"[A-Za-z_]+\([^)]*\)")


def plain_description(text: str) -> str:
    """A preset description without developer text (`simulate_user(...)`, `SimConfig(...)`)."""
    cut = re.split(r"\s*\b[A-Za-z_]+\(", str(text or ""), maxsplit=1)[0].strip()
    return markdown_text(_DEV_TEXT.sub("", cut).strip(" .") + ("." if cut else ""), 400)
