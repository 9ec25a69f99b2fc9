"""Throughput of FeatureCalculator.windows on one simulated user-year of 5-minute records.

The frame is made here with numpy (diurnal heart rate, HRV, steps, sleep, a few
sensor gaps, 10 % missing values, causal-looking baseline columns) so this script
does not depend on the simulator module.

    python benchmarks/bench_features.py [--days 365] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from wearable_monitor.config import default_feature_config
from wearable_monitor.features import FeatureCalculator
from wearable_monitor.data.records import static_column


def simulate_frame(days: int = 365, seed: int = 0) -> pd.DataFrame:
    """One user's frame in records_to_frame layout (plus bl_ columns), with gaps and missing values."""
    cfg = default_feature_config()
    rng = np.random.default_rng(seed)
    n = days * 288
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 5, unit="min")
    ts = ts[rng.random(n) > 0.02]  # ~2 % of records never arrive: irregular spacing
    n = len(ts)
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60
    asleep = (hour < 6) | (hour >= 23)
    circ = np.sin(2 * np.pi * (hour - 9) / 24)
    cols = {
        "hr": 68 + 8 * circ + rng.normal(0, 4, n),
        "hr_resting": 60 + 2 * circ + rng.normal(0, 1.5, n),
        "hrv_rmssd": np.exp(3.7 - 0.2 * circ + rng.normal(0, 0.2, n)),
        "hrv_sdnn": np.exp(3.9 - 0.2 * circ + rng.normal(0, 0.2, n)),
        "hrv_pnn50": np.clip(18 + rng.normal(0, 8, n), 0, 100),
        "resp_rate": 15 + rng.normal(0, 1.5, n),
        "spo2": np.clip(97 + rng.normal(0, 1, n), 85, 100),
        "skin_temp": 33.5 + 0.5 * circ + rng.normal(0, 0.3, n),
        "steps": np.where(asleep, 0, rng.gamma(0.6, 150, n)),
        "distance": np.where(asleep, 0, rng.gamma(0.6, 110, n)),
        "calories": 6 + rng.gamma(1.0, 2.0, n),
        "accel_mag": rng.gamma(1.0, 0.05, n),
        "gyro_mag": rng.gamma(1.0, 5.0, n),
        "light": np.where(asleep, 0, rng.gamma(1.0, 300, n)),
        "sleep_state": np.where(asleep, rng.integers(1, 4, n), 0).astype(float),
        "data_quality": rng.choice([0, 1, 2], n, p=[0.9, 0.08, 0.02]).astype(float),
    }
    frame = pd.DataFrame({"user_id": "u000", "timestamp": ts})
    for name in cfg.features:
        v = cols.get(name, np.full(n, np.nan)).astype(np.float64)
        if cfg.features[name].is_numeric:
            v[rng.random(n) < 0.10] = np.nan  # 10 % of values not observed
        frame[name] = v
    lut = np.array([cfg.features["time_period_primary"].categories[cfg.time_period_of_hour(h)] for h in range(24)])
    frame["time_period_primary"] = lut[ts.hour].astype(float)
    for name, spec in cfg.static.items():
        frame[static_column(name)] = np.int64(spec.categories[spec.default])
    for metric, spec in cfg.baseline_metrics.items():
        mu, sd = np.nanmean(frame[spec.source]), np.nanstd(frame[spec.source])
        frame[f"bl_{metric}_mean"], frame[f"bl_{metric}_std"] = mu, sd
        for p in spec.periods:
            if p != "all":
                frame[f"bl_{metric}_{p}_mean"], frame[f"bl_{metric}_{p}_std"] = mu * 0.95, sd
    frame["bl_alpha"] = np.minimum(1.0, np.arange(n) / (288 * 14))
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    frame = simulate_frame(args.days)
    print(f"frame: {len(frame):,} rows x {frame.shape[1]} columns ({args.days} days, 1 user)")
    for size in (6, 12, 24):
        calc = FeatureCalculator(window_size=size)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            w = calc.windows(frame)
            best = min(best, time.perf_counter() - t0)
        mb = sum(getattr(w, f).nbytes for f in w.array_fields() if f != "user_ids") / 1e6
        print(f"window_size={size:2d}: {len(w):,} windows in {best:.2f} s = {len(w) / best:,.0f} windows/s "
              f"(arrays {mb:,.0f} MB, best of {args.repeat})")
    calc = FeatureCalculator()
    recs = frame.iloc[-12:].reset_index(drop=True)
    t0 = time.perf_counter()
    for _ in range(100):
        calc.windows(recs)
    print(f"single realtime window (12 rows, frame in hand): {(time.perf_counter() - t0) * 10:.2f} ms")


if __name__ == "__main__":
    main()
