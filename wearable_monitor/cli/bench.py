"""`wearable-monitor bench`: scoring throughput and realtime latency on this machine."""
from __future__ import annotations

import argparse
import json

from ..evaluation.bench import run_bench


def configure_bench(parser: argparse.ArgumentParser):
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=200, help="realtime windows to time per round")
    parser.add_argument("--rounds", type=int, default=3, help="repeat every measurement this many times")
    parser.add_argument("--warmup", type=int, default=200, help="untimed realtime calls before the timed rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--no-compile", action="store_true",
                        help="leave out the torch.compile batch figures (their one-off compilation takes ~45 s "
                             "in a fresh environment)")

    def run(args) -> int:
        print(json.dumps(run_bench(args.users, args.days, args.runs, args.threads, model_dir=args.model_dir,
                                   rounds=args.rounds, warmup=args.warmup, compiled=not args.no_compile), indent=2))
        return 0

    return run
