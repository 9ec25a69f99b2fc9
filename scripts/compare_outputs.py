"""Do two source trees compute the same thing? Their outputs on the same simulated data, compared exactly.

For a change meant to make the code faster without changing what it computes (as the realtime work of
issue 19): each tree runs in its own process (PYTHONPATH = the tree) and writes
- the batch model inputs of every window (`FeatureCalculator.windows` on causal baselines) of a simulated
  population,
- the JSON results of a run of consecutive `detect_realtime` calls of one of its users (a live stream,
  the baseline updated after each call),
- `score_history`'s level, reasons, score and flags per window of a second population (with illnesses),
- the results (or error messages) of 300 realtime windows of 6-30 records changed in seeded random ways
  (heart rate removed or odd, strings and NaN, SpO2 over 100, steps and movement missing, unknown
  statics and categories, fractional-second times, camelCase aliases, extra keys, reversed order),
then the arrays are compared element by element (NaN equal to NaN). Exit status 1 when anything differs.

    git worktree add /tmp/base <commit>
    python scripts/compare_outputs.py /tmp/base . [--users 3] [--days 12]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DUMP = """
import copy, json, random, sys
import numpy as np
import wearable_monitor
assert wearable_monitor.__file__.startswith(sys.argv[1]), wearable_monitor.__file__
from wearable_monitor.baselines import causal_baseline_columns
from wearable_monitor.data.records import frame_to_records
from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.simulation.simulator import simulate_population

out_path, users, days = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
det = WearableAnomalyDetector()
frame = simulate_population(n_users=users, days=days, seed=5).frame
windows = det.calculator.windows(causal_baseline_columns(frame, det.config, det.users.bcfg))
out = {f"batch_{k}": getattr(windows, k) for k in ("numeric", "numeric_mask", "categorical", "dt", "t", "known",
                                                  "static", "context", "context_mask")}
user = frame["user_id"].iloc[0]
records = frame_to_records(frame[frame["user_id"] == user].iloc[:600])
out["realtime_results"] = np.array([json.dumps(det.detect_realtime(records[i:i + 12]), sort_keys=True)
                                    for i in range(0, 560, 7)])
history = WearableAnomalyDetector().score_history(simulate_population(n_users=users + 1, days=days + 2, seed=17).frame)
for c in ("level", "reasons", "anomaly_score", "level_red_flag", "level_baseline", "is_anomaly", "model_anomalous"):
    out[f"history_{c}"] = history[c].to_numpy().astype(str)
rng = random.Random(3)


def perturbed(window):
    window = copy.deepcopy(window)
    for rec in window:
        k, f = rng.random(), rec["features"]
        if k < 0.05:
            f.pop("hr", None)
        elif k < 0.1:
            f["hr"] = rng.choice([130.0, 35.0, 250.0, "88", None, float("nan")])
        elif k < 0.15:
            f.pop("steps", None)
            f.pop("accel_mag", None)
        elif k < 0.2:
            f["spo2"] = rng.choice([85.0, 99.5, 101.0])
        elif k < 0.25:
            rec["static_features"] = {"age_group": rng.choice(["20-29", "60-69", "bogus"]),
                                      "sex": rng.choice([0, 1, "female"])}
        elif k < 0.3:
            f["sleep_state"] = rng.choice(["deep", "awake", 2, "REM", "x"])
        elif k < 0.33:
            rec["timestamp"] += ".123456"
        elif k < 0.36:
            f["heartRate"] = 77.0
        elif k < 0.38:
            rec["extra"] = 1
        elif k < 0.4:
            f["hr_resting"] = rng.choice([45.0, 95.0])
    return window[::-1] if rng.random() < 0.1 else window


det = WearableAnomalyDetector()
records = frame_to_records(simulate_population(n_users=3, days=5, seed=9).frame)
answers = []
for _ in range(300):
    start, size = rng.randrange(0, len(records) - 30), rng.choice([6, 8, 12, 12, 12, 24, 30])
    window = perturbed(records[start:start + size])
    try:
        answers.append(json.dumps(det.detect_realtime(window, update_baseline=rng.random() < 0.7), sort_keys=True))
    except Exception as exc:  # noqa: BLE001 - the message is what is compared
        answers.append(f"{type(exc).__name__}: {exc}")
out["perturbed_realtime"] = np.array(answers)
np.savez(out_path, **out)
"""


def dump(tree: Path, path: Path, users: int, days: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", DUMP, str(tree), str(path), str(users), str(days)],
                   cwd=tree, env=env, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--users", type=int, default=3)
    ap.add_argument("--days", type=int, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "a.npz", Path(tmp) / "b.npz"]
        for tree, path in zip((args.tree_a, args.tree_b), paths):
            dump(tree.resolve(), path, args.users, args.days)
        a, b = (np.load(p) for p in paths)
        differ = []
        for key in a.files:
            x, y = a[key], b[key]
            same = x.shape == y.shape and (np.array_equal(x, y) if x.dtype.kind in "iuUSb"
                                           else np.array_equal(x, y, equal_nan=True))
            print(f"{key:28s} {str(x.shape):18s} {'identical' if same else 'DIFFERENT'}")
            if not same:
                differ.append(key)
    print("all identical" if not differ else f"{len(differ)} differ: {', '.join(differ)}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
