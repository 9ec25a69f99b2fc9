"""Realtime latency of two source trees, measured in alternation (a benchmark, not a test).

The host this project is measured on changes speed by up to 1.6x within a minute, so two
`wearable-monitor bench` runs minutes apart cannot tell a 20 % change from the host's swing.
This script runs the same `detect_realtime` loop in a fresh process for tree A, then tree B, then
A again..., and compares the per-round medians: both trees see the same host conditions.

    git worktree add /tmp/base <commit>
    python benchmarks/realtime_ab.py /tmp/base . [--rounds 6] [--calls 800]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

LOOP = """
import sys, time
import numpy as np, torch
import wearable_monitor
assert wearable_monitor.__file__.startswith(sys.argv[1]), wearable_monitor.__file__
from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.data.records import frame_to_records
from wearable_monitor.simulation.simulator import simulate_user
torch.set_num_threads(2)
det = WearableAnomalyDetector()
records = frame_to_records(simulate_user("ab", days=6, seed=0, events=[]).frame)
warmup, calls = 200, int(sys.argv[2])
for i in range(warmup):
    det.detect_realtime(records[i:i + 12])
times = []
for i in range(warmup, warmup + calls):
    t0 = time.perf_counter()
    det.detect_realtime(records[i:i + 12])
    times.append(time.perf_counter() - t0)
print(np.median(times) * 1000)
"""


def p50_ms(tree: Path, calls: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", LOOP, str(tree), str(calls)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--calls", type=int, default=800, help="timed detect_realtime calls per process")
    args = ap.parse_args()
    a_tree, b_tree = args.tree_a.resolve(), args.tree_b.resolve()
    a, b = [], []
    for r in range(args.rounds):
        a.append(p50_ms(a_tree, args.calls))
        b.append(p50_ms(b_tree, args.calls))
        print(f"round {r + 1}: A p50 {a[-1]:.3f} ms   B p50 {b[-1]:.3f} ms   B/A {b[-1] / a[-1]:.3f}", flush=True)
    ratios = [y / x for x, y in zip(a, b)]
    print(f"A {a_tree}: median p50 {statistics.median(a):.3f} ms")
    print(f"B {b_tree}: median p50 {statistics.median(b):.3f} ms")
    print(f"B/A per round: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
