"""`wearable-monitor bench`: scoring speed on this machine (a benchmark, not a test).

Prints
- batch throughput in windows/s for features + model (`FeatureCalculator.windows` on a frame that
  already carries its causal baseline columns, then `LearnedDetector.decision_function`), eager and
  through torch.compile (`LearnedDetector.compile_batches`, with the one-off compile time), and
  separately for the causal baseline replay;
- the model's share of the FLOP bound: its FLOPs per window (torch's FlopCounterMode) against this
  machine's float32 matmul rate on the same threads (a 1024 x 1024 matmul, best of several);
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


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """This machine's float32 matmul rate on the current torch threads (best of `repeats`), GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def model_flops_per_window(det, windows) -> float:
    """FLOPs of one window through the network (counted by torch on a batch of `windows`)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        det.model(windows.to_tensors(), aux=False)
    return counter.get_total_flops() / len(windows)


def _batch_rounds(det, with_bl, rounds: int) -> tuple[list[dict], int]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        windows = det.calculator.windows(with_bl)
        t_features = time.perf_counter() - t0
        t0 = time.perf_counter()
        det.learned.decision_function(windows)
        t_model = time.perf_counter() - t0
        n = len(windows)
        out.append({"features_plus_model_windows_per_s": round(n / (t_features + t_model)),
                    "features_windows_per_s": round(n / t_features),
                    "model_windows_per_s": round(n / t_model)})
    return out, n


def _median_round(rounds: list[dict]) -> dict:
    return sorted(rounds, key=lambda r: r["features_plus_model_windows_per_s"])[len(rounds) // 2]


def run_bench(users: int = 4, days: int = 30, realtime_runs: int = 200, threads: int = 2, seed: int = 0,
              model_dir: str | None = None, rounds: int = 3, warmup: int = 200, compiled: bool = True) -> dict:
    """Each measurement is repeated `rounds` times: on a shared machine other tenants only ever add
    time, so the spread is reported next to the median (batch) and the pooled percentiles (realtime)."""
    torch.set_num_threads(threads)
    det = WearableAnomalyDetector(model_dir)
    frame = simulate_population(n_users=users, days=days, seed=seed).frame

    t0 = time.perf_counter()
    with_bl = causal_baseline_columns(frame, det.config, det.users.bcfg)
    t_baseline = time.perf_counter() - t0

    sample = det.calculator.windows(with_bl.iloc[:2000])
    det.learned.decision_function(sample)  # warm-up
    batch_rounds, n = _batch_rounds(det, with_bl, rounds)
    median_round = _median_round(batch_rounds)
    flops = model_flops_per_window(det, sample)
    gflops = matmul_gflops()
    bound = gflops * 1e9 / flops
    flop_bound = {"model_flops_per_window": round(flops), "matmul_gflops": round(gflops, 1),
                  "flop_bound_windows_per_s": round(bound),
                  "model_share_of_flop_bound": round(median_round["model_windows_per_s"] / bound, 3)}
    compiled_figures: dict = {}
    if compiled:
        t0 = time.perf_counter()
        ok = det.learned.compile_batches()
        compiled_figures = {"compile_s": round(time.perf_counter() - t0, 1)}
        if ok:
            det.learned.decision_function(sample)  # warm-up
            c_rounds, _ = _batch_rounds(det, with_bl, rounds)
            c_median = _median_round(c_rounds)
            compiled_figures.update({
                **c_median,
                "features_plus_model_windows_per_s_per_round": [r["features_plus_model_windows_per_s"] for r in c_rounds],
                "model_share_of_flop_bound": round(c_median["model_windows_per_s"] / bound, 3)})
        else:
            compiled_figures["error"] = "torch.compile is not available here"
        det.learned.use_eager()  # the realtime figures below are of the eager/traced path, as served

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
            **flop_bound,
        },
        **({"batch_compiled": compiled_figures} if compiled else {}),
        "realtime_warmup_calls": warmup,
        "realtime_detect_realtime": realtime(lat),
        "realtime_model_only": realtime(lat_model),
    }


