"""validate_frame (columns at once) gives what validate_items (one record at a time) gives for the same rows."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.config import default_feature_config
from wearable_monitor.data.fitbit import bins_to_frame, bins_to_records, import_fitbit
from wearable_monitor.data.frame_validation import plain_records_frame, validate_frame
from wearable_monitor.data.readers import iter_jsonl, load_fitbit, parse_jsonl_text
from wearable_monitor.data.records import TIME, USER, records_to_frame
from wearable_monitor.data.validation import FIELD_REMOVED, REJECTED, validate_items

FITBIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "stanford_covid_wearables"


def frame_to_items(frame: pd.DataFrame) -> list[dict]:
    """The same rows as JSON-like records (NaN omitted, as a JSONL export would have them)."""
    items = []
    for row in frame.to_dict("records"):
        feats = {k: v for k, v in row.items() if k not in (USER, TIME) and not (isinstance(v, float) and math.isnan(v))}
        item = {"features": feats}
        if row.get(TIME) is not None and not pd.isna(row[TIME]):
            item["timestamp"] = pd.Timestamp(row[TIME]).isoformat()
        if row.get(USER) is not None and not pd.isna(row[USER]):
            item["deviceId"] = row[USER]
        items.append(item)
    return items


def assert_same(by_frame, by_items, records: bool = True) -> None:
    """Same counts, issues (line, field, action), frame and (`records`) records. A category given by its
    code reads back by its label from the column path, so inputs with codes compare frames only."""
    assert by_frame.counts == by_items.counts
    key = lambda i: (-1 if i.line is None else i.line, i.field, i.action)  # noqa: E731
    assert sorted(map(key, by_frame.errors)) == sorted(map(key, by_items.errors))
    assert sorted(map(key, by_frame.warnings)) == sorted(map(key, by_items.warnings))
    pd.testing.assert_frame_equal(by_frame.frame.reset_index(drop=True), by_items.frame.reset_index(drop=True),
                                  check_exact=False, atol=1e-9)
    if records:
        assert [r.model_dump() for r in by_frame.records] == [r.model_dump() for r in by_items.records]


def messy_frame() -> pd.DataFrame:
    t = pd.date_range("2024-03-01", periods=40, freq="5min")
    frame = pd.DataFrame({USER: ["u2"] * 20 + ["u1"] * 20, TIME: t,
                          "hr": np.linspace(60, 80, 40), "steps": np.r_[np.zeros(30), np.full(10, 12.0)],
                          "spo2": np.full(40, 97.0), "data_quality": ["high"] * 40})
    frame["data_quality"] = frame["data_quality"].astype(object)
    frame.loc[3, "hr"] = 400.0                      # out of range: field removed, record rejected (hr required)
    frame.loc[4, "spo2"] = 120.0                    # out of range: field removed, record kept
    frame.loc[5, "steps"] = -5.0                    # negative steps: field removed
    frame.loc[6, "hr"] = np.inf                     # not finite
    frame.loc[7, "data_quality"] = "superb"         # unknown category
    frame.loc[8, TIME] = pd.Timestamp("2150-01-01")  # outside the supported range: rejected
    frame.loc[9, TIME] = frame.loc[2, TIME]          # duplicate of row 3 (line 3), values differ
    frame.loc[10, USER] = "bad\nid"                  # control character: rejected
    frame.loc[11, USER] = None                       # anonymous
    frame.loc[13, USER] = "x" * 200                  # longer than an id may be: rejected
    frame.loc[12, "hr"] = np.nan                     # no hr: rejected (required)
    frame.loc[14, ["hr", "steps", "spo2", "data_quality"]] = [400.0, -1.0, np.nan, "zzz"]  # nothing valid left
    frame.loc[25, TIME] = pd.Timestamp("2024-03-01 00:00")  # out of time order for u1
    frame.loc[26, TIME] = pd.NaT                     # missing timestamp
    return frame


@pytest.mark.parametrize("hr_required", [False, True])
def test_every_policy_gives_the_same_rows_counts_and_issues_as_record_validation(hr_required):
    config = default_feature_config()
    if hr_required:
        config = replace(config, features={**config.features, "hr": replace(config.features["hr"], required=True)})
    frame = messy_frame()
    by_frame = validate_frame(frame, config, source="t", anonymous_id="anon-x")
    by_items = validate_items(enumerate(frame_to_items(frame), start=1), config, source="t", anonymous_id="anon-x")
    assert_same(by_frame, by_items)
    assert by_frame.counts["rejected"] == (8 if hr_required else 5) and by_frame.counts["duplicates"] == 1
    actions = {(i.line, i.field): i.action for i in by_frame.errors}
    assert actions[(5, "features.spo2")] == FIELD_REMOVED and actions[(9, "timestamp")] == REJECTED
    # the range message reads as the record path's (line, field, value, range)
    spo2 = next(i for i in by_frame.errors if i.line == 5 and i.field == "features.spo2")
    assert "120" in spo2.message and "valid range" in spo2.message


def test_a_clean_frame_is_the_frame_of_its_records_and_records_are_made_on_demand():
    frame = messy_frame().iloc[15:25].reset_index(drop=True)
    result = validate_frame(frame)
    assert result.ok and result.counts["accepted"] == 10
    assert "_records" not in result.records.__dict__  # nothing made yet
    pd.testing.assert_frame_equal(result.frame, records_to_frame(result.records, result.config))
    assert len(result.records) == 10 and result.records[0].device_id == "u1"
    assert result.users == {"u1": 5, "u2": 5}
    assert "time span: 2024-03-01T01:15:00 .. 2024-03-01T02:00:00" in result.summary()


@pytest.mark.skipif(not (FITBIT / "A0NVTRV_hr.csv.zip").is_file(), reason="needs ../shared/data")
def test_a_real_fitbit_pair_validates_the_same_both_ways():
    imported = import_fitbit(FITBIT / "APGIB2T_hr.csv.zip", FITBIT / "APGIB2T_steps.csv.zip")
    by_frame = validate_frame(bins_to_frame(imported.bins), source="f")
    by_items = validate_items(enumerate(bins_to_records(imported.bins), start=1), source="f")
    assert_same(by_frame, by_items)
    loaded = load_fitbit(FITBIT / "APGIB2T_hr.csv.zip", FITBIT / "APGIB2T_steps.csv.zip")
    assert loaded.counts["accepted"] == by_items.counts["accepted"] > 1000


def jsonl(items: list[dict]) -> str:
    return "\n".join(json.dumps(i) for i in items) + "\n"


def test_a_plain_jsonl_history_is_validated_by_columns_with_the_record_paths_result():
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    text = frame_to_jsonl(simulate_population(2, 2, seed=3).frame)
    items = list(iter_jsonl(text))
    assert plain_records_frame(items, default_feature_config()) is not None  # the column path is taken
    assert_same(parse_jsonl_text(text, source="s"), validate_items(items, source="s"))


@pytest.mark.parametrize("odd", [
    '{"timestamp": "2024-03-01T00:20:00", "deviceId": "u1", "features": {"heart_rate": 70}}',        # an alias
    '{"timestamp": "2024-03-01T00:20:00+02:00", "deviceId": "u1", "features": {"hr": 70}}',          # an offset
    '{"timestamp": "2024-03-01T00:20:00", "deviceId": "u1", "features": {"hr": NaN}}',                # JSON NaN
    '{"timestamp": "2024-02-30T00:20:00", "deviceId": "u1", "features": {"hr": 70}}',                 # no such day
    '{"timestamp": "2024-03-01T00:20:00", "deviceId": 17, "features": {"hr": 70}}',                   # a numeric id
    '{"timestamp": "2024-03-01T00:20:00", "deviceId": "u1", "features": {"hr": true, "steps": [1]}}',  # odd values
    '{"timestamp": "2024-03-01T00:20:00", "deviceId": "u1", "features": {"hr": 70}, "note": 1}',      # unknown key
    'not json',
])
def test_records_of_any_other_shape_get_the_same_report_as_one_at_a_time(odd):
    plain = [{"timestamp": f"2024-03-01T00:{m:02d}:00", "deviceId": "u1", "features": {"hr": 60.0 + m, "steps": 0}}
             for m in (0, 5, 10, 15)]
    text = jsonl(plain) + odd + "\n"
    result = parse_jsonl_text(text, source="s")
    expected = validate_items(iter_jsonl(text), source="s")
    assert_same(result, expected)
    assert result.counts["items"] == 5


def test_values_the_column_path_must_not_merge_are_reported_as_one_at_a_time():
    rows = [{"timestamp": f"2024-03-01T00:{m:02d}:00", "deviceId": "u1",
             "features": {"hr": v, "sleep_state": s}, "static_features": {"sex": sex}}
            for m, v, s, sex in ((0, 70, 1, "female"), (5, True, True, "female"), (10, 1e400, "deep", "robot"),
                                 (15, None, 1.0, None))]
    text = jsonl(rows)
    assert plain_records_frame(list(iter_jsonl(text)), default_feature_config()) is not None
    assert_same(parse_jsonl_text(text, source="s"), validate_items(iter_jsonl(text), source="s"), records=False)


DEVICES = Path(__file__).resolve().parents[1] / "test_data" / "devices"


@pytest.mark.parametrize("name", ["apple_export.zip", "fitbit_takeout.zip", "garmin_monitoring.fit",
                                  "health_connect.zip", "oura_api.zip"])
def test_device_exports_are_validated_by_columns_with_the_record_paths_result(name):
    from wearable_monitor.data.importers import import_file
    from wearable_monitor.data.readers import load_device_export

    records = import_file(DEVICES / name).records
    items = list(enumerate(records, start=1))
    assert plain_records_frame(items, default_feature_config()) is not None  # importers write plain records
    by_columns = load_device_export(DEVICES / name)
    assert_same(by_columns, validate_items(items, source=by_columns.source,
                                           anonymous_id=by_columns.records[0].device_id))
    assert by_columns.counts["accepted"] == len(records) > 0
