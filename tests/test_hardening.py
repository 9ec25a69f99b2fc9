"""Regression tests of issue 16 ("Hostile input, many visitors, nothing lost"): one test (or more)
per failure found, named by its number in the issue. See docs/security.md."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from wearable_monitor.escaping import csv_cell, csv_safe_frame, markdown_text, preformatted, write_safe_csv
from wearable_monitor.data.readers import load_any, parse_csv_text, parse_jsonl_text, parse_window_text
from wearable_monitor.data.records import TIMESTAMP_MAX, TIMESTAMP_MIN, Record
from wearable_monitor.data.validation import InputFileError

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 3, 1, 8, 0)


def rec(i: int = 0, user: str = "u1", ts: str | None = None, **feats) -> dict:
    feats = {"hr": 60.0 + i % 7, "steps": 0, **feats}
    return {"timestamp": ts or (T0 + timedelta(minutes=5 * i)).isoformat(), "deviceId": user, "features": feats}


def jsonl(records: list) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "WM_DEBUG"}
    return subprocess.run([sys.executable, "-m", "wearable_monitor", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=env)


def fitbit_pair(folder: Path, hr_rows: list[str], steps_rows: list[str], uid: str = "P1") -> tuple[Path, Path]:
    hr, st = folder / f"{uid}_hr.csv", folder / f"{uid}_steps.csv"
    hr.write_text("user,datetime,heartrate\n" + "".join(f"{uid},{r}\n" for r in hr_rows))
    st.write_text("user,datetime,steps\n" + "".join(f"{uid},{r}\n" for r in steps_rows))
    return hr, st


# ------------------------------------------------------------------ 1, 2: huge numbers

def test_01_huge_integer_in_a_categorical_field_costs_that_field_only():
    big = int("9" * 400)
    res = parse_jsonl_text(jsonl([rec(0, sleep_state=big), rec(1)]))
    assert res.counts["accepted"] == 2 and res.counts["fields_removed"] == 1
    err = res.errors[0]
    assert (err.line, err.field) == (1, "features.sleep_state") and "400 digits" in err.message
    res = parse_jsonl_text(jsonl([{**rec(0), "static_features": {"sex": -big}}]))
    assert res.counts["accepted"] == 1 and res.errors[0].field == "static_features.sex"


def test_01_huge_integer_through_the_app_api(app_service, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(jsonl([rec(i, sleep_state=int("7" * 400) if i == 3 else "awake") for i in range(30)]))
    out = app_service.history_api(str(path))
    assert "error" not in out and out["validation"]["counts"]["fields_removed"] == 1


def test_02_number_over_4300_digits_is_a_field_error_not_a_traceback(tmp_path):
    text = jsonl([rec(0), '{"timestamp": "2024-03-01T08:05:00", "deviceId": "u1", "features": {"hr": '
                  + "1" * 5000 + '}}', rec(2)])
    res = parse_jsonl_text(text)
    assert res.counts["items"] == 3 and res.counts["accepted"] == 2
    assert (res.errors[0].line, res.errors[0].field) == (2, "features.hr")
    window = parse_window_text("[" + text.strip().replace("\n", ",") + "]")
    assert window.counts["accepted"] == 2
    path = tmp_path / "big.jsonl"
    path.write_text(text)
    proc = cli("score", str(path), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ 3, 4: Fitbit

def test_03_corrupt_fitbit_zip_is_a_readable_error(tmp_path, app_service):
    hr, st = tmp_path / "P1_hr.csv.zip", tmp_path / "P1_steps.csv.zip"
    hr.write_bytes(b"PK\x03\x04 this is not a zip at all")
    with zipfile.ZipFile(st, "w") as zf:
        zf.writestr("P1_steps.csv", "user,datetime,steps\nP1,2024-03-01 08:00:00,3\n")
    with pytest.raises(InputFileError, match="zip"):
        load_any(hr)
    out = app_service.history_api([str(hr), str(st)])
    assert "zip" in out["error"]
    proc = cli("validate", str(hr))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    proc = cli("score", str(hr), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_04_fitbit_rows_far_in_time_are_dropped_and_reported_fast(tmp_path):
    import resource
    import time

    minutes = [(T0 + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:%S") for m in range(120)]
    rows = [f"{t},{70 + i % 5}" for i, t in enumerate(minutes)]
    hr, _ = fitbit_pair(tmp_path, rows + ["9999-12-31 00:00:00,70", "1600-01-01 00:00:00,70",
                                          "2150-01-01 00:00:00,70"], [f"{t},0" for t in minutes])
    start = time.perf_counter()
    res = load_any(hr)
    assert time.perf_counter() - start < 5
    assert res.counts["accepted"] == 24 and res.counts["fitbit_rows_dropped"] == 3
    assert any("outside the supported range" in e.message and "line" in e.message for e in res.errors)
    # a far-apart row inside the range no longer makes a dense grid of decades
    hr, _ = fitbit_pair(tmp_path, rows + ["2099-12-31 00:00:00,70"], [f"{t},0" for t in minutes], uid="P2")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    res = load_any(hr)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # KiB
    assert res.counts["accepted"] == 25


# ------------------------------------------------------------------ 5, 6: timestamp range

@pytest.mark.parametrize("ts", ["9999-12-31T00:00:00", "1600-01-01T00:00:00", "2300-01-01T00:00:00",
                                "2200-01-01T00:00:00", "1999-12-31T23:55:00", "2100-01-01T00:00:00"])
def test_05_timestamps_outside_the_range_are_rejected_at_their_line(ts):
    res = parse_jsonl_text(jsonl([rec(0), rec(1, ts=ts), rec(2)]))
    assert res.counts["accepted"] == 2 and res.counts["rejected"] == 1
    err = res.errors[0]
    assert (err.line, err.field) == (2, "timestamp") and "supported range" in err.message
    assert res.frame["timestamp"].dt.year.eq(2024).all()  # nothing silently wrapped (9999 -> 1816)


def test_05_bounds_are_inclusive_start_exclusive_end():
    assert Record.model_validate({"timestamp": TIMESTAMP_MIN}).timestamp == TIMESTAMP_MIN
    last = TIMESTAMP_MAX - timedelta(minutes=5)
    assert Record.model_validate({"timestamp": last}).timestamp == last
    with pytest.raises(ValueError):
        Record.model_validate({"timestamp": TIMESTAMP_MAX})


def test_06_a_far_future_record_cannot_freeze_anyones_baseline(app_service, tmp_path):
    path = tmp_path / "future.jsonl"
    path.write_text(jsonl([rec(i, user="victim") for i in range(30)] + [rec(0, user="victim", ts="2200-01-01T00:00:00")]))
    before = app_service.detector.storage.list_users()
    out = app_service.history_api(str(path))
    assert out["validation"]["counts"]["rejected"] == 1 and len(out["windows"]) == 30 - 12 + 1
    assert app_service.detector.storage.list_users() == before  # the shared store was not written


# ------------------------------------------------------------------ 7, 8: line-oriented readers

def test_07_unclosed_quote_costs_one_csv_line():
    lines = ["timestamp,deviceId,hr"] + [f"{(T0 + timedelta(minutes=5 * i)).isoformat()},u1,{60 + i}" for i in range(6)]
    lines[3] = lines[3].replace("u1", '"u1')
    res = parse_csv_text("\n".join(lines) + "\n")
    assert res.counts["items"] == 6 and res.counts["accepted"] == 5
    assert res.errors[0].line == 4 and "CSV row" in res.errors[0].message


def test_08_jsonl_whose_first_line_is_a_list():
    res = parse_jsonl_text("[]\n" + jsonl([rec(0), rec(1)]))
    assert res.counts["items"] == 3 and res.counts["accepted"] == 2 and res.errors[0].line == 1
    # a JSON list over several lines is still read as one document
    assert parse_jsonl_text("[\n" + json.dumps(rec(0)) + ",\n" + json.dumps(rec(1)) + "\n]\n").counts["accepted"] == 2


@pytest.mark.parametrize("bad", [b"\xff\xfe broken", b"abc\x00def"])
def test_08_one_bad_byte_costs_its_line(bad, tmp_path):
    good = [json.dumps(rec(i)).encode() for i in range(5)]
    data = b"\n".join([good[0], bad, *good[1:]]) + b"\n"
    for name, payload, line in (("h.jsonl", data, 2),
                                ("h.csv", b"timestamp,deviceId,hr\n2024-03-01T08:00:00,u1,60\n" + bad
                                 + b"\n2024-03-01T08:05:00,u1,61\n", 3)):
        path = tmp_path / name
        path.write_bytes(payload)
        res = load_any(path)
        assert res.counts["rejected"] == 1 and res.errors[0].line == line, name
        assert "UTF-8" in res.errors[0].message or "NUL" in res.errors[0].message
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")  # still refused whole: binary
    with pytest.raises(InputFileError, match="binary"):
        load_any(path)


# ------------------------------------------------------------------ 9: short users

def test_09_users_too_short_for_a_window_are_reported(app_service, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(jsonl([rec(i, user="long") for i in range(20)] + [rec(i, user="short") for i in range(5)]))
    out = app_service.history_api(str(path))
    assert out["skipped_users"] == [{"user_id": "short", "records": 5,
                                     "reason": "fewer than the 12 records one window needs"}]
    outcome = app_service.analyze_history(str(path), session="t09")
    assert outcome.skipped == {"short": 5}
    proc = cli("score", str(path), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 1 and "short (5)" in proc.stderr


# ------------------------------------------------------------------ 10, 11: escaping

def test_10_formula_ids_are_neutralised_in_exported_csv(app_service, tmp_path):
    assert [csv_cell(v) for v in ("=1+1", "+a", "-a", "@SUM(A1)", "ok", -3.5)] == \
        ["'=1+1", "'+a", "'-a", "'@SUM(A1)", "ok", -3.5]
    path = tmp_path / "f.jsonl"
    path.write_text(jsonl([rec(i, user='=HYPERLINK("http://x")') for i in range(14)]))
    outcome = app_service.analyze_history(str(path), session="t10")
    assert set(pd.read_csv(outcome.csv_path)["user_id"]) == {"'=HYPERLINK(\"http://x\")"}
    proc = cli("score", str(path), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 0 and pd.read_csv(tmp_path / "s.csv")["user_id"].str.startswith("'=").all()
    assert csv_safe_frame(pd.DataFrame({"a": ["@x"]}))["a"][0] == "'@x"
    # object columns without any text (numbers, booleans, lists after a merge) pass through unchanged
    odd = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in
                        {"n": [1, 2], "b": [True, False], "none": [None, None], "l": [[1], [2]], "mix": ["=a", 3]}.items()})
    safe = csv_safe_frame(odd)
    assert safe["n"].tolist() == [1, 2] and safe["b"].tolist() == [True, False] and safe["l"].tolist() == [[1], [2]]
    assert safe["mix"].tolist() == ["'=a", 3] and safe["none"].tolist() == [None, None]


def test_10_safe_csv_writer_escapes_quotes_and_keeps_values(tmp_path):
    import csv

    frame = pd.DataFrame({"user_id": ["=cmd()", 'a,"b"', "line\nbreak", None],
                          "timestamp": pd.to_datetime(["2024-01-01 00:05", "2024-01-01 00:10", "2024-01-01 00:15",
                                                       "2024-01-01 00:20"]),
                          "score": [0.25, -3.5, float("nan"), 1e-7], "flag": [True, False, True, False],
                          "level": pd.Series([0, 1, 2, 3], dtype="int8")})
    write_safe_csv(frame, tmp_path / "w.csv")
    with open(tmp_path / "w.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["user_id", "timestamp", "score", "flag", "level"]
    assert [r[0] for r in rows[1:]] == ["'=cmd()", 'a,"b"', "line\nbreak", ""]
    assert [r[1] for r in rows[1:]] == ["2024-01-01T00:05:00", "2024-01-01T00:10:00", "2024-01-01T00:15:00",
                                        "2024-01-01T00:20:00"]
    back = pd.read_csv(tmp_path / "w.csv")
    assert back["score"].iloc[[0, 1, 3]].tolist() == [0.25, -3.5, 1e-7] and pd.isna(back["score"][2])
    assert back["flag"].tolist() == [True, False, True, False] and back["level"].tolist() == [0, 1, 2, 3]


def test_11_ids_cannot_render_markup_or_break_fences(app_service, tmp_path):
    from wearable_monitor.app.ui import Handlers, verdict_markdown

    evil = "![i](http://host/x.png)"
    md = markdown_text(evil)
    assert "![" not in md and "](" not in md.replace("\\]", "")
    assert "<pre>&lt;/pre&gt;" in preformatted("</pre>")
    # a multi-line id is refused by the data contract (it would close a code fence)
    res = parse_jsonl_text(jsonl([rec(0, user="a\n```\n![i](http://h/x.png)")]))
    assert res.counts["rejected"] == 1 and res.errors[0].field == "deviceId"
    path = tmp_path / "evil.jsonl"
    path.write_text(jsonl([rec(i, user=evil) for i in range(14)]))
    h = Handlers(app_service)
    h.analyze([str(path)], None, "en", request=None)
    md = h.select_user(evil, "hr_resting", "en")[0]
    assert "![i](" not in md and "\\!" not in md and "!\\[i\\]" in md
    result = {"is_anomaly": False, "anomaly_score": 0.1, "threshold": 0.5, "user_id": evil}
    assert "![i](" not in verdict_markdown(result, "en")


# ------------------------------------------------------------------ 13: exit codes

def test_13_exit_codes(tmp_path):
    good = tmp_path / "g.jsonl"
    good.write_text(jsonl([rec(i) for i in range(14)]))
    assert cli("validate", str(good)).returncode == 0
    bad = tmp_path / "b.jsonl"
    bad.write_text(jsonl([rec(i) for i in range(14)] + ["{not json"]))
    assert cli("validate", str(bad)).returncode == 1
    for args in (["validate", str(tmp_path / "missing.jsonl")], ["score", str(tmp_path / "missing.jsonl"), "--out",
                 str(tmp_path / "o.csv")], ["no-such-command"], ["score"]):
        proc = cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, args
    from wearable_monitor import cli as cli_mod

    assert (cli_mod.EXIT_OK, cli_mod.EXIT_FINDINGS, cli_mod.EXIT_BAD_INPUT, cli_mod.EXIT_INTERNAL) == (0, 1, 2, 3)


def test_13_an_internal_error_is_exit_3_without_traceback(monkeypatch, capsys):
    from wearable_monitor import cli as cli_mod

    def boom(parser):
        parser.add_argument("file")
        return lambda args: 1 / 0

    monkeypatch.setattr("wearable_monitor.cli.validate.configure_validate", boom)
    assert cli_mod.main(["validate", "x"]) == 3
    assert "internal error: ZeroDivisionError" in capsys.readouterr().err


# ------------------------------------------------------------------ 14: exports deleted; isolation

def test_14_session_exports_are_deleted_with_the_session(app_service, history_jsonl):
    outcome = app_service.analyze_history(str(history_jsonl), session="t14")
    ws = app_service.sessions["t14"]
    assert outcome.csv_path.is_file() and outcome.csv_path.is_relative_to(ws.dir)
    app_service.close_session("t14")
    assert not outcome.csv_path.exists() and not ws.dir.exists() and "t14" not in app_service.sessions
    # the named API leaves nothing behind
    before = set(app_service.sessions_dir.iterdir())
    assert "error" not in app_service.history_api(str(history_jsonl))
    assert set(app_service.sessions_dir.iterdir()) == before


def test_14_gradio_cache_is_cleaned_and_analytics_off(app_service):
    from wearable_monitor.app.ui import build_ui

    demo = build_ui(app_service)
    assert demo.delete_cache is not None and demo.delete_cache[1] <= 3600
    assert demo.analytics_enabled is False


def test_isolation_uploads_never_touch_the_shared_store_or_other_sessions(app_service, tmp_path):
    path = tmp_path / "iso.jsonl"
    path.write_text(jsonl([rec(i, user="iso-user") for i in range(30)]))
    shared = app_service.detector.storage
    shared.reset("iso-user")
    app_service.analyze_history(str(path), session="visitor-a")
    assert "iso-user" not in shared.list_users()
    assert "iso-user" in app_service.users("visitor-a") and "iso-user" not in app_service.users("visitor-b")
    # a shared (demo) user is read-only for visitors
    app_service.detector.users.ingest("demo-user", pd.DataFrame(app_service.analyze_history(
        str(path), session="visitor-a").frame.assign(user_id="demo-user")))
    with pytest.raises(InputFileError, match="read-only"):
        app_service.reset_user("demo-user", session="visitor-b")
    window = json.dumps([rec(i, user="demo-user") for i in range(12)])
    app_service.detect_window_text(window, session="visitor-b")
    app_service.window_api(window)
    assert "demo-user" not in app_service.workspace("visitor-b").detector.storage.list_users()
    before = shared.history("demo-user", "hr_resting", "all") if hasattr(shared, "history") else None
    app_service.detect_window_text(window, session="visitor-c")
    if before is not None:
        assert shared.history("demo-user", "hr_resting", "all").equals(before)
    for s in ("visitor-a", "visitor-b", "visitor-c"):
        app_service.close_session(s)
    shared.reset("demo-user")


# ------------------------------------------------------------------ 12, 15: serving defaults

def test_12_queue_is_sized_for_fifty_clients():
    from wearable_monitor.app.service import AppConfig

    cfg = AppConfig.load()
    assert cfg.max_queue_size >= 50 * 2 and cfg.window_concurrency_limit >= 4


def test_15_binds_loopback_unless_a_space_or_an_explicit_setting(monkeypatch):
    from wearable_monitor.app.ui import default_host

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    assert default_host() == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "user/space")
    assert default_host() == "0.0.0.0"
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "10.0.0.5")
    assert default_host() == "10.0.0.5"
    text = (REPO / "gradio_app.py").read_text()
    assert '"0.0.0.0")' not in text and "default_host()" in text


def test_a_lone_surrogate_escape_costs_its_line_not_the_file(app_service, tmp_path):
    """JSON may spell "\\ud800", which is no character: SQLite, CSV and the page refuse it. Before, one such
    deviceId failed the whole upload with "'utf-8' codec can't encode ..."; now the line is reported."""
    rows = [rec(i) for i in range(14)]
    rows[3] = rec(3, user="u\ud800")
    rows[5] = rec(5, **{"x\udc00": 1})
    path = tmp_path / "s.jsonl"
    path.write_text(jsonl(rows))
    outcome = app_service.analyze_history(str(path), session="surrogate")
    v = outcome.validation
    assert v.counts["accepted"] == 12 and {e.line for e in v.errors} == {4, 6}
    assert all("surrogate" in e.message for e in v.errors)
    proc = cli("score", str(path), "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "line 4" in proc.stderr


def test_a_lone_surrogate_in_a_frame_id_rejects_that_row():
    from wearable_monitor.data.frame_validation import validate_frame

    frame = pd.DataFrame({"user_id": pd.Series(["u1", "u\ud800", "u1"], dtype=object),
                          "timestamp": pd.to_datetime(["2024-03-01 00:00", "2024-03-01 00:05", "2024-03-01 00:10"]),
                          "hr": [60.0, 61.0, 62.0]})
    result = validate_frame(frame)
    assert result.counts["accepted"] == 2 and [(e.line, e.field) for e in result.errors] == [(2, "deviceId")]
