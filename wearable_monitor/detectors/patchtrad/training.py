"""Training on normal data only: masked patch reconstruction, then the threshold from normal users' scores."""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .config import PatchTrADConfig, PatchTrADTrainConfig
from .model import PatchTrAD
from .scoring import series_patch_scores
from .series import event_rows, frame_series, gather_rows, tile_rows


def _corrupt(m: torch.Tensor, cfg: PatchTrADConfig, tc: PatchTrADTrainConfig, gen: torch.Generator):
    """(input mask, target mask): blanked patches hide input; blanked leading context hides both."""
    B, L, nf = m.shape
    P = cfg.n_patches
    drop = (torch.rand(B, P, generator=gen) < tc.patch_drop)  # hide these patches' hidden features,
    r = cfg.hide_radius                                              # in blocks as wide as at scoring time
    drop = torch.nn.functional.max_pool1d(drop.float()[:, None], 2 * r + 1, 1, r)[:, 0] > 0 if r else drop
    lead = torch.randint(1, P, (B, 1), generator=gen) if P > 1 else torch.zeros(B, 1, dtype=torch.long)
    ctx = (torch.rand(B, 1, generator=gen) < tc.context_drop) & (torch.arange(P)[None, :] < lead)
    per_point = lambda a: a.repeat_interleave(cfg.patch_len, dim=1)[:, :, None].float()  # noqa: E731
    target = m * (1 - per_point(ctx))
    hidden = torch.tensor([f in cfg.hidden_features or not cfg.hidden_features for f in cfg.features]).float()
    return target * (1 - per_point(drop) * hidden), target


def fit_model(model: PatchTrAD, x: np.ndarray, m: np.ndarray, aux: np.ndarray, tc: PatchTrADTrainConfig,
              seed: int, progress: bool = True) -> list[float]:
    """Masked-reconstruction training on sequences [S, seq_len, *]; returns the loss per epoch.

    Deterministic for a seed: all randomness comes from generators seeded here and
    the global torch RNG (dropout, init) is forked so callers' state is untouched.
    """
    cfg = model.cfg
    X, M, A = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, m, aux))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps = tc.epochs * math.ceil(len(X) / tc.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=max(steps, 1), pct_start=0.1)
    history = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        bar = tqdm(total=steps, desc="patchtrad", disable=not progress, leave=False)
        for _ in range(tc.epochs):
            total, count = 0.0, 0.0
            for b in torch.randperm(len(X), generator=gen).split(tc.batch_size):
                xb, mb, ab = X[b], M[b], A[b]
                m_in, m_tgt = _corrupt(mb, cfg, tc, gen)
                err = (model(xb, m_in, ab) - xb).pow(2) * m_tgt
                loss = err.sum() / m_tgt.sum().clamp_min(1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                value = loss.item()
                total, count = total + value * len(b), count + len(b)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}")
            history.append(total / max(count, 1))
        bar.close()
    model.eval()
    with torch.no_grad():  # typical squared error per feature, as scored, for score normalisation
        model.error_scale.fill_(1.0)
        se, obs = torch.zeros(cfg.n_features, dtype=torch.float64), torch.zeros(cfg.n_features, dtype=torch.float64)
        for b in torch.arange(len(X)).split(256):
            err, w = model.squared_errors(X[b], M[b], A[b])
            se, obs = se + err.sum((0, 1)).double(), obs + w.sum((0, 1)).double()
        model.error_scale.copy_(torch.where(obs > 0, se / obs.clamp_min(1.0), 1.0).clamp_min(1e-3).float())
    return history


def _subsample(n: int, cap: int | None, seed: int) -> np.ndarray:
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


class Trained(NamedTuple):
    model: PatchTrAD
    threshold: float
    threshold_criterion: str
    summary: dict


def train_model(frame: pd.DataFrame, labels: pd.DataFrame | None, cfg: PatchTrADConfig, tc: PatchTrADTrainConfig,
                seed: int = 0, progress: bool = True, not_normal: np.ndarray | None = None) -> Trained:
    """Train on the normal part of `frame` (labelled wearable events hidden) and pick the threshold.

    `not_normal`: a boolean per frame row, more rows to hide as events are (`fit` on windows).
    Users are split (by seed) into training and threshold users.
    """
    t0 = time.time()
    series = frame_series(frame, cfg)
    inside = event_rows(frame, labels)
    if not_normal is not None:
        inside |= np.asarray(not_normal, dtype=bool)
    series.m[inside] = 0.0  # event spans are not "normal": neither input nor target
    series.x[inside] = 0.0
    users = sorted(u for u, _, _ in series.users)
    rng = np.random.default_rng(seed)
    n_val = int(round(tc.val_fraction * len(users))) if len(users) > 1 else 0
    val_users = set(rng.permutation(users)[:n_val].tolist())
    train_spans = [s for s in series.users if s[0] not in val_users]
    val_spans = [s for s in series.users if s[0] in val_users]

    idx, _ = tile_rows(train_spans, cfg.seq_len, stride=tc.stride)
    x, m, aux = gather_rows(series, idx)
    keep = m.mean(axis=(1, 2)) >= tc.min_observed * _observable_share(m)
    keep_idx = np.flatnonzero(keep)[_subsample(int(keep.sum()), tc.max_sequences, seed)]
    if not len(keep_idx):
        raise ValueError("train_patchtrad: no training sequence with enough observed values")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PatchTrAD(cfg)
    history = fit_model(model, x[keep_idx], m[keep_idx], aux[keep_idx], tc, seed, progress)

    # threshold: quantile of normal patch scores of held-out users (training users if none held out)
    spans = val_spans or train_spans
    vidx, vowners = tile_rows(spans, cfg.seq_len)
    ps = series_patch_scores(model, series, vidx, vowners)  # event rows already unobserved in `series`
    patch_rows = vidx.reshape(len(vidx), cfg.n_patches, cfg.patch_len)
    touches_event = (inside[np.maximum(patch_rows, 0)] & (patch_rows >= 0)).any(-1)
    normal = ps[~touches_event & np.isfinite(ps)]
    threshold = float(np.quantile(normal, tc.threshold_quantile))
    who = "held-out normal users" if val_spans else "training users (no users held out)"
    criterion = (f"quantile {tc.threshold_quantile} of patch scores on {who}, "
                               f"patches overlapping labelled events excluded")
    summary = {
        "model": "PatchTrAD (patch-wise transformer reconstruction), unsupervised prescreen",
        "seed": seed, "train_config": asdict(tc), "config": cfg.to_dict(),
        "data": {"records": int(len(frame)), "users": len(users), "train_users": len(train_spans),
                 "threshold_users": len(val_spans), "event_rows_hidden": int(inside.sum()),
                 "train_sequences": int(len(keep_idx))},
        "loss_per_epoch": [round(v, 5) for v in history],
        "threshold": threshold, "threshold_criterion": criterion,
        "normal_patch_score_quantiles": {str(q): float(np.quantile(normal, q)) for q in (0.5, 0.9, 0.99, 0.999)},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "train_seconds": round(time.time() - t0, 1),
    }
    return Trained(model, threshold, criterion, summary)


def _observable_share(m: np.ndarray) -> float:
    """Share of features ever observed: a device without SpO2 should not fail min_observed forever."""
    ever = m.reshape(-1, m.shape[-1]).any(axis=0)
    return float(ever.mean()) if ever.any() else 1.0
