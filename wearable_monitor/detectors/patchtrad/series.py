"""A frame as PatchTrAD's arrays: normalised values, observed mask and time inputs, tiled per user."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.records import TIME, USER
from .config import CLIP, PatchTrADConfig


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
    x = cfg.normaliser().clamped(raw) if len(raw) else np.zeros((0, cfg.n_features))
    m &= np.isfinite(x)
    x = np.where(m, np.clip(x, -CLIP, CLIP), 0.0).astype(np.float32)
    hours = ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0
    ends = np.r_[starts[1:], len(uid)]
    users = [(uid[a], int(a), int(b)) for a, b in zip(starts, ends)]
    return Series(x, m.astype(np.float32), _aux(hours, dt, cfg.sampling_minutes), users)


def gather_rows(series: Series, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
