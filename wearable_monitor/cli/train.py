"""`wearable-monitor train` (the learned detector) and `train-patchtrad` (the PatchTrAD prescreen)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..config import REPO_ROOT
from ..data.records import USER
from ..detectors.learned.training import TrainConfig, train
from ..detectors.patchtrad import PatchTrADTrainConfig
from ..detectors.patchtrad import evaluate_patchtrad, train_patchtrad
from ..simulation.simulator import simulate_population


def configure_train(parser: argparse.ArgumentParser):
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "train_default.json"),
                        help="training configuration JSON (configs/train_*.json)")
    parser.add_argument("--out", default=None, help="output folder (default: out_dir of the config)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def run(args) -> int:
        torch.set_num_threads(args.threads)
        cfg = TrainConfig.from_json(args.config)
        summary = train(cfg, progress=not args.quiet, out_dir=args.out)
        print(json.dumps({"threshold": summary["threshold"], "metrics": summary["metrics"],
                          "seconds": summary["training"]["seconds"]}, indent=2))
        return 0

    return run



def configure_train_patchtrad(parser: argparse.ArgumentParser):
    """Was `python -m wearable_monitor.detectors.patchtrad train`."""
    parser.add_argument("--out", default="checkpoints/patchtrad")
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-sequences", type=int, default=4000)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=2)
    return _train_patchtrad


def _train_patchtrad(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    pop = simulate_population(args.users, args.days, args.seed)
    frame, labels = pop.frame, pop.labels
    users = sorted(frame[USER].astype(str).unique())
    test_users = set(np.random.default_rng(args.seed + 1).permutation(users)[:int(round(args.test_fraction * len(users)))])
    is_test = frame[USER].astype(str).isin(test_users).to_numpy()
    tc = PatchTrADTrainConfig(epochs=args.epochs, max_sequences=args.max_sequences)
    det, summary = train_patchtrad(frame[~is_test].reset_index(drop=True), labels, train_config=tc, seed=args.seed)
    test = evaluate_patchtrad(det, frame[is_test].reset_index(drop=True), labels)
    summary["data"].update({"source": f"simulate_population(n_users={args.users}, days={args.days}, seed={args.seed})",
                            "test_users": len(test_users), "test_records": int(is_test.sum())})
    summary["test"] = test
    out = det.save_pretrained(args.out, summary=summary)
    print(json.dumps({"out": str(out), "threshold": det.threshold_, "test": test}, indent=2, default=str))
    return 0
