#!/usr/bin/env python
"""The seed model card's self-check script: `python test_quickstart.py`.

Runs the card's scenarios against this package (thin: every step is a public API call):
1. the example file (test_data/example_window.json) through detect_realtime;
2. a normal and an abnormal realtime window (the card's make_point, with its per-record baseline);
3. windows of 6, 12 and 24 points;
4. a 7-day pattern (3 normal days, then HRV falling) through detect_pattern;
5. missing data: 40 % of the features removed (heart rate among them) and no static information;
6. the baseline store: 75 +- 5 over 30 records, then 70 ms -> 74.84 over 31;
7. the full workflow: detect -> baseline update -> LLM text.

Unlike the original script it keeps the checkpoint's calibrated threshold (the card's 0.50 / 0.53
belong to another model; pass --threshold to try one, and read the warning it prints) and a fixed
random seed, so every run prints the same figures. Exit code 0 when every step ran.
This is a screening aid, not a diagnosis.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta

from wearable_anomaly_detector import AnomalyFormatter, BaselineStorage, WearableAnomalyDetector

MODEL_DIR = "checkpoints/phase2/exp_factor_balanced"


def make_point(ts, hrv, hr, user="demo_user", baseline=(75.0, 5.0)):
    point = {"timestamp": ts.isoformat(), "deviceId": user,
             "features": {"hr": hr, "hr_resting": 65, "hrv_rmssd": hrv, "time_period_primary": "day",
                          "data_quality": "high"},
             "static_features": {"age_group": 2, "sex": 0, "exercise": 1}}
    if baseline is not None:
        point["features"].update(baseline_hrv_mean=baseline[0], baseline_hrv_std=baseline[1])
    return point


def window_of(start, n, hrv, hr, rng, user="demo_user", noise=1.0):
    return [make_point(start + timedelta(minutes=5 * i), hrv + rng.gauss(0, noise), hr + rng.gauss(0, noise / 2), user)
            for i in range(n)]


def line(name, result):
    print(f"{name:<34} score {result['anomaly_score']:.4f}  threshold {result['threshold']:.4f}  "
          f"model_anomalous {result['details']['model_anomalous']!s:<5}  level {result['level']:<6}  "
          f"window {result['details']['window_size']}  baseline {result['baseline']['source']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="the seed card's quickstart scenarios")
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--threshold", type=float, default=None, help="default: the calibrated threshold")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    detector = WearableAnomalyDetector(args.model_dir, threshold=args.threshold, device="cpu")
    start = datetime(2025, 3, 3, 9, 0)

    print("1. example file")
    with open("test_data/example_window.json", encoding="utf-8") as f:
        example = json.load(f)
    line("test_data/example_window.json", detector.detect_realtime(example, update_baseline=False))

    print("2. realtime windows (per-record baseline 75 +- 5)")
    line("normal (HRV ~76, HR ~68)", detector.detect_realtime(window_of(start, 12, 76, 68, rng, "normal_user")))
    line("abnormal (HRV ~45, HR ~95)", detector.detect_realtime(window_of(start, 12, 45, 95, rng, "abnormal_user")))

    print("3. window sizes")
    for n in (6, 12, 24):
        line(f"{n} points", detector.predict(window_of(start, n, 74, 70, rng, "sizes_user")))

    print("4. 7-day pattern (3 normal days, then HRV falling 10 % a day)")
    records = []
    day0 = datetime(2025, 3, 10)
    for day in range(7):
        level = 75.0 * (0.9 ** max(0, day - 2))
        for i in range(0, 24 * 12, 3):  # every 15 minutes
            ts = day0 + timedelta(days=day, minutes=5 * i)
            records.append(make_point(ts, level + rng.gauss(0, 2), 62 + (day > 2) * 2 + rng.gauss(0, 1),
                                      "pattern_user", baseline=None))
    pattern = detector.detect_pattern(records)
    print(f"{'pattern':<34} alert {pattern['alert']}  consecutive days {pattern.get('consecutive_anomalous_days')}  "
          f"trend {pattern.get('trend')}")

    print("5. missing data (40 % of the features removed, heart rate among them; no static information)")
    sparse = []
    for p in window_of(start, 12, 70, 75, rng, "sparse_user"):
        p = {k: v for k, v in p.items() if k != "static_features"}
        p["features"] = {k: v for k, v in p["features"].items() if k not in ("hr", "hr_resting", "data_quality")}
        sparse.append(p)
    result = detector.detect_realtime(sparse)
    line("sparse window", result)
    print(f"{'':<34} data quality: {json.dumps(result['data_quality'], ensure_ascii=False)}")

    print("6. baseline store")
    store = BaselineStorage(":memory:")
    store.set_stats("demo_user", "hrv", mean=75.0, std=5.0, count=30)
    state = store.update("demo_user", "hrv", [70.0])
    print(f"{'75 +- 5 (30) + 70 ms':<34} mean {state.mean:.2f}  records {state.count:.0f}")

    print("7. full workflow")
    result = detector.detect_realtime(window_of(start + timedelta(hours=1), 12, 60, 80, rng, "normal_user"))
    text = AnomalyFormatter().format(result).as_markdown()
    print(f"{'detect -> baseline -> LLM text':<34} {len(text)} characters of Markdown; "
          f"days of history {result['baseline']['days_of_history']}")
    json.dumps(result, allow_nan=False)  # strict JSON
    print("all scenarios ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
