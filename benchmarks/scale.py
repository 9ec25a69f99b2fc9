"""Dask scaling: windows/s with 1 and 2 workers on the same data, and the scaling efficiency.

    python benchmarks/scale.py                       # 8 simulated users x 14 days, workers 1 and 2
    python benchmarks/scale.py --users 16 --days 30 --workers 1 2 --rounds 3 --json scale.json
    python benchmarks/scale.py --compile             # the same with the network through torch.compile

Simulates a population, converts it to a Parquet dataset partitioned by user (`convert_to_parquet`),
then for each worker count starts a LocalCluster (processes, one thread each, torch on one thread),
loads the model on every worker (untimed), and times `score_population` over the whole dataset
(reading each user's partition, replay, daily table, writing Parquet windows and days) in `--rounds`
rounds, each from scratch; the rounds alternate between the worker counts. Cluster start-up and
model loading are reported apart, not in windows/s; so is the workers' CPU time per window (the
figure for cost arithmetic: it moves less with the neighbours' load than wall time does).
Also times the same per-user work in this process on one torch thread (no Dask), the reference
for the per-task overhead.

Scaling efficiency = windows/s with N workers / (N x windows/s with 1 worker). On a machine shared
with other work the figure says as much about the neighbours as about Dask: the load average is
printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--compile", action="store_true",
                    help="score through torch.compile in this process and on the workers (compiled before timing)")
    args = ap.parse_args(argv)

    import torch

    from wearable_monitor import WearableAnomalyDetector
    from wearable_monitor.distributed import (convert_to_parquet, dataset_users, read_user_records, score_population,
                                              score_user, start_local_cluster, warm_workers)
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="wm-scale-"))
    pop = simulate_population(args.users, args.days, seed=args.seed)
    jsonl = tmp / "records.jsonl"
    jsonl.write_text(frame_to_jsonl(pop.frame))
    t = time.perf_counter()
    convert_to_parquet([jsonl], tmp / "records.parquet")
    convert_s = time.perf_counter() - t
    dataset = tmp / "records.parquet"
    users = dataset_users(dataset)

    # the same per-user work in this process, one torch thread, no Dask
    torch.set_num_threads(1)
    det = WearableAnomalyDetector()
    if args.compile:
        det.learned.compile_batches()
    inproc = []
    n_windows = 0
    for _ in range(args.rounds):
        t = time.perf_counter()
        n_windows = 0
        for user in users:
            out = score_user(det, read_user_records(dataset, user, det.config))
            n_windows += 0 if out is None else len(out[0])
        inproc.append(n_windows / (time.perf_counter() - t))
    print(f"{len(users)} users x {args.days} days: {n_windows} windows; convert {convert_s:.1f} s; "
          f"load average before {load_before[0]:.2f}")
    print(f"in-process, 1 torch thread, no Dask{', compiled' if args.compile else ''}: {statistics.median(inproc):,.0f} windows/s "
          f"(rounds {', '.join(f'{r:,.0f}' for r in inproc)})")

    results = {"users": len(users), "days": args.days, "windows": n_windows, "cpu_count": os.cpu_count(),
               "compiled": args.compile,
               "load_before": load_before, "in_process_windows_per_s": inproc, "dask": {}}
    # every cluster up first, then the rounds alternate between them, so that a busy or quiet
    # spell of the host falls on both worker counts alike
    clusters = {}
    try:
        for n in args.workers:
            t = time.perf_counter()
            clusters[n] = start_local_cluster(n)
            started = time.perf_counter() - t
            t = time.perf_counter()
            warm_workers(clusters[n][1], compile_model=args.compile)
            results["dask"][n] = {"windows_per_s": [], "windows_per_worker_cpu_s": [], "cluster_start_s": started,
                                  "model_load_s": time.perf_counter() - t}
        for r in range(args.rounds):
            for n, (_, client) in clusters.items():
                cpu0 = sum(client.run(time.process_time).values())
                res = score_population(dataset, tmp / f"out-{n}", client=client, resume=False,
                                       compile_model=args.compile)
                cpu = sum(client.run(time.process_time).values()) - cpu0
                assert not res.failures and res.windows_scored == n_windows, res.failures
                results["dask"][n]["windows_per_s"].append(res.windows_per_second)
                results["dask"][n]["windows_per_worker_cpu_s"].append(n_windows / cpu)
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
    for n, r in results["dask"].items():
        rates = r["windows_per_s"]
        r["median"] = statistics.median(rates)
        r["median_per_worker_cpu_s"] = statistics.median(r["windows_per_worker_cpu_s"])
        print(f"dask, {n} worker(s): {r['median']:,.0f} windows/s (rounds {', '.join(f'{x:,.0f}' for x in rates)}); "
              f"{r['median_per_worker_cpu_s']:,.0f} windows per worker CPU-second; "
              f"cluster start {r['cluster_start_s']:.1f} s, model load {r['model_load_s']:.1f} s")
    base = results["dask"].get(1, {}).get("median")
    for n, r in results["dask"].items():
        if base and n != 1:
            r["efficiency"] = r["median"] / (n * base)
            print(f"scaling efficiency, {n} workers vs 1: {r['efficiency']:.2f} "
                  f"(speed-up {r['median'] / base:.2f}x)")
    results["load_after"] = os.getloadavg()
    print(f"load average after {results['load_after'][0]:.2f} (1 min), cores {os.cpu_count()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
