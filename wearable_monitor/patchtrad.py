"""PatchTrAD prescreen: patch-wise transformer reconstruction of a user's 5-minute series.

After PatchTrAD (Vilhes et al., 2025): the multivariate series is cut into
fixed-length patches, each patch (values + observed mask + time-of-day) becomes
one token, a small transformer encoder with learned positional embeddings
reconstructs every patch, and the *patch-wise* reconstruction error is the
anomaly score. Trained on normal data only, so it needs no labels; it is a cheap
unsupervised prescreen that runs next to the learned detector.

Inputs
------
* a frame (records.py layout): each user's records are taken in time order and
  tiled into sequences of ``seq_len`` records (``patch_len`` records per patch).
  Every record gets the score of the patch that holds it (`score_series`);
  flagged patches merge into segments (`flag_segments`).
* a `features.Windows` batch (the detector contract): each window's
  ``numeric``/``numeric_mask`` [T,F] is one (front-padded) patch sequence and
  the window score is the max over its patches.

Scores: each patch is reconstructed with its own *physiological* values (and
those of `hide_radius` neighbouring patches) hidden, so it must be explained by
its visible activity, time of day and context: heart rate that steps do not
explain stands out, a run does not. The score is the mean over the patch's
observed physiological values of the squared error, each feature's error divided
by its typical error on training data (``error_scale``) so no channel dominates.
Unobserved values never enter the model (input is ``x * mask``) nor the error.
On frames each patch is scored with ``score_context_patches`` preceding patches
(default 0: measured better on simulated users, see the config comment).

Training: normal users only (labelled event spans are hidden as unobserved),
random blocks of patches get their physiology hidden (kept as target) and the
leading context is sometimes blanked (so short Windows inputs are in distribution).

Threshold criterion: the ``threshold_quantile`` (default 0.99) quantile of the
patch scores of held-out *normal* users (patches overlapping a labelled event
excluded), i.e. roughly 1 % of normal hours flagged. `calibrate_threshold`
(BaseDetector) re-sets it by F1 on labelled validation windows instead.

This is a screening aid, not a diagnosis.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .config import FeatureConfig, check_known_keys, default_feature_config
from .detectors.base import BaseDetector
from .records import TIME, USER

CONFIG_NAME, WEIGHTS_NAME, SUMMARY_NAME = "config.json", "model.safetensors", "summary.json"
MODEL_TYPE, FORMAT_VERSION = "patchtrad", 1
AUX_NAMES = ("hour_sin", "hour_cos", "gap")  # per-point inputs that are not reconstructed
CLIP = 8.0  # normalised values are clipped: a single wild value must not dominate the gradients


# ----------------------------------------------------------------------------- config

@dataclass
class PatchTrADConfig:
    """Architecture + input layout; everything needed to rebuild the model from config.json."""

    features: list[str] = field(default_factory=list)
    norm: dict[str, list] = field(default_factory=dict)  # feature -> [method, mean, std]
    sampling_minutes: int = 5
    seq_len: int = 96       # 8 hours of 5-minute records
    patch_len: int = 12     # 1 hour per patch -> 8 tokens
    d_model: int = 48
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 96
    dropout: float = 0.1
    # features each patch must predict from its context (its own values hidden) when scored;
    # empty = plain reconstruction. See module docstring.
    hidden_features: list[str] = field(default_factory=list)
    # the hidden block spans the scored patch and `hide_radius` patches each side, so an event
    # straddling a patch boundary cannot explain itself from its other half
    hide_radius: int = 1
    # frame scoring: preceding patches of the same user given as context to each scored patch
    # (None = the whole tiled sequence). On simulated users context-free scoring ranked windows
    # best (PR-AUC 0.77 vs 0.36 with 7 patches: long events explain themselves from context).
    score_context_patches: int | None = 0
    feature_config_sha256: str = ""

    def __post_init__(self):
        if not self.features:
            raise ValueError("PatchTrADConfig.features: empty")
        missing = [f for f in self.features if f not in self.norm]
        if missing:
            raise ValueError(f"PatchTrADConfig.norm: no normalisation for {missing}")
        if self.seq_len % self.patch_len:
            raise ValueError(f"seq_len {self.seq_len} is not a multiple of patch_len {self.patch_len}")
        extra = [f for f in self.hidden_features if f not in self.features]
        if extra:
            raise ValueError(f"PatchTrADConfig.hidden_features: {extra} are not model features")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_patches(self) -> int:
        return self.seq_len // self.patch_len

    @classmethod
    def from_feature_config(cls, fc: FeatureConfig | None = None,
                            channels: tuple[str, ...] = ("physiological", "activity"), **kw) -> "PatchTrADConfig":
        """Numeric model features of `channels`, normalised as configs/features_config.json says."""
        fc = fc or default_feature_config()
        feats = [f for ch in channels for f in fc.channel_features(ch)]
        norm = {f: [fc.features[f].norm_method, fc.features[f].norm_mean, fc.features[f].norm_std] for f in feats}
        kw.setdefault("hidden_features", [f for f in feats if fc.features[f].channel == "physiological"])
        return cls(features=feats, norm=norm, sampling_minutes=fc.sampling_minutes,
                   feature_config_sha256=fc.sha256, **kw)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PatchTrADConfig":
        check_known_keys(cls, d, "PatchTrADConfig")
        return cls(**d)


@dataclass
class TrainConfig:
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    stride: int = 12            # training sequences start every `stride` records (overlapping views)
    min_observed: float = 0.5   # skip training sequences with fewer observed values than this share
    patch_drop: float = 0.2     # share of block centres whose hidden features are blanked in the input (kept as target)
    context_drop: float = 0.25  # share of sequences whose leading patches are blanked entirely
    val_fraction: float = 0.25  # users held out for the threshold
    threshold_quantile: float = 0.99
    max_sequences: int | None = None  # cap (random subset) to bound training time


# ----------------------------------------------------------------------------- model

class PatchTrAD(nn.Module):
    """Patch embedding -> transformer encoder -> per-patch linear reconstruction."""

    def __init__(self, cfg: PatchTrADConfig):
        super().__init__()
        self.cfg = cfg
        nf, na = cfg.n_features, len(AUX_NAMES)
        self.embed = nn.Linear(cfg.patch_len * (2 * nf + na), cfg.d_model)
        self.pos = nn.Parameter(torch.randn(cfg.n_patches, cfg.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.patch_len * nf)
        # typical squared error per feature on training data; set after training, saved with the weights
        self.register_buffer("error_scale", torch.ones(nf))
        hidden = torch.tensor([f in cfg.hidden_features for f in cfg.features], dtype=torch.float32)
        # which features are scored: the hidden ones, or all of them for plain reconstruction
        self.scored = hidden if cfg.hidden_features else torch.ones(nf)
        # hide[p]: [L, F] = 1 where patch p's hidden features are masked out when p is scored
        L, pl = cfg.seq_len, cfg.patch_len
        self.hide = torch.zeros(cfg.n_patches, L, nf)
        r = cfg.hide_radius
        for p in range(cfg.n_patches):
            self.hide[p, max(p - r, 0) * pl:min(p + r + 1, cfg.n_patches) * pl] = hidden

    def forward(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """x, m: [B, L, F] (L = n_patches * patch_len), aux: [B, L, A] -> reconstruction [B, L, F]."""
        B, L, nf = x.shape
        P = L // self.cfg.patch_len
        # multiply by the mask so that whatever sits in unobserved slots cannot leak in
        tokens = torch.cat([x * m, m, aux], dim=-1).reshape(B, P, -1)
        h = self.embed(tokens) + self.pos[:P]
        h = self.ln_f(self.encoder(h))
        return self.head(h).reshape(B, L, nf)

    def scoring_reconstruction(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """[B, L, F]: each patch reconstructed with its own hidden features masked (one pass per patch).

        Plain reconstruction when no features are hidden. A hidden patch must be
        explained by the person's context (the other patches) and its own visible
        activity, so a heart rate that activity does not explain stands out.
        """
        if not self.cfg.hidden_features:
            return self(x, m, aux)
        B, L, nf = x.shape
        P, pl = self.cfg.n_patches, self.cfg.patch_len
        m_in = (m[:, None] * (1 - self.hide)[None]).reshape(B * P, L, nf)
        rep = lambda a: a[:, None].expand(B, P, *a.shape[1:]).reshape(B * P, *a.shape[1:])  # noqa: E731
        out = self(rep(x), m_in, rep(aux)).reshape(B, P, P, pl, nf)
        return out[:, torch.arange(P), torch.arange(P)].reshape(B, L, nf)  # patch p from pass p

    def squared_errors(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(error, weight) [B, L, F]: scale-normalised squared error and 1 where it counts."""
        w = m * self.scored
        return (self.scoring_reconstruction(x, m, aux) - x).pow(2) * w / self.error_scale, w

    def patch_scores(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """[B, P] mean normalised squared error over a patch's scored observed values; NaN if none."""
        B, L, _ = x.shape
        P = L // self.cfg.patch_len
        err, w = self.squared_errors(x, m, aux)
        num, den = err.reshape(B, P, -1).sum(-1), w.reshape(B, P, -1).sum(-1)
        return torch.where(den > 0, num / den.clamp_min(1.0), torch.full_like(num, float("nan")))


# ----------------------------------------------------------------------------- data

def normalise(values: np.ndarray, method: str, mean: float, std: float) -> np.ndarray:
    """The features_config normalisation (zscore / log_zscore / log1p_zscore / none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "log_zscore":
            values = np.log(np.maximum(values, 1e-3))
        elif method == "log1p_zscore":
            values = np.log1p(np.maximum(values, 0.0))
        elif method == "none":
            return values
        elif method != "zscore":
            raise ValueError(f"unknown normalisation method {method!r}")
        return (values - mean) / std


def _aux(hours: np.ndarray, dt_minutes: np.ndarray, sampling: float) -> np.ndarray:
    """Time of day (circadian context) and the gap before each point (irregular spacing)."""
    angle = 2 * np.pi * hours / 24.0
    gap = np.log1p(np.maximum(dt_minutes - sampling, 0.0) / sampling)
    return np.stack([np.sin(angle), np.cos(angle), gap], axis=-1).astype(np.float32)


@dataclass
class Series:
    """One frame as model arrays: rows in frame order, plus each user's row range."""

    x: np.ndarray     # [n, F] float32 normalised, 0 where unobserved
    m: np.ndarray     # [n, F] float32 observed mask
    aux: np.ndarray   # [n, A] float32
    users: list[tuple[str, int, int]]  # (user_id, first row, end row exclusive)


def frame_series(frame: pd.DataFrame, cfg: PatchTrADConfig) -> Series:
    """Normalise the configured features of a records_to_frame frame (must be sorted by user, time)."""
    missing = [c for c in (USER, TIME, *cfg.features) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing columns {missing}")
    uid = frame[USER].astype(str).to_numpy()
    ts = pd.DatetimeIndex(frame[TIME])
    new_user = np.r_[True, uid[1:] != uid[:-1]] if len(uid) else np.zeros(0, bool)
    starts = np.flatnonzero(new_user)
    if len(starts) != len(set(uid)):
        raise ValueError("frame: rows of a user are not contiguous; sort by (user_id, timestamp) as records_to_frame does")
    t_ns = ts.as_unit("ns").asi8  # frames may carry us resolution (pandas 3 default)
    dt = np.r_[0, np.diff(t_ns)] / 60e9
    bad = np.flatnonzero((dt <= 0) & ~new_user)
    if len(bad):
        raise ValueError(f"frame row {bad[0]}: timestamp not after the previous one of user {uid[bad[0]]}")
    dt[new_user] = cfg.sampling_minutes
    raw = frame[cfg.features].to_numpy(dtype=np.float64)
    m = np.isfinite(raw)
    x = np.column_stack([normalise(raw[:, j], *cfg.norm[f]) for j, f in enumerate(cfg.features)]) if len(raw) \
        else np.zeros((0, cfg.n_features))
    m &= np.isfinite(x)
    x = np.where(m, np.clip(x, -CLIP, CLIP), 0.0).astype(np.float32)
    hours = ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0
    ends = np.r_[starts[1:], len(uid)]
    users = [(uid[a], int(a), int(b)) for a, b in zip(starts, ends)]
    return Series(x, m.astype(np.float32), _aux(hours, dt, cfg.sampling_minutes), users)


def _gather(series: Series, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows `idx` ([S, L], -1 = padding) -> arrays [S, L, *]; padding is unobserved with zero inputs."""
    pad = lambda a: np.concatenate([a, np.zeros((1, a.shape[1]), a.dtype)])  # noqa: E731  row -1 = padding
    return pad(series.x)[idx], pad(series.m)[idx], pad(series.aux)[idx]


def tile_rows(users: list[tuple[str, int, int]], seq_len: int, stride: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Row indices of each user's sequences ([S, seq_len], -1 = padding past the user's last row).

    stride=None tiles without overlap (scoring: every row in exactly one sequence);
    a stride gives overlapping training views.
    """
    out, owners = [], []
    for u, a, b in users:
        n = b - a
        if stride is None:
            starts = np.arange(0, n, seq_len)
        else:
            starts = np.arange(0, max(n - seq_len, 0) + 1, stride)
        idx = a + starts[:, None] + np.arange(seq_len)[None, :]
        idx[idx >= b] = -1
        out.append(idx)
        owners += [u] * len(idx)
    return (np.concatenate(out) if out else np.zeros((0, seq_len), np.int64)), owners


def event_rows(frame: pd.DataFrame, labels: pd.DataFrame | None) -> np.ndarray:
    """Boolean per frame row: inside a labelled wearable event span (user_id, start, end)."""
    inside = np.zeros(len(frame), dtype=bool)
    if labels is None or not len(labels):
        return inside
    ev = labels[labels["stream"] == "wearable"] if "stream" in labels else labels
    uid = frame[USER].astype(str).to_numpy()
    t = pd.DatetimeIndex(frame[TIME]).as_unit("ns").asi8
    rows = {u: np.flatnonzero(uid == u) for u in pd.unique(ev["user_id"].astype(str))}
    for u, s, e in zip(ev["user_id"].astype(str), pd.to_datetime(ev["start"]), pd.to_datetime(ev["end"])):
        r = rows.get(u)
        if r is not None and len(r):
            lo, hi = np.searchsorted(t[r], s.as_unit("ns").value), np.searchsorted(t[r], e.as_unit("ns").value, "right")
            inside[r[lo:hi]] = True
    return inside


def windows_arrays(windows: Any, cfg: PatchTrADConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A features.Windows batch -> (x, m, aux) [N, T, *] on the model's feature layout."""
    names = list(windows.numeric_names)
    missing = [f for f in cfg.features if f not in names]
    if missing:
        raise ValueError(f"Windows.numeric_names lacks {missing} (PatchTrAD was trained on {cfg.features})")
    idx = [names.index(f) for f in cfg.features]
    m = np.asarray(windows.numeric_mask, dtype=np.float32)[:, :, idx]
    x = np.clip(np.asarray(windows.numeric, dtype=np.float32)[:, :, idx], -CLIP, CLIP) * m
    end = pd.DatetimeIndex(np.asarray(windows.end_times)).as_unit("ns").asi8
    t_ns = end[:, None] + (np.asarray(windows.t, dtype=np.float64) * 60e9).astype(np.int64)
    minutes_of_day = (t_ns // 60_000_000_000) % (24 * 60)  # naive local wall-clock, like the frame
    aux = _aux(minutes_of_day / 60.0, np.asarray(windows.dt, dtype=np.float64), cfg.sampling_minutes)
    return x, m, aux


def front_pad(x: np.ndarray, m: np.ndarray, aux: np.ndarray, seq_len: int):
    """Pad [N, T, *] at the front to a multiple of seq_len and split into sequences [N*k, seq_len, *]."""
    N, T = x.shape[:2]
    k = max(1, math.ceil(T / seq_len))
    pad = k * seq_len - T
    out = [np.concatenate([np.zeros((N, pad, a.shape[2]), np.float32), a], axis=1).reshape(N * k, seq_len, -1)
           for a in (x, m, aux)]
    return (*out, k)


# ----------------------------------------------------------------------------- detector

class Segment(NamedTuple):
    user_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    max_score: float


class PatchTrADDetector(BaseDetector):
    """PatchTrAD behind the detector contract.

    `fit`, `decision_function`, `predict` take either a `features.Windows` batch
    (one score per window) or a frame (one score per record, from the patch that
    holds it; the recommended input since every patch then sees 8 hours of context).
    """

    name = "patchtrad"

    def __init__(self, config: PatchTrADConfig | None = None, threshold: float | None = None,
                 threshold_criterion: str = "", train_config: TrainConfig | None = None, seed: int = 0,
                 progress: bool = False):
        super().__init__(threshold)
        self.config = config or PatchTrADConfig.from_feature_config()
        self.model = PatchTrAD(self.config).eval()
        self.threshold_criterion = threshold_criterion
        self.train_config = train_config or TrainConfig()
        self.seed, self.progress = seed, progress
        self.summary: dict = {}

    # -- scoring core
    @torch.no_grad()
    def _patch_scores(self, x: np.ndarray, m: np.ndarray, aux: np.ndarray, batch: int = 512) -> np.ndarray:
        self.model.eval()
        out = [self.model.patch_scores(*(torch.from_numpy(np.ascontiguousarray(a[i:i + batch])) for a in (x, m, aux)))
               for i in range(0, len(x), batch)]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, self.config.n_patches))

    def _tiled(self, frame: pd.DataFrame) -> tuple[Series, np.ndarray, list[str], np.ndarray]:
        series = frame_series(frame, self.config)
        idx, owners = tile_rows(series.users, self.config.seq_len)
        return series, idx, owners, self._series_patch_scores(series, idx, owners)

    def _series_patch_scores(self, series: Series, idx: np.ndarray, owners: list[str]) -> np.ndarray:
        """[S, P] score of every tiled patch, each seen with `score_context_patches` patches before it."""
        cfg = self.config
        c = cfg.score_context_patches
        if c is None or c >= cfg.n_patches - 1:
            return self._patch_scores(*_gather(series, idx))
        P, pl, L = cfg.n_patches, cfg.patch_len, cfg.seq_len
        rows = idx.reshape(-1, pl)  # every patch, in time order per user
        user = np.repeat(pd.factorize(np.asarray(owners, dtype=object))[0], P)
        seq = np.full((len(rows), L), -1, dtype=np.int64)
        for k in range(c + 1):  # the scored patch goes last; context before it, same user only
            src = np.arange(len(rows)) - k
            ok = (src >= 0) & (user[np.maximum(src, 0)] == user)
            seq[ok, L - (k + 1) * pl:L - k * pl] = rows[src[ok]]
        return self._patch_scores(*_gather(series, seq))[:, -1].reshape(len(idx), P)

    def score_series(self, frame: pd.DataFrame) -> np.ndarray:
        """Score per frame row = score of its patch; NaN when its patch holds no observed value."""
        _, idx, _, ps = self._tiled(frame)
        per_point = np.repeat(ps, self.config.patch_len, axis=1)
        out = np.full(len(frame), np.nan)
        valid = idx >= 0
        out[idx[valid]] = per_point[valid]
        return out

    def flag_segments(self, frame: pd.DataFrame, threshold: float | None = None) -> list[Segment]:
        """Runs of consecutive patches scoring at or above the threshold (same rule as `predict`)."""
        thr = self._threshold(threshold)
        _, idx, owners, ps = self._tiled(frame)
        P, pl = self.config.n_patches, self.config.patch_len
        rows = idx.reshape(len(idx) * P, pl)  # patch -> its rows
        scores = ps.reshape(-1)
        owner = np.repeat(np.asarray(owners, dtype=object), P)
        flagged = np.flatnonzero(scores >= thr)  # NaN compares False: unobserved patches never flag
        times = pd.DatetimeIndex(frame[TIME])
        segments: list[Segment] = []
        run: list[int] = []
        for p in np.r_[flagged, -2]:  # -2 = sentinel closing the last run
            if run and (p != run[-1] + 1 or owner[p] != owner[run[-1]]):
                r = rows[run]
                r = r[r >= 0]
                segments.append(Segment(str(owner[run[0]]), times[r.min()], times[r.max()],
                                        float(np.max(scores[run]))))
                run = []
            if p >= 0:
                run.append(int(p))
        return segments

    def decision_function(self, data: Any) -> np.ndarray:
        """Windows -> max patch score per window; frame -> per-record score. Nothing observed -> 0."""
        if isinstance(data, pd.DataFrame):
            return np.nan_to_num(self.score_series(data), nan=0.0)
        x, m, aux, k = front_pad(*windows_arrays(data, self.config), self.config.seq_len)
        ps = self._patch_scores(x, m, aux).reshape(len(x) // k, -1)
        with np.errstate(all="ignore"):
            scores = np.nanmax(np.where(np.isnan(ps), -np.inf, ps), axis=1)
        return np.where(np.isfinite(scores), scores, 0.0)

    def _threshold(self, threshold: float | None) -> float:
        thr = self.threshold_ if threshold is None else threshold
        if thr is None:
            raise RuntimeError("patchtrad: no threshold set; fit() first or pass threshold=")
        return float(thr)

    # -- training
    def fit(self, data: Any, y: Any = None) -> "PatchTrADDetector":
        """Train on normal data and set threshold_ (see module docstring for the criterion).

        data = frame: y is an optional labels DataFrame (user_id, start, end, kind[, stream]);
        data = Windows: y is an optional 0/1 array; windows with y == 1 are left out.
        """
        if isinstance(data, pd.DataFrame):
            trained, summary = train_patchtrad(data, labels=y, config=self.config, train_config=self.train_config,
                                               seed=self.seed, progress=self.progress)
        else:
            trained, summary = _train_on_windows(data, y, self.config, self.train_config, self.seed, self.progress)
        self.model, self.threshold_ = trained.model, trained.threshold_
        self.threshold_criterion, self.summary = trained.threshold_criterion, summary
        return self

    # -- persistence (huggingface_hub folder convention, safetensors only)
    def save_pretrained(self, out_dir: str | Path, summary: dict | None = None) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"model_type": MODEL_TYPE, "format_version": FORMAT_VERSION, "threshold": self.threshold_,
                "threshold_criterion": self.threshold_criterion, "config": self.config.to_dict()}
        (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt", "model_type": MODEL_TYPE})
        if summary is not None:
            (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
        return out

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "PatchTrADDetector":
        """Load a local folder (config.json + model.safetensors); keys and shapes must match exactly."""
        path = Path(path)
        try:
            meta = json.loads((path / CONFIG_NAME).read_text())
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path / CONFIG_NAME}: not found (not a PatchTrAD checkpoint folder)") from exc
        if meta.get("model_type") != MODEL_TYPE:
            raise ValueError(f"{path / CONFIG_NAME}: model_type {meta.get('model_type')!r} is not {MODEL_TYPE!r}")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path / CONFIG_NAME}: format_version {meta.get('format_version')} != {FORMAT_VERSION}")
        det = cls(PatchTrADConfig.from_dict(meta["config"]), threshold=meta.get("threshold"),
                  threshold_criterion=meta.get("threshold_criterion", ""))
        state = load_file(str(path / WEIGHTS_NAME))
        expected = det.model.state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ValueError(f"{path / WEIGHTS_NAME}: missing keys {missing}, unexpected keys {unexpected}")
        bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
        if bad:
            raise ValueError(f"{path / WEIGHTS_NAME}: shape mismatch for {bad}")
        det.model.load_state_dict(state, strict=True)
        det.model.eval()
        summary_file = path / SUMMARY_NAME
        det.summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        return det


# ----------------------------------------------------------------------------- training

def _corrupt(m: torch.Tensor, cfg: PatchTrADConfig, tc: TrainConfig, gen: torch.Generator):
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


def fit_model(model: PatchTrAD, x: np.ndarray, m: np.ndarray, aux: np.ndarray, tc: TrainConfig,
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


def train_patchtrad(frame: pd.DataFrame, labels: pd.DataFrame | None = None,
                    config: PatchTrADConfig | None = None, train_config: TrainConfig | None = None,
                    seed: int = 0, progress: bool = True) -> tuple[PatchTrADDetector, dict]:
    """Train on the normal part of `frame` (labelled wearable events hidden), calibrate threshold_.

    Users are split (by seed) into training and threshold users; returns (detector, summary).
    """
    cfg = config or PatchTrADConfig.from_feature_config()
    tc = train_config or TrainConfig()
    t0 = time.time()
    series = frame_series(frame, cfg)
    inside = event_rows(frame, labels)
    series.m[inside] = 0.0  # event spans are not "normal": neither input nor target
    series.x[inside] = 0.0
    users = sorted(u for u, _, _ in series.users)
    rng = np.random.default_rng(seed)
    n_val = int(round(tc.val_fraction * len(users))) if len(users) > 1 else 0
    val_users = set(rng.permutation(users)[:n_val].tolist())
    train_spans = [s for s in series.users if s[0] not in val_users]
    val_spans = [s for s in series.users if s[0] in val_users]

    idx, _ = tile_rows(train_spans, cfg.seq_len, stride=tc.stride)
    x, m, aux = _gather(series, idx)
    keep = m.mean(axis=(1, 2)) >= tc.min_observed * _observable_share(m)
    keep_idx = np.flatnonzero(keep)[_subsample(int(keep.sum()), tc.max_sequences, seed)]
    if not len(keep_idx):
        raise ValueError("train_patchtrad: no training sequence with enough observed values")
    det = PatchTrADDetector(cfg, train_config=tc, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        det.model = PatchTrAD(cfg)
    history = fit_model(det.model, x[keep_idx], m[keep_idx], aux[keep_idx], tc, seed, progress)

    # threshold: quantile of normal patch scores of held-out users (training users if none held out)
    spans = val_spans or train_spans
    vidx, vowners = tile_rows(spans, cfg.seq_len)
    ps = det._series_patch_scores(series, vidx, vowners)  # event rows already unobserved in `series`
    patch_rows = vidx.reshape(len(vidx), cfg.n_patches, cfg.patch_len)
    touches_event = (inside[np.maximum(patch_rows, 0)] & (patch_rows >= 0)).any(-1)
    normal = ps[~touches_event & np.isfinite(ps)]
    det.threshold_ = float(np.quantile(normal, tc.threshold_quantile))
    who = "held-out normal users" if val_spans else "training users (no users held out)"
    det.threshold_criterion = (f"quantile {tc.threshold_quantile} of patch scores on {who}, "
                               f"patches overlapping labelled events excluded")
    summary = {
        "model": "PatchTrAD (patch-wise transformer reconstruction), unsupervised prescreen",
        "seed": seed, "train_config": asdict(tc), "config": cfg.to_dict(),
        "data": {"records": int(len(frame)), "users": len(users), "train_users": len(train_spans),
                 "threshold_users": len(val_spans), "event_rows_hidden": int(inside.sum()),
                 "train_sequences": int(len(keep_idx))},
        "loss_per_epoch": [round(v, 5) for v in history],
        "threshold": det.threshold_, "threshold_criterion": det.threshold_criterion,
        "normal_patch_score_quantiles": {str(q): float(np.quantile(normal, q)) for q in (0.5, 0.9, 0.99, 0.999)},
        "parameters": int(sum(p.numel() for p in det.model.parameters())),
        "train_seconds": round(time.time() - t0, 1),
    }
    det.summary = summary
    return det, summary


def _observable_share(m: np.ndarray) -> float:
    """Share of features ever observed: a device without SpO2 should not fail min_observed forever."""
    ever = m.reshape(-1, m.shape[-1]).any(axis=0)
    return float(ever.mean()) if ever.any() else 1.0


def _train_on_windows(windows: Any, y: Any, cfg: PatchTrADConfig, tc: TrainConfig, seed: int,
                      progress: bool) -> tuple[PatchTrADDetector, dict]:
    """Windows path of `fit`: each window is one front-padded sequence; threshold on held-out windows."""
    x, m, aux = windows_arrays(windows, cfg)
    normal = np.ones(len(x), bool) if y is None else ~np.asarray(y).astype(bool)
    users = np.asarray(windows.user_ids, dtype=object)
    uniq = sorted(set(users[normal].tolist()))
    n_val = int(round(tc.val_fraction * len(uniq))) if len(uniq) > 1 else 0
    val_users = set(np.random.default_rng(seed).permutation(uniq)[:n_val].tolist())
    is_val = np.isin(users, list(val_users))
    tr = np.flatnonzero(normal & ~is_val)
    tr = tr[_subsample(len(tr), tc.max_sequences, seed)]
    det = PatchTrADDetector(cfg, train_config=tc, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        det.model = PatchTrAD(cfg)
    px, pm, pa, _ = front_pad(x[tr], m[tr], aux[tr], cfg.seq_len)
    history = fit_model(det.model, px, pm, pa, tc, seed, progress)
    held = normal & is_val if n_val else normal
    scores = det.decision_function(windows)[held]
    det.threshold_ = float(np.quantile(scores, tc.threshold_quantile))
    det.threshold_criterion = (f"quantile {tc.threshold_quantile} of window scores on "
                               f"{'held-out users' if n_val else 'training'} normal windows")
    return det, {"seed": seed, "train_windows": int(len(tr)), "loss_per_epoch": history,
                 "threshold": det.threshold_, "threshold_criterion": det.threshold_criterion}


# ----------------------------------------------------------------------------- evaluation

def evaluate_patchtrad(det: PatchTrADDetector, frame: pd.DataFrame, labels: pd.DataFrame,
                       window_size: int = 12) -> dict:
    """Window-level and event-level metrics on (held-out) users, with the shared `events` rules.

    Windows: every run of `window_size` consecutive records of a user (stride 1), scored by
    the max record score in it (series path: each patch sees its 8-hour context); labelled
    positive when a wearable event overlaps it or starts within 30 minutes after its end.
    Events: flagged windows merge into alarm episodes (events.alarm_episodes / match_events).
    """
    from .events import alarm_episodes, match_events, wearable_events, window_labels
    from .metrics import pr_auc, precision_recall_f1

    rec = np.nan_to_num(det.score_series(frame), nan=0.0)
    uid = frame[USER].astype(str).to_numpy()
    ts = pd.DatetimeIndex(frame[TIME])
    w_scores, w_users, w_end = [], [], []
    for u, a, b in frame_series(frame, det.config).users:
        if b - a < window_size:
            continue
        w_scores.append(np.lib.stride_tricks.sliding_window_view(rec[a:b], window_size).max(axis=1))
        w_users.append(uid[a + window_size - 1:b])
        w_end.append(ts[a + window_size - 1:b].as_unit("ns").asi8)
    scores, users, ends = np.concatenate(w_scores), np.concatenate(w_users), np.concatenate(w_end)
    events = wearable_events(labels)
    y, _ = window_labels(users, ends.astype("datetime64[ns]"), events,
                         window_minutes=window_size * det.config.sampling_minutes)
    flags = scores >= det.threshold_
    tp, fp, fn = int((flags & y).sum()), int((flags & ~y).sum()), int((~flags & y).sum())
    p, r, f1 = precision_recall_f1(tp, fp, fn)
    episodes = alarm_episodes(users, ends.astype("datetime64[ns]"), flags)
    user_days = frame.groupby(USER)[TIME].agg(lambda t: (t.max() - t.min()).total_seconds() / 86400).sum()
    ev = events[events["user_id"].astype(str).isin(set(uid))]
    report = match_events(episodes, ev.reset_index(drop=True), user_days)
    return {"windows": int(len(y)), "positive_windows": int(y.sum()), "window_size": window_size,
            "window_pr_auc": round(pr_auc(scores, y), 4), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f1, 4), "threshold": det.threshold_, "events": report.as_dict()}


# ----------------------------------------------------------------------------- CLI

def _evaluate_windows(det: PatchTrADDetector, frame: pd.DataFrame, labels: pd.DataFrame,
                      window_size: int = 12) -> dict:
    """Window-level PR-AUC through the detector contract (features.Windows, no context beyond the window)."""
    from .events import wearable_events, window_labels
    from .features import FeatureCalculator
    from .metrics import pr_auc

    w = FeatureCalculator(window_size=window_size).windows(frame)
    scores = det.decision_function(w)
    y, _ = window_labels(w.user_ids, w.end_times, wearable_events(labels),
                         window_minutes=window_size * det.config.sampling_minutes)
    return {"windows": int(len(y)), "positive_windows": int(y.sum()), "window_pr_auc": round(pr_auc(scores, y), 4),
            "note": "decision_function on FeatureCalculator windows: each window alone, front-padded"}


def _train_cli(args: argparse.Namespace) -> int:
    from .simulator import simulate_population

    torch.set_num_threads(args.threads)
    pop = simulate_population(args.users, args.days, args.seed)
    frame, labels = pop.frame, pop.labels
    users = sorted(frame[USER].astype(str).unique())
    test_users = set(np.random.default_rng(args.seed + 1).permutation(users)[:int(round(args.test_fraction * len(users)))])
    is_test = frame[USER].astype(str).isin(test_users).to_numpy()
    tc = TrainConfig(epochs=args.epochs, max_sequences=args.max_sequences)
    det, summary = train_patchtrad(frame[~is_test].reset_index(drop=True), labels, train_config=tc, seed=args.seed)
    test = evaluate_patchtrad(det, frame[is_test].reset_index(drop=True), labels)
    summary["data"].update({"source": f"simulate_population(n_users={args.users}, days={args.days}, seed={args.seed})",
                            "test_users": len(test_users), "test_records": int(is_test.sum())})
    summary["test"] = test
    summary["test_windows_contract_path"] = _evaluate_windows(det, frame[is_test].reset_index(drop=True), labels)
    out = det.save_pretrained(args.out, summary=summary)
    print(json.dumps({"out": str(out), "threshold": det.threshold_, "test": test}, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wearable_monitor.patchtrad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train on simulated users, evaluate on held-out users, save a checkpoint")
    p.add_argument("--out", default="checkpoints/patchtrad")
    p.add_argument("--users", type=int, default=60)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-sequences", type=int, default=4000)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    return _train_cli(args)


if __name__ == "__main__":
    raise SystemExit(main())
