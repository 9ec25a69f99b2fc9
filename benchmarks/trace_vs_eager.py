"""One window through the eager network, its TorchScript trace and torch.compile (a benchmark, not a test).

Alternates them in rounds of 100 calls in one process (so all see the same host conditions)
and prints the median and the fastest round per call, on one torch thread as the realtime path runs.

    PYTHONPATH=. python benchmarks/trace_vs_eager.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch

from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.data.records import frame_to_records
from wearable_monitor.simulation.simulator import simulate_user


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=100, help="calls per round")
    args = ap.parse_args()
    torch.set_num_threads(1)
    det = WearableAnomalyDetector()
    records = frame_to_records(simulate_user("bench", days=1, seed=0, events=[]).frame.iloc[:12])
    cols = det._columns(records)
    baseline = det.users.summary(str(cols["user_id"][-1]), None, as_of=cols["timestamp"][-1])
    bl = {f"bl_{name}_{stat}": b[stat] for name, b in baseline["metrics"].items()
          for stat in ("mean", "std", "suspect_days", "suspect_z")}
    bl.update(bl_alpha=baseline["alpha"], bl_days=baseline["days_of_history"])
    batch = det.calculator.window(cols, bl).to_tensors()
    model, traced = det.model, det.learned.traced
    compiled = partial(torch.compile(model.score, dynamic=False), aux=False)  # as compile_batches, at one window
    paths = {"eager": lambda: model(batch, aux=False), "traced": lambda: traced(batch),
             "compiled": lambda: compiled(batch)}
    times: dict[str, list[float]] = {k: [] for k in paths}
    with torch.inference_mode():
        for run in paths.values():  # warm-up (the first traced call makes the trace)
            for _ in range(200):
                run()
        for _ in range(args.rounds):
            for name, run in paths.items():
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    run()
                times[name].append((time.perf_counter() - t0) / args.calls * 1e3)
    for name, t in times.items():
        print(f"{name:8s} median {np.median(t):.3f} ms per window, fastest round {min(t):.3f} ms")


if __name__ == "__main__":
    main()
