"""A tiny training run end to end: simulate, pre-train, fine-tune, calibrate, save, load, score."""
from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from wearable_monitor.config import REPO_ROOT
from wearable_monitor.detector import WearableAnomalyDetector
from wearable_monitor.training import TrainConfig, train

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
