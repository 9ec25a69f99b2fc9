"""Rules configuration validation and daily-log validation: errors name the key / line and field."""
from __future__ import annotations

import json

import pytest

from wearable_monitor.config import ConfigError
from wearable_monitor.rules.config import deep_merge, load_rules_config, parse_rules_config, read_rules_dict
from wearable_monitor.rules.logs import DailyLog, InputError, parse_jsonl


def _bad(patch: dict) -> str:
    with pytest.raises(ConfigError) as err:
        parse_rules_config(deep_merge(read_rules_dict(), patch), "test")
    return str(err.value)


def test_default_config_is_valid_and_complete():
    cfg = load_rules_config()
    assert cfg.rules.sudden_change.sigma == {"MEDIUM": 3.0, "HIGH": 3.5, "CRITICAL": 4.0}
    assert cfg.rules.protein_low.ratio == 0.5 and cfg.rules.calories_high.ratio == 1.3


def test_missing_key_is_named():
    d = read_rules_dict()
    del d["rules"]["sleep_duration"]["days"]
    with pytest.raises(ConfigError, match=r"key 'rules\.sleep_duration\.days': Field required"):
        parse_rules_config(d, "test")


@pytest.mark.parametrize("patch,key", [
    ({"rules": {"sudden_change": {"sigma": {"MEDIUM": 3.0, "HIGH": 2.0}}}}, "rules.sudden_change"),
    ({"rules": {"protein_low": {"ratio": -1}}}, "rules.protein_low.ratio"),
    ({"rules": {"protein_low": {"severity": "SEVERE"}}}, "rules.protein_low.severity"),
    ({"rules": {"protein_low": {"treshold": 1}}}, "rules.protein_low.treshold"),
    ({"rules": {"sudden_change": {"metrics": ["weight_kg", "steps"]}}}, "rules.sudden_change"),
    ({"rules": {"sleep_duration": {"short_h": 4.0}}}, "rules.sleep_duration"),
    ({"data_quality": {"plausible": {"weight_kg": [300, 20]}}}, "data_quality"),
    ({"rules": {"macro_imbalance": {"recommended_energy_share": {"carbs": 0.6}}}}, "rules.macro_imbalance"),
    ({"feedback": {"min_precision": 1.5}}, "feedback.min_precision"),
])
def test_bad_values_name_the_key(patch, key):
    assert f"key '{key}" in _bad(patch)


def test_bad_file_names_the_file(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match=r"r\.json: invalid JSON at line 1"):
        load_rules_config(p)
    p.write_text(json.dumps({"version": 1}))
    with pytest.raises(ConfigError, match=r"r\.json: key 'rules': Field required"):
        load_rules_config(p)


def test_daily_log_errors_name_line_and_field():
    lines = [json.dumps({"user_id": "u1", "date": "2024-01-01", "weight_kg": 70.1}),
             json.dumps({"user_id": "u1", "date": "2024-01-02", "weight_kg": -3}),
             "{oops",
             json.dumps({"user_id": "u1", "date": "2024-01-04", "bedtime": "25:10"}),
             json.dumps({"user_id": "u1", "date": "2024-01-05", "wieght_kg": 70}),
             json.dumps({"user_id": "u1", "date": "2024-01-01", "sleep_hours": 7})]
    with pytest.raises(InputError) as err:
        parse_jsonl(lines, DailyLog, "logs.jsonl")
    msg = str(err.value)
    assert "logs.jsonl:2: weight_kg:" in msg
    assert "logs.jsonl:3: invalid JSON" in msg
    assert "logs.jsonl:4: bedtime:" in msg
    assert "logs.jsonl:5: wieght_kg:" in msg
    assert "logs.jsonl:6: date: duplicate log for user 'u1' on 2024-01-01 (first at line 1)" in msg
    ok = parse_jsonl(lines[:1], DailyLog)
    assert ok[0].weight_kg == 70.1 and ok[0].sleep_hours is None
