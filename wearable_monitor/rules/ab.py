"""A/B comparison and evaluation of rule configurations on one simulated population.

    python -m wearable_monitor.rules.ab --users 100 --days 60 --seed 0          # per-rule table (docs/rules.md)
    wearable-monitor rules-ab --config-a A.json --config-b B.json --set-b rules.sudden_change.confirm.enabled=false

Both configurations see exactly the same people, logs and labelled daily events
(`wearable_monitor.simulator.simulate_population`), so differences are the rules'.
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from .config import deep_merge, read_rules_dict
from .engine import RuleEngine
from .feedback import evaluate, recall_by_kind, rule_kinds, totals
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
    from ..simulator import simulate_population  # imported late: the simulator is a separate module

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Evaluate the rule engine on a simulated population (per-rule table).")
    p.add_argument("--config", default=None)
    p.add_argument("--set", action="append", help="override a config key, e.g. rules.sleep_duration.days=4")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    pop = simulate(args.users, args.days, args.seed)
    t1 = time.perf_counter()
    engine, found = run_config(config_dict(args.config, args.set), pop)
    t2 = time.perf_counter()
    ud = args.users * args.days
    tab = evaluate(found, pop.labels, ud, rule_kinds(engine.config), engine.config.feedback.match_tolerance_days)
    cols = ["kinds", "findings", "true", "false", "unlabelled", "events", "detected", "precision", "recall",
            "false_per_100_user_days"]
    print(markdown(tab.set_index("rule")[cols]))
    print()
    print(markdown(recall_by_kind(found, pop.labels, engine.config.feedback.match_tolerance_days).set_index("kind"),
                   "kind"))
    print()
    held = pd.Series([f"{f.rule}:{f.status}" for f in found if f.status != "finding"]).value_counts()
    print("statuses other than finding:", held.to_dict())
    print("totals:", {k: round(v, 3) for k, v in totals(tab, ud).items()})
    print(f"simulate {t1 - t0:.1f} s, rules {t2 - t1:.1f} s for {args.users} users x {args.days} days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
