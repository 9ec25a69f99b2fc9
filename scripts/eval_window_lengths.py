#!/usr/bin/env python
"""Window PR-AUC and event metrics of the shipped checkpoint per window length (6, 12, 24 ...).

    python scripts/eval_window_lengths.py                      # the checkpoint's held-out test users
    python scripts/eval_window_lengths.py --users 20 --days 14 --seed 2024   # a fresh, smaller population
    python scripts/eval_window_lengths.py --lengths 6 9 12 18 24 --json out.json

Rerun after a retrain on mixed lengths: it reads whatever checkpoint `--model-dir` holds. For each
length T the same users are cut into every T-record window (stride 1, no look-ahead baselines);
a window is positive when an event is inside it or starts within the next 30 minutes (the seed's
label, as in training). Reported per length: window PR-AUC, precision / recall / F1 at the
checkpoint's threshold, the best window-F1 threshold, and the event-level metrics of alarm episodes
(recall, episode precision, event F1, false alarms per user-day) at the checkpoint's threshold and
at the event-F1-best threshold for that length (an optimistic figure: chosen on the same users).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wearable_monitor.simulation.datasets import labelled_windows, split_population, with_baselines  # noqa: E402
from wearable_monitor.detector import WearableAnomalyDetector  # noqa: E402
from wearable_monitor.events import window_and_event_metrics  # noqa: E402
from wearable_monitor.events import calibrate_event_threshold  # noqa: E402
from wearable_monitor.events import wearable_events  # noqa: E402
from wearable_monitor.features import FeatureCalculator  # noqa: E402
from wearable_monitor.detectors.learned.training import TrainConfig  # noqa: E402

KEYS = ("windows", "positive_windows", "window_pr_auc", "window_precision", "window_recall", "window_f1",
        "event_recall", "event_precision", "event_f1", "false_alarms_per_user_day")


def population(args):
    """(frame, events, user_days, description) of the users to evaluate on."""
    if args.users:
        from wearable_monitor.simulation.simulator import simulate_population

        pop = simulate_population(n_users=args.users, days=args.days, seed=args.seed)
        frame, events = pop.frame, wearable_events(pop.labels)
        user_days = float(frame.groupby("user_id")["timestamp"].agg(lambda s: s.dt.normalize().nunique()).sum())
        return frame, events, user_days, f"{args.users} simulated users x {args.days} days (seed {args.seed})"
    cfg = TrainConfig.from_json(args.train_config)
    test = split_population(cfg.train_users, cfg.val_users, cfg.test_users, cfg.days, cfg.seed, cfg.sim)["test"]
    return (test.frame, test.events, test.user_days,
            f"the checkpoint's held-out test users ({len(test.users)} x {cfg.days} days, {args.train_config})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=None, help="checkpoint (default: the shipped one)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[6, 12, 24])
    parser.add_argument("--train-config", default="configs/train_default.json",
                        help="its seed and split give the held-out test users")
    parser.add_argument("--users", type=int, default=0, help="evaluate on a fresh simulated population instead")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    t0 = time.time()
    det = WearableAnomalyDetector(args.model_dir)
    frame, events, user_days, where = population(args)
    frame = with_baselines(frame, det.config)
    out = {"model_dir": str(det.model_dir), "threshold": det.threshold, "population": where,
           "user_days": user_days, "lengths": {}}
    print(f"{det.model_dir} (threshold {det.threshold:g}) on {where}")
    header = f"{'T':>3} " + " ".join(f"{k:>14}" for k in KEYS)
    print(header)
    for T in args.lengths:
        calc = FeatureCalculator(det.config, window_size=T)
        windows, y, _ = labelled_windows(frame, events, calc)
        scores = det.learned.decision_function(windows)
        at_ckpt = window_and_event_metrics(windows, scores, y, det.threshold, events, user_days)
        best = calibrate_event_threshold(windows, scores, events, user_days)
        at_best = window_and_event_metrics(windows, scores, y, best, events, user_days)
        out["lengths"][T] = {"at_checkpoint_threshold": at_ckpt, "at_event_best_threshold": at_best}
        print(f"{T:>3} " + " ".join(f"{at_ckpt.get(k, float('nan')):>14.4g}" for k in KEYS))
        print(f"{'':>3} event-F1-best threshold {best:.4g}: event F1 {at_best.get('event_f1', float('nan')):.3f}, "
              f"event recall {at_best.get('event_recall', float('nan')):.3f}, "
              f"false alarms/user-day {at_best.get('false_alarms_per_user_day', float('nan')):.3f}")
    out["seconds"] = round(time.time() - t0, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, allow_nan=False, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
