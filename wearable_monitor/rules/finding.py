"""The rule finding (architecture.md section 5) and the per-user evaluation context."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..jsonio import json_safe
from .config import AWAITING, DATA_PROBLEM, FINDING, INSUFFICIENT, SEVERITIES, STATUSES, RulesConfig  # noqa: F401 - re-exported
from .logs import UserProfile
from .notifications import finding_texts


def evidence_json(evidence: Any) -> Any:
    """A finding's value and evidence as stored and shown: floats to 4 places, days as dates."""
    return json_safe(evidence, digits=4, dates=True)


@dataclass
class Finding:
    user_id: str
    rule: str
    metric: str
    status: str
    severity: str | None
    value: float | None
    start: pd.Timestamp
    end: pd.Timestamp
    evidence: dict[str, Any] = field(default_factory=dict)
    label_kinds: list[str] = field(default_factory=list)  # simulator event kinds this finding stands for
    id: int | None = None        # row id in the FindingStore once stored
    action: str | None = None    # what storing did: new / escalated / updated / unchanged / cooldown

    @property
    def severity_rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity else -1

    def key(self) -> tuple[str, str, str]:
        return self.user_id, self.rule, self.metric

    def to_dict(self, texts: bool = True) -> dict[str, Any]:
        out = {"user_id": self.user_id, "rule": self.rule, "metric": self.metric, "severity": self.severity,
               "status": self.status, "value": evidence_json(self.value), "evidence": evidence_json(self.evidence),
               "period": {"start": self.start.date().isoformat(), "end": self.end.date().isoformat()}}
        if self.id is not None:
            out.update(id=self.id, action=self.action)
        if texts:
            out.update(finding_texts(self))
        return out


def danger_mask(cfg: RulesConfig, metric: str, x: np.ndarray, side: str | None = None) -> np.ndarray:
    """Readings in the clinically dangerous range of `metric` (config `safety.dangerous`): at or
    above `high`, at or below `low`; `side` "high" / "low" looks at one side only."""
    x = np.asarray(x, dtype=np.float64)
    hit = np.zeros(x.shape, dtype=bool)
    d = cfg.safety.dangerous.get(metric)
    if d is not None:
        if d.high is not None and side in (None, "high"):
            hit |= np.isfinite(x) & (x >= d.high)
        if d.low is not None and side in (None, "low"):
            hit |= np.isfinite(x) & (x <= d.low)
    return hit


@dataclass
class Context:
    """Everything a rule function sees for one user: the cleaned contiguous daily frame
    (NaN = not logged or excluded as a data problem), the user's effective config, and the
    sensitivity per rule (1.0 = as configured; lower = less sensitive, set by feedback)."""
    user_id: str
    days: pd.DataFrame
    cfg: RulesConfig
    profile: UserProfile | None = None
    age: float | None = None
    sensitivity: dict[str, float] = field(default_factory=dict)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return self.days.index

    @property
    def last(self) -> int:
        return len(self.days) - 1

    def sens(self, rule: str) -> float:
        return self.sensitivity.get(rule, 1.0)

    def danger_rank(self, metric: str, x: np.ndarray, side: str | None = None) -> np.ndarray:
        """Per reading: the severity index the safety block gives it (-1: not in a dangerous range).
        Not personalisable: the safety block is the same for every user."""
        hit = danger_mask(self.cfg, metric, x, side)
        out = np.full(hit.shape, -1, dtype=np.int64)
        if hit.any():
            out[hit] = SEVERITIES.index(self.cfg.safety.dangerous[metric].severity)
        return out

    def history_need(self, metric: str) -> int:
        return self.cfg.missing_data.min_history.get(metric, 1)

    def history_count(self, metric: str | tuple[str, ...]) -> np.ndarray:
        """Readings logged so far, up to and including each day (all metrics present for a tuple)."""
        cols = (metric,) if isinstance(metric, str) else metric
        ok = np.ones(len(self.days), dtype=bool)
        for c in cols:
            ok &= self.days[c].notna().to_numpy()
        return np.cumsum(ok)

    def finding(self, rule: str, metric: str, severity: str | None, start: int, end: int, value: Any,
                evidence: dict, status: str = FINDING) -> Finding:
        kinds = self.cfg.rule(rule).label_kinds
        kinds = kinds.get(metric, []) if isinstance(kinds, dict) else kinds
        return Finding(self.user_id, rule, metric, status, severity, value,
                       self._date(start), self._date(end), evidence, list(kinds))

    def insufficient(self, rule: str, metric: str, have: int, need: int, window_days: int, what: str) -> Finding:
        evidence = {"have": have, "need": need, "window_days": window_days, "requirement": what}
        return self.finding(rule, metric, None, max(0, self.last - window_days + 1), self.last, None,
                            evidence, status=INSUFFICIENT)

    def _date(self, i: int) -> pd.Timestamp:
        # a confirmation deadline may fall after the last logged day
        i = int(i)
        if i <= self.last:
            return self.dates[i]
        return self.dates[-1] + pd.Timedelta(days=i - self.last)
