"""Dated events a person enters next to their data: symptom onset, a positive test, a vaccination,
travel, alcohol, hard training. They are context, not measurements: drawn on the timeline, listed in
the LLM text, kept with the analysis, and they change how an alert on their day is read (an alert on
a day with an event is explained by it, so it is not called a false alarm).

    markers = parse_markers("2020-11-07 symptom_onset fever\\n2020-11-10 positive_test")
    days = annotate_days(days, markers)      # adds `markers` and `explained_by_marker`

Accepted forms (the upload tab's text box, the API's `markers` parameter): one event per line
`YYYY-MM-DD kind [note]`, or JSON, a list of {"date", "kind", "note"}.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pandas as pd

#: kind -> (English, Chinese) label; the order is the order shown in the app
MARKER_KINDS: dict[str, tuple[str, str]] = {
    "symptom_onset": ("symptom onset", "症状出现"),
    "positive_test": ("positive test", "检测阳性"),
    "vaccination": ("vaccination", "接种疫苗"),
    "travel": ("travel", "旅行"),
    "alcohol": ("alcohol", "饮酒"),
    "hard_training": ("hard training", "高强度训练"),
}
MAX_MARKERS = 200
MAX_NOTE = 120
_ALIASES = {label.replace(" ", "_"): kind for kind, (label, _) in MARKER_KINDS.items()} | \
    {zh: kind for kind, (_, zh) in MARKER_KINDS.items()} | {"symptoms": "symptom_onset", "test": "positive_test",
                                                              "vaccine": "vaccination", "training": "hard_training"}
_LINE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ \t,;]+([^\s,;]+)[ \t,;]*(.*)$")


class MarkerError(ValueError):
    """An event the person entered cannot be read (the message says which and why)."""


@dataclass(frozen=True)
class Marker:
    date: date
    kind: str
    note: str = ""

    def label(self, lang: str = "en") -> str:
        return MARKER_KINDS[self.kind][1 if lang == "zh" else 0]

    def to_dict(self) -> dict:
        return {**asdict(self), "date": self.date.isoformat()}


def marker_kind(text: str) -> str:
    key = str(text).strip().lower().replace("-", "_").replace(" ", "_")
    kind = key if key in MARKER_KINDS else _ALIASES.get(key) or _ALIASES.get(str(text).strip())
    if kind is None:
        raise MarkerError(f"unknown event kind {str(text)[:40]!r}; use one of: {', '.join(MARKER_KINDS)}")
    return kind


def _one(day: Any, kind: Any, note: Any = "", where: str = "") -> Marker:
    try:
        d = pd.Timestamp(str(day)).date()
    except (ValueError, TypeError):
        raise MarkerError(f"{where}date {str(day)[:40]!r} is not a date (YYYY-MM-DD)") from None
    try:
        k = marker_kind(kind)
    except MarkerError as exc:
        raise MarkerError(f"{where}{exc}") from None
    clean_note = re.sub(r"[\x00-\x1f\x7f]+", " ", str(note or "")).strip()[:MAX_NOTE]
    return Marker(d, k, clean_note)


def parse_markers(value: Any) -> list[Marker]:
    """None/"" -> []; text lines `YYYY-MM-DD kind [note]`; JSON text or a list of dicts/Markers.
    Sorted by date, duplicates removed; raises MarkerError with a readable message."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise MarkerError(f"events: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(value, dict):
        value = [value]
    out: list[Marker] = []
    if isinstance(value, str):
        for n, line in enumerate(value.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _LINE.match(line)
            if m is None:
                raise MarkerError(f"event line {n}: expected 'YYYY-MM-DD kind [note]', got {line.strip()[:60]!r}")
            out.append(_one(*m.groups(), where=f"event line {n}: "))
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value, start=1):
            if isinstance(item, Marker):
                out.append(item)
            elif isinstance(item, dict):
                out.append(_one(item.get("date"), item.get("kind"), item.get("note", ""), where=f"event {n}: "))
            else:
                raise MarkerError(f"event {n}: expected an object with date and kind")
    else:
        raise MarkerError("events: expected text lines or a JSON list")
    if len(out) > MAX_MARKERS:
        raise MarkerError(f"{len(out)} events: at most {MAX_MARKERS}")
    return sorted(set(out), key=lambda m: (m.date, m.kind, m.note))


def format_markers(markers: list[Marker]) -> str:
    """The text-box form of `markers` (one line each), the inverse of `parse_markers`."""
    return "\n".join(f"{m.date.isoformat()} {m.kind}" + (f" {m.note}" if m.note else "") for m in markers)


def annotate_days(days: pd.DataFrame, markers: list[Marker], lang: str = "en") -> pd.DataFrame:
    """The day table with `markers` (the day's events, labelled in `lang`) and `explained_by_marker`
    (an alert day, alert or urgent, with an event on it: explained by the event, so not a false
    alarm; the alert stays, nothing is dismissed)."""
    out = days.copy()
    by_day: dict[date, list[Marker]] = {}
    for m in markers:
        by_day.setdefault(m.date, []).append(m)
    day_of = pd.to_datetime(out["date"]).dt.date if len(out) else pd.Series([], dtype=object)
    out["markers"] = [", ".join(m.label(lang) + (f" ({m.note})" if m.note else "") for m in by_day.get(d, []))
                      for d in day_of]
    alert = out["level"].isin(["alert", "urgent"]) if "level" in out else out.get("alert", False)
    out["explained_by_marker"] = (out["markers"] != "") & alert
    return out


__all__ = ["MARKER_KINDS", "Marker", "MarkerError", "annotate_days", "format_markers", "marker_kind", "parse_markers"]
