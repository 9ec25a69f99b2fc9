"""`wearable-monitor simulate` and `heldout-sim`: write simulated populations to files."""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

from ..simulation.heldout_sim import simulate_heldout
from ..simulation.simulator import simulate_population, write_population


def configure_simulate(parser: argparse.ArgumentParser):
    parser.add_argument("--users", type=int, default=20, help="number of simulated people")
    parser.add_argument("--days", type=int, default=30, help="days per person")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed -> identical files)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--start", default="2024-01-01", help="first day (YYYY-MM-DD)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def handler(args: argparse.Namespace) -> int:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            parser.error(f"--start: '{args.start}' is not a date (YYYY-MM-DD)")
        if args.users < 1 or args.days < 2:
            parser.error("--users must be >= 1 and --days >= 2")
        t = time.perf_counter()
        pop = simulate_population(args.users, args.days, args.seed, start=start, progress=not args.quiet)
        t_sim = time.perf_counter() - t
        write_population(pop, args.out, progress=not args.quiet)
        t_all = time.perf_counter() - t
        counts = pop.labels.groupby("kind").size().to_dict() if len(pop.labels) else {}
        print(f"{args.users} users x {args.days} days: {len(pop.frame)} records, {len(pop.labels)} labels "
              f"{counts} -> {args.out} (simulate {t_sim:.1f} s, total {t_all:.1f} s)")
        return 0

    return handler


def configure_heldout_sim(parser: argparse.ArgumentParser):
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)

    def run(args: argparse.Namespace) -> int:
        t0 = time.perf_counter()
        pop = simulate_heldout(args.users, args.days, args.seed)
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "records.jsonl", "w") as fh:
            for r in pop.records:
                fh.write(json.dumps(r, separators=(",", ":")) + "\n")
        labels = pop.labels.assign(start=pop.labels.start.dt.strftime("%Y-%m-%dT%H:%M:%S"),
                                   end=pop.labels.end.dt.strftime("%Y-%m-%dT%H:%M:%S"))
        labels.to_csv(args.out / "labels.csv", index=False)
        counts = pop.labels.kind.value_counts().to_dict()
        print(f"{len(pop.records)} records, {len(pop.labels)} labels {counts} in "
              f"{time.perf_counter() - t0:.1f}s -> {args.out}")
        return 0

    return run
