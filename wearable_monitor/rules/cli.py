"""`wearable-monitor rules` and `wearable-monitor rules-ab` (see wearable_monitor/cli.py COMMANDS)."""
from __future__ import annotations

import argparse
import json
import sys

from ..config import ConfigError
from .logs import InputError


def configure_rules(p: argparse.ArgumentParser):
    p.add_argument("input", help="daily logs, one JSON object per user and day (JSONL)")
    p.add_argument("--config", default=None, help="rules config JSON (default configs/rules_config.json)")
    p.add_argument("--profiles", default=None, help="users.jsonl: user_id, age_group, sex, height_cm, conditions, "
                                                   "medications, customThresholds")
    p.add_argument("--db", default=None, help="SQLite file for findings/feedback (default: in memory)")
    p.add_argument("--status", action="append", choices=["finding", "insufficient_data", "awaiting_confirmation",
                                                          "data_problem"], help="only print these statuses")
    p.add_argument("--notifications", choices=["en", "zh", "both"], default=None,
                   help="print notifications (title, description, severity, ...) for new findings instead")
    p.add_argument("--thresholds", metavar="USER_ID", default=None, help="print the user's effective thresholds")

    def handler(args) -> int:
        from .engine import RuleEngine
        from .logs import read_daily_logs, read_profiles
        from .notifications import to_notification

        try:
            logs = read_daily_logs(args.input)
            profiles = read_profiles(args.profiles) if args.profiles else {}
            engine = RuleEngine(args.config, store=args.db, profiles=profiles)
            if args.thresholds:
                print(json.dumps(engine.effective_thresholds(args.thresholds), ensure_ascii=False, indent=1))
                return 0
            found = engine.run(logs)
        except (InputError, ConfigError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for f in found:
            if args.notifications:
                if f.status == "finding" and f.action in ("new", "escalated"):
                    print(json.dumps(to_notification(f, engine.config, args.notifications), ensure_ascii=False))
            elif not args.status or f.status in args.status:
                print(json.dumps(f.to_dict(), ensure_ascii=False))
        return 0

    return handler


def configure_rules_ab(p: argparse.ArgumentParser):
    p.add_argument("--config-a", default=None, help="configuration A (default configs/rules_config.json)")
    p.add_argument("--config-b", default=None, help="configuration B (default configs/rules_config.json)")
    p.add_argument("--set-a", action="append", help="override a key of A, e.g. rules.sleep_duration.days=4")
    p.add_argument("--set-b", action="append", help="override a key of B")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")

    def handler(args) -> int:
        from .ab import compare, config_dict, markdown, simulate
        from .config import parse_rules_config

        try:
            a, b = config_dict(args.config_a, args.set_a), config_dict(args.config_b, args.set_b)
            parse_rules_config(a, "config A")
            parse_rules_config(b, "config B")
        except (ConfigError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        pop = simulate(args.users, args.days, args.seed)
        table = compare(a, b, pop, args.users * args.days)
        if args.json:
            print(table.reset_index().to_json(orient="records"))
        else:
            print(f"# {args.users} users x {args.days} days, seed {args.seed}; A={args.config_a or 'default'} "
                  f"{args.set_a or ''}, B={args.config_b or 'default'} {args.set_b or ''}")
            print(markdown(table))
        return 0

    return handler
