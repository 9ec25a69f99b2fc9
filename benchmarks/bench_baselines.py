"""Speed of the adaptive baselines on this machine (prints figures; no assertions).

- causal_baseline_columns on one simulated user-year of 5-minute rows (all baseline metrics,
  and one metric alone for the per-metric figure);
- UserDataManager.ingest replaying the same year day by day into a SQLite file;
- realtime: ingest of one 12-row window + baseline_for, per call;
- 8 threads x 200 single-value updates on one file (each thread its own connection).

    python benchmarks/bench_baselines.py [--days 365] [--repeat 3]
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from wearable_monitor.baselines import BaselineStorage, UserDataManager, baseline_keys, causal_baseline_columns
from wearable_monitor.config import default_feature_config


def simulate_frame(days: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days * 288, freq="5min")
    n = len(ts)
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60
    circ = np.sin(2 * np.pi * (hour - 9) / 24)
    day = np.arange(n) // 288
    return pd.DataFrame({
        "user_id": "bench", "timestamp": ts,
        "hr": 68 + 8 * circ + rng.normal(0, 4, n), "hr_resting": 60 + 2 * circ + rng.normal(0, 1.0, days)[day]
        + rng.normal(0, 1.5, n), "hrv_rmssd": np.exp(3.7 - 0.2 * circ + rng.normal(0, 0.2, n)),
        "resp_rate": 15 + rng.normal(0, 1.5, n), "spo2": np.clip(97 + rng.normal(0, 1, n), 85, 100),
        "skin_temp": 33.5 + 0.5 * circ + rng.normal(0, 0.3, n),
        "data_quality": rng.choice([0.0, 1.0, 2.0], n, p=[0.9, 0.08, 0.02]),
        "static_age_group": 1, "static_sex": 1,
    })


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = default_feature_config()
    frame = simulate_frame(args.days)
    keys = baseline_keys(cfg)
    t_all = best_of(lambda: causal_baseline_columns(frame, cfg), args.repeat)
    one = replace(cfg, baseline_metrics={"hr_resting": replace(cfg.baseline_metrics["hr_resting"], periods=("all",))})
    t_one = best_of(lambda: causal_baseline_columns(frame, one), args.repeat)
    print(f"causal_baseline_columns: {len(frame):,} rows, {len(keys)} metric/period keys: {t_all:.3f} s "
          f"({t_all / len(keys):.3f} s per key); one key alone: {t_one:.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        mgr = UserDataManager(BaselineStorage(Path(tmp) / "year.db"), cfg)
        days = list(frame.groupby(frame["timestamp"].dt.normalize()))
        t = time.perf_counter()
        for _, rows in days:
            mgr.ingest("bench", rows)
        t_ingest = time.perf_counter() - t
        print(f"UserDataManager.ingest day by day into SQLite: {len(days)} days in {t_ingest:.2f} s "
              f"({1000 * t_ingest / len(days):.1f} ms per day)")

        live = UserDataManager(BaselineStorage(Path(tmp) / "live.db"), cfg)
        week = frame.iloc[: 7 * 288]
        t = time.perf_counter()
        for start in range(0, len(week), 12):
            live.ingest("bench", week.iloc[start:start + 12])
            live.baseline_for("bench")
        calls = len(week) // 12
        print(f"realtime ingest(12 rows) + baseline_for: {1000 * (time.perf_counter() - t) / calls:.2f} ms per call "
              f"({calls} calls)")

        path = Path(tmp) / "threads.db"
        BaselineStorage(path).close()

        def worker(i: int) -> None:
            with BaselineStorage(path) as st:
                for j in range(200):
                    st.update("shared", "hr", [float(j)])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        count = BaselineStorage(path).get("shared", "hr").count
        print(f"8 threads x 200 updates: {dt:.2f} s ({1600 / dt:,.0f} committed updates/s), final count {count:.0f}")


if __name__ == "__main__":
    main()
