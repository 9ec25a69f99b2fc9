"""Where the personal-baseline deviation settings (deviations.DeviationConfig) come from (rerun to check).

    python scripts/tune_verdict.py [--users 40] [--days 30] [--seed 1001]

A simulated population of our own simulator used for nothing else (seed 1001, as scripts/tune_day_rules.py:
not the training, validation or test users of the checkpoint, nor the held-out users of
`wearable-monitor evaluate`, and never the second simulator). For a few settings of the alert bar of the
baseline deviations (z and minutes held at rest) it prints the verdict's event recall per kind, episode
precision, event F1, false episodes per user-day and false alert days per 30 user-days. The red flags'
thresholds are not tuned here: they come from configs/red_flags.json's sources.
About 4 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wearable_monitor.simulation.datasets import split_population  # noqa: E402
from wearable_monitor.detector import WearableAnomalyDetector  # noqa: E402
from wearable_monitor.verdict.deviations import DeviationConfig  # noqa: E402
from wearable_monitor.evaluation.verdict import population_report  # noqa: E402
from wearable_monitor.verdict.verdict import VerdictConfig  # noqa: E402

GRID = [(4.0, 15.0), (4.0, 20.0), (4.5, 20.0), (5.0, 15.0), (5.0, 20.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1001)
    args = ap.parse_args()
    split = split_population(0, 0, args.users, args.days, args.seed, None)["test"]
    shipped = DeviationConfig()
    print(f"population: {args.users} users x {args.days} days, seed {args.seed}; shipped z_alert "
          f"{shipped.z_alert}, min_minutes_alert {shipped.min_minutes_alert}")
    for z, minutes in GRID:
        cfg = VerdictConfig(deviations=DeviationConfig(z_alert=z, min_minutes_alert=minutes))
        rep = population_report(WearableAnomalyDetector(verdict_config=cfg), split.frame, split.events)
        m, d = rep["windows"]["verdict"], rep["days"]["verdict"]
        kinds = ", ".join(f"{k} {v['recall']:.2f}" for k, v in m["per_kind"].items())
        print(f"z >= {z} for {minutes:g} min: event recall {m['event_recall']:.3f} ({kinds}), precision "
              f"{m['event_precision']:.3f}, F1 {m['event_f1']:.3f}, false episodes/user-day "
              f"{m['false_alarms_per_user_day']:.3f}; illnesses {d['caught']}/{d['illnesses']}, false alert days/30 "
              f"{d['false_alert_days_per_30']}", flush=True)


if __name__ == "__main__":
    main()
