"""`wearable-monitor bench`: scoring speed on this machine (a benchmark, not a test).

Prints
- batch throughput in windows/s for features + model (`FeatureCalculator.windows` on a frame that
  already carries its causal baseline columns, then `LearnedDetector.decision_function`), and
  separately for the causal baseline replay;
- single realtime-window latency p50 / p95 through the public `detect_realtime` (validation,
  baseline lookup in SQLite, features, model, explanation), and for the model alone.
Data: simulated users (wearable_monitor.simulation.simulator), so the figures are reproducible anywhere.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch

from ..baselines import causal_baseline_columns
from ..data.records import frame_to_records
from ..detector import WearableAnomalyDetector
from ..simulation.simulator import simulate_population


def _percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3)}


def run_bench(users: int = 4, days: int = 30, realtime_runs: int = 200, threads: int = 2, seed: int = 0,
              model_dir: str | None = None, rounds: int = 3, warmup: int = 200) -> dict:
    """Each measurement is repeated `rounds` times: on a shared machine other tenants only ever add
    time, so the spread is reported next to the median (batch) and the pooled percentiles (realtime)."""
    torch.set_num_threads(threads)
    det = WearableAnomalyDetector(model_dir)
    frame = simulate_population(n_users=users, days=days, seed=seed).frame

    t0 = time.perf_counter()
    with_bl = causal_baseline_columns(frame, det.config, det.users.bcfg)
    t_baseline = time.perf_counter() - t0

    det.learned.decision_function(det.calculator.windows(with_bl.iloc[:2000]))  # warm-up
    batch_rounds = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        windows = det.calculator.windows(with_bl)
        t_features = time.perf_counter() - t0
        t0 = time.perf_counter()
        det.learned.decision_function(windows)
        t_model = time.perf_counter() - t0
        n = len(windows)
        batch_rounds.append({"features_plus_model_windows_per_s": round(n / (t_features + t_model)),
                             "features_windows_per_s": round(n / t_features),
                             "model_windows_per_s": round(n / t_model)})
    median_round = sorted(batch_rounds, key=lambda r: r["features_plus_model_windows_per_s"])[len(batch_rounds) // 2]

    # realtime: the same user's consecutive windows, as a live service sees them
    user = frame["user_id"].iloc[0]
    records = frame_to_records(frame[frame["user_id"] == user].iloc[: 12 + realtime_runs * rounds + warmup])
    one = det.calculator.windows(with_bl[with_bl["user_id"] == user].iloc[:12])
    # Warm-up, not timed: the first call traces the network, and after the batch measurement the
    # first few hundred calls run measurably slower (a live service is past that point).
    for i in range(warmup):
        det.detect_realtime(records[i:i + 12], update_baseline=True)
        det.learned.decision_function(one)
    lat: list[list[float]] = []
    lat_model: list[list[float]] = []
    for r in range(rounds):
        lat.append([])
        lat_model.append([])
        for i in range(r * realtime_runs, (r + 1) * realtime_runs):
            t0 = time.perf_counter()
            det.detect_realtime(records[warmup + i:warmup + 12 + i], update_baseline=True)
            lat[-1].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            det.learned.decision_function(one)
            lat_model[-1].append(time.perf_counter() - t0)

    def realtime(samples: list[list[float]]) -> dict:
        return {"runs": sum(map(len, samples)), **_percentiles([x for s in samples for x in s]),
                "p50_ms_per_round": [_percentiles(s)["p50_ms"] for s in samples]}

    return {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "load_average_1min": round(os.getloadavg()[0], 2)},
        "data": f"{users} simulated users x {days} days (seed {seed}), {len(frame)} records, {n} windows of 12",
        "batch": {
            "windows": n,
            **median_round,
            "features_plus_model_windows_per_s_per_round": [r["features_plus_model_windows_per_s"] for r in batch_rounds],
            "baseline_replay_records_per_s": round(len(frame) / t_baseline),
        },
        "realtime_warmup_calls": warmup,
        "realtime_detect_realtime": realtime(lat),
        "realtime_model_only": realtime(lat_model),
    }


