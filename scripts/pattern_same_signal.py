"""Where the multi-day pattern's "same evidence two days running" rule comes from (rerun to check it).

    python scripts/pattern_same_signal.py [--own-users 40] [--own-days 60] [--heldout-users 40]

Two populations used for nothing that is reported: our simulator's seed 1001 (the day-rule tuning
population of scripts/tune_day_rules.py) and the second simulator's development seed 17 (never the
reported seed 0). Each is replayed once; the day table's runs are then counted two ways:

- any evidence: every anomalous day continues the run (resting HR up one night, HRV down the next
  made "two days running");
- same evidence (shipped, patterns.with_runs): the model's day score or one vital, day after day, as
  NightSignal asks resting HR two nights running.

Prints illnesses caught (an alert day within the illness or the day after), the median days from
illness start to the first alert, and false alert days per 30 user-days far from any event.
About 3 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wearable_monitor import WearableAnomalyDetector  # noqa: E402
from wearable_monitor.data.records import TIME, USER  # noqa: E402
from wearable_monitor.evaluation.measures import day_level_report  # noqa: E402
from wearable_monitor.events import WEARABLE_KINDS  # noqa: E402
from wearable_monitor.simulation.datasets import split_population  # noqa: E402
from wearable_monitor.simulation.heldout_sim import simulate_heldout  # noqa: E402
from wearable_monitor.verdict.patterns import PatternConfig, with_runs  # noqa: E402


def compare(name: str, det: WearableAnomalyDetector, frame, events) -> None:
    _, days = det.score_history_and_days(frame, update_baseline=False)
    legacy = with_runs(days.drop(columns=["vitals_deviant_signals", "pattern_days", "alert"]), det.pattern_config)
    for rule, table in (("any evidence", legacy), ("same evidence (shipped)", days)):
        r = day_level_report(table, events)
        print(f"{name:42s} {rule:24s} caught {r['caught']:2d} / {r['illnesses']:2d}  "
              f"median days to first alert {r['median_days_to_first_alert']}  "
              f"false alert days / 30: {r['false_alert_days_per_30']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--own-users", type=int, default=40)
    ap.add_argument("--own-days", type=int, default=60)
    ap.add_argument("--heldout-users", type=int, default=40)
    args = ap.parse_args()
    # measured when the model's day score still counted as multi-day evidence: kept so, to rerun as measured
    det = WearableAnomalyDetector(pattern_config=PatternConfig(model_days_alert=True))
    own = split_population(0, 0, args.own_users, args.own_days, 1001, {"illness_dhr": [3.0, 15.0]})["test"]
    compare(f"our simulator, seed 1001 ({args.own_users} x {args.own_days} d)", det, own.frame, own.events)
    pop = simulate_heldout(n_users=args.heldout_users, days=30, seed=17)
    frame = pop.frame().sort_values([USER, TIME], kind="stable").reset_index(drop=True)
    compare(f"second simulator, dev seed 17 ({args.heldout_users} x 30 d)", det, frame,
            pop.labels[pop.labels["kind"].isin(WEARABLE_KINDS)])


if __name__ == "__main__":
    main()
