"""Feature configuration loading and the record <-> frame contract."""
from __future__ import annotations

import json

import numpy as np
import pytest

from wearable_monitor.config import ConfigError, DEFAULT_FEATURES_CONFIG, load_feature_config
from wearable_monitor.data.records import frame_to_records, records_to_frame


def _write(tmp_path, mutate):
    raw = json.loads(DEFAULT_FEATURES_CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "features_config.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("mutate, key", [
    (lambda r: r["features"]["hr"].update(type="vector"), "features.hr.type"),
    (lambda r: r["features"]["spo2"].update(valid_range=[100, 50]), "features.spo2.valid_range"),
    (lambda r: r["features"]["steps"]["normalization"].update(std=0), "features.steps.normalization.std"),
    (lambda r: r["features"]["sleep_state"].update(categories={"awake": 0, "deep": 2}), "features.sleep_state.categories"),
    (lambda r: r.update(window_size=30), "window_size"),
    (lambda r: r["baseline_metrics"]["hrv"].update(source="nope"), "baseline_metrics.hrv.source"),
    (lambda r: r["features"]["hr"].pop("channel"), "features.hr: missing key 'channel'"),
])
def test_bad_feature_config_names_the_key(tmp_path, mutate, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_feature_config(_write(tmp_path, mutate))


def test_config_hash_changes_with_the_file(tmp_path):
    base = load_feature_config()
    other = load_feature_config(_write(tmp_path, lambda r: r["features"]["hr"].update(default=71.0)))
    assert base.sha256 != other.sha256 and len(base.sha256) == 64


def test_records_to_frame_keeps_missing_as_nan_and_round_trips():
    records = [
        {"timestamp": "2024-01-01T08:05:00", "deviceId": "a", "features": {"hr": 70, "sleep_state": "deep"},
         "static_features": {"age_group": 2, "sex": "female"}},
        {"timestamp": "2024-01-01T08:00:00+02:00", "deviceId": "a", "features": {"hr": 72.5, "spo2": 97}},
    ]
    frame = records_to_frame(records)
    assert list(frame["timestamp"].dt.strftime("%H:%M")) == ["08:00", "08:05"]  # sorted, offset dropped
    assert np.isnan(frame.loc[0, "hrv_rmssd"]) and frame.loc[0, "spo2"] == 97
    assert frame.loc[1, "sleep_state"] == 2  # category code
    assert frame.loc[0, "time_period_primary"] == 0  # derived from the hour: morning
    back = frame_to_records(frame)
    assert back[1]["features"]["sleep_state"] == "deep"
    assert back[1]["static_features"] == {"age_group": "40-49", "sex": "female", "exercise": "unknown"}
    assert "hrv_rmssd" not in back[0]["features"]  # nothing invented
