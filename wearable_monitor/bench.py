"""`wearable-monitor bench`: scoring speed on this machine (a benchmark, not a test).

Prints
- batch throughput in windows/s for features + model (`FeatureCalculator.windows` on a frame that
  already carries its causal baseline columns, then `LearnedDetector.decision_function`), and
  separately for the causal baseline replay;
- single realtime-window latency p50 / p95 through the public `detect_realtime` (validation,
  baseline lookup in SQLite, features, model, explanation), and for the model alone.
Data: simulated users (wearable_monitor.simulator), so the figures are reproducible anywhere.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch


def _percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3)}


def run_bench(users: int = 4, days: int = 30, realtime_runs: int = 200, threads: int = 2, seed: int = 0,
              model_dir: str | None = None) -> dict:
    from .baselines import causal_baseline_columns
    from .detector import WearableAnomalyDetector
    from .records import frame_to_records
    from .simulator import simulate_population

    torch.set_num_threads(threads)
    det = WearableAnomalyDetector(model_dir)
    frame = simulate_population(n_users=users, days=days, seed=seed).frame

    t0 = time.perf_counter()
    with_bl = causal_baseline_columns(frame, det.config, det.users.bcfg)
    t_baseline = time.perf_counter() - t0

    det.learned.decision_function(det.calculator.windows(with_bl.iloc[:2000]))  # warm-up
    t0 = time.perf_counter()
    windows = det.calculator.windows(with_bl)
    t_features = time.perf_counter() - t0
    t0 = time.perf_counter()
    det.learned.decision_function(windows)
    t_model = time.perf_counter() - t0
    n = len(windows)

    # realtime: the same user's consecutive windows, as a live service sees them
    user = frame["user_id"].iloc[0]
    records = frame_to_records(frame[frame["user_id"] == user].iloc[: 12 + realtime_runs + 20])
    for i in range(10):  # warm-up
        det.detect_realtime(records[i:i + 12], update_baseline=False)
    lat, lat_model = [], []
    one = det.calculator.windows(with_bl[with_bl["user_id"] == user].iloc[:12])
    for i in range(realtime_runs):
        t0 = time.perf_counter()
        det.detect_realtime(records[10 + i:22 + i], update_baseline=True)
        lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        det.learned.decision_function(one)
        lat_model.append(time.perf_counter() - t0)

    return {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__},
        "data": f"{users} simulated users x {days} days (seed {seed}), {len(frame)} records, {n} windows of 12",
        "batch": {
            "windows": n,
            "features_plus_model_windows_per_s": round(n / (t_features + t_model)),
            "features_windows_per_s": round(n / t_features),
            "model_windows_per_s": round(n / t_model),
            "baseline_replay_records_per_s": round(len(frame) / t_baseline),
        },
        "realtime_detect_realtime": {"runs": realtime_runs, **_percentiles(lat)},
        "realtime_model_only": {"runs": realtime_runs, **_percentiles(lat_model)},
    }


def configure_bench(parser: argparse.ArgumentParser):
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=200, help="realtime windows to time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=None)

    def run(args) -> int:
        print(json.dumps(run_bench(args.users, args.days, args.runs, args.threads, model_dir=args.model_dir), indent=2))
        return 0

    return run
