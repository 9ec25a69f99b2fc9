"""Validation policy: each kind of bad value is reported with its line and field, never silently used."""
from __future__ import annotations

import math

import numpy as np
import pytest

from wearable_monitor.data.validation import (DUPLICATE_DROPPED, FIELD_REMOVED, REJECTED, InputFileError, Limits,
                                              ParseFailure, validate_items)


def rec(ts="2024-01-01T08:00:00", dev="u1", **feats):
    return {"timestamp": ts, "deviceId": dev, "features": {"hr": 70.0, **feats}}


def only_error(result):
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    return result.errors[0]


def test_clean_records_pass_unchanged():
    items = [(i + 1, rec(f"2024-01-01T08:{5 * i:02d}:00", steps=10 * i, sleep_state="light")) for i in range(3)]
    r = validate_items(items)
    assert r.ok and r.counts["accepted"] == 3 and not r.warnings
    assert r.frame["steps"].tolist() == [0.0, 10.0, 20.0]
    assert r.frame["sleep_state"].tolist() == [1.0, 1.0, 1.0]


def test_hr_out_of_range_names_line_field_and_range_and_rejects_record():
    r = validate_items([(1, rec()), (17, rec("2024-01-01T08:05:00", hr=260))])
    messages = [str(e) for e in r.errors]
    assert "line 17, features.hr: 260 is outside the valid range [25, 230] bpm (field removed)" in messages
    # with hr removed, nothing usable is left -> the record is rejected too
    assert any(e.line == 17 and e.action == REJECTED and "no valid value left" in e.message for e in r.errors)
    assert r.counts["accepted"] == 1 and r.counts["rejected"] == 1


@pytest.mark.parametrize("field,value,expect", [
    ("spo2", 101, "101 is outside the valid range [50, 100] %"),
    ("steps", -5, "-5 is outside the valid range [0, 3000] steps/5min"),
    ("resp_rate", float("nan"), "nan is not a finite number"),
    ("skin_temp", float("inf"), "inf is not a finite number"),
    pytest.param("calories", 10**400, "is not a finite number", id="integer-beyond-float-range"),  # JSON allows it
    ("hrv_rmssd", "35", "'35' is a string, expected a number"),
    ("steps", True, "True is a boolean, expected a number"),
    ("sleep_state", "dozing", "'dozing' is not a category of sleep_state (awake, light, deep, rem)"),
    ("sleep_state", 7, "7 is not a category of sleep_state"),
])
def test_impossible_value_removes_only_that_field(field, value, expect):
    r = validate_items([(3, rec(**{field: value}))])
    err = only_error(r)
    assert (err.line, err.field, err.action) == (3, f"features.{field}", FIELD_REMOVED)
    assert expect in err.message
    assert r.counts["accepted"] == 1 and r.counts["fields_removed"] == 1
    assert math.isnan(r.frame[field].iloc[0])      # missing, not used
    assert r.frame["hr"].iloc[0] == 70.0            # the rest of the record is kept


@pytest.mark.parametrize("item,field,expect", [
    ({"deviceId": "u1", "features": {"hr": 70}}, "timestamp", "missing"),
    (rec(ts="2024-13-01T00:00:00"), "timestamp", "month value is outside expected range"),
    (rec(ts="yesterday"), "timestamp", "'yesterday'"),
    (rec(ts=1704096000), "timestamp", "expected an ISO-8601 string"),
    ({"timestamp": "2024-01-01T08:00:00", "features": [70]}, "features", "expected an object"),
    ({"timestamp": "2024-01-01T08:00:00", "deviceId": ["x"], "features": {"hr": 70}}, "deviceId", "valid string"),
    ([1, 2, 3], "<record>", "expected a JSON object, got a list"),
    (ParseFailure("not valid JSON (Expecting value at column 1)"), "<json>", "not valid JSON"),
])
def test_unusable_record_is_rejected_with_line_and_field(item, field, expect):
    r = validate_items([(1, rec()), (9, item)])
    err = only_error(r)
    assert (err.line, err.field, err.action) == (9, field, REJECTED)
    assert expect in err.message
    assert r.counts == {**r.counts, "accepted": 1, "rejected": 1}


def test_unknown_names_are_warnings_and_ignored():
    item = {**rec(foo=1.0), "static_features": {"height": 180}, "user_id": "x"}
    r = validate_items([(4, item)])
    assert r.ok and r.counts["accepted"] == 1
    fields = {w.field: w for w in r.warnings}
    assert {"features.foo", "static_features.height", "user_id"} <= set(fields)
    assert all(w.line == 4 for w in fields.values())
    assert "deviceId" in fields["user_id"].message  # hints at the right key
    assert "foo" not in r.frame.columns


def test_bad_static_category_falls_back_to_default_and_is_reported():
    item = {**rec(), "static_features": {"sex": "robot", "age_group": "30-39"}}
    r = validate_items([(2, item)])
    err = only_error(r)
    assert (err.line, err.field, err.action) == (2, "static_features.sex", FIELD_REMOVED)
    assert r.frame["static_sex"].iloc[0] == 2        # 'unknown'
    assert r.frame["static_age_group"].iloc[0] == 1  # the valid one is kept


def test_numeric_device_id_is_converted_with_warning():
    r = validate_items([(1, rec(dev=42))])
    assert r.records[0].device_id == "42"
    assert any(w.field == "deviceId" and "42" in w.message for w in r.warnings)


def test_duplicates_keep_first_occurrence_and_report_later_lines():
    items = [(1, rec("2024-01-01T08:00:00", hr=70)), (2, rec("2024-01-01T08:05:00")),
             (3, rec("2024-01-01T08:00:00", hr=99)), (4, rec("2024-01-01T08:00:00", hr=70)),
             (5, rec("2024-01-01T08:00:00", dev="u2"))]  # same time, other user: not a duplicate
    r = validate_items(items)
    dups = [e for e in r.errors if e.action == DUPLICATE_DROPPED]
    assert [e.line for e in dups] == [3, 4]
    assert "duplicate of line 1" in dups[0].message and "values differ" in dups[0].message
    assert "identical values" in dups[1].message
    assert r.counts["duplicates"] == 2 and r.counts["accepted"] == 3
    f = r.frame
    assert not f.duplicated(["user_id", "timestamp"]).any()
    assert f.loc[(f.user_id == "u1") & (f.timestamp == "2024-01-01T08:00:00"), "hr"].item() == 70.0


def test_duplicate_choice_does_not_depend_on_line_order_of_processing():
    a, b = rec("2024-01-01T08:00:00", hr=70), rec("2024-01-01T08:00:00", hr=99)
    r = validate_items([(8, b), (2, a)])  # items arrive out of line order: lowest line still wins
    assert r.records[0].features["hr"] == 70.0
    assert r.errors[0].line == 8


def test_unordered_records_are_sorted_and_reported_per_user():
    times = ["08:10", "08:00", "08:05", "08:15"]
    items = [(i + 1, rec(f"2024-01-01T{t}:00")) for i, t in enumerate(times)]
    items.append((5, rec("2024-01-01T07:00:00", dev="u2")))
    r = validate_items(items)
    assert r.ok
    assert [x.timestamp.strftime("%H:%M") for x in r.records if x.device_id == "u1"] == sorted(times)
    sorted_w = [w for w in r.warnings if w.action == "sorted"]
    assert len(sorted_w) == 1 and "u1" in sorted_w[0].message and "line 2" in sorted_w[0].message
    assert r.frame["timestamp"].is_monotonic_increasing is False  # two users: sorted by user first
    assert r.frame.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()


def test_missing_device_id_gets_the_given_anonymous_id_and_is_reported():
    items = [(1, {"timestamp": "2024-01-01T08:00:00", "features": {"hr": 60}}), (2, rec(dev="u1"))]
    r = validate_items(items, anonymous_id="anon-myfile")
    assert sorted(r.users) == ["anon-myfile", "u1"]
    w = [w for w in r.warnings if w.field == "deviceId"]
    assert len(w) == 1 and "anon-myfile" in w[0].message and "line 1" in w[0].message


def test_timestamp_offset_is_dropped_keeping_wall_clock():
    r = validate_items([(1, rec("2024-01-01T08:00:00+02:00"))])
    assert r.frame["timestamp"].iloc[0] == np.datetime64("2024-01-01T08:00:00")


def test_record_count_limit_is_a_clear_error():
    items = ((i, rec(f"2024-01-01T{i // 12:02d}:{5 * (i % 12):02d}:00")) for i in range(1, 100))
    with pytest.raises(InputFileError, match="more than 10 records"):
        validate_items(items, limits=Limits(max_records=10), source="x.jsonl")


def test_issue_list_is_capped_but_counts_stay_exact():
    items = [(i, rec(f"2024-01-01T{i // 12:02d}:{5 * (i % 12):02d}:00", spo2=120)) for i in range(1, 51)]
    r = validate_items(items, limits=Limits(max_issues=5))
    assert len(r.errors) == 5 and r.counts["errors"] == 50 and r.counts["fields_removed"] == 50
    assert "... and 45 more" in r.summary(max_issues=5)


def test_summary_and_dict_report_everything():
    r = validate_items([(1, rec()), (2, rec("2024-01-01T08:05:00", spo2=130)), (3, "junk")], source="f.jsonl")
    text = r.summary()
    assert "source: f.jsonl" in text and "2 accepted of 3 read" in text
    assert "line 2, features.spo2: 130 is outside" in text and "line 3, <record>" in text
    d = r.to_dict()
    assert d["ok"] is False and d["counts"]["rejected"] == 1 and d["users"] == {"u1": 2}
    assert {(e["line"], e["field"]) for e in d["errors"]} == {(2, "features.spo2"), (3, "<record>")}


def test_records_far_from_the_sampling_interval_get_one_note_per_user():
    """1-minute records make a 12-record window 12 minutes long: said once per user, nothing changed."""
    fast = [(i + 1, rec(f"2024-01-01T08:{i:02d}:00", dev="fast")) for i in range(30)]
    regular = [(100 + i, rec(f"2024-01-01T{8 + 5 * i // 60:02d}:{5 * i % 60:02d}:00", dev="five")) for i in range(30)]
    r = validate_items(fast + regular)
    assert r.ok and r.counts["accepted"] == 60
    notes = [w for w in r.warnings if w.field == "timestamp"]
    assert len(notes) == 1 and notes[0].line is None and notes[0].action == "noted"
    assert "user 'fast': records every 1 min" in notes[0].message and "12 min instead of 60" in notes[0].message


def test_a_record_without_heart_rate_is_accepted():
    """No feature is required (issue 20): a record without hr keeps what it has."""
    r = validate_items([(1, {"timestamp": "2024-01-01T08:00:00", "deviceId": "u1", "features": {"steps": 5}})])
    assert r.counts["accepted"] == 1 and not r.errors
    assert math.isnan(r.frame["hr"].iloc[0]) and r.frame["steps"].iloc[0] == 5


def test_a_flat_record_is_read_with_its_measurements_as_features():
    """{"timestamp", "deviceId", "hr": 72} puts the measurements at the top level: they are read as features
    (one 'converted' note per name for the source), an alias as well; a name also under 'features' keeps that
    value and the top-level one is reported; a top-level name that is no feature is still an unknown field."""
    flat = [{"timestamp": f"2024-01-01T08:{5 * i:02d}:00", "deviceId": "u1", "heart_rate": 70 + i, "steps": 0}
            for i in range(3)]
    r = validate_items(enumerate(flat, start=1))
    assert r.counts["accepted"] == 3 and not r.errors
    assert r.frame["hr"].tolist() == [70.0, 71.0, 72.0] and r.frame["steps"].tolist() == [0.0, 0.0, 0.0]
    assert {(w.field, w.action) for w in r.warnings} >= {("heart_rate", "converted"), ("steps", "converted")}
    both = validate_items([(1, {"timestamp": "2024-01-01T08:00:00", "deviceId": "u1", "hr": 90, "mood": "ok",
                                "features": {"hr": 70}})])
    assert both.frame["hr"].tolist() == [70.0]
    assert [(e.line, e.field, e.action) for e in both.errors] == [(1, "hr", FIELD_REMOVED)]
    assert [(w.field, w.message) for w in both.warnings if w.field == "mood"] == [("mood", "unknown top-level field")]


def _stream(n=20):
    """A live stream's overlapping windows: each call repeats the previous call's records but one."""
    items = [rec(f"2024-01-01T{8 + i // 12:02d}:{5 * (i % 12):02d}:00", steps=float(i), sleep_state="light")
             for i in range(n)]
    items[7]["features"]["spo2"] = 101          # an error: field removed
    items[9]["features"]["heart_rate"] = 71.0   # an alias of hr the record already gives: an error
    items[11]["features"].pop("hr")
    items[11]["features"]["HR"] = 66.0          # read as hr: an alias note
    items[13]["mood"] = "fine"                  # an unknown top-level field
    return items


def _report(result):
    return ([r.model_dump() for r in result.records], [str(i) for i in result.errors],
            [str(i) for i in result.warnings], result.counts)


def test_a_record_memo_gives_the_same_result_as_validating_every_record():
    from wearable_monitor.config import default_feature_config
    from wearable_monitor.data.validation import RecordMemo

    config = default_feature_config()
    memo = RecordMemo(config)
    items = _stream()
    for start in range(len(items) - 11):
        window = list(enumerate(items[start:start + 12], start=1))
        assert _report(validate_items(window, config, memo=memo)) == _report(validate_items(window, config))
    # records with a remark are validated every time, so their remarks are reported every time
    assert len(memo._entries) == len(items) - 4


def test_a_record_memo_sees_a_changed_record():
    from wearable_monitor.config import default_feature_config, load_feature_config
    from wearable_monitor.data.validation import RecordMemo

    config = default_feature_config()
    memo = RecordMemo(config)
    items = [rec(f"2024-01-01T08:{5 * i:02d}:00", steps=1) for i in range(3)]
    assert validate_items(enumerate(items, 1), config, memo=memo).ok
    items[1]["features"]["hr"] = 500.0              # the caller's own dict, changed in place
    items[2]["features"]["steps"] = True            # equal to the remembered 1, but not a number
    again = validate_items(enumerate(items, 1), config, memo=memo)
    assert any(e.line == 2 and e.field == "features.hr" and "500" in e.message for e in again.errors)
    assert any(e.line == 3 and e.field == "features.steps" for e in again.errors)
    assert _report(again) == _report(validate_items(enumerate(items, 1), config))
    with pytest.raises(ValueError, match="another feature config"):  # a memo answers for its own config only
        validate_items(enumerate(items, 1), load_feature_config(), memo=memo)


def test_the_memo_encodes_its_records_as_records_to_columns_does():
    """Records the memo holds keep their encoded row; columns made with it equal columns made afresh,
    for held records and for records it does not hold (those with a remark)."""
    from wearable_monitor.config import default_feature_config
    from wearable_monitor.data.records import records_to_columns
    from wearable_monitor.data.validation import RecordMemo

    config = default_feature_config()
    memo = RecordMemo(config)
    items = _stream()
    items[3]["static_features"] = {"age_group": "40-49", "sex": "female"}
    items[4]["features"]["sleep_state"] = 2  # a category by its code
    for start in range(len(items) - 11):
        records = validate_items(enumerate(items[start:start + 12], start=1), config, memo=memo).records
        for _ in range(2):  # the second time from the remembered rows
            with_memo, fresh = records_to_columns(records, config, encoded=memo), records_to_columns(records, config)
            assert with_memo.keys() == fresh.keys()
            for k in fresh:
                assert with_memo[k].dtype == fresh[k].dtype and np.array_equal(
                    with_memo[k], fresh[k], equal_nan=fresh[k].dtype.kind == "f"), k
    assert sum(slot[1] is not None for slot in memo._encoded.values()) == len(items) - 4


def test_a_record_memo_stays_bounded_when_a_stream_keeps_changing_its_records():
    from wearable_monitor.config import default_feature_config
    from wearable_monitor.data.validation import RecordMemo

    config = default_feature_config()
    memo = RecordMemo(config, max_records=50)
    for i in range(400):  # the same timestamp again and again, each time with another value
        validate_items([(1, rec(hr=40.0 + i % 150))], config, memo=memo)
        assert len(memo._entries) <= 50 and len(memo._encoded) <= 50
