"""Device-export importers (issue 18): Health Connect, Oura, Garmin FIT, and the app's upload path.

Binning checked against independent pandas computations from the fixtures' raw data."""
from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import fitdecode
import pandas as pd
import pytest

from wearable_monitor.cli import main
from wearable_monitor.data.importers import find_importer, import_file
from wearable_monitor.data.readers import load_any
from wearable_monitor.data.validation import InputFileError

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "test_data" / "devices"
FIXTURES = {"apple_export.zip": "apple_health", "fitbit_takeout.zip": "fitbit_takeout",
            "health_connect.zip": "health_connect", "garmin_monitoring.fit": "garmin_fit",
            "garmin_wellness.zip": "garmin_fit", "oura_heartrate.json": "oura", "oura_api.zip": "oura",
            "oura_heartrate.csv": "oura"}


def by_ts(records):
    return {r["timestamp"]: r["features"] for r in records}


def expected_rate(times: pd.Series, values: pd.Series) -> pd.Series:
    df = pd.DataFrame({"t": times, "v": values.astype(float)})
    minute = df.groupby(df["t"].dt.floor("1min"))["v"].mean()
    return minute.groupby(minute.index.floor("5min")).mean()


@pytest.mark.parametrize("name,source", sorted(FIXTURES.items()))
def test_every_fixture_is_detected_imported_and_valid(name, source, tmp_path):
    assert find_importer(DEV / name).name == source
    out = tmp_path / "r.jsonl"
    assert main(["import", str(DEV / name), "--out", str(out), "--no-progress"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines and all("hr" in r["features"] for r in lines)
    res = load_any(DEV / name)
    assert res.ok and len(res.records) == len(lines)


# ---------------------------------------------------------------- Health Connect

@pytest.fixture(scope="module")
def hc_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("hc")
    with zipfile.ZipFile(DEV / "health_connect.zip") as zf:
        zf.extractall(d)
    return d / "health_connect_export.db"


def test_health_connect_binning_against_sql(hc_db):
    conn = sqlite3.connect(hc_db)
    hr = pd.read_sql("SELECT s.beats_per_minute bpm, s.epoch_millis ms, r.start_zone_offset off FROM "
                     "heart_rate_record_series_table s JOIN heart_rate_record_table r ON r.row_id = s.parent_key", conn)
    hr = hr[hr["bpm"].between(25, 230)]
    t = pd.to_datetime(hr["ms"] // 1000 + hr["off"], unit="s")
    expected = expected_rate(t, hr["bpm"])
    got = by_ts(import_file(DEV / "health_connect.zip").records)
    assert set(got) == {ts.isoformat() for ts in expected.index}
    for ts, v in expected.items():
        assert got[ts.isoformat()]["hr"] == pytest.approx(v, abs=0.006)
    # steps: Fitbit per minute vs Samsung 10-minute chunks of the same walk: one app per bin, never both
    st = pd.read_sql("SELECT app_info_id app, start_time s, end_time e, start_zone_offset off, count FROM "
                     "steps_record_table", conn)
    per = {}
    for _, r in st.iterrows():
        secs = pd.date_range(pd.to_datetime(r["s"] // 1000 + r["off"], unit="s"),
                             pd.to_datetime(r["e"] // 1000 + r["off"], unit="s"), freq="1s", inclusive="left")
        for b, n in secs.floor("5min").value_counts().items():
            per[(b, r["app"])] = per.get((b, r["app"]), 0) + r["count"] * n / len(secs)
    best = pd.Series(per).groupby(level=0).max()
    for b, v in best.items():
        if b.isoformat() in got:
            assert got[b.isoformat()]["steps"] == pytest.approx(v, abs=0.01)
    assert got["2024-01-15T06:00:00"]["sleep_state"] == "rem"
    assert got["2024-01-15T06:00:00"]["hr_resting"] == 57


def test_health_connect_unknown_schema_names_expected_tables(hc_db, tmp_path):
    bad = tmp_path / "health_connect_export.db"
    shutil.copy(hc_db, bad)
    conn = sqlite3.connect(bad)
    conn.execute("ALTER TABLE heart_rate_record_series_table RENAME COLUMN beats_per_minute TO bpm")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(InputFileError, match=r"unknown Health Connect schema \(user_version 99\).*"
                                             r"heart_rate_record_series_table lacks beats_per_minute.*Expected tables"):
        import_file(bad)
    no_hr = tmp_path / "x" / "health_connect_export.db"
    no_hr.parent.mkdir()
    sqlite3.connect(no_hr).execute("CREATE TABLE other (a)").connection.commit()
    with pytest.raises(InputFileError, match="no heart_rate_record_series_table table"):
        import_file(no_hr)


def test_health_connect_db_is_opened_read_only(hc_db):
    before = hc_db.read_bytes()
    import_file(hc_db)
    assert hc_db.read_bytes() == before


# ---------------------------------------------------------------- Oura

def test_oura_hr_sources_and_timezone():
    doc = json.loads((DEV / "oura_heartrate.json").read_text())
    df = pd.DataFrame(doc["data"])
    t = pd.to_datetime(df["timestamp"]).dt.tz_convert("Europe/Paris").dt.tz_localize(None)
    expected = expected_rate(t, df["bpm"])
    res = import_file(DEV / "oura_heartrate.json", timezone="Europe/Paris")
    got = by_ts(res.records)
    assert set(got) == {ts.isoformat() for ts in expected.index}
    for ts, v in expected.items():
        assert got[ts.isoformat()]["hr"] == pytest.approx(v, abs=0.006)
    rest = df[df["source"].isin(["rest", "sleep"])]
    assert sum("hr_resting" in f for f in got.values()) == len(expected_rate(t[rest.index], rest["bpm"]))
    workout = t[df["source"] == "workout"].dt.floor("5min").iloc[0].isoformat()
    assert "hr_resting" not in got[workout]
    assert res.report.used["heartrate workout"] == (df["source"] == "workout").sum()


def test_oura_daily_spo2_once_per_night():
    res = import_file(DEV / "oura_api.zip", timezone="Europe/Paris")
    spo2 = [(ts, f["spo2"]) for ts, f in by_ts(res.records).items() if "spo2" in f]
    assert spo2 == [(spo2[0][0], 96.4)] and spo2[0][0].startswith("2024-02-11T0")
    assert res.report.skipped["daily_spo2: no sleep heart rate that night to attach it to"] == 1


def test_oura_bad_rows_and_empty(tmp_path):
    bad = tmp_path / "heartrate.json"
    bad.write_text(json.dumps({"data": [{"bpm": 60, "source": "awake", "timestamp": "yesterday"}]}))
    with pytest.raises(InputFileError, match="entry 1: unreadable heart-rate row"):
        import_file(bad)
    empty = tmp_path / "e.json"
    empty.write_text("")
    with pytest.raises(InputFileError, match="empty"):
        import_file(empty)


# ---------------------------------------------------------------- Garmin

def _fit_hr(path: Path) -> pd.DataFrame:
    """Independent timestamp_16 rebuild straight from fitdecode's frames."""
    rows, last, offset = [], None, 0
    with fitdecode.FitReader(path) as fit:
        for fr in fit:
            if fr.frame_type != fitdecode.FIT_FRAME_DATA:
                continue
            if fr.name == "monitoring_info":
                offset = fr.get_field("local_timestamp").raw_value - fr.get_field("timestamp").raw_value
            if fr.name != "monitoring":
                continue
            if fr.has_field("timestamp"):
                last = fr.get_field("timestamp").raw_value
            else:
                ts16 = fr.get_value("timestamp_16")
                last = last + ((ts16 - (last & 0xFFFF)) & 0xFFFF)
            rows.append((last + 631065600 + offset, fr.get_value("heart_rate")))
    return pd.DataFrame(rows, columns=["t", "hr"])


def test_garmin_timestamp16_and_binning():
    df = _fit_hr(DEV / "garmin_monitoring.fit")
    expected = expected_rate(pd.to_datetime(df["t"], unit="s"), df["hr"])
    got = by_ts(import_file(DEV / "garmin_monitoring.fit").records)
    assert set(got) == {ts.isoformat() for ts in expected.index}
    for ts, v in expected.items():
        assert got[ts.isoformat()]["hr"] == pytest.approx(v, abs=0.006)
    assert min(got) == "2024-06-03T07:00:00"  # local (PDT) from monitoring_info
    assert "2024-06-03T07:45:00" not in got  # watch off: the gap stays a gap


def test_garmin_cumulative_steps_and_rest():
    res = import_file(DEV / "garmin_monitoring.fit")
    got = by_ts(res.records)
    total = sum(f.get("steps", 0) for f in got.values())
    with fitdecode.FitReader(DEV / "garmin_monitoring.fit") as fit:
        cum = [fr.get_value("steps") for fr in fit if fr.frame_type == fitdecode.FIT_FRAME_DATA
               and fr.name == "monitoring" and fr.has_field("steps")]
    assert total == cum[-1] - cum[0]  # increments, not the cumulative values
    assert res.report.skipped["monitoring: first cumulative step count of a file (starting point)"] == 1
    walking = [f for f in got.values() if f["hr"] > 90]
    assert walking and not any("hr_resting" in f for f in walking)  # stress 60+ while walking: not rest
    assert sum("hr_resting" in f for f in got.values()) > 10


def test_garmin_corrupt_fit(tmp_path):
    data = bytearray((DEV / "garmin_monitoring.fit").read_bytes())
    data[200] ^= 0xFF
    bad = tmp_path / "bad.fit"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="bad.fit: not a readable FIT file"):
        import_file(bad)
    cut = tmp_path / "cut.fit"
    cut.write_bytes(bytes(data[:100]))
    with pytest.raises(InputFileError, match="cut.fit"):
        import_file(cut)


# ---------------------------------------------------------------- the app's upload path

def test_app_upload_takes_a_device_export(tmp_path):
    from wearable_monitor.app.service import AppConfig, MonitorService
    svc = MonitorService(AppConfig.load(data_dir=str(tmp_path)))
    seen = []
    res = svc.read_upload([str(DEV / "health_connect.zip")], progress=lambda f, d: seen.append(f))
    assert res.ok and len(res.records) == 44 and res.import_report.source == "health_connect"
    assert seen and max(seen) == 1.0
    assert svc.config.max_export_bytes >= 2 * 2**30


def test_app_analyzes_an_apple_export_end_to_end(tmp_path):
    from wearable_monitor.app.service import AppConfig, MonitorService
    svc = MonitorService(AppConfig.load(data_dir=str(tmp_path)))
    steps = []
    outcome = svc.analyze_history([str(DEV / "apple_export.zip")], progress=lambda f, d: steps.append((f, d)))
    assert outcome.users == ["apple-health"] and len(outcome.scored) > 800
    importing = [f for f, d in steps if d.startswith("importing")]
    assert importing and 0.05 <= min(importing) and max(importing) <= 0.2  # import progress inside its share


def test_app_upload_takes_several_device_exports(tmp_path):
    from wearable_monitor.app.service import AppConfig, MonitorService
    svc = MonitorService(AppConfig.load(data_dir=str(tmp_path)))
    res = svc.read_upload([str(DEV / "garmin_monitoring.fit"), str(DEV / "health_connect.zip")])
    assert res.ok and res.users == {"garmin": 33, "health-connect": 44}
    assert "source: garmin_fit" in res.import_report.text() and "source: health_connect" in res.import_report.text()
