"""Write the preset test windows in test_data/ from the simulator, with their seeds recorded.

    python scripts/make_test_data.py            # rewrites test_data/example_window.json,
                                                # preset_*.json and presets.json

Each preset searches seeds upward from a fixed start for the first simulated user that
shows the wanted situation, so the files are reproducible from `presets.json` alone:
`simulate_user(user_id, days, seed, events=..., config=...)` with the stored seed.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wearable_monitor.data.records import frame_to_records  # noqa: E402
from wearable_monitor.simulation.simulator import EventRequest, SimConfig, simulate_user  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "test_data"
T0 = datetime(2024, 1, 1)
W = 12
FULL = SimConfig(p_no_spo2=0, p_no_resp=0, p_no_hrv=0, p_night_only=0, p_static_unknown=0)
HISTORY_KEEP = ("hr", "hr_resting", "hrv_rmssd", "resp_rate", "spo2", "skin_temp", "steps", "sleep_state",
                "data_quality")
EXAMPLE_NEEDS = ("hr", "hr_resting", "hrv_rmssd", "resp_rate", "spo2", "steps", "sleep_state",
                 "time_period_primary", "data_quality")


def _contiguous(f: pd.DataFrame) -> np.ndarray:
    """ok[i]: rows i..i+11 are 12 records 5 minutes apart."""
    step = (f.timestamp.diff() == pd.Timedelta(minutes=5)).to_numpy()
    c = np.concatenate([[0], np.cumsum(step)])
    i = np.arange(len(f) - W + 1)
    return (c[i + W] - c[i + 1]) == W - 1


def _records(f: pd.DataFrame, keep: tuple[str, ...] | None = None) -> list[dict]:
    recs = frame_to_records(f)
    if keep:
        for r in recs:
            r["features"] = {k: v for k, v in r["features"].items() if k in keep}
    return recs


def example_window(seed0: int = 100):
    """A quiet daytime hour at the desk: every listed channel observed, nothing unusual."""
    for seed in range(seed0, seed0 + 500):
        f = simulate_user("demo-user", 4, seed, events=[], config=FULL).frame
        ok = _contiguous(f)
        for i in np.flatnonzero(ok):
            w = f.iloc[i:i + W]
            if (w.timestamp.dt.hour.between(9, 16).all() and w[list(EXAMPLE_NEEDS)].notna().all().all()
                    and (w.data_quality == 0).all() and w.timestamp.iloc[0] >= pd.Timestamp(T0 + timedelta(days=1))):
                return seed, w
    raise RuntimeError("no example window found")


def normal_window(seed0: int = 200):
    """An ordinary late-morning hour with some walking (activity raises HR: not an anomaly)."""
    for seed in range(seed0, seed0 + 500):
        sim = simulate_user("u-normal", 5, seed, events=[], config=FULL)
        f = sim.frame
        for i in np.flatnonzero(_contiguous(f)):
            w = f.iloc[i:i + W]
            if (w.timestamp.iloc[0] >= pd.Timestamp(T0 + timedelta(days=2)) and w.timestamp.dt.hour.between(10, 12).all()
                    and (w.steps > 300).sum() >= 2 and w.hrv_rmssd.notna().sum() >= 9):
                return seed, sim, w
    raise RuntimeError("no normal window found")


def short_term_window(seed0: int = 300):
    """An acute episode at rest (HR sharply up, HRV down) filling the second half of the window."""
    for seed in range(seed0, seed0 + 500):
        sim = simulate_user("u-acute", 5, seed, events=[EventRequest("acute", minutes=35)], config=FULL)
        if sim.labels.empty:
            continue
        lab = sim.labels.iloc[0]
        f = sim.frame
        end = f.index[f.timestamp == lab.end - pd.Timedelta(minutes=5)]
        if not len(end) or end[0] < W or sim.frame.timestamp[end[0]].hour < 8:
            continue
        w = f.iloc[end[0] - W + 2:end[0] + 2]
        inside = ((w.timestamp >= lab.start) & (w.timestamp < lab.end)).to_numpy()
        if (len(w) == W and _contiguous(w)[0] and inside.sum() >= 6 and w.hr_resting[~inside].notna().sum() >= 3
                and w.hr[~inside].std() < 5 and w.hr[inside].mean() > w.hr_resting[~inside].mean() + 25):
            return seed, sim, w
    raise RuntimeError("no short-term window found")


def long_term_window(seed0: int = 400):
    """A night inside a multi-day illness, with the 9 days before it as history for baselines."""
    for seed in range(seed0, seed0 + 500):
        start = T0 + timedelta(days=9, hours=18)
        sim = simulate_user("u-illness", 14, seed, events=[EventRequest("illness", start=start, days=5)], config=FULL)
        if sim.labels.empty:
            continue
        f = sim.frame
        night = pd.Timestamp(T0 + timedelta(days=11, hours=2))
        i = f.index[f.timestamp == night]
        if not len(i) or not _contiguous(f.iloc[i[0]:i[0] + W].reset_index(drop=True))[0]:
            continue
        w = f.iloc[i[0]:i[0] + W]
        history = f[(f.timestamp < w.timestamp.iloc[0]) & (f.timestamp >= w.timestamp.iloc[0] - pd.Timedelta(days=9))]
        before = history[history.timestamp < pd.Timestamp(start)]
        if (w.sleep_state > 0).sum() >= 10 and before.timestamp.dt.normalize().nunique() >= 8 and \
                w.hr_resting.mean() > before[before.sleep_state > 0].hr_resting.mean() + 8:
            return seed, sim, w, history
    raise RuntimeError("no long-term window found")


def missing_window(seed0: int = 500):
    """Gaps (absent records) plus a low-quality stretch on a device without SpO2 or skin temperature."""
    cfg = SimConfig(p_no_spo2=1, p_no_skin_temp=1, p_no_hrv=0, p_static_unknown=0)
    for seed in range(seed0, seed0 + 500):
        sim = simulate_user("u-gaps", 4, seed, events=[], config=cfg)
        f = sim.frame
        span = (f.timestamp.shift(-(W - 1)) - f.timestamp).dt.total_seconds() / 60
        for i in np.flatnonzero(span.between(75, 120).to_numpy()):
            w = f.iloc[i:i + W]
            if ((w.data_quality == 2).sum() >= 2 and w.hrv_rmssd.isna().sum() >= 1
                    and w.timestamp.dt.hour.between(8, 21).all()):
                return seed, sim, w
    raise RuntimeError("no missing-data window found")


# The verdict each preset must get (tests/test_app_service.py holds it): an anomaly preset is flagged,
# normal and missing data are not.
VERDICT = {"normal": "normal", "short_term": "alert", "long_term": "alert", "missing": "normal"}


def _preset(name, title, description, seed, kind, w, history=None):
    body = {"name": name, "title": title, "description": description, "seed": seed,
            "user_id": str(w.user_id.iloc[0]), "window": _records(w),
            "history": _records(history, HISTORY_KEEP) if history is not None else []}
    path = OUT / f"preset_{name}.json"
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return {"name": name, "title": title, "description": description, "seed": seed,
            "file": f"test_data/{path.name}", "kind": kind, "verdict": VERDICT[kind]}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    seed, w = example_window()
    (OUT / "example_window.json").write_text(json.dumps(_records(w), indent=1) + "\n", encoding="utf-8")
    index = [{"name": "example", "title": "Example window", "seed": seed, "file": "test_data/example_window.json",
              "kind": "normal", "description": "12 records of a quiet daytime hour (plain list), all main channels present. "
              "simulate_user('demo-user', 4, seed, events=[]) with SimConfig(p_no_spo2=0, p_no_resp=0, p_no_hrv=0, "
              "p_night_only=0, p_static_unknown=0).", "verdict": "normal"}]
    seed, _, w = normal_window()
    index.append(_preset("normal", "Normal day", "An ordinary late-morning hour including a short walk: HR rises "
                         "with steps, which is activity, not an anomaly. No labelled event.", seed, "normal", w))
    seed, sim, w = short_term_window()
    lab = sim.labels.iloc[0]
    index.append(_preset("short_term", "Short-term anomaly", f"An acute episode at rest ({lab.start:%H:%M}-{lab.end:%H:%M}): "
                         "heart rate sharply up and HRV down with no steps; the event fills the second half of the "
                         "window.", seed, "short_term", w))
    seed, sim, w, hist = long_term_window()
    lab = sim.labels.iloc[0]
    index.append(_preset("long_term", "Multi-day illness", f"A night on day 3 of a 5-day illness ({lab.start:%Y-%m-%d %H:%M} "
                         f"to {lab.end:%Y-%m-%d %H:%M}): resting HR up, HRV down, respiration up. The history holds the "
                         "9 days before the window (thinned to the main channels) so personal baselines exist.",
                         seed, "long_term", w, hist))
    seed, _, w = missing_window()
    index.append(_preset("missing", "Gaps and missing channels", "A daytime window from a watch without SpO2 or "
                         "skin-temperature sensors, with absent records (the watch lost contact) and a low-quality "
                         "stretch. No labelled event: missing data is not an anomaly.", seed, "missing", w))
    (OUT / "presets.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    for item in index:
        size = (OUT.parent / item["file"]).stat().st_size
        print(f"{item['file']}: seed {item['seed']}, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
