"""Property-based fuzzing of everything a visitor's bytes reach (issue 16): the readers (JSONL,
records CSV, JSON window, raw bytes), `detect_realtime`, `score_history` and the app service.

Every input must end in a clean result or a validation error naming file, line and field, never
another exception; and nothing is lost: records in = accepted + rejected + duplicates dropped,
every rejection in the report. Seeded (derandomize) and bounded: about a minute in total.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wearable_monitor.detector import InputError
from wearable_monitor.data.readers import parse_csv_text, parse_jsonl_text, parse_window_text
from wearable_monitor.data.validation import InputFileError, ValidationResult

FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
T0 = datetime(2024, 3, 1, 0, 0)
FEATURES = ["hr", "hrv_rmssd", "spo2", "steps", "sleep_state", "skin_temp", "resp_rate", "HR", "heart_rate",
            "unknown_x", "", "features.hr"]

hostile_numbers = st.one_of(
    st.integers(min_value=-10**6, max_value=10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.just(int("9" * 400)), st.just(-int("9" * 400)), st.just(int("8" * 4200)),
    st.sampled_from([0, 1, 2, 3, -1, 1e308, -1e308, 5e-324, 72.5, 255, 100.01]))
hostile_text = st.one_of(
    st.text(max_size=30), st.sampled_from(["deep", "REM", " light ", "=cmd()", "![i](http://h/x.png)",
                                           "a\nb", "\x00", "\ud800", "\u2028", "null", "NaN", "'"]))
values = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_text,
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
timestamps = st.one_of(
    st.integers(min_value=0, max_value=400).map(lambda i: (T0 + timedelta(minutes=5 * i)).isoformat()),
    st.sampled_from(["9999-12-31T23:59:59", "1600-01-01T00:00:00", "2200-01-01T00:00:00", "2300-06-01",
                     "1999-12-31T23:59:59", "2099-12-31T23:55:00", "2024-02-30T00:00:00", "2024-03-01T08:00:00+14:00",
                     "2024-03-01T08:00:00Z", "", "yesterday", "2024-03-01 08:00"]),
    st.integers(), st.none(), hostile_text)
device_ids = st.one_of(st.sampled_from(["u1", "u2", "=SUM(A1)", "+x", "-y", "@z", "![i](http://h/x.png)",
                                        "a\nb", "x" * 200, "", " "]), st.none(), st.integers(), hostile_text)


@st.composite
def records(draw):
    rec = {}
    if draw(st.integers(0, 9)):
        rec["timestamp"] = draw(timestamps)
    if draw(st.integers(0, 4)):
        rec["deviceId"] = draw(device_ids)
    feats = draw(st.dictionaries(st.sampled_from(FEATURES), values, max_size=6))
    if draw(st.integers(0, 3)):
        feats.setdefault("hr", draw(st.one_of(st.floats(40, 180), values)))
    rec["features"] = feats if draw(st.integers(0, 12)) else draw(values)
    if draw(st.booleans()):
        rec["static_features"] = draw(st.dictionaries(st.sampled_from(["age_group", "sex", "exercise", "zzz"]),
                                                      values, max_size=3))
    if not draw(st.integers(0, 15)):
        rec[draw(st.text(max_size=5))] = draw(values)
    return rec


def _dump(rec) -> str:
    try:
        return json.dumps(rec)
    except (ValueError, UnicodeEncodeError):
        return json.dumps(rec, ensure_ascii=True)


lines = st.one_of(records().map(_dump), records().map(_dump), records().map(_dump),
                  st.text(max_size=40), st.sampled_from(["[]", "{}", "[", "{\"timestamp\": ", "1" * 5000, "null"]))


def check(result: ValidationResult, n_items: int | None = None) -> None:
    """Nothing lost: items = accepted + rejected + duplicates; every error names line and field."""
    c = result.counts
    assert c["items"] == c["accepted"] + c["rejected"] + c["duplicates"]
    if n_items is not None:
        assert c["items"] == n_items
    assert len(result.records) == c["accepted"]
    assert c["errors"] >= c["rejected"] + c["duplicates"]
    for issue in result.errors + result.warnings:
        assert issue.field and isinstance(issue.message, str) and issue.message
        assert issue.line is None or issue.line >= 1
    reported = [e for e in result.errors if e.action in ("record rejected", "duplicate dropped")]
    assert len(reported) >= c["rejected"] + c["duplicates"]  # every lost record is in the report
    frame = result.frame  # the columnar form never fails on accepted records
    assert len(frame) == c["accepted"]
    if len(frame):
        assert frame["timestamp"].dt.year.between(2000, 2099).all()


def parse_or_refuse(parse, payload):
    try:
        return parse(payload)
    except InputFileError as exc:  # a whole-input refusal: readable, names the source
        assert str(exc).startswith(("<text>", "<bytes>")) and len(str(exc)) < 5000
        return None


@FAST
@given(st.lists(lines, min_size=1, max_size=25))
def test_jsonl_lines(ls):
    text = "\n".join(ls)
    result = parse_or_refuse(parse_jsonl_text, text)
    if result is not None:
        check(result, None if text.lstrip().startswith("[") else sum(1 for x in ls for y in x.split("\n") if y.strip()))


@FAST
@given(st.lists(st.one_of(lines.map(str.encode), st.binary(max_size=30)), min_size=1, max_size=20))
def test_jsonl_bytes(chunks):
    result = parse_or_refuse(parse_jsonl_text, b"\n".join(chunks))
    if result is not None:
        check(result)


@FAST
@given(st.lists(records(), min_size=1, max_size=15), st.booleans())
def test_window_json(recs, as_object):
    doc = {"window": recs, "history": recs[:3], "extra": 1} if as_object else recs
    result = parse_or_refuse(parse_window_text, _dump(doc))
    if result is not None:
        check(result, len(recs))
        if result.history is not None:
            check(result.history, 3 if len(recs) >= 3 else len(recs))


cells = st.one_of(st.text(max_size=12), st.sampled_from(['"', '"a', 'a"b', "", "NaN", "1" * 5000, "1,5", "=1+1",
                                                        "9999-12-31T00:00:00", "2024-03-01T08:00:00"]),
                  hostile_numbers.map(str))


@FAST
@given(st.lists(st.lists(cells, min_size=1, max_size=6), min_size=1, max_size=20), st.sampled_from([",", ";", "\t"]))
def test_records_csv(rows, sep):
    header = sep.join(["timestamp", "deviceId", "hr", "steps", "sleep_state", "zzz"][:max(len(r) for r in rows)])
    body = "\n".join(sep.join(r) for r in rows)
    result = parse_or_refuse(parse_csv_text, header + "\n" + body + "\n")
    if result is not None:
        check(result)


@pytest.fixture(scope="module")
def detector(app_service):
    return app_service.detector


def _valid_run(n: int, user: str = "fz") -> list[dict]:
    return [{"timestamp": (T0 + timedelta(minutes=5 * i)).isoformat(), "deviceId": user,
             "features": {"hr": 60.0 + i % 9, "steps": float(i % 3)}} for i in range(n)]


@SLOW
@given(st.lists(records(), max_size=8), st.integers(0, 11))
def test_detect_realtime_never_crashes(detector, bad, cut):
    """A window of valid records with hostile ones mixed in: a result or an InputError."""
    recs = _valid_run(12)[cut:] + bad
    result = parse_or_refuse(parse_window_text, _dump(recs))
    if result is None:
        return
    check(result, len(recs))
    try:
        out = detector.detect_realtime(result, update_baseline=False)
    except InputError as exc:
        assert str(exc)
        return
    assert 0.0 <= out["anomaly_score"] <= 1.0 and math.isfinite(out["anomaly_score"])


@SLOW
@given(st.lists(records(), max_size=10))
def test_score_history_keeps_every_valid_record(detector, bad):
    """Valid records beside bad ones are all analysed: every valid record of a user with a full
    window ends up in exactly one window's span (windows = records - window_size + 1)."""
    from wearable_monitor.baselines import BaselineStorage
    from wearable_monitor.detector import WearableAnomalyDetector  # noqa: F401 - type only

    good = _valid_run(40, user="fz-good")
    text = "\n".join(_dump(r) for r in good + bad)
    result = parse_or_refuse(parse_jsonl_text, text)
    assert result is not None
    check(result, len(good) + len(bad))
    import copy

    view = copy.copy(detector)
    view.storage = BaselineStorage(":memory:")
    from wearable_monitor.baselines import UserDataManager

    view.users = UserDataManager(view.storage, view.config)
    scored = view.score_history(result, update_baseline=True)
    mine = scored[scored["user_id"] == "fz-good"]
    n_good = sum(1 for r in result.records if r.device_id == "fz-good")
    assert n_good >= 40 and len(mine) == n_good - view.window_size + 1
    view.storage.close()


@SLOW
@given(st.lists(lines, min_size=1, max_size=15), st.sampled_from(["h.jsonl", "h.csv", "h.json"]))
def test_app_service_api(app_service, tmp_path_factory, ls, name):
    """/analyze_history and /detect_window: a JSON answer, {"error": ...} at worst, never an exception."""
    path = tmp_path_factory.mktemp("fz") / name
    good = [_dump(r) for r in _valid_run(14, user="fz-api")]
    path.write_text("\n".join(good + ls) if name != "h.csv" else
                    "timestamp,deviceId,hr\n" + "\n".join(f"{r['timestamp']},fz-api,{r['features']['hr']}"
                                                          for r in _valid_run(14, "fz-api")) + "\n" + "\n".join(ls))
    out = app_service.history_api(str(path))
    assert isinstance(out, dict)
    if "error" not in out:
        c = out["validation"]["counts"]
        assert c["items"] == c["accepted"] + c["rejected"] + c["duplicates"]
    win = app_service.window_api("[" + ",".join(good[:12] + [x for x in ls if x.startswith("{")]) + "]")
    assert isinstance(win, dict) and ("error" in win or "anomaly_score" in win)
