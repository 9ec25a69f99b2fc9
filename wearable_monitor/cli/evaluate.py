"""`wearable-monitor evaluate`: the whole evaluation (docs/evaluation.md) or the verdict's part alone."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import REPO_ROOT
from ..evaluation.measures import DEFAULT_FITBIT_DIR
from ..evaluation.report import run_evaluation, run_verdict_evaluation


def configure_evaluate(parser: argparse.ArgumentParser):
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "train_default.json"),
                        help="training configuration whose held-out test users are evaluated")
    parser.add_argument("--model-dir", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--fitbit-dir", default=str(DEFAULT_FITBIT_DIR), help="shared Fitbit data folder ('' to skip)")
    parser.add_argument("--out", default=str(REPO_ROOT / "docs" / "evaluation.json"), help="results JSON")
    parser.add_argument("--heldout-users", type=int, default=80, help="users of the second simulator (simulation/heldout_sim.py)")
    parser.add_argument("--heldout-days", type=int, default=30)
    parser.add_argument("--heldout-seed", type=int, default=0)
    parser.add_argument("--only", choices=("all", "verdict"), default="all",
                        help="'verdict': only the verdict's ablation on the three populations -> "
                             "docs/evaluation_verdict.md and .json (a few minutes instead of the whole report)")
    parser.add_argument("--quiet", action="store_true")

    def run(args) -> int:
        if args.only == "verdict":
            out = run_verdict_evaluation(args.config, args.model_dir, args.fitbit_dir or None, args.heldout_users,
                                         args.heldout_days, args.heldout_seed)
            print(f"wrote {out}")
            return 0
        results = run_evaluation(args.config, args.model_dir, args.fitbit_dir or None, progress=not args.quiet,
                                 heldout_users=args.heldout_users, heldout_days=args.heldout_days,
                                 heldout_seed=args.heldout_seed)
        Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(json.dumps(results["simulated"]["summary"], indent=2))
        print(f"wrote {args.out}")
        return 0

    return run
