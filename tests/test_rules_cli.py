"""`wearable-monitor rules` / `rules-ab` end to end, and the engine on the simulator's daily logs."""
from __future__ import annotations

import json

import pandas as pd

from wearable_monitor.cli import main


def _write_logs(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_rules_command_prints_findings_as_json_lines(tmp_path, capsys):
    rows = [{"user_id": "u1", "date": f"2024-01-{d:02d}", "protein_g": 90 if d < 6 else 30, "protein_target_g": 100}
            for d in range(1, 9)]
    logs = tmp_path / "daily.jsonl"
    _write_logs(logs, rows)
    prof = tmp_path / "users.jsonl"
    prof.write_text(json.dumps({"user_id": "u1", "age_group": "40-49", "sex": "female", "height_cm": 165,
                                "conditions": [], "medications": [], "resting_hr": 61}) + "\n")
    assert main(["rules", str(logs), "--profiles", str(prof), "--status", "finding"]) == 0
    out = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [(o["rule"], o["severity"], o["period"]) for o in out] == \
        [("protein_low", "HIGH", {"start": "2024-01-06", "end": "2024-01-08"})]
    assert set(out[0]["title"]) == {"en", "zh"}
    assert main(["rules", str(logs), "--notifications", "zh"]) == 0
    note = json.loads(capsys.readouterr().out.splitlines()[0])
    assert note["actionRequired"] is True and "蛋白质" in note["title"]
    assert main(["rules", str(logs), "--thresholds", "u1"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"]["protein_low"]["ratio"] == 0.5


def test_rules_command_reports_bad_lines_and_bad_config(tmp_path, capsys):
    logs = tmp_path / "daily.jsonl"
    _write_logs(logs, [{"user_id": "u1", "date": "2024-01-01"}, {"user_id": "u1", "date": "2024-13-01"}])
    assert main(["rules", str(logs)]) == 2
    assert "daily.jsonl:2: date:" in capsys.readouterr().err
    _write_logs(logs, [{"user_id": "u1", "date": "2024-01-01"}])
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"version": 1, "rules": {}}))
    assert main(["rules", str(logs), "--config", str(cfg)]) == 2
    assert "key 'rules.sudden_change': Field required" in capsys.readouterr().err


def test_engine_finds_simulated_daily_events_and_ab_runs(capsys):
    from wearable_monitor.rules import RuleEngine
    from wearable_monitor.rules.feedback import recall_by_kind
    from wearable_monitor.simulation.simulator import simulate_population

    pop = simulate_population(6, 40, seed=5)
    eng = RuleEngine(profiles={r["user_id"]: r for r in pop.users.to_dict("records")})
    found = eng.run(pop.daily, store=False)
    rec = recall_by_kind(found, pop.labels, eng.config.feedback.match_tolerance_days)
    streaky = rec[rec["kind"].isin(["protein_low", "calories_high", "sleep_short", "sleep_long", "bedtime_irregular",
                                    "exercise_surge", "macro_imbalance"])]
    assert streaky["events"].sum() > 0 and streaky["detected"].sum() / streaky["events"].sum() >= 0.8
    assert main(["rules-ab", "--users", "3", "--days", "30", "--seed", "1", "--set-b",
                 "rules.sudden_change.confirm.enabled=false", "--json"]) == 0
    table = pd.DataFrame(json.loads(capsys.readouterr().out))
    assert {"precision_A", "precision_B", "recall_A", "recall_B", "false_per_100_user_days_A"} <= set(table.columns)
    assert "ALL" in set(table["rule"])
