"""Daily-log rule engine: every rule of the anomaly-rules document, configurable and personalised.

    from wearable_monitor.rules import RuleEngine
    engine = RuleEngine()                       # configs/rules_config.json, in-memory store
    findings = engine.run(daily_frame)          # all users, whole history
    engine.on_data_entry("u1", {"date": "2024-03-01", "weight_kg": 74.2})

A screening aid, not a diagnosis. See docs/rules.md.
"""
from .config import RulesConfig, load_rules_config, parse_rules_config
from .engine import RuleEngine
from .finding import Finding
from .logs import DailyLog, InputError, UserProfile, read_daily_logs, read_profiles
from .store import FindingStore

__all__ = ["RuleEngine", "RulesConfig", "load_rules_config", "parse_rules_config", "Finding", "FindingStore",
           "DailyLog", "UserProfile", "InputError", "read_daily_logs", "read_profiles"]
