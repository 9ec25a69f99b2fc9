"""Where the day-verdict settings in patterns.PatternConfig come from (rerun to check them).

    python scripts/tune_day_rules.py [--users 80] [--days 60] [--seed 1001]

First, the model's day score as multi-day evidence or not (`model_days_alert`). A simulated population used for nothing else (seed 1001: not the training, validation or test
users of the checkpoint, nor the held-out users of `wearable-monitor evaluate`), scored once
with every channel, as heart-rate-and-steps-only devices (datasets.hide_channels, the Fitbit
export's channels), and as such devices that give no resting-HR estimate either. Then the day verdict is recomputed for a few settings of the model's
day bar, and each prints: illnesses caught (an alert day within the illness) and false alert
days per 30 user-days far from any event; then the shipped verdict's two halves alone.
Last, the extra rules of the nightly vitals (vitals.py), each off and on: the sustained fall
(shipped for HRV; also tried for resting HR), the day-time resting-HR stand-in for dates without
a night reading, the guard for the night after hard exercise, and the personal floor at a few budgets. Each on the same population, on a fourth copy of it that never wears the watch at
night (heart rate and steps, no records 00:00-07:00), on the seed's 7-day week over 60 simulated
people (HRV 10 % lower a day, and no decline: false alerts) and on the shared real Fitbit users
(first alert vs symptom onset, false alert days per 30 far from the illness).
About 6 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from wearable_monitor.simulation.datasets import FITBIT_MISSING, hide_channels, split_population  # noqa: E402
from wearable_monitor.detector import WearableAnomalyDetector  # noqa: E402
from wearable_monitor.evaluation.measures import (DEFAULT_FITBIT_DIR, day_level_report, day_variants,  # noqa: E402
                                                  declining_week, fitbit_user_report)
from wearable_monitor.data.readers import load_fitbit  # noqa: E402
from wearable_monitor.data.validation import Limits  # noqa: E402
from wearable_monitor.features.vitals import VitalsConfig  # noqa: E402

# (field, values): one setting varied at a time around the shipped PatternConfig
GRID = [("day_score_threshold", (0.5, 0.6, 0.7, 0.8)),
        ("limited_day_score_threshold", (0.6, 0.8, 0.9, 0.95, 0.98))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=80)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1001)
    args = ap.parse_args()

    split = split_population(0, 0, args.users, args.days, args.seed, {"illness_dhr": [3.0, 15.0]})["test"]
    det = WearableAnomalyDetector()
    shipped = det.pattern_config
    hr_steps = hide_channels(split.frame, split.users, FITBIT_MISSING)
    copies = {"all channels": split.frame, "heart rate + steps": hr_steps,
              # a device exporting raw heart rate with no resting-HR estimate (vitals.signal_values' fallback)
              "no resting HR": hr_steps.assign(hr_resting=float("nan")),
              # people who take the watch off at night (vitals.py's day-time resting-HR stand-in)
              "no nights": hr_steps[hr_steps["timestamp"].dt.hour >= 7].reset_index(drop=True)}
    scored = {name: det.score_history(frame, update_baseline=False)
              for name, frame in tqdm(copies.items(), desc="scoring", unit="copy")}
    print(f"{args.users} simulated users x {args.days} days (seed {args.seed}); "
          "caught/illnesses, false alert days per 30 user-days")
    for flag in (True, False):
        det.pattern_config = dataclasses.replace(shipped, model_days_alert=flag)
        cells = []
        for name, table in scored.items():
            r = day_level_report(det.daily(table), split.events)
            cells.append(f"{name}: {r['caught']}/{r['illnesses']}, {r['false_alert_days_per_30']:.3f}")
        mark = " (shipped)" if flag == shipped.model_days_alert else ""
        print(f"model_days_alert={flag}{mark}  " + "  |  ".join(cells), flush=True)
    # the model's day bars were chosen while two model days running made an alert: read them that way
    print("the model's day bars, with model days as multi-day evidence (model_days_alert=True):")
    for field, values in GRID:
        for value in values:
            det.pattern_config = dataclasses.replace(shipped, model_days_alert=True, **{field: value})
            cells = []
            for name, table in scored.items():
                r = day_level_report(det.daily(table), split.events)
                cells.append(f"{name}: {r['caught']}/{r['illnesses']}, {r['false_alert_days_per_30']:.3f}")
            mark = " (shipped)" if value == getattr(shipped, field) else ""
            print(f"{field}={value}{mark}  " + "  |  ".join(cells), flush=True)
    det.pattern_config = shipped
    print("shipped settings, each evidence source alone:")
    for name, table in scored.items():
        for variant, days in day_variants(det.daily(table), shipped).items():
            r = day_level_report(days, split.events)
            print(f"  {name}, {variant}: {r['caught']}/{r['illnesses']}, {r['false_alert_days_per_30']:.3f}")

    vitals_rule_comparison(det, scored, split.events)


def _variant(config: VitalsConfig, sustained: set[str], day_stand_in: bool, exercise_guard: bool = True) -> VitalsConfig:
    """The vitals config with the sustained-fall rule (3 nights) on exactly the named signals, with or
    without the day-time stand-ins, and with or without the guard for the night after hard exercise."""
    signals = {n: dataclasses.replace(s, sustained_nights=3 if n in sustained else 0) for n, s in config.signals.items()
               if day_stand_in or s.stands_in_for is None}
    return dataclasses.replace(config, signals=signals,
                               exercise_minutes=config.exercise_minutes if exercise_guard else 0.0)


def vitals_rule_comparison(det: WearableAnomalyDetector, scored: dict, events) -> None:
    weeks = {name: [det.score_history(declining_week(seed, drop, 0.0).assign(user_id=f"week-{seed}"),
                                      update_baseline=False) for seed in range(60)]
             for name, drop in (("HRV -10 %/day", 0.10), ("no decline", 0.0))}
    labels = pd.read_csv(DEFAULT_FITBIT_DIR / "labels.csv", parse_dates=["symptom_onset"]).dropna(subset=["symptom_onset"])
    fitbit = {}
    for row in tqdm(labels.itertuples(), total=len(labels), desc="real Fitbit users", unit="user"):
        frame = load_fitbit(DEFAULT_FITBIT_DIR / f"{row.user_id}_hr.csv.zip", DEFAULT_FITBIT_DIR / f"{row.user_id}_steps.csv.zip",
                            limits=Limits(max_bytes=2**30)).frame
        fitbit[row.user_id] = (WearableAnomalyDetector().score_history(frame), row.symptom_onset)
    shipped = det.vitals_config
    print("extra rules of the nightly vitals:")
    variants = [("neither", set(), False, True), ("sustained fall for HRV", {"hrv"}, False, True),
                ("sustained fall for HRV and resting HR", {"hrv", "resting_hr"}, False, True),
                ("day-time resting-HR stand-in", set(), True, True),
                ("both as shipped (sustained fall for HRV + day-time stand-in)", {"hrv"}, True, True),
                ("as shipped without the guard for the night after hard exercise", {"hrv"}, True, False)]
    for label, names, day_stand_in, guard in variants:
        det.vitals_config = _variant(shipped, names, day_stand_in, guard)
        print(f"  {label}: " + _vitals_cells(det, scored, events, weeks, fitbit), flush=True)
    det.vitals_config, pattern = shipped, det.pattern_config
    for flag in (True, False):
        det.pattern_config = dataclasses.replace(pattern, sustained_fall_alerts=flag)
        mark = " (shipped)" if flag == pattern.sustained_fall_alerts else ""
        print(f"  as shipped, a sustained fall {'alerting on its own day' if flag else 'alerting two days running'}{mark}: "
              + _vitals_cells(det, scored, events, weeks, fitbit), flush=True)
    det.pattern_config = pattern
    print("the personal floor (vitals.py): the expected false alert days per 30 a noise-only person may get "
          "from one vital's two nights running (None: the fixed floors alone):")
    for budget in (None, 1.0, shipped.noise_alert_days_per_30, 0.25):
        det.vitals_config = dataclasses.replace(shipped, noise_alert_days_per_30=budget)
        mark = " (shipped)" if budget == shipped.noise_alert_days_per_30 else ""
        k = det.vitals_config.spread_factor
        print(f"  budget {budget} (k = {k:.2f}){mark}: " + _vitals_cells(det, scored, events, weeks, fitbit), flush=True)
    det.vitals_config = shipped


def _vitals_cells(det: WearableAnomalyDetector, scored: dict, events, weeks: dict, fitbit: dict) -> str:
    """One line of the vitals comparison: each copy's caught illnesses and false alert days, the
    7-day weeks alerted, each real user's first alert and far false alert days."""
    cells = []
    for name, table in scored.items():
        r = day_level_report(det.daily(table), events)
        cells.append(f"{name}: {r['caught']}/{r['illnesses']}, {r['false_alert_days_per_30']:.3f}")
    for name, tables in weeks.items():
        cells.append(f"week {name}: {sum(bool(det.daily(t)['alert'].any()) for t in tables)}/{len(tables)}")
    for user, (table, onset) in fitbit.items():
        r = fitbit_user_report(det.daily(table), onset)
        cells.append(f"{user}: first {r['first_alert_relative_to_onset']}, far {r['false_alert_days_per_30_far']}")
    return "  |  ".join(cells)


if __name__ == "__main__":
    main()
