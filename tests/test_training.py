"""A tiny training run end to end: simulate, pre-train, fine-tune, calibrate, save, load, score."""
from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from wearable_monitor.config import REPO_ROOT
from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.detectors.learned.training import TrainConfig, train

TINY = dict(seed=3, days=8, train_users=6, val_users=3, test_users=3, pretrain_steps=3, finetune_steps=6,
            batch_size=32, max_train_windows=3000, model={"d_model": 16, "n_heads": 2})


def test_tiny_training_run_goes_end_to_end(tmp_path):
    cfg = TrainConfig(**TINY)
    summary = train(cfg, progress=False, out_dir=tmp_path / "ckpt")
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"config.json", "model.safetensors", "summary.json"} <= files
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["threshold"] == summary["threshold"] and 0 < summary["threshold"] <= 1
    assert config["feature_config_sha256"] == summary["feature_config_sha256"]
    for split in ("val", "test"):
        m = summary["metrics"][split]
        assert m["windows"] > 0 and 0 <= m["window_f1"] <= 1
    assert summary["data"]["users"] == {"train": 6, "val": 3, "test": 3}
    assert set(load_file(str(tmp_path / "ckpt" / "model.safetensors")))  # plain tensors, no pickle

    det = WearableAnomalyDetector(tmp_path / "ckpt")
    result = det.predict(json.loads((REPO_ROOT / "test_data" / "example_window.json").read_text()))
    assert np.isfinite(result["anomaly_score"]) and result["threshold"] == pytest.approx(summary["threshold"], abs=1e-4)


def test_train_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"seed": 1, "lerning_rate": 0.1}))
    with pytest.raises(ValueError, match="lerning_rate"):
        TrainConfig.from_json(path)


# --- issue 14 / 20: augmentation, real unlabelled pre-training users, mixed window lengths ------------

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from wearable_monitor.config import default_feature_config  # noqa: E402
from wearable_monitor.simulation.datasets import (FITBIT_DIR, FITBIT_EVALUATION_ONLY_USERS, FITBIT_PRETRAIN_USERS,  # noqa: E402
                                                  INJECT_RANGE, INJECT_SCALE, AugmentConfig, fitbit_pretrain_users, inject_events,
                                                  labelled_windows, load_fitbit_pretrain, noise_and_gaps, split_population,
                                                  with_baselines)
from wearable_monitor.events import window_labels  # noqa: E402
from wearable_monitor.features import FeatureCalculator  # noqa: E402
from wearable_monitor.detectors.learned import ModelConfig, WearableAnomalyNet  # noqa: E402
from wearable_monitor.detectors.learned.training import finetune, pretrain  # noqa: E402


@pytest.fixture(scope="module")
def small_split():
    return split_population(3, 1, 1, 4, seed=5)["train"]


def test_injected_events_have_random_shapes_in_range_and_exact_labels(small_split):
    frame = small_split.frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    aug = AugmentConfig(injected_per_user_day=3.0, amplitude=(2.0, 4.0), minutes=(20.0, 120.0))
    out, inj = inject_events(frame, small_split.events, np.random.default_rng(0), aug)
    assert len(inj) >= 10 and set(inj["kind"]) == {"injected"}
    assert len(set(inj["shape"])) >= 2 and inj["channels"].str.contains(";").any()  # shapes, channel subsets
    inside = np.zeros(len(frame), dtype=bool)
    for ev in inj.itertuples():
        rows = ((out["user_id"] == ev.user_id) & (out["timestamp"] >= ev.start) & (out["timestamp"] <= ev.end)).to_numpy()
        inside |= rows
        assert 2 <= rows.sum() <= 120 / 5 + 1  # records (a span may cover gaps, labels are by time)
        chans = ev.channels.split(";")
        for ch, amp in zip(chans, map(float, ev.amplitudes.split(";"))):
            assert 2.0 - 1e-6 <= abs(amp) / INJECT_SCALE[ch] <= 4.0 + 1e-6
            diff = (out.loc[rows, ch] - frame.loc[rows, ch]).to_numpy()
            # the first and last record of every shape carry the event; nothing moves the other way
            if ch in ("hr", "resp_rate", "skin_temp", "hrv_rmssd") and np.isfinite(diff[-1]) and \
                    INJECT_RANGE[ch][0] < frame.loc[rows, ch].to_numpy()[-1] + amp < INJECT_RANGE[ch][1]:
                assert diff[-1] == pytest.approx(amp, abs=1e-5)
            assert np.all(np.sign(diff[np.abs(diff) > 1e-9]) == np.sign(amp))
        for ch in set(INJECT_SCALE) - set(chans):
            np.testing.assert_array_equal(out.loc[rows, ch].to_numpy(), frame.loc[rows, ch].to_numpy())
        for other in small_split.events.itertuples():  # away from the simulator's own events
            assert other.user_id != ev.user_id or ev.end < other.start or ev.start > other.end
    for ch in INJECT_SCALE:  # nothing changes outside the injected events
        np.testing.assert_array_equal(out.loc[~inside, ch].to_numpy(), frame.loc[~inside, ch].to_numpy())
    # labels: exactly the windows that overlap an injected event or end up to 30 minutes before it
    calc = FeatureCalculator(default_feature_config(), window_size=6)
    w = calc.windows(with_baselines(out))
    y, kind = window_labels(w.user_ids, w.end_times, inj, 30.0, 30.0)
    end = pd.DatetimeIndex(w.end_times)
    expect = np.zeros(len(w), dtype=bool)
    for ev in inj.itertuples():
        expect |= (w.user_ids == ev.user_id) & (end - pd.Timedelta(minutes=30) <= ev.end) & \
                  (end + pd.Timedelta(minutes=30) >= ev.start)
    np.testing.assert_array_equal(y, expect)
    assert (kind[y] == -1).all()  # no kind target for injected events


def test_noise_and_gaps_drop_records_and_channels(small_split):
    frame = small_split.frame
    aug = AugmentConfig(noise=(0.0, 0.0), record_drop=(0.3, 0.3), channel_gaps_per_user_day=2.0)
    out = noise_and_gaps(frame, np.random.default_rng(1), aug)
    assert 0.6 < len(out) / len(frame) < 0.8
    assert out["hr"].isna().mean() > frame["hr"].isna().mean()


@pytest.mark.skipif(not (FITBIT_DIR / "labels.csv").exists(), reason="shared Fitbit data not available")
def test_pretraining_uses_only_unlabelled_fitbit_users():
    assert fitbit_pretrain_users() == sorted(FITBIT_PRETRAIN_USERS)
    assert not set(FITBIT_PRETRAIN_USERS) & set(FITBIT_EVALUATION_ONLY_USERS)
    labels = pd.read_csv(FITBIT_DIR / "labels.csv")
    assert set(labels.loc[labels["symptom_onset"].notna(), "user_id"]) == set(FITBIT_EVALUATION_ONLY_USERS)
    with pytest.raises(ValueError, match="evaluation-only"):
        load_fitbit_pretrain(users=["A36HR6Y", "A0NVTRV"])
    real = load_fitbit_pretrain(users=["A36HR6Y"])
    assert set(real["user_id"]) == {"A36HR6Y"} and real["hr"].notna().any()


def test_mixed_length_batches_train(small_split):
    torch.manual_seed(0)
    fconf = default_feature_config()
    frame = with_baselines(small_split.frame, fconf)
    w, y, k = {}, {}, {}
    for L in (6, 12, 24):
        w[L], y[L], k[L] = labelled_windows(frame, small_split.events, FeatureCalculator(fconf, window_size=L))
        y[L] = y[L].copy()
        y[L][::50] = True  # make sure every length has positives, some with an unknown kind
    model = WearableAnomalyNet(ModelConfig.from_windows(w[12], d_model=16, n_heads=2))
    cfg = TrainConfig(pretrain_steps=4, finetune_steps=8, batch_size=16, model={"d_model": 16, "n_heads": 2})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    pre = pretrain(model, w, cfg, rng, gen, progress=False, extra={6: w[6][:100]})
    ft = finetune(model, w, y, k, cfg, rng, gen, progress=False)
    assert len(pre) == 4 and len(ft) == 8 and np.isfinite(pre + ft).all()
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())
    model.eval()
    with torch.no_grad():
        for L in (6, 12, 24):
            out = model(w[L][:5].to_tensors(), aux=False)
            assert out["logits"].shape == (5,) and torch.isfinite(out["logits"]).all()
