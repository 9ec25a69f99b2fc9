"""`wearable-monitor rules`, `rules-feedback`, `rules-ab` and `rules-eval`: the rule engine on daily logs."""
from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd

from ..config import ConfigError
from ..rules.ab import compare, config_dict, markdown, run_config, simulate
from ..rules.config import load_rules_config, parse_rules_config
from ..rules.engine import RuleEngine
from ..rules.feedback import (
    adjust_sensitivity,
    evaluate,
    recall_by_kind,
    rule_kinds,
    totals,
)
from ..rules.logs import InputError, read_daily_logs, read_profiles
from ..rules.notifications import to_notification
from ..rules.scheduler import watch
from ..rules.store import FindingStore


def configure_rules(p: argparse.ArgumentParser):
    p.add_argument("input", nargs="?", help="daily logs, one JSON object per user and day (JSONL)")
    p.add_argument("--config", default=None, help="rules config JSON (default configs/rules_config.json)")
    p.add_argument("--profiles", default=None, help="users.jsonl: user_id, age_group, sex, height_cm, conditions, "
                                                   "medications, customThresholds")
    p.add_argument("--db", default=None, help="SQLite file for findings/feedback (default: in memory)")
    p.add_argument("--status", action="append", choices=["finding", "insufficient_data", "awaiting_confirmation",
                                                          "data_problem"], help="only print these statuses")
    p.add_argument("--notifications", choices=["en", "zh", "both"], default=None,
                   help="print notifications (title, description, severity, ...) for new findings instead")
    p.add_argument("--thresholds", metavar="USER_ID", default=None, help="print the user's effective thresholds")
    p.add_argument("--watch", metavar="DIR", default=None,
                   help="keep running: rules on every new/changed DIR/*.jsonl (data entry) and the periodic job; "
                        "notifications printed as JSON lines (use with --db)")
    p.add_argument("--interval-hours", type=float, default=6.0, help="periodic job interval for --watch (document: 6)")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="how often --watch looks at DIR")
    p.add_argument("--max-cycles", type=int, default=None, help=argparse.SUPPRESS)  # tests: stop after n polls
    p.add_argument("--scheduled", action="store_true",
                   help="run the periodic job once over the logs stored in --db (for cron: 0 */6 * * *)")

    def handler(args) -> int:
        if not (args.input or args.watch or args.scheduled or args.thresholds):
            print("error: give daily logs (INPUT), --watch DIR or --scheduled", file=sys.stderr)
            return 2
        if (args.watch or args.scheduled) and not args.db:
            print("error: --watch / --scheduled need --db (findings and logs must outlive the run)", file=sys.stderr)
            return 2
        try:
            logs = read_daily_logs(args.input) if args.input else []
            profiles = read_profiles(args.profiles) if args.profiles else {}
            lang = args.notifications or "en"
            notifier = (lambda n: print(json.dumps(n, ensure_ascii=False), flush=True)) \
                if (args.watch or args.scheduled) else None
            engine = RuleEngine(args.config, store=args.db, profiles=profiles, notifier=notifier, lang=lang)
            if args.thresholds:
                print(json.dumps(engine.effective_thresholds(args.thresholds), ensure_ascii=False, indent=1))
                return 0
            if args.watch:
                if logs:
                    engine.load(logs)
                return watch(engine, args.watch, args.interval_hours, args.poll_seconds, args.max_cycles)
            if args.scheduled:
                if logs:
                    engine.load(logs)
                engine.run_scheduled()
                return 0
            found = engine.run(logs)
        except (InputError, ConfigError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for uid in sorted({f.user_id for f in found if f.rule == "profile"}):
            print(f"warning: user {uid}: {engine.profile_error(uid)} (analysed without customThresholds)",
                  file=sys.stderr)
        for f in found:
            if args.notifications:
                if f.status == "finding" and f.action in ("new", "escalated"):
                    print(json.dumps(to_notification(f, engine.config, args.notifications), ensure_ascii=False))
            elif not args.status or f.status in args.status:
                print(json.dumps(f.to_dict(), ensure_ascii=False))
        return 0

    return handler


def configure_rules_feedback(p: argparse.ArgumentParser):
    p.add_argument("finding_id", nargs="?", type=int, help="id of a stored finding (the `id` of `rules --db` output)")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--confirmed", action="store_true", help="the finding was a real anomaly")
    verdict.add_argument("--false-alarm", action="store_true", help="the finding was a false alarm")
    verdict.add_argument("--missed", action="store_true", help="an anomaly no finding reported (needs --user, "
                                                               "--rule, --start)")
    p.add_argument("--db", required=True, help="the SQLite findings file the rules command wrote")
    p.add_argument("--source", choices=["user", "clinician"], default="user")
    p.add_argument("--note", default=None)
    p.add_argument("--user", default=None, help="--missed: user id")
    p.add_argument("--rule", default=None, help="--missed: the rule that should have fired")
    p.add_argument("--start", default=None, help="--missed: first day (YYYY-MM-DD)")
    p.add_argument("--end", default=None, help="--missed: last day (default: --start)")
    p.add_argument("--config", default=None, help="rules config JSON (feedback settings for the adjustment)")

    def handler(args) -> int:
        try:
            cfg = load_rules_config(args.config)
            store = FindingStore(args.db)
            if args.missed:
                if not (args.user and args.rule and args.start):
                    print("error: --missed needs --user, --rule and --start", file=sys.stderr)
                    return 2
                if args.rule not in cfg.rule_names:
                    print(f"error: unknown rule {args.rule!r}; rules: {cfg.rule_names}", file=sys.stderr)
                    return 2
                start = pd.Timestamp(args.start)
                store.add_missed_event(args.user, args.rule, start, pd.Timestamp(args.end or args.start),
                                       args.source, args.note)
                rule = args.rule
            else:
                if args.finding_id is None:
                    print("error: give the FINDING_ID to confirm or mark as a false alarm", file=sys.stderr)
                    return 2
                store.add_feedback(args.finding_id, "confirmed" if args.confirmed else "false_alarm", args.source,
                                   args.note)
                rule = store.conn.execute("SELECT rule FROM findings WHERE id=?", (args.finding_id,)).fetchone()[0]
            adjusted = adjust_sensitivity(store, cfg.feedback)
        except KeyError as err:
            print(f"error: {err.args[0]}", file=sys.stderr)
            return 2
        except (ConfigError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        stats = store.rule_stats().set_index("rule")
        row = stats.loc[rule].to_dict() if rule in stats.index else {}
        print(json.dumps({"rule": rule, **{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()},
                          "sensitivity": store.sensitivities().get(rule, 1.0),
                          "adjusted": [a.__dict__ for a in adjusted]}, ensure_ascii=False))
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


def configure_rules_eval(p: argparse.ArgumentParser):
    """Was `python -m wearable_monitor.rules.ab`: the per-rule table of docs/rules.md."""
    p.add_argument("--config", default=None)
    p.add_argument("--set", action="append", help="override a config key, e.g. rules.sleep_duration.days=4")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    return _rules_eval


def _rules_eval(args: argparse.Namespace) -> int:
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

