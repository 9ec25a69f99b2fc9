"""Device-export importers (issue 18): Apple Health and Fitbit Takeout, registry, load_any, CLI.

The binning is checked against an independent pandas computation from the fixture's raw data."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from wearable_monitor.cli import main
from wearable_monitor.data.importers import find_importer, import_file, is_device_export
from wearable_monitor.data.readers import load_any
from wearable_monitor.data.validation import InputFileError

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "test_data" / "devices"
APPLE_ZIP = DEV / "apple_export.zip"
TAKEOUT_ZIP = DEV / "fitbit_takeout.zip"


def by_ts(records):
    return {r["timestamp"]: r["features"] for r in records}


# ---------------------------------------------------------------- Apple Health

@pytest.fixture(scope="module")
def apple():
    return import_file(APPLE_ZIP)


@pytest.fixture(scope="module")
def apple_xml_text():
    with zipfile.ZipFile(APPLE_ZIP) as zf:
        return zf.read("apple_health_export/export.xml").decode()


@pytest.fixture(scope="module")
def apple_raw(apple_xml_text):
    rows = [dict(e.attrib) for e in ET.fromstring(apple_xml_text.encode()).iter("Record")]
    df = pd.DataFrame(rows)
    df["start"] = pd.to_datetime(df["startDate"].str[:19])
    df["end"] = pd.to_datetime(df["endDate"].str[:19])
    return df


def test_apple_detected_in_zip_and_xml(tmp_path, apple_xml_text):
    assert find_importer(APPLE_ZIP).name == "apple_health"
    xml = tmp_path / "export.xml"
    xml.write_text(apple_xml_text)
    assert find_importer(xml).name == "apple_health"
    assert by_ts(import_file(xml).records) == by_ts(import_file(APPLE_ZIP).records)


def test_apple_hr_is_mean_of_minute_means_per_bin(apple, apple_raw):
    hr = apple_raw[apple_raw["type"] == "HKQuantityTypeIdentifierHeartRate"].copy()
    hr["v"] = hr["value"].astype(float)
    minute = hr.groupby(hr["start"].dt.floor("1min"))["v"].mean()
    expected = minute.groupby(minute.index.floor("5min")).mean()
    got = by_ts(apple.records)
    assert len(got) == len(expected)
    for ts, v in expected.items():
        assert got[ts.isoformat()]["hr"] == pytest.approx(v, abs=0.006)


def test_apple_steps_one_source_per_bin_never_summed(apple, apple_raw):
    st = apple_raw[apple_raw["type"] == "HKQuantityTypeIdentifierStepCount"].copy()
    # independent: spread every record evenly over its seconds, sum per (source, bin), take the larger source
    parts = []
    for _, r in st.iterrows():
        secs = pd.date_range(r["start"], r["end"], freq="1s", inclusive="left")
        parts.append(pd.DataFrame({"src": r["sourceName"], "bin": secs.floor("5min"),
                                   "v": float(r["value"]) / len(secs)}))
    per = pd.concat(parts).groupby(["bin", "src"])["v"].sum()
    expected = per.groupby(level="bin").max()
    got = by_ts(apple.records)
    for ts, v in expected.items():
        if ts.isoformat() in got:
            assert got[ts.isoformat()]["steps"] == pytest.approx(v, abs=0.01)
    noon = got["2024-03-01T12:00:00"]["steps"]
    watch = st[(st["sourceName"].str.contains("Watch")) & (st["start"] == pd.Timestamp("2024-03-01 12:00"))]
    assert noon == int(watch["value"].iloc[0])  # the watch's count, not watch + phone
    # the phone alone (watch charging) is used where it is the only source
    assert got["2024-03-01T17:00:00"]["steps"] == 240


def test_apple_device_attribute_is_not_an_identity(apple, apple_xml_text):
    devices = {e.get("device") for e in ET.fromstring(apple_xml_text.encode()).iter("Record")}
    assert len(devices) > 500  # the address changes record to record
    assert {r["deviceId"] for r in apple.records} == {"apple-health"}
    assert apple.report.used["StepCount"] == 3 * (12 + 6 + 1)


def test_apple_spo2_fraction_sdnn_and_units(apple, apple_raw):
    got = by_ts(apple.records)
    spo2 = apple_raw[apple_raw["type"] == "HKQuantityTypeIdentifierOxygenSaturation"].iloc[0]
    ts = spo2["start"].floor("5min").isoformat()
    assert got[ts]["spo2"] == pytest.approx(float(spo2["value"]) * 100)
    assert 90 <= got[ts]["spo2"] <= 100
    sdnn = [f for f in got.values() if "hrv_sdnn" in f]
    assert len(sdnn) == 6 and not any("hrv_rmssd" in f for f in got.values())
    dist = [f["distance"] for f in got.values() if "distance" in f]
    assert dist and all(300 < d < 450 for d in dist)  # km -> m


def test_apple_wall_clock_of_each_records_own_offset(apple, apple_raw):
    travel = apple_raw[apple_raw["startDate"].str.endswith("+0100")
                       & (apple_raw["type"] == "HKQuantityTypeIdentifierHeartRate")]
    assert len(travel)
    first = travel["start"].min().floor("5min").isoformat()
    assert first in by_ts(apple.records)  # stored at its local time, not shifted to UTC or to -0500


def test_apple_sleep_stages_and_unspecified(apple):
    got = by_ts(apple.records)
    states = {f.get("sleep_state") for f in got.values()}
    assert {"light", "deep", "rem", "awake"} <= states
    # 2024-03-01 03:00-04:00 is AsleepUnspecified, 04:00-04:45 the older 'Asleep': no stage, asleep minutes
    for ts in ("2024-03-01T03:20:00", "2024-03-01T04:20:00"):
        if ts in got:
            assert "sleep_state" not in got[ts] and got[ts]["sleep_minutes"] == 5
    assert any(k.endswith("in_bed") for k in apple.report.used)


def test_apple_report_counts(apple):
    r = apple.report
    assert r.read == sum(r.used.values()) + sum(r.skipped.values())
    assert r.skipped["BodyMassIndex: type not read"] == 3
    assert r.records == len(apple.records) and r.bins_without_hr > 0


def test_apple_truncated_xml_empty_and_wrong_root(tmp_path, apple_xml_text):
    cut = tmp_path / "export.xml"
    cut.write_text(apple_xml_text[: len(apple_xml_text) // 2])
    with pytest.raises(InputFileError, match=r"breaks at line \d+, column \d+ \(unclosed token\); the export is truncated"):
        import_file(cut)
    empty = tmp_path / "e.xml"
    empty.write_text("")
    with pytest.raises(InputFileError, match="empty"):
        import_file(empty)
    wrong = tmp_path / "w.xml"
    wrong.write_text("<?xml version='1.0'?><HealthData><Nope/></HealthData>")
    with pytest.raises(InputFileError, match="no 5-minute record"):
        import_file(wrong)


def test_truncated_zip_is_a_clear_error(tmp_path):
    data = APPLE_ZIP.read_bytes()
    cut = tmp_path / "export.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="damaged or truncated zip"):
        import_file(cut)
    with pytest.raises(InputFileError, match="damaged or truncated zip"):
        load_any(cut)


def test_unrelated_zip_is_refused(tmp_path):
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(InputFileError, match="none of the device exports"):
        import_file(z)


# ---------------------------------------------------------------- Fitbit Takeout

@pytest.fixture(scope="module")
def takeout():
    return import_file(TAKEOUT_ZIP)


def _takeout_json(name):
    with zipfile.ZipFile(TAKEOUT_ZIP) as zf:
        return json.loads(zf.read(f"Takeout/Fitbit/Global Export Data/{name}"))


def test_takeout_hr_utc_to_local_and_binning(takeout):
    hr = pd.DataFrame(_takeout_json("heart_rate-2023-05-01.json"))
    hr["t"] = (pd.to_datetime(hr["dateTime"], format="%m/%d/%y %H:%M:%S").dt.tz_localize("UTC")
               .dt.tz_convert("America/New_York").dt.tz_localize(None))
    hr["v"] = hr["value"].map(lambda v: v["bpm"]).astype(float)
    hr = hr[hr["v"].between(25, 230)]
    minute = hr.groupby(hr["t"].dt.floor("1min"))["v"].mean()
    expected = minute.groupby(minute.index.floor("5min")).mean()
    got = by_ts(takeout.records)
    assert set(got) == {t.isoformat() for t in expected.index}
    for ts, v in expected.items():
        assert got[ts.isoformat()]["hr"] == pytest.approx(v, abs=0.006)
    assert "2023-05-01T07:15:00" not in got  # the gap stays a gap
    assert takeout.report.skipped["heart_rate: bpm outside the config's valid range"] == 1


def test_takeout_steps_sum_sleep_spo2_hrv(takeout):
    st = pd.DataFrame(_takeout_json("steps-2023-05-01.json"))
    st["t"] = (pd.to_datetime(st["dateTime"], format="%m/%d/%y %H:%M:%S").dt.tz_localize("UTC")
               .dt.tz_convert("America/New_York").dt.tz_localize(None))
    expected = st.groupby(st["t"].dt.floor("5min"))["value"].apply(lambda s: s.astype(int).sum())
    got = by_ts(takeout.records)
    for ts, f in got.items():
        assert f["steps"] == expected[pd.Timestamp(ts)]
        assert f["data_quality"] in ("high", "medium", "low")
    assert got["2023-05-01T06:00:00"]["sleep_state"] == "light"
    assert "hrv_rmssd" in got["2023-05-01T06:00:00"] and "hrv_sdnn" not in got["2023-05-01T06:00:00"]
    assert 95 <= got["2023-05-01T06:00:00"]["spo2"] <= 98
    assert any("calories" in k for k in takeout.report.skipped)


def test_takeout_single_json_file_and_folder(tmp_path):
    with zipfile.ZipFile(TAKEOUT_ZIP) as zf:
        zf.extractall(tmp_path)
    one = tmp_path / "Takeout/Fitbit/Global Export Data/heart_rate-2023-05-01.json"
    assert find_importer(one).name == "fitbit_takeout"
    res = import_file(one, timezone="America/New_York")
    assert len(res.records) == 45
    folder = import_file(tmp_path / "Takeout")
    assert by_ts(folder.records) == by_ts(import_file(TAKEOUT_ZIP).records)
    utc = import_file(one)
    assert any("UTC" in n for n in utc.report.notes)
    assert utc.records[0]["timestamp"] == "2023-05-01T10:00:00"


def test_takeout_bad_json_names_the_file(tmp_path):
    bad = tmp_path / "heart_rate-2023-05-02.json"
    bad.write_text("[{\"dateTime\": ")
    with pytest.raises(InputFileError, match="heart_rate-2023-05-02.json: not valid JSON"):
        import_file(bad)


# ---------------------------------------------------------------- wiring

def test_load_any_and_records_pass_validation():
    for path in (APPLE_ZIP, TAKEOUT_ZIP):
        res = load_any(path)
        assert res.ok and res.records and res.import_report.records == len(res.records)


def test_existing_inputs_are_not_claimed():
    assert not is_device_export(REPO / "test_data" / "fitbit_A0NVTRV.jsonl")
    assert not is_device_export(REPO / "test_data" / "example_window.json")


def test_cli_import_writes_records(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["import", str(APPLE_ZIP), str(TAKEOUT_ZIP), "--out", str(out), "--no-progress"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == len(import_file(APPLE_ZIP).records) + len(import_file(TAKEOUT_ZIP).records)
    text = capsys.readouterr().out
    assert "source: apple_health" in text and "source: fitbit_takeout" in text
    assert main(["import", str(tmp_path / "nothing.zip"), "--out", str(out)]) == 2


def test_cli_import_shows_progress_and_json_report(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["import", str(APPLE_ZIP), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert "apple_export.zip" in captured.err and "%" in captured.err  # tqdm progress on stderr
    report = json.loads(captured.out)["reports"][0]
    assert report["source"] == "apple_health" and report["skipped"]["BodyMassIndex: type not read"] == 3


def test_wrong_root_and_empty_files_of_every_kind(tmp_path):
    wrong = tmp_path / "export.xml"
    wrong.write_text("<?xml version='1.0'?><Foo><Record type='x'/></Foo>")
    with pytest.raises(InputFileError, match="not recognised as a device export"):
        import_file(wrong)
    with pytest.raises(InputFileError, match=r"root element is <Foo>, expected <HealthData>"):
        import_file(wrong, source="apple_health")
    for name in ("export.zip", "export.xml", "heart_rate-2023-05-01.json", "x.fit", "health_connect_export.db",
                 "heartrate.json"):
        empty = tmp_path / name
        empty.write_bytes(b"")
        with pytest.raises(InputFileError, match="empty"):
            import_file(empty)
        with pytest.raises(InputFileError):
            load_any(empty)
