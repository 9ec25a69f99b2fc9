"""Concurrent history analyses in threads of one process vs in the history worker processes (issue 16).

Runs `MonitorService.history_api` on a simulated 30-day, one-user JSONL file (a benchmark, not a
test): first one call after the other (the single-call time), then `--calls` calls from `--clients`
threads at once, with `history_workers=0` (every call in a thread of this process, as before) and
with `history_workers=2` (workers.py), alternating in `--rounds` rounds so both see the same host.
Prints the wall time of each concurrent batch and its slowest call, and the load average.

    python benchmarks/history_workers.py [--calls 10] [--clients 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    import torch

    from wearable_monitor.app.service import AppConfig, MonitorService
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    torch.set_num_threads(int(os.environ.get("WM_TORCH_THREADS", "1")))  # as the served app (ui.set_request_threads)
    tmp = Path(tempfile.mkdtemp(prefix="wm_workers_"))
    month = tmp / "month.jsonl"
    month.write_text(frame_to_jsonl(simulate_population(1, 30, seed=5).frame))
    services = {n: MonitorService(AppConfig.load(data_dir=str(tmp / f"d{n}"), history_workers=n)) for n in (0, 2)}
    services[2].history_pool.warm_up()
    for svc in services.values():
        svc.history_api(str(month), summary_only=True)  # warm-up

    def call(svc) -> float:
        t0 = time.perf_counter()
        out = svc.history_api(str(month), summary_only=True)
        assert "error" not in out, out
        return time.perf_counter() - t0

    report: dict = {"load_average_before": os.getloadavg()[0], "calls": args.calls, "clients": args.clients}
    report["single_call_s"] = round(statistics.median(call(services[0]) for _ in range(3)), 3)
    for n in services:
        report[f"history_workers={n}"] = {"wall_s": [], "slowest_call_s": []}
    for _ in range(args.rounds):
        for n, svc in services.items():
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                times = list(pool.map(lambda _: call(svc), range(args.calls)))
            report[f"history_workers={n}"]["wall_s"].append(round(time.perf_counter() - t0, 2))
            report[f"history_workers={n}"]["slowest_call_s"].append(round(max(times), 2))
    report["load_average_after"] = os.getloadavg()[0]
    services[2].close()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
