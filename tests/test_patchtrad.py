"""PatchTrAD prescreen: shapes, anomaly sensitivity, masking, persistence, determinism.

Uses small synthetic frames in the records_to_frame layout (circadian HR, noisy
activity, random gaps) so the tests do not depend on the simulator.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from wearable_monitor.config import default_feature_config
from wearable_monitor.features import FeatureCalculator
from wearable_monitor.detectors.patchtrad import (WEIGHTS_NAME, PatchTrADConfig, PatchTrADDetector, PatchTrADTrainConfig,
                                                  train_patchtrad)

FC = default_feature_config()
SMALL = dict(seq_len=48, patch_len=6, d_model=32, n_heads=4, d_ff=64, dropout=0.0)
FAST = PatchTrADTrainConfig(epochs=3, batch_size=32, lr=3e-3, stride=12, val_fraction=0.25)


def synthetic_frame(n_users: int = 4, days: int = 2, seed: int = 0, missing: float = 0.05) -> pd.DataFrame:
    """A frame with every configured column; plausible, smooth physiology and random gaps (NaN)."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(n_users):
        n = days * 288
        ts = pd.date_range("2024-01-01", periods=n, freq="5min")
        hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60
        night = (hour < 6) | (hour >= 23)
        active = ~night & (rng.random(n) < 0.2)
        steps = np.where(active, rng.gamma(2.0, 150.0, n), rng.poisson(3, n)).astype(float)
        base = 60 + 4 * u
        hr = base + 8 * np.sin(2 * np.pi * (hour - 15) / 24) + 0.03 * steps + rng.normal(0, 2, n)
        df = {c: np.full(n, np.nan) for c in FC.features}
        df.update({
            "hr": hr, "hr_resting": np.full(n, base) + rng.normal(0, 1, n),
            "hrv_rmssd": np.exp(rng.normal(3.6, 0.1, n)), "hrv_sdnn": np.exp(rng.normal(3.85, 0.1, n)),
            "hrv_pnn50": np.clip(rng.normal(18, 3, n), 0, 100), "resp_rate": 15 + rng.normal(0, 0.7, n),
            "spo2": np.clip(97 + rng.normal(0, 0.6, n), 90, 100), "skin_temp": 33.5 + rng.normal(0, 0.2, n),
            "steps": steps, "distance": steps * 0.75, "calories": 5 + 0.04 * steps,
            "accel_mag": 0.02 + 0.0004 * steps, "gyro_mag": 3 + 0.02 * steps,
        })
        frame = pd.DataFrame(df)
        for c in PatchTrADConfig.from_feature_config().features:  # random sensor gaps
            frame.loc[rng.random(n) < missing, c] = np.nan
        frame.insert(0, "timestamp", ts)
        frame.insert(0, "user_id", f"u{u:02d}")
        for s in FC.static:
            frame[f"static_{s}"] = 0
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def inject(frame: pd.DataFrame, user: str, start: str, minutes: int) -> tuple[pd.DataFrame, np.ndarray]:
    """HR jump (+40 bpm at rest) and SpO2 drop (86 %) for `minutes` minutes of one user."""
    f = frame.copy()
    t0 = pd.Timestamp(start)
    rows = ((f["user_id"] == user) & (f["timestamp"] >= t0) & (f["timestamp"] < t0 + pd.Timedelta(minutes=minutes))).to_numpy()
    f.loc[rows, "hr"] += 40.0
    f.loc[rows, "spo2"] = 86.0
    return f, rows


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(2)
    frame = synthetic_frame()
    cfg = PatchTrADConfig.from_feature_config(**SMALL)
    return train_patchtrad(frame, config=cfg, train_config=FAST, seed=0, progress=False)


def test_shapes(trained):
    det, summary = trained
    cfg = det.config
    assert cfg.features[:2] == ["hr", "hr_resting"] and cfg.n_patches == 8
    x = torch.zeros(3, cfg.seq_len, cfg.n_features)
    assert det.model(x, torch.ones_like(x), torch.zeros(3, cfg.seq_len, 3)).shape == x.shape
    assert det.model.patch_scores(x, torch.ones_like(x), torch.zeros(3, cfg.seq_len, 3)).shape == (3, cfg.n_patches)
    frame = synthetic_frame(n_users=2, days=1, seed=5)
    s = det.score_series(frame)
    assert s.shape == (len(frame),) and np.isfinite(s).all()
    # every record of a patch carries that patch's score
    assert np.all(s[: cfg.patch_len] == s[0])
    w = FeatureCalculator(window_size=12).windows(frame)
    scores = det.decision_function(w)
    assert scores.shape == (len(w),) and np.isfinite(scores).all()
    assert det.predict(w).dtype == bool
    assert det.threshold_ > 0 and "quantile" in det.threshold_criterion
    assert summary["data"]["threshold_users"] == 1 and summary["data"]["train_users"] == 3


def test_anomaly_scores_higher_and_is_flagged(trained):
    det, _ = trained
    normal = synthetic_frame(n_users=2, days=1, seed=11)
    bad, rows = inject(normal, "u01", "2024-01-01 02:00", 60)  # one hour at night, patch-aligned
    s_normal, s_bad = det.score_series(normal), det.score_series(bad)
    assert s_bad[rows].min() > 3 * np.nanmax(s_normal)
    assert s_bad[rows].min() > det.threshold_
    segs = det.flag_segments(bad)
    hit = [g for g in segs if g.user_id == "u01" and g.start <= pd.Timestamp("2024-01-01 02:55")
           and g.end >= pd.Timestamp("2024-01-01 02:00")]
    assert len(hit) == 1 and hit[0].max_score == pytest.approx(s_bad[rows].max())
    # the same anomaly seen through a Windows batch also stands out
    calc = FeatureCalculator(window_size=12)
    w_norm, w_bad = calc.windows(normal), calc.windows(bad)
    d_norm, d_bad = det.decision_function(w_norm), det.decision_function(w_bad)
    hour2 = (pd.DatetimeIndex(w_bad.end_times).hour == 2) & (w_bad.user_ids == "u01")
    assert d_bad[hour2].min() > d_norm.max()


def test_masked_values_do_not_contribute(trained):
    det, _ = trained
    cfg = det.config
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, cfg.seq_len, cfg.n_features, generator=g)
    m = (torch.rand(x.shape, generator=g) > 0.3).float()
    aux = torch.randn(4, cfg.seq_len, 3, generator=g)
    garbage = x + (1 - m) * 100.0
    with torch.no_grad():
        assert torch.equal(det.model.patch_scores(x, m, aux), det.model.patch_scores(garbage, m, aux))
        # a fully unobserved patch has no score rather than an invented one
        m0 = m.clone()
        m0[0, : cfg.patch_len] = 0
        assert torch.isnan(det.model.patch_scores(x, m0, aux)[0, 0])


def test_save_load_round_trip(trained, tmp_path):
    det, summary = trained
    det.save_pretrained(tmp_path, summary=summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "summary.json"]
    back = PatchTrADDetector.from_pretrained(tmp_path)
    assert back.threshold_ == det.threshold_ and back.config == det.config
    for k, v in det.model.state_dict().items():
        assert torch.equal(v, back.model.state_dict()[k]), k
    frame = synthetic_frame(n_users=1, days=1, seed=9)
    assert np.array_equal(det.score_series(frame), back.score_series(frame))
    assert json.loads((tmp_path / "summary.json").read_text())["seed"] == 0


@pytest.mark.parametrize("tamper", ["extra", "missing", "shape"])
def test_strict_loading_rejects_tampered_weights(trained, tmp_path, tamper):
    det, _ = trained
    det.save_pretrained(tmp_path)
    state = load_file(str(tmp_path / WEIGHTS_NAME))
    if tamper == "extra":
        state["backdoor.weight"] = torch.zeros(2)
    elif tamper == "missing":
        del state["head.bias"]
    else:
        state["pos"] = torch.zeros(state["pos"].shape[0] + 1, state["pos"].shape[1])
    save_file(state, str(tmp_path / WEIGHTS_NAME))
    with pytest.raises(ValueError, match="backdoor|head.bias|pos"):
        PatchTrADDetector.from_pretrained(tmp_path)


def test_bad_config_and_frame_are_rejected(tmp_path, trained):
    det, _ = trained
    det.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["architecture"]["surprise"] = 1
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="surprise"):
        PatchTrADDetector.from_pretrained(tmp_path)
    frame = synthetic_frame(n_users=2, days=1)
    with pytest.raises(ValueError, match="contiguous"):
        det.score_series(frame.sample(frac=1.0, random_state=0))
    with pytest.raises(ValueError, match="spo2"):
        det.score_series(frame.drop(columns=["spo2"]))


def test_training_is_deterministic_and_hides_labelled_events():
    frame = synthetic_frame(n_users=3, days=1, seed=1)
    cfg = PatchTrADConfig.from_feature_config(**SMALL)
    tc = PatchTrADTrainConfig(epochs=1, batch_size=32, stride=24)
    labels = pd.DataFrame({"user_id": ["u00"], "start": ["2024-01-01 03:00"], "end": ["2024-01-01 04:00"],
                           "kind": ["acute"], "stream": ["wearable"]})
    a, sa = train_patchtrad(frame, labels, config=cfg, train_config=tc, seed=7, progress=False)
    b, _ = train_patchtrad(frame, labels, config=cfg, train_config=tc, seed=7, progress=False)
    c, _ = train_patchtrad(frame, labels, config=cfg, train_config=tc, seed=8, progress=False)
    sd_a, sd_b, sd_c = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a) and a.threshold_ == b.threshold_
    assert not torch.equal(sd_a["embed.weight"], sd_c["embed.weight"])
    assert sa["data"]["event_rows_hidden"] == 13  # 03:00..04:00 inclusive at 5-minute steps


def test_windows_are_scored_on_their_source_frame(trained):
    """One way of scoring: a window's score is the highest record score among its records."""
    det, _ = trained
    frame = synthetic_frame(n_users=2, days=1, seed=3)
    w = FeatureCalculator(window_size=12).windows(frame)
    record = np.nan_to_num(det.score_series(frame), nan=0.0)
    np.testing.assert_array_equal(det.decision_function(w), [record[e - 11:e + 1].max() for e in w.end_index])
    with pytest.raises(ValueError, match="source frame"):
        det.decision_function(dataclasses.replace(w, frame=None))


def test_fit_on_windows_keeps_positive_windows_out():
    frame = synthetic_frame(n_users=3, days=1, seed=1)
    w = FeatureCalculator(window_size=12).windows(frame)
    y = (w.user_ids == "u00") & (pd.DatetimeIndex(w.end_times).hour == 3)
    det = PatchTrADDetector(PatchTrADConfig.from_feature_config(**SMALL),
                            train_config=PatchTrADTrainConfig(epochs=1, batch_size=32, stride=24)).fit(w, y)
    assert det.threshold_ > 0 and det.predict(w).dtype == bool
    assert det.summary["data"]["event_rows_hidden"] == 12 + 11  # the 03:xx window ends and the 11 rows before


def test_shipped_checkpoint_scores_are_those_of_the_old_format():
    """checkpoints/patchtrad was converted from PatchTrAD's own format to model/hub.py's
    (scripts/convert_patchtrad_checkpoint.py): the same scores, to the last bit, as the old code
    and the old folder gave (tests/golden/patchtrad_shipped_scores.json, written before the change)."""
    from pathlib import Path

    from wearable_monitor.config import REPO_ROOT
    from wearable_monitor.simulation.simulator import simulate_population

    golden = json.loads((Path(__file__).parent / "golden" / "patchtrad_shipped_scores.json").read_text())
    frame = simulate_population(2, 2, 3, progress=False).frame.reset_index(drop=True)
    frame.loc[frame.index[::97], "hrv_rmssd"] = 0.0  # a log input the normaliser clamps
    frame.loc[frame.index[::89], "steps"] = 0.0
    det = PatchTrADDetector.from_pretrained(REPO_ROOT / "checkpoints" / "patchtrad")
    assert det.threshold_ == golden["threshold"]
    rec = det.score_series(frame)
    assert [None if not np.isfinite(v) else float(v) for v in rec] == golden["records"]
    frame = frame.assign(hrv_rmssd=frame["hrv_rmssd"].where(frame["hrv_rmssd"] > 0))  # windows refuse log(0)
    w = FeatureCalculator(window_size=12).windows(frame)
    assert [float(v) for v in det.decision_function(w)] == golden["windows"]
