"""Findings and the verdict: the one currency every evidence source pays in.

Each source of evidence (the always-on red flags, personal-baseline deviations, the learned
model, the multi-day pattern, the daily-log rules) emits `Finding`s; `decide` turns any set of
findings into one leveled `Verdict`:

    normal  nothing beyond everyday variation
    watch   something off the person's usual range; keep an eye on it (no alert)
    alert   clear evidence worth acting on (an anomaly: `is_anomaly` is True)
    urgent  a red flag far outside the clinical range: advise prompt medical attention

The levels follow the spirit of NightSignal's states and Oura's "no / minor / major signs":
a person sees one level and the ordered reasons for it, the strongest first.
This module knows nothing about how findings are made (it is the ground floor).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Iterable

from ..jsonio import json_safe


class Level(IntEnum):
    NORMAL = 0
    WATCH = 1
    ALERT = 2
    URGENT = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: "Level | str | int") -> "Level":
        if isinstance(value, Level):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown level {value!r}; expected one of {[lv.label for lv in cls]}") from None
        return cls(int(value))


#: evidence sources, in the order a reason is listed when two findings have the same level:
#: absolute physiology first, then the person's own baseline, then multi-day and learned evidence
SOURCES = ("red_flag", "baseline", "pattern", "rule", "model")

#: the level's name as a person reads it (en / zh)
LEVEL_NAMES = {Level.NORMAL: {"en": "normal", "zh": "正常"}, Level.WATCH: {"en": "watch", "zh": "留意"},
               Level.ALERT: {"en": "alert", "zh": "警示"}, Level.URGENT: {"en": "urgent", "zh": "紧急"}}

#: what a person is advised at each level (en / zh); the finding's own advice comes first
LEVEL_TEXT = {
    Level.NORMAL: {"en": "Within the expected range for this person.", "zh": "处于此人的预期范围内。"},
    Level.WATCH: {"en": "Something is off the usual range: keep an eye on it.", "zh": "有指标偏离平常范围：请留意观察。"},
    Level.ALERT: {"en": "Clear deviation: check how you feel; consider contacting a doctor if it persists or "
                        "comes with symptoms.",
                  "zh": "明显偏离：请关注自身感受；若持续或伴有症状，请考虑联系医生。"},
    Level.URGENT: {"en": "Far outside the clinical range: seek prompt medical advice, especially with symptoms.",
                   "zh": "远超临床范围：请尽快就医咨询，尤其是伴有症状时。"},
}


def _json_safe(value: Any) -> Any:
    """Plain JSON types, floats to 4 places; NaN / inf become None (strict JSON has no NaN)."""
    return json_safe(value, digits=4)


@dataclass
class Finding:
    """One piece of evidence: what was seen, how strong, and what to do about it.

    `code` names the finding inside its source (e.g. `hr_high_rest`, `hr_z_high`); `evidence`
    holds the values behind it (value, threshold, minutes, context) so that the reason can be
    checked by a person; `title` / `advice` are {"en": ..., "zh": ...}.
    """
    source: str
    code: str
    level: Level
    title: dict[str, str]
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: dict[str, str] = field(default_factory=dict)
    start: Any = None
    end: Any = None
    citation: str | None = None

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"unknown finding source {self.source!r}; expected one of {SOURCES}")
        self.level = Level.parse(self.level)

    def sort_key(self) -> tuple:
        return -int(self.level), SOURCES.index(self.source), self.code

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(source=d["source"], code=d["code"], level=d["level"], title=dict(d.get("title", {})),
                   evidence=dict(d.get("evidence", {})), advice=dict(d.get("advice", {})), start=d.get("start"),
                   end=d.get("end"), citation=d.get("citation"))

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "code": self.code, "level": self.level.label, "title": dict(self.title),
               "evidence": _json_safe(self.evidence)}
        if self.advice:
            out["advice"] = dict(self.advice)
        if self.start is not None:
            out["start"] = _json_safe(self.start)
        if self.end is not None:
            out["end"] = _json_safe(self.end)
        if self.citation:
            out["citation"] = self.citation
        return out


@dataclass
class Verdict:
    """One level and its reasons (strongest first). `is_anomaly` is the seed's boolean: alert or urgent."""
    level: Level
    reasons: list[Finding]

    @property
    def is_anomaly(self) -> bool:
        return self.level >= Level.ALERT

    def reason_codes(self) -> list[str]:
        return [f"{f.source}:{f.code}" for f in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.label, "is_anomaly": self.is_anomaly,
                "reasons": [f.to_dict() for f in self.reasons],
                "advice": dict(LEVEL_TEXT[self.level])}


def decide(findings: Iterable[Finding]) -> Verdict:
    """The verdict of a set of findings: the highest level among them, reasons ordered by level, then
    by source (red flags before baseline deviations before pattern, rules and the model)."""
    reasons = sorted(findings, key=Finding.sort_key)
    level = reasons[0].level if reasons else Level.NORMAL
    return Verdict(level=level, reasons=[f for f in reasons if f.level > Level.NORMAL])
