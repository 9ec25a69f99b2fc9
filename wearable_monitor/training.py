"""Training, one command: simulate -> windows -> pre-train -> fine-tune -> calibrate -> checkpoint.

    wearable-monitor train --config configs/train_default.json

1. Simulate one population and split its users into disjoint train / validation / test sets.
   A share of training users is shown with heart rate and steps only (Fitbit-like devices).
2. Phase 1, self-supervised: masked-feature reconstruction + next-step forecast on unlabelled windows.
3. Phase 2, supervised: binary anomaly loss on class-balanced batches (half positive), plus the
   auxiliary anomaly-kind loss; whole channels and single steps are randomly hidden so the model
   cannot rely on any one sensor being present.
4. Threshold calibration on the validation users: the threshold that maximises *event-level* F1
   (alarm episodes vs labelled events, see events.py), the criterion a person using the product feels.
5. Test metrics on the held-out users; `config.json`, `model.safetensors`, `summary.json`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import REPO_ROOT, check_known_keys, default_feature_config
from .datasets import balanced_subsample, hide_channels, labelled_windows, split_population, with_baselines, KIND_NAMES
from .detector import LearnedDetector
from .evaluation import window_and_event_metrics
from .features import FeatureCalculator, Windows
from .model import ModelConfig, WearableAnomalyNet

SUMMARY_SCHEMA = 1


@dataclass
class TrainConfig:
    seed: int = 7
    days: int = 28
    train_users: int = 120
    val_users: int = 30
    test_users: int = 50
    window_size: int = 12
    fitbit_like_share: float = 0.3
    negatives_per_positive: float = 3.0
    max_train_windows: int = 160_000
    pretrain_steps: int = 600
    finetune_steps: int = 2400
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    kind_loss_weight: float = 0.3
    channel_dropout: float = 0.1
    step_dropout: float = 0.05
    model: dict = field(default_factory=dict)
    sim: dict = field(default_factory=dict)  # SimConfig overrides (domain randomisation)
    out_dir: str = "checkpoints/phase2/exp_factor_balanced"

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        raw = {k: v for k, v in json.loads(Path(path).read_text()).items() if not k.startswith("_")}
        check_known_keys(cls, raw, str(path))
        return cls(**raw)


def _augment(batch: dict[str, torch.Tensor], cfg: TrainConfig, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Hide whole channels per window and single steps, as real devices do."""
    numeric, mask = batch["numeric"], batch["numeric_mask"]
    B, T, Fn = numeric.shape
    keep = (torch.rand(B, 1, Fn, generator=gen) >= cfg.channel_dropout) & (torch.rand(B, T, 1, generator=gen) >= cfg.step_dropout)
    keep[:, -1:, :] |= torch.rand(B, 1, Fn, generator=gen) >= cfg.channel_dropout  # keep the newest step mostly
    keep = keep.to(mask.dtype)
    return dict(batch, numeric=numeric * keep, numeric_mask=mask * keep)


def _batches(n: int, batch_size: int, steps: int, rng: np.random.Generator):
    for _ in range(steps):
        yield rng.integers(0, n, size=batch_size)


def pretrain(model: WearableAnomalyNet, windows: Windows, cfg: TrainConfig, rng: np.random.Generator,
             gen: torch.Generator, progress: bool = True) -> list[float]:
    """Phase 1: masked-feature reconstruction + next-step forecast (no labels)."""
    tensors = windows.to_tensors()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    losses = []
    for idx in tqdm(list(_batches(len(windows), cfg.batch_size, cfg.pretrain_steps, rng)),
                    desc="phase 1: pre-train", disable=not progress):
        batch = {k: v[idx] for k, v in tensors.items()}
        out = model.pretrain_forward(batch, generator=gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(out["loss"].detach().item())
    return losses


def finetune(model: WearableAnomalyNet, windows: Windows, y: np.ndarray, kind: np.ndarray, cfg: TrainConfig,
             rng: np.random.Generator, gen: torch.Generator, progress: bool = True) -> list[float]:
    """Phase 2: class-balanced supervised fine-tuning with the auxiliary kind loss."""
    tensors = windows.to_tensors()
    target = torch.as_tensor(y, dtype=torch.float32)
    kind_target = torch.as_tensor(kind + 1, dtype=torch.long)  # 0 = none
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, cfg.finetune_steps // 10)  # linear warm-up, then cosine decay to 5 %
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * (
        0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, cfg.finetune_steps))))))
    half = cfg.batch_size // 2
    model.train()
    losses = []
    bar = tqdm(range(cfg.finetune_steps), desc="phase 2: fine-tune", disable=not progress)
    for _ in bar:
        idx = np.concatenate([rng.choice(pos, half), rng.choice(neg, cfg.batch_size - half)])
        batch = _augment({k: v[idx] for k, v in tensors.items()}, cfg, gen)
        out = model(batch, aux=False)
        loss = F.binary_cross_entropy_with_logits(out["logits"], target[idx])
        if cfg.kind_loss_weight and out["kind_logits"].shape[-1]:
            loss = loss + cfg.kind_loss_weight * F.cross_entropy(out["kind_logits"], kind_target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.detach().item())
        if len(losses) % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    return losses


def train(cfg: TrainConfig, progress: bool = True, out_dir: str | Path | None = None) -> dict:
    """Run the whole pipeline; returns the summary (also written to out_dir/summary.json)."""
    t0 = time.time()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    fconf = default_feature_config()
    calc = FeatureCalculator(fconf, window_size=cfg.window_size)

    splits = split_population(cfg.train_users, cfg.val_users, cfg.test_users, cfg.days, cfg.seed, cfg.sim)
    train_split = splits["train"]
    n_fitbit = int(round(cfg.fitbit_like_share * len(train_split.users)))
    fitbit_users = list(rng.choice(train_split.users, size=n_fitbit, replace=False)) if n_fitbit else []
    train_frame = with_baselines(hide_channels(train_split.frame, fitbit_users), fconf)
    w_train, y_train, k_train = labelled_windows(train_frame, train_split.events, calc)
    pick = balanced_subsample(y_train, cfg.negatives_per_positive, rng, cfg.max_train_windows)
    w_train, y_train, k_train = w_train[pick], y_train[pick], k_train[pick]

    model = WearableAnomalyNet(ModelConfig.from_windows(w_train, **cfg.model))
    n_params = sum(p.numel() for p in model.parameters())
    pre_losses = pretrain(model, w_train, cfg, rng, gen, progress)
    ft_losses = finetune(model, w_train, y_train, k_train, cfg, rng, gen, progress)
    model.eval()

    detector = LearnedDetector(model)
    evaluation = {}
    for name in ("val", "test"):
        split = splits[name]
        frame = with_baselines(split.frame, fconf)
        windows, y, _ = labelled_windows(frame, split.events, calc)
        if name == "val":
            detector.calibrate(windows, split.events, split.user_days)
        scores = detector.decision_function(windows)
        evaluation[name] = window_and_event_metrics(windows, scores, y, detector.threshold_, split.events,
                                                     split.user_days)

    summary = {
        "summary_schema": SUMMARY_SCHEMA,
        "model": "WearableAnomalyNet (Phased LSTM + TFT)",
        "parameters": n_params,
        "threshold": round(float(detector.threshold_), 6),
        "threshold_criterion": detector.threshold_criterion,
        "window": {"size": cfg.window_size, "minutes": cfg.window_size * fconf.sampling_minutes,
                   "label": "positive when an event is inside the window or starts within the next 30 minutes"},
        "data": {
            "source": "wearable_monitor.simulator (simulated users; disjoint train / validation / test users)",
            "seed": cfg.seed, "days": cfg.days,
            "users": {k: len(v.users) for k, v in splits.items()},
            "events": {k: v.events["kind"].value_counts().to_dict() for k, v in splits.items()},
            "train_windows": int(len(w_train)), "train_positive_share": round(float(y_train.mean()), 4),
            "fitbit_like_train_users": len(fitbit_users),
        },
        "training": {"pretrain_steps": cfg.pretrain_steps, "finetune_steps": cfg.finetune_steps,
                     "final_pretrain_loss": round(float(np.mean(pre_losses[-50:])), 4) if pre_losses else None,
                     "final_finetune_loss": round(float(np.mean(ft_losses[-50:])), 4) if ft_losses else None,
                     "seconds": round(time.time() - t0, 1), "torch_threads": torch.get_num_threads()},
        "metrics": evaluation,
        "config": asdict(cfg),
        "feature_config_sha256": fconf.sha256,
        "kinds": list(KIND_NAMES),
    }
    out = Path(out_dir or cfg.out_dir)
    if not out.is_absolute():
        out = REPO_ROOT / out if out_dir is None else out
    model.save_pretrained(out, extra_config={
        "threshold": summary["threshold"], "feature_config_sha256": fconf.sha256,
        "window_size": cfg.window_size, "kinds": list(KIND_NAMES)})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return summary


