"""Labelled window datasets from the simulator, shared by training, evaluation and PatchTrAD.

`split_population` simulates one population and splits its *users* into disjoint
train / validation / test sets (no person is seen in two splits).
`labelled_windows` turns a frame into windows with causal baselines and the
seed's window label (event inside the window or starting within 30 minutes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import FeatureConfig, default_feature_config
from .events import WEARABLE_KINDS, wearable_events, window_labels
from .features import FeatureCalculator, Windows

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
    from .simulator import SimConfig, simulate_population

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
    from .baselines import causal_baseline_columns

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
