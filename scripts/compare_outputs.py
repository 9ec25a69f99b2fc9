"""Do two source trees compute the same thing? Their outputs on the same simulated data, compared exactly.

For a change meant to make the code faster without changing what it computes (as the realtime work of
issue 19): each tree runs in its own process (PYTHONPATH = the tree) and writes
- the batch model inputs of every window (`FeatureCalculator.windows` on causal baselines) of a simulated
  population,
- the JSON results of a run of consecutive `detect_realtime` calls of one of its users (a live stream,
  the baseline updated after each call),
- `score_history`'s level, reasons, score and flags per window of a second population (with illnesses),
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
import json, sys
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
