"""Readers: JSON windows, JSONL histories, text/bytes input, whole-file errors and the validate CLI."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from wearable_monitor.cli import main
from wearable_monitor.data.readers import (load_any, load_history, load_window, parse_csv_text, parse_jsonl_text,
                                           parse_window_text)
from wearable_monitor.data.validation import InputFileError, Limits

REPO = Path(__file__).resolve().parents[1]
REAL_JSONL = REPO / "test_data" / "fitbit_A0NVTRV.jsonl"


def rec(minute: int, dev: str | None = "u1", **feats) -> dict:
    r = {"timestamp": f"2024-03-01T{minute // 60:02d}:{minute % 60:02d}:00", "features": {"hr": 65.0, **feats}}
    if dev is not None:
        r["deviceId"] = dev
    return r


def jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def test_window_list_reports_the_line_where_each_record_starts():
    text = json.dumps([rec(0), rec(5, hr=300), rec(10)], indent=2)
    start_line = text.splitlines().index("  {", 1 + text.splitlines().index("  {")) + 1  # 2nd record
    r = parse_window_text(text)
    assert r.counts["accepted"] == 2
    assert {e.line for e in r.errors} == {start_line}
    assert any("300 is outside the valid range" in e.message for e in r.errors)


def test_window_object_with_history_and_unknown_key():
    text = json.dumps({"window": [rec(60), rec(65)], "history": [rec(0), rec(5, spo2=120)], "note": "x"})
    r = parse_window_text(text)
    assert r.ok and r.counts["accepted"] == 2
    assert any(w.field == "note" for w in r.warnings)
    assert r.history is not None and r.history.counts["accepted"] == 2
    assert [e.field for e in r.history.errors] == ["features.spo2"]
    assert "history" in r.to_dict() and "history:" in r.summary()


def test_single_record_object_is_a_one_record_window():
    r = load_window(json.dumps(rec(0)))
    assert r.counts["accepted"] == 1 and r.frame["hr"].tolist() == [65.0]


@pytest.mark.parametrize("text,match", [
    ('[{"timestamp": "2024-01-01T00:00:00",\n "features": {"hr": 60}', "not valid JSON .* line 2"),
    ("[]", "no records"),
    ('{"records": []}', "expected a list of records or an object with key 'window'"),
    ('{"window": {"a": 1}}', "'window' must be a list"),
    ("   \n ", "empty"),
    ("[" * 100_000, "nested too deeply"),
])
def test_unusable_window_text_raises_clear_error(text, match):
    with pytest.raises(InputFileError, match=match):
        parse_window_text(text)


def test_jsonl_with_some_bad_lines_keeps_good_records_and_reports_each_line(tmp_path):
    path = tmp_path / "hist.jsonl"
    path.write_text(jsonl(rec(0), "{not json", rec(5, steps=-3), "", rec(10, hr=10), rec(15), "[" * 50_000))
    r = load_history(path)
    assert r.counts["items"] == 6 and r.counts["accepted"] == 3
    by_line = {(e.line, e.field) for e in r.errors}
    # blank line 4 is skipped, but line numbers still count it
    assert {(2, "<json>"), (3, "features.steps"), (5, "features.hr"), (7, "<json>")} <= by_line
    assert "line 2, <json>: not valid JSON" in r.summary()


def test_jsonl_many_users_and_anonymous_id_stable_for_the_file(tmp_path):
    text = jsonl(rec(0, "a"), rec(0, "b"), rec(5, None), rec(5, "a"))
    p1, p2 = tmp_path / "Night Shift.jsonl", tmp_path / "other.jsonl"
    p1.write_text(text)
    p2.write_text(text)
    r1, r1again, r2 = load_history(p1), load_history(p1), load_history(p2)
    assert sorted(r1.users) == ["a", "anon-night-shift", "b"]
    assert r1.users == r1again.users
    assert "anon-other" in r2.users
    assert any("anon-night-shift" in w.message for w in r1.warnings)
    assert list(r1.frame["user_id"].unique()) == ["a", "anon-night-shift", "b"]


def test_text_and_bytes_inputs_get_a_stable_content_derived_anonymous_id():
    text = jsonl(rec(0, None), rec(5, None))
    a, b = parse_jsonl_text(text), parse_jsonl_text(text.encode())
    assert list(a.users) == list(b.users) and list(a.users)[0].startswith("anon-")
    assert load_history(text).users == a.users  # load_* accept text too


def test_jsonl_file_holding_a_json_list_is_read_as_a_list(tmp_path):
    p = tmp_path / "list.jsonl"
    p.write_text(json.dumps([rec(0), rec(5)], indent=1))
    r = load_history(p)
    assert r.ok and r.counts["accepted"] == 2


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("caf\u00e9".encode("latin-1") + b"\n", "not UTF-8"),
])
def test_empty_and_binary_files_raise_input_file_error(tmp_path, content, match):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=match):
        load_history(p)


def test_zip_given_as_history_is_refused_as_binary(tmp_path):
    p = tmp_path / "x.jsonl"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x.jsonl", jsonl(rec(0)))
    with pytest.raises(InputFileError, match="binary|UTF-8"):
        load_history(p)


def test_size_limit_refuses_before_reading(tmp_path):
    p = tmp_path / "big.jsonl"
    p.write_text(jsonl(*[rec(m) for m in range(0, 500, 5)]))
    with pytest.raises(InputFileError, match="over the size limit of 1,000 bytes"):
        load_history(p, limits=Limits(max_bytes=1000))
    with pytest.raises(InputFileError, match="size limit"):
        parse_window_text(p.read_bytes(), limits=Limits(max_bytes=1000))


def test_record_limit_through_reader(tmp_path):
    p = tmp_path / "many.jsonl"
    p.write_text(jsonl(*[rec(m) for m in range(0, 500, 5)]))
    with pytest.raises(InputFileError, match="more than 50 records"):
        load_history(p, limits=Limits(max_records=50))


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_history(tmp_path / "nope.jsonl")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputFileError, match="unsupported file type"):
        load_any(tmp_path / "x.txt")


def test_load_any_dispatches_by_extension(tmp_path):
    (tmp_path / "w.json").write_text(json.dumps({"window": [rec(0)], "history": [rec(0, "h")]}))
    (tmp_path / "h.jsonl").write_text(jsonl(rec(0), rec(5)))
    assert load_any(tmp_path / "w.json").history is not None
    assert load_any(tmp_path / "h.jsonl").counts["accepted"] == 2
    hr = "".join(f"{i},P1,2020-01-01 00:{i // 3:02d}:{20 * (i % 3):02d},{60 + i % 3}\n" for i in range(30))
    st = "".join(f"{i},P1,2020-01-01 00:{i:02d}:00,0\n" for i in range(10))
    (tmp_path / "P1_hr.csv").write_text(",user,datetime,heartrate\n" + hr)
    (tmp_path / "P1_steps.csv").write_text(",user,datetime,steps\n" + st)
    r = load_any(tmp_path / "P1_steps.csv")  # either file of the pair works
    assert r.ok and r.counts["accepted"] == 2 and r.users == {"P1": 2}


def test_real_test_data_file_is_valid():
    r = load_history(REAL_JSONL)
    assert r.ok, r.summary()
    assert r.users == {"A0NVTRV": r.counts["accepted"]} and r.counts["accepted"] > 1000
    f = r.frame
    assert f["hr"].notna().all() and (f["hr_resting"].dropna() >= 25).all()
    assert f["timestamp"].min().date().isoformat() <= "2020-04-20" <= f["timestamp"].max().date().isoformat()


def test_cli_validate_text_json_and_exit_codes(tmp_path, capsys):
    good, bad, empty = tmp_path / "good.jsonl", tmp_path / "bad.jsonl", tmp_path / "empty.json"
    good.write_text(jsonl(rec(0), rec(5)))
    bad.write_text(jsonl(rec(0), rec(5, hr=260)))
    empty.write_text("")
    assert main(["validate", str(good)]) == 0
    assert "2 accepted of 2 read" in capsys.readouterr().out
    assert main(["validate", str(bad)]) == 1
    assert "line 2, features.hr: 260 is outside the valid range [25, 230] bpm" in capsys.readouterr().out
    assert main(["validate", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["rejected"] == 1 and report["errors"][0]["line"] == 2
    assert main(["validate", str(empty)]) == 2
    out = capsys.readouterr().out
    assert out.startswith("error:") and "empty" in out


# ----------------------------------------------------------------------------- records CSV

def test_records_csv_reads_the_same_records_as_jsonl(tmp_path):
    records = [rec(0, steps=0.0, sleep_state="light"), rec(5, hrv_rmssd=41.5), rec(10, "u2", spo2=97.0)]
    for r in records:
        r["static_features"] = {"age_group": "40-49"}
    (tmp_path / "h.jsonl").write_text(jsonl(*records))
    (tmp_path / "h.csv").write_text(
        "timestamp,deviceId,hr,steps,sleep_state,hrv_rmssd,spo2,age_group\n"
        "2024-03-01T00:00:00,u1,65,0,light,,,40-49\n"
        "2024-03-01T00:05:00,u1,65,,NaN,41.5,,40-49\n"
        "2024-03-01T00:10:00,u2,65,,,,97,40-49\n")
    from_csv, from_jsonl = load_any(tmp_path / "h.csv"), load_any(tmp_path / "h.jsonl")
    assert from_csv.ok and not from_csv.warnings, from_csv.summary()
    assert [r.model_dump() for r in from_csv.records] == [r.model_dump() for r in from_jsonl.records]


def test_records_csv_reports_bad_cells_by_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,deviceId,hr,spo2,colour\n"
                    "2024-03-01T00:00:00,u1,65,97,red\n"
                    "2024-03-01T00:05:00,u1,65,abc,red\n"   # line 3: not a number
                    "2024-03-01T00:10:00,u1,65\n"           # line 4: too few cells
                    "\n"
                    "2024-03-01T00:15:00,u1,65,101,red\n")  # line 6: out of range
    r = load_any(path)
    assert r.counts["accepted"] == 3 and r.counts["rejected"] == 1
    errors = {(e.line, e.field): e for e in r.errors}
    assert "string, expected a number" in errors[3, "spo2"].message
    assert "3 cells, the header has 5" in errors[4, "<csv>"].message
    assert "outside the valid range" in errors[6, "spo2"].message
    unknown = [w for w in r.warnings if w.field == "colour"]
    assert len(unknown) == 1 and unknown[0].line is None  # one warning for the column, not one per row


@pytest.mark.parametrize("header, match", [
    ("deviceId,hr\n", "no 'timestamp' column"),
    ("timestamp,hr,hr\n", "more than once"),
])
def test_records_csv_with_unusable_header_raises(tmp_path, header, match):
    path = tmp_path / "h.csv"
    path.write_text(header + "2024-03-01T00:00:00,65,66\n")
    with pytest.raises(InputFileError, match=match):
        load_any(path)


def test_aliases_are_read_under_the_config_name_with_one_warning_per_source(tmp_path):
    """Another export's names (user_id, heart_rate, respiratory_rate) are read, not dropped: each
    user keeps its own records, and the report says once per alias what was read as what."""
    path = tmp_path / "other.csv"
    rows = [f"2024-03-01T00:{m:02d}:00,{user},{60 + m % 7},{14 + m % 3}" for user in ("a", "b") for m in range(0, 30, 5)]
    path.write_text("timestamp,user_id,heart_rate,respiratory_rate\n" + "\n".join(rows) + "\n")
    r = load_any(path)
    assert r.ok and r.users == {"a": 6, "b": 6}
    assert r.frame["resp_rate"].notna().all() and r.frame["hr"].notna().all()
    notes = {w.field: w.message for w in r.warnings}
    assert notes == {"user_id": "read as 'deviceId' in 12 record(s) (first at line 2)",
                     "heart_rate": "read as 'hr' in 12 record(s) (first at line 2)",
                     "respiratory_rate": "read as 'resp_rate' in 12 record(s) (first at line 2)"}
    camel = load_history(jsonl({**rec(0), "features": {"heartRate": 71.0, "restingHeartRate": 60.0, "stepCount": 0,
                                                       "SpO2": 97.0, "sleepStage": "awake"}}))
    assert camel.ok and camel.records[0].features == {"hr": 71.0, "hr_resting": 60.0, "steps": 0.0, "spo2": 97.0,
                                                      "sleep_state": "awake"}
    both = load_history(jsonl({**rec(0), "features": {"hr": 70.0, "Heart Rate": 90.0}}))
    assert both.records[0].features == {"hr": 70.0}  # the proper name wins; the alias is an error
    assert [(e.line, e.field, e.action) for e in both.errors] == [(1, "features.Heart Rate", "field removed")]


def test_records_csv_from_a_semicolon_spreadsheet_with_decimal_commas():
    text = "timestamp;deviceId;hr;hrv_rmssd\n2024-03-01T00:00:00;u1;65,5;41,25\n2024-03-01T00:05:00;u1;66;\n"
    r = parse_csv_text(text)
    assert r.ok and [rec.features for rec in r.records] == [{"hr": 65.5, "hrv_rmssd": 41.25}, {"hr": 66.0}]
