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
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ...config import REPO_ROOT, check_known_keys, default_feature_config
from ...events import window_and_event_metrics
from ...features import FeatureCalculator, Windows
from ...simulation.datasets import (FITBIT_DIR, FITBIT_EVALUATION_ONLY_USERS, KIND_NAMES, AugmentConfig, balanced_subsample,
                                    hide_channels, inject_events, labelled_windows, load_fitbit_pretrain, noise_and_gaps,
                                    split_population, with_baselines)
from . import LearnedDetector, ModelConfig, WearableAnomalyNet

SUMMARY_SCHEMA = 1


@dataclass
class TrainConfig:
    seed: int = 7
    days: int = 28
    train_users: int = 120
    val_users: int = 30
    test_users: int = 50
    window_size: int = 12                 # the default / calibration length (config.json window_size)
    train_window_sizes: list = field(default_factory=lambda: [6, 12, 24])  # mixed lengths, one per batch
    eval_window_sizes: list = field(default_factory=lambda: [6, 12, 24])   # metrics per length
    augment: dict | None = field(default_factory=dict)  # AugmentConfig overrides; None = no augmentation
    fitbit_pretrain: bool = True          # add the unlabelled real Fitbit users to pre-training
    fitbit_pretrain_share: float = 0.3    # share of each pre-training batch from them
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


def _as_pools(windows) -> dict[int, Windows]:
    """{window_size: Windows}; a single Windows object is one pool of its own length."""
    return dict(windows) if isinstance(windows, dict) else {windows.window_size: windows}


def pretrain(model: WearableAnomalyNet, windows, cfg: TrainConfig, rng: np.random.Generator,
             gen: torch.Generator, progress: bool = True, extra=None) -> list[float]:
    """Phase 1: masked-feature reconstruction + next-step forecast (no labels).

    `windows` / `extra`: Windows or {length: Windows}. Each step draws one length uniformly, then a
    batch with `cfg.fitbit_pretrain_share` of it from `extra` (the unlabelled real users) if given.
    """
    pools = {L: w.to_tensors() for L, w in _as_pools(windows).items()}
    extra_pools = {L: w.to_tensors() for L, w in _as_pools(extra).items() if len(w)} if extra is not None else {}
    lengths = sorted(pools)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    losses = []
    for _ in tqdm(range(cfg.pretrain_steps), desc="phase 1: pre-train", disable=not progress):
        L = lengths[int(rng.integers(len(lengths)))]
        main = pools[L]
        n_extra = int(round(cfg.fitbit_pretrain_share * cfg.batch_size)) if L in extra_pools else 0
        idx = rng.integers(0, len(main["numeric"]), size=cfg.batch_size - n_extra)
        batch = {k: v[idx] for k, v in main.items()}
        if n_extra:
            ex = extra_pools[L]
            jdx = rng.integers(0, len(ex["numeric"]), size=n_extra)
            batch = {k: torch.cat([batch[k], ex[k][jdx]]) for k in batch}
        out = model.pretrain_forward(batch, generator=gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(out["loss"].detach().item())
    return losses


def finetune(model: WearableAnomalyNet, windows, y, kind, cfg: TrainConfig,
             rng: np.random.Generator, gen: torch.Generator, progress: bool = True) -> list[float]:
    """Phase 2: class-balanced supervised fine-tuning with the auxiliary kind loss.

    `windows`, `y`, `kind`: one Windows + arrays, or dicts {length: ...} (mixed lengths: each step
    draws one length uniformly; a batch has one length). Positive windows without a known kind
    (injected events, kind -1) count for the anomaly loss but not for the kind loss.
    """
    pools = _as_pools(windows)
    if not isinstance(y, dict):
        y, kind = {next(iter(pools)): y}, {next(iter(pools)): kind}
    lengths = sorted(pools)
    data = {}
    for L in lengths:
        kt = torch.as_tensor(kind[L] + 1, dtype=torch.long)  # 0 = none
        kt[torch.as_tensor(y[L]) & (kt == 0)] = -100          # positive, kind unknown: ignored
        data[L] = (pools[L].to_tensors(), torch.as_tensor(y[L], dtype=torch.float32), kt,
                   np.flatnonzero(y[L]), np.flatnonzero(~y[L]))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, cfg.finetune_steps // 10)  # linear warm-up, then cosine decay to 5 %
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * (
        0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, cfg.finetune_steps))))))
    half = cfg.batch_size // 2
    model.train()
    losses = []
    bar = tqdm(range(cfg.finetune_steps), desc="phase 2: fine-tune", disable=not progress)
    for _ in bar:
        tensors, target, kind_target, pos, neg = data[lengths[int(rng.integers(len(lengths)))]]
        idx = np.concatenate([rng.choice(pos, half), rng.choice(neg, cfg.batch_size - half)])
        batch = _augment({k: v[idx] for k, v in tensors.items()}, cfg, gen)
        out = model(batch, aux=False)
        loss = F.binary_cross_entropy_with_logits(out["logits"], target[idx])
        if cfg.kind_loss_weight and out["kind_logits"].shape[-1] and bool((kind_target[idx] >= 0).any()):
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


def training_data(cfg: TrainConfig, splits: dict, rng: np.random.Generator, fconf=None) -> dict:
    """Augmented training frame, its events and the unlabelled real pre-training frame.

    Simulated training users: a share shown as Fitbit-like (heart rate + steps), then injected
    events of random shape / size / duration / ramp / channel subset, then random noise, device
    channel dropouts and dropped records (`cfg.augment`, AugmentConfig). Validation and test users
    are never augmented. Real users: only the unlabelled Fitbit users (FITBIT_PRETRAIN_USERS),
    never the labelled evaluation users.
    """
    fconf = fconf or default_feature_config()
    train_split = splits["train"]
    n_fitbit = int(round(cfg.fitbit_like_share * len(train_split.users)))
    fitbit_users = list(rng.choice(train_split.users, size=n_fitbit, replace=False)) if n_fitbit else []
    frame = hide_channels(train_split.frame, fitbit_users)
    events, injected = train_split.events, train_split.events.iloc[:0]
    if cfg.augment is not None:
        aug = _augment_config(cfg)
        frame, injected = inject_events(frame, events, rng, aug)
        frame = noise_and_gaps(frame, rng, aug)
        events = pd.concat([events, injected[events.columns.intersection(injected.columns)]], ignore_index=True)
    real = load_fitbit_pretrain(FITBIT_DIR) if cfg.fitbit_pretrain else pd.DataFrame()
    if len(real) and set(real["user_id"]) & set(FITBIT_EVALUATION_ONLY_USERS):
        raise AssertionError("evaluation-only Fitbit users in the pre-training data")
    return {"frame": with_baselines(frame, fconf), "events": events, "injected": injected,
            "fitbit_like_users": fitbit_users,
            "real": with_baselines(real, fconf) if len(real) else real,
            "real_users": sorted(real["user_id"].unique()) if len(real) else []}


@dataclass
class _TrainingSet:
    """Per window length: the subsampled labelled training windows and the unlabelled real ones."""
    windows: dict[int, Windows]
    y: dict[int, np.ndarray]
    kind: dict[int, np.ndarray]
    real: dict[int, Windows]  # empty without real pre-training users


def _augment_config(cfg: TrainConfig) -> AugmentConfig:
    """`cfg.augment` as an AugmentConfig (JSON gives lists where it expects tuples)."""
    return AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.augment.items()})


def _training_windows(cfg: TrainConfig, td: dict, calcs: dict[int, FeatureCalculator], lengths: list[int],
                      rng: np.random.Generator) -> _TrainingSet:
    """Class-balanced windows of each training length, the total capped at `cfg.max_train_windows`."""
    ts = _TrainingSet({}, {}, {}, {})
    per_length = cfg.max_train_windows // len(lengths)
    for L in lengths:
        w, y, k = labelled_windows(td["frame"], td["events"], calcs[L])
        pick = balanced_subsample(y, cfg.negatives_per_positive, rng, per_length)
        ts.windows[L], ts.y[L], ts.kind[L] = w[pick], y[pick], k[pick]
        if len(td["real"]):
            ts.real[L] = calcs[L].windows(td["real"])
    return ts


def _evaluate(detector: LearnedDetector, splits: dict, calcs: dict[int, FeatureCalculator], fconf,
              cfg: TrainConfig, eval_lengths: list[int]) -> dict:
    """Calibrate the threshold on the validation users at `cfg.window_size`, then score validation and
    test at every evaluation length with that one threshold: {length: {"val"|"test": metrics}}."""
    evaluation: dict = {}
    for L in [cfg.window_size] + [L for L in eval_lengths if L != cfg.window_size]:  # calibrate first
        evaluation[L] = {}
        for name in ("val", "test"):
            split = splits[name]
            frame = with_baselines(split.frame, fconf)
            windows, y, _ = labelled_windows(frame, split.events, calcs[L])
            if name == "val" and L == cfg.window_size:
                detector.calibrate(windows, split.events, split.user_days)
            scores = detector.decision_function(windows)
            evaluation[L][name] = window_and_event_metrics(windows, scores, y, detector.threshold_, split.events,
                                                            split.user_days)
    return evaluation


def _data_summary(cfg: TrainConfig, splits: dict, td: dict, ts: _TrainingSet, lengths: list[int]) -> dict:
    """The "data" section of summary.json: populations, training windows, augmentation, pre-training."""
    n_train = {str(L): int(len(ts.windows[L])) for L in lengths}
    injected = td["injected"]
    all_pos = np.concatenate([ts.y[L] for L in lengths])
    return {
        "source": "wearable_monitor.simulation.simulator (simulated users; disjoint train / validation / test users)",
        "seed": cfg.seed, "days": cfg.days,
        "users": {k: len(v.users) for k, v in splits.items()},
        "events": {k: v.events["kind"].value_counts().to_dict() for k, v in splits.items()},
        "train_windows": sum(n_train.values()), "train_windows_per_size": n_train,
        "train_positive_share": round(float(all_pos.mean()), 4),
        "fitbit_like_train_users": len(td["fitbit_like_users"]),
        "augmentation": None if cfg.augment is None else {
            "applies_to": "simulated training users only (validation and test users are not augmented)",
            "config": asdict(_augment_config(cfg)),
            "injected_events": int(len(injected)),
            "injected_shapes": injected["shape"].value_counts().to_dict() if len(injected) else {},
            "injected_channels": (injected["channels"].str.split(";").explode().value_counts().to_dict()
                                  if len(injected) else {}),
        },
        "pretraining": {
            "simulated": "the (augmented) training windows of every training length, no labels used",
            "real_fitbit_users": td["real_users"],
            "real_fitbit_windows_per_size": {str(L): int(len(w)) for L, w in ts.real.items()},
            "real_batch_share": cfg.fitbit_pretrain_share if ts.real else 0.0,
            "excluded_real_users": list(FITBIT_EVALUATION_ONLY_USERS),
            "split": ("self-supervised pre-training uses only the Fitbit users WITHOUT a symptom-onset label "
                      "(heart rate + steps); the labelled users are the real-data evaluation population and are "
                      "never used for training"),
        },
    }


def _round_loss(losses: list[float]) -> float | None:
    """Mean of the last 50 losses: the end of the run, smoothed over batch noise."""
    return round(float(np.mean(losses[-50:])), 4) if losses else None


def _summary(cfg: TrainConfig, model: WearableAnomalyNet, detector: LearnedDetector, evaluation: dict,
             data: dict, lengths: list[int], eval_lengths: list[int], fconf,
             pre_losses: list[float], ft_losses: list[float], t0: float, t_train: float) -> dict:
    return {
        "summary_schema": SUMMARY_SCHEMA,
        "model": "WearableAnomalyNet (Phased LSTM + TFT)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "threshold": round(float(detector.threshold_), 6),
        "threshold_criterion": (f"{detector.threshold_criterion}, on {cfg.window_size}-record windows; the same "
                                f"threshold is used for every length below"),
        "window": {"size": cfg.window_size, "minutes": cfg.window_size * fconf.sampling_minutes,
                   "train_sizes": lengths, "eval_sizes": eval_lengths,
                   "label": "positive when an event is inside the window or starts within the next 30 minutes"},
        "data": data,
        "training": {"pretrain_steps": cfg.pretrain_steps, "finetune_steps": cfg.finetune_steps,
                     "final_pretrain_loss": _round_loss(pre_losses),
                     "final_finetune_loss": _round_loss(ft_losses),
                     "training_seconds": round(t_train, 1),
                     "seconds": round(time.time() - t0, 1), "torch_threads": torch.get_num_threads()},
        "metrics": evaluation[cfg.window_size],
        "metrics_per_window_size": {str(L): evaluation[L] for L in eval_lengths},
        "config": asdict(cfg),
        "feature_config_sha256": fconf.sha256,
        "kinds": list(KIND_NAMES),
    }


def _save(model: WearableAnomalyNet, summary: dict, cfg: TrainConfig, out_dir: str | Path | None,
          lengths: list[int], fconf) -> None:
    out = Path(out_dir or cfg.out_dir)
    if not out.is_absolute():  # the config's out_dir is relative to the repository, an explicit one to the cwd
        out = REPO_ROOT / out if out_dir is None else out
    model.save_pretrained(out, extra_config={
        "threshold": summary["threshold"], "feature_config_sha256": fconf.sha256,
        "window_size": cfg.window_size, "trained_window_sizes": lengths, "kinds": list(KIND_NAMES)})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")


def train(cfg: TrainConfig, progress: bool = True, out_dir: str | Path | None = None) -> dict:
    """Run the whole pipeline; returns the summary (also written to out_dir/summary.json)."""
    t0 = time.time()
    # every random draw below comes from these three, in a fixed order: the run is reproducible
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    fconf = default_feature_config()
    lengths = sorted({int(L) for L in cfg.train_window_sizes} | {cfg.window_size})
    eval_lengths = sorted({int(L) for L in cfg.eval_window_sizes} | {cfg.window_size})
    calcs = {L: FeatureCalculator(fconf, window_size=L) for L in sorted(set(lengths) | set(eval_lengths))}

    splits = split_population(cfg.train_users, cfg.val_users, cfg.test_users, cfg.days, cfg.seed, cfg.sim)
    td = training_data(cfg, splits, rng, fconf)
    ts = _training_windows(cfg, td, calcs, lengths, rng)

    model = WearableAnomalyNet(ModelConfig.from_windows(ts.windows[cfg.window_size], **cfg.model))
    pre_losses = pretrain(model, ts.windows, cfg, rng, gen, progress, extra=ts.real or None)
    ft_losses = finetune(model, ts.windows, ts.y, ts.kind, cfg, rng, gen, progress)
    model.eval()
    t_train = time.time() - t0

    detector = LearnedDetector(model)
    evaluation = _evaluate(detector, splits, calcs, fconf, cfg, eval_lengths)
    summary = _summary(cfg, model, detector, evaluation, _data_summary(cfg, splits, td, ts, lengths),
                       lengths, eval_lengths, fconf, pre_losses, ft_losses, t0, t_train)
    _save(model, summary, cfg, out_dir, lengths, fconf)
    return summary
