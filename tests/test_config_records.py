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


def test_record_from_clean_is_model_validate_or_steps_aside():
    """The fast constructor gives exactly pydantic's record, or None (then pydantic runs, errors included)."""
    from wearable_monitor.data.records import Record

    made = 0
    for ts in ("2024-01-04T12:05:00", "2024-01-04 12:05", "2024-01-04T12:05:00.5", "2024-01-04T23:59:59.999999",
               "2024-02-30T00:00:00", "1999-12-31T23:59:00", "2099-12-31T23:59:59", "2100-01-01T00:00:00",
               "2024-01-04T24:00:00", "2024-01-04T12:05:00+02:00", "2024-01-04T12:05:00Z", "1704369900", 1704369900):
        for dev in (None, "u1", "x" * 128, "x" * 129, "a\tb", "", 7):
            for feats in ({}, {"hr": 72.0, "sleep_state": "deep"}, {"sleep_state": 2}, {"sleep_state": "DEEP"}):
                fast = Record.from_clean(ts, dev, feats, {"age_group": "adult"})
                if fast is None:
                    continue
                made += 1
                slow = Record.model_validate({"timestamp": ts, "deviceId": dev, "features": feats,
                                              "static_features": {"age_group": "adult"}})
                assert fast == slow and fast.model_dump() == slow.model_dump()
                assert {k: type(v) for k, v in fast.features.items()} == {k: type(v) for k, v in slow.features.items()}
    assert made >= 40  # the plain form is taken fast: 5 timestamps x 4 ids x 4 feature sets
