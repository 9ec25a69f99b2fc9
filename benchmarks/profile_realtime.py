"""Where the time of one `detect_realtime` call goes, stage by stage (a benchmark, not a test).

Wraps the stages of `WearableAnomalyDetector._results` with timers and replays a simulated
user's consecutive windows, as a live service sees them (each call adds one new record).
Prints the median and p95 per stage in milliseconds; `--cprofile N` also prints the top
functions by own time.

    PYTHONPATH=. python benchmarks/profile_realtime.py [--runs 300] [--threads 2] [--cprofile 30]

With PYTHONPATH pointing at another source tree (a `git worktree` of an older commit), the same
script profiles that tree's code, for a side-by-side reading of the stages.
"""
from __future__ import annotations

import argparse
import cProfile
import collections
import functools
import pstats
import time

import numpy as np
import torch

from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.data.records import frame_to_records
from wearable_monitor.simulation.simulator import simulate_user

STAGES = [  # (attribute path on the detector, label)
    ("_checked", "validation (records)"),
    ("_columns", "records to columns"),
    ("users.summary", "baseline read (SQLite)"),
    ("calculator.window", "features of the window"),
    ("learned.outputs", "model forward"),
    ("calculator.summary_from_columns", "window summary"),
    ("_explain", "top features"),
    ("_window_verdict", "verdict (red flags, deviations)"),
    ("users.ingest", "baseline write (SQLite)"),
    ("predict", "total"),
]


def _timed(times: dict, label: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[label].append(time.perf_counter() - t0)
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cprofile", type=int, default=0, help="also print this many functions by own time")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    det = WearableAnomalyDetector()
    frame = simulate_user("profile", days=4, seed=0, events=[]).frame
    records = frame_to_records(frame.iloc[: args.runs + 60])
    times: dict[str, list[float]] = collections.defaultdict(list)
    for path, label in STAGES:
        *owner_path, name = path.split(".")
        owner = functools.reduce(getattr, owner_path, det)
        setattr(owner, name, _timed(times, label, getattr(owner, name)))
    for i in range(20):  # warm-up
        det.detect_realtime(records[i:i + 12])
    times.clear()
    prof = cProfile.Profile() if args.cprofile else None
    if prof:
        prof.enable()
    for i in range(args.runs):
        det.detect_realtime(records[20 + i:32 + i])
    if prof:
        prof.disable()
    print(f"{'stage':32s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for _, label in STAGES:
        a = np.asarray(times[label]) * 1000
        print(f"{label:32s} {np.percentile(a, 50):8.3f} {np.percentile(a, 95):8.3f}")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
