"""Hand-made daily series for the rule tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wearable_monitor.rules import RuleEngine
from wearable_monitor.rules.config import DAILY_NUMERIC, deep_merge, read_rules_dict
from wearable_monitor.rules.logs import normalise_frame

START = pd.Timestamp("2024-01-01")


def frame(n: int, user: str = "u1", **cols) -> pd.DataFrame:
    """n days of one user; each keyword is a scalar or a length-n sequence; other fields not logged."""
    data = {"user_id": user, "date": pd.date_range(START, periods=n, freq="D")}
    for c in (*DAILY_NUMERIC, "bedtime"):
        v = cols.get(c)
        data[c] = [None] * n if v is None else (list(v) if not np.isscalar(v) else [v] * n)
        assert len(data[c]) == n, c
    return normalise_frame(pd.DataFrame(data))


def engine(overrides: dict | None = None, **kw) -> RuleEngine:
    cfg = read_rules_dict()
    return RuleEngine(deep_merge(cfg, overrides) if overrides else cfg, **kw)


def evaluate(df: pd.DataFrame, rule: str, eng: RuleEngine | None = None, status: str = "finding"):
    eng = eng or engine()
    eng.load(df)
    from wearable_monitor.rules.logs import user_days

    uid = df["user_id"].iloc[0]
    out = eng.evaluate(user_days(eng.history, uid), uid, rules=[rule])
    return [f for f in out if f.rule in (rule, "data_quality") and (status is None or f.status == status)]


def severities(df, rule, eng=None) -> list[str]:
    return [f.severity for f in evaluate(df, rule, eng)]


def top(df, rule, eng=None) -> str | None:
    """Worst severity the rule reports on the series (None = silent)."""
    found = evaluate(df, rule, eng)
    if not found:
        return None
    order = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    return max((f.severity for f in found), key=order.index)
