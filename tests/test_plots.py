"""The timeline's decimation keeps what a person must see: spikes, dips and gaps."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wearable_monitor.app.plots import envelope


def series(n: int = 26_000):
    times = pd.date_range("2024-01-01", periods=n, freq="5min").to_numpy()
    values = 70 + np.sin(np.arange(n) / 50.0)
    return times, values


def test_a_short_spike_and_a_dip_survive_and_the_point_budget_holds():
    times, values = series()
    values[10_000:10_003] = 140.0   # a quarter of an hour at 140 bpm
    values[20_000] = 38.0            # one low record
    x, y = envelope(times, values, 4000)
    assert len(y) <= 4000 and y.max() == 140.0 and y.min() == 38.0
    assert (np.diff(x.astype(np.int64)) > 0).all()  # time order, no duplicate points
    mean_of_buckets = values[: len(values) // 13 * 13].reshape(-1, 13).mean(axis=1)
    assert mean_of_buckets.max() < 100  # what the former averaging would have drawn


def test_a_gap_stays_a_gap_and_short_series_are_untouched():
    times, values = series()
    values[5_000:8_000] = np.nan      # ten days without the watch
    x, y = envelope(times, values, 4000)
    inside = (x >= times[5_000]) & (x < times[8_000])
    assert inside.any() and np.isnan(y[inside]).all()
    assert np.isfinite(y[~inside]).all()
    short_t, short_v = times[:100], values[:100]
    x, y = envelope(short_t, short_v, 4000)
    assert x is short_t and y is short_v
