"""A/B comparison and evaluation of rule configurations on one simulated population.

    wearable-monitor rules-eval --users 100 --days 60 --seed 0          # per-rule table (docs/rules.md)
    wearable-monitor rules-ab --config-a A.json --config-b B.json --set-b rules.sudden_change.confirm.enabled=false

Both configurations see exactly the same people, logs and labelled daily events
(`wearable_monitor.simulation.simulator.simulate_population`), so differences are the rules'.
"""
from __future__ import annotations

import json

import pandas as pd

from ..simulation.simulator import simulate_population
from .config import deep_merge, read_rules_dict
from .engine import RuleEngine
from .feedback import evaluate, rule_kinds, totals
from .finding import Finding


def parse_set(items: list[str] | None) -> dict:
    """['rules.sleep_duration.days=4', ...] -> nested dict (values parsed as JSON when possible)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def config_dict(path: str | None, sets: list[str] | None) -> dict:
    base = read_rules_dict(path) if path else read_rules_dict()
    return deep_merge(base, parse_set(sets))


def simulate(users: int, days: int, seed: int):
    return simulate_population(users, days, seed)


def run_config(cfg: dict, pop) -> tuple[RuleEngine, list[Finding]]:
    profiles = {r["user_id"]: r for r in pop.users.to_dict("records")}
    engine = RuleEngine(cfg, profiles=profiles)
    return engine, engine.run(pop.daily, store=False)


def compare(cfg_a: dict, cfg_b: dict, pop, user_days: int) -> pd.DataFrame:
    """Side by side: per rule precision, recall and false alarms per 100 user-days, plus totals."""
    rows = []
    for name, cfg in (("A", cfg_a), ("B", cfg_b)):
        engine, found = run_config(cfg, pop)
        tab = evaluate(found, pop.labels, user_days, rule_kinds(engine.config), engine.config.feedback.match_tolerance_days)
        tab["config"] = name
        tot = totals(tab, user_days)
        rows.append(tab)
        rows.append(pd.DataFrame([{"rule": "ALL", "config": name, "findings": tot["findings"],
                                   "precision": tot["precision"], "recall": tot["recall"],
                                   "false_per_100_user_days": tot["false_per_100_user_days"]}]))
    t = pd.concat(rows, ignore_index=True)
    wide = t.pivot_table(index="rule", columns="config", values=["precision", "recall", "false_per_100_user_days"],
                         aggfunc="first", dropna=False)
    wide.columns = [f"{m}_{c}" for m, c in wide.columns]
    order = [r for r in dict.fromkeys(t["rule"])]
    return wide.reindex(order)[[f"{m}_{c}" for m in ("precision", "recall", "false_per_100_user_days") for c in "AB"]]


def _fmt(x) -> str:
    return "-" if pd.isna(x) else f"{x:.2f}"


def markdown(df: pd.DataFrame, index_name: str = "rule") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join([index_name, *cols]) + " |", "|" + "---|" * (len(cols) + 1)]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx), *[_fmt(v) if isinstance(v, float) else str(v) for v in row]]) + " |")
    return "\n".join(lines)
