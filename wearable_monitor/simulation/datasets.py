"""Labelled window datasets from the simulator, shared by training, evaluation and PatchTrAD.

`split_population` simulates one population and splits its *users* into disjoint
train / validation / test sets (no person is seen in two splits).
`labelled_windows` turns a frame into windows with causal baselines and the
seed's window label (event inside the window or starting within 30 minutes).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..baselines import causal_baseline_columns
from ..config import REPO_ROOT, FeatureConfig, default_feature_config
from ..data.readers import load_fitbit
from ..data.validation import Limits
from ..events import WEARABLE_KINDS, wearable_events, window_labels
from ..features import FeatureCalculator, Windows
from .simulator import SimConfig, simulate_population

# Channels a Fitbit-like device does not have: shown as missing for some training users so the
# model also learns to work from heart rate and steps alone (real data has nothing else).
FITBIT_MISSING = ("hrv_rmssd", "hrv_sdnn", "hrv_pnn50", "resp_rate", "spo2", "skin_temp", "distance",
                  "calories", "accel_mag", "gyro_mag", "light", "sleep_state")


@dataclass
class Split:
    name: str
    frame: pd.DataFrame
    events: pd.DataFrame
    users: list[str]

    @property
    def user_days(self) -> float:
        return float(self.frame.groupby("user_id")["timestamp"].agg(lambda s: s.dt.normalize().nunique()).sum())


def split_population(n_train: int, n_val: int, n_test: int, days: int, seed: int,
                     sim: dict | None = None) -> dict[str, Split]:
    """`sim`: SimConfig overrides (e.g. a wider illness range for training than the product spec)."""
    config = SimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in (sim or {}).items()})
    pop = simulate_population(n_users=n_train + n_val + n_test, days=days, seed=seed, config=config)
    users = sorted(pop.frame["user_id"].unique())
    order = np.random.default_rng(seed).permutation(len(users))
    users = [users[i] for i in order]
    parts = {"train": users[:n_train], "val": users[n_train:n_train + n_val], "test": users[n_train + n_val:]}
    events = wearable_events(pop.labels)
    out = {}
    for name, members in parts.items():
        keep = pop.frame["user_id"].isin(members)
        out[name] = Split(name, pop.frame[keep].reset_index(drop=True),
                          events[events["user_id"].isin(members)].reset_index(drop=True), sorted(members))
    return out


def hide_channels(frame: pd.DataFrame, users: list[str], channels=FITBIT_MISSING) -> pd.DataFrame:
    """Copy of `frame` where the given users' `channels` are unobserved (Fitbit-like devices)."""
    frame = frame.copy()
    rows = frame["user_id"].isin(users).to_numpy()
    for ch in channels:
        if ch in frame:
            frame.loc[rows, ch] = np.nan
    return frame


def with_baselines(frame: pd.DataFrame, config: FeatureConfig | None = None) -> pd.DataFrame:
    return causal_baseline_columns(frame, feature_config=config or default_feature_config())


def labelled_windows(frame: pd.DataFrame, events: pd.DataFrame, calculator: FeatureCalculator,
                     horizon_minutes: float = 30.0) -> tuple[Windows, np.ndarray, np.ndarray]:
    """All windows of a frame (with baseline columns) and their labels (y, kind index; -1 = none)."""
    windows = calculator.windows(frame)
    window_minutes = calculator.window_size * calculator.config.sampling_minutes
    y, kind = window_labels(windows.user_ids, windows.end_times, events, window_minutes, horizon_minutes)
    return windows, y, kind


def balanced_subsample(y: np.ndarray, negatives_per_positive: float, rng: np.random.Generator,
                       max_windows: int | None = None) -> np.ndarray:
    """Indices: every positive and a random share of negatives (sorted, reproducible)."""
    pos = np.flatnonzero(y)
    neg = np.flatnonzero(~y)
    n_neg = min(len(neg), max(int(len(pos) * negatives_per_positive), 1000))
    idx = np.concatenate([pos, rng.choice(neg, size=n_neg, replace=False)])
    if max_windows is not None and len(idx) > max_windows:
        idx = rng.choice(idx, size=max_windows, replace=False)
    return np.sort(idx)


KIND_NAMES = ("none",) + WEARABLE_KINDS


# ---------------------------------------------------------------------------------------------
# Shape-agnostic augmentation of the simulated training users (issue 14)
# ---------------------------------------------------------------------------------------------

INJECTED_KIND = "injected"  # label of synthetic events: positive window label, no kind target
# Channels an injected event may move, with the physiological unit one amplitude step stands for.
INJECT_SCALE = {"hr": 8.0, "hrv_rmssd": 8.0, "resp_rate": 2.0, "spo2": 1.5, "skin_temp": 0.3, "steps": 30.0}
# Direction constraints: SpO2 can only be seen to fall (it saturates at 100), steps only to rise.
INJECT_SIGN = {"spo2": -1.0, "steps": 1.0}
INJECT_SHAPES = ("shift", "ramp", "spikes")
# Values stay inside the features config valid_range (hrv_rmssd is log-normalised: never 0).
INJECT_RANGE = {"hr": (25.0, 230.0), "hrv_rmssd": (1.0, 300.0), "resp_rate": (4.0, 60.0), "spo2": (50.0, 100.0),
                "skin_temp": (25.0, 42.0), "steps": (0.0, 3000.0)}


@dataclass
class AugmentConfig:
    """Random event shapes, noise and gaps for the training users (all ranges uniform)."""

    injected_per_user_day: float = 0.25          # synthetic events (Poisson rate)
    amplitude: tuple[float, float] = (1.0, 5.0)  # |size| in INJECT_SCALE units per channel
    minutes: tuple[float, float] = (10.0, 240.0)  # event duration
    ramp_share: tuple[float, float] = (0.0, 0.6)  # onset ramp, share of the duration ("shift")
    max_channels: int = 3                        # events touch 1..max_channels observed channels
    noise: tuple[float, float] = (0.0, 0.5)      # extra Gaussian noise per user, INJECT_SCALE units
    record_drop: tuple[float, float] = (0.0, 0.15)  # share of a user's records dropped
    channel_gaps_per_user_day: float = 0.3       # device channel dropouts (Poisson rate)
    channel_gap_hours: tuple[float, float] = (1.0, 12.0)
    guard_minutes: float = 120.0                 # injected events keep this far from other events


def _busy(starts: list, ends: list, s, e, guard) -> bool:
    return any(s <= e0 + guard and e >= s0 - guard for s0, e0 in zip(starts, ends))


def event_profile(shape: str, n: int, ramp: int, rng: np.random.Generator) -> np.ndarray:
    """Shape in [0, 1] over the event's `n` records: first and last record always non-zero."""
    if shape == "ramp":
        return np.linspace(1.0 / n, 1.0, n)
    if shape == "spikes":
        p = (rng.random(n) < 0.5).astype(float)
        p[0] = p[-1] = 1.0
        return p
    p = np.ones(n)
    if ramp > 0:
        p[:ramp] = np.arange(1, ramp + 1) / (ramp + 1)
    return p


def inject_events(frame: pd.DataFrame, events: pd.DataFrame, rng: np.random.Generator,
                  config: AugmentConfig | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add synthetic events of random shape, size, duration, onset ramp and channel subset.

    Returns (frame, injected) with one row per injected event: user_id, start, end (timestamps of
    its first and last record), kind = "injected", stream, shape, channels (";"-joined),
    amplitudes (";"-joined signed sizes in channel units), ramp_records. Events only touch
    channels observed in the span, keep `guard_minutes` away from existing events, and never
    overlap each other, so window labels derived from them are exact.
    """
    cfg = config or AugmentConfig()
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    guard = pd.Timedelta(minutes=cfg.guard_minutes)
    rows = []
    channels = [c for c in INJECT_SCALE if c in frame]
    values = {c: frame[c].to_numpy(dtype=float).copy() for c in channels}
    times = frame["timestamp"].to_numpy()
    bounds = frame.groupby("user_id", sort=False).indices
    for user, idx in bounds.items():
        idx = np.sort(idx)
        ev = events[events["user_id"] == user] if len(events) else events
        starts, ends = list(pd.to_datetime(ev["start"])) if len(ev) else [], list(pd.to_datetime(ev["end"])) if len(ev) else []
        days = (times[idx[-1]] - times[idx[0]]) / np.timedelta64(1, "D")
        for _ in range(rng.poisson(cfg.injected_per_user_day * max(days, 0.0))):
            n = max(2, int(round(rng.uniform(*cfg.minutes) / 5.0)))
            if len(idx) <= n + 1:
                continue
            i0 = int(rng.integers(0, len(idx) - n))
            span = idx[i0:i0 + n]
            s, e = pd.Timestamp(times[span[0]]), pd.Timestamp(times[span[-1]])
            if _busy(starts, ends, s, e, guard):
                continue
            observed = [c for c in channels if np.isfinite(values[c][span]).mean() >= 0.5]
            if not observed:
                continue
            k = int(rng.integers(1, min(cfg.max_channels, len(observed)) + 1))
            chosen = sorted(rng.choice(observed, size=k, replace=False), key=channels.index)
            shape = str(rng.choice(INJECT_SHAPES))
            ramp = int(round(rng.uniform(*cfg.ramp_share) * n)) if shape == "shift" else 0
            prof = event_profile(shape, n, ramp, rng)
            amps = []
            for c in chosen:
                sign = INJECT_SIGN.get(c, rng.choice([-1.0, 1.0]))
                amp = sign * rng.uniform(*cfg.amplitude) * INJECT_SCALE[c]
                v = values[c][span] + amp * prof
                values[c][span] = np.clip(v, *INJECT_RANGE[c])
                amps.append(amp)
            starts.append(s)
            ends.append(e)
            rows.append(dict(user_id=user, start=s, end=e, kind=INJECTED_KIND, stream="wearable", shape=shape,
                             channels=";".join(chosen), amplitudes=";".join(f"{a:.6f}" for a in amps),
                             ramp_records=ramp))
    for c in channels:
        frame[c] = values[c]
    cols = ["user_id", "start", "end", "kind", "stream", "shape", "channels", "amplitudes", "ramp_records"]
    return frame, pd.DataFrame(rows, columns=cols)


def noise_and_gaps(frame: pd.DataFrame, rng: np.random.Generator, config: AugmentConfig | None = None
                   ) -> pd.DataFrame:
    """Per-user random extra noise, device channel dropouts (hours of NaN) and dropped records.

    Labels are time intervals, so they stay exact: a dropped record only removes evidence.
    """
    cfg = config or AugmentConfig()
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    times = frame["timestamp"].to_numpy()
    channels = [c for c in INJECT_SCALE if c in frame]
    drop = np.zeros(len(frame), dtype=bool)
    values = {c: frame[c].to_numpy(dtype=float).copy() for c in channels}
    for user, idx in frame.groupby("user_id", sort=False).indices.items():
        idx = np.sort(idx)
        sigma = rng.uniform(*cfg.noise)
        for c in channels:
            v = values[c][idx] + rng.normal(0.0, sigma * INJECT_SCALE[c], len(idx))
            if c == "steps":  # no made-up activity while still: noise only on counted steps
                v = np.where(values[c][idx] > 0, v, values[c][idx])
            values[c][idx] = np.clip(v, *INJECT_RANGE[c])
        days = (times[idx[-1]] - times[idx[0]]) / np.timedelta64(1, "D")
        for _ in range(rng.poisson(cfg.channel_gaps_per_user_day * max(days, 0.0))):
            n = max(1, int(rng.uniform(*cfg.channel_gap_hours) * 12))
            i0 = int(rng.integers(0, max(1, len(idx) - n)))
            values[str(rng.choice(channels))][idx[i0:i0 + n]] = np.nan
        drop[idx] = rng.random(len(idx)) < rng.uniform(*cfg.record_drop)
    for c in channels:
        frame[c] = values[c]
    return frame[~drop].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Real Fitbit users for self-supervised pre-training (issue 14)
# ---------------------------------------------------------------------------------------------

FITBIT_DIR = REPO_ROOT.parent / "shared" / "data" / "stanford_covid_wearables"
# The labelled users (symptom onset in labels.csv) are the real-data *evaluation* population and
# are never used for training, not even self-supervised; only the unlabelled users are.
FITBIT_PRETRAIN_USERS = ("A36HR6Y", "AJ7TSV9", "ATHKM6V")
FITBIT_EVALUATION_ONLY_USERS = ("A0NVTRV", "APGIB2T", "AS2MVDL")


def fitbit_pretrain_users(data_dir: str | Path = FITBIT_DIR) -> list[str]:
    """Users of `data_dir/labels.csv` without a symptom onset or diagnosis, never an evaluation user."""
    labels = pd.read_csv(Path(data_dir) / "labels.csv")
    free = labels["symptom_onset"].isna() & labels["diagnosis"].isna()
    return sorted(u for u in labels.loc[free, "user_id"] if u not in FITBIT_EVALUATION_ONLY_USERS)


def load_fitbit_pretrain(data_dir: str | Path = FITBIT_DIR, users: list[str] | None = None) -> pd.DataFrame:
    """Heart rate + steps frames of the unlabelled Fitbit users (empty frame if the data is absent)."""
    data_dir = Path(data_dir)
    if not (data_dir / "labels.csv").exists():
        return pd.DataFrame()
    users = fitbit_pretrain_users(data_dir) if users is None else list(users)
    bad = sorted(set(users) & set(FITBIT_EVALUATION_ONLY_USERS))
    if bad:
        raise ValueError(f"load_fitbit_pretrain: {bad} are evaluation-only (labelled) users")
    frames = []
    for u in users:
        hr, steps = data_dir / f"{u}_hr.csv.zip", data_dir / f"{u}_steps.csv.zip"
        if hr.exists():
            frames.append(load_fitbit(hr, steps if steps.exists() else None, limits=Limits(max_bytes=2**30)).frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
