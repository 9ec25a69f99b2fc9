"""Fitbit CSV pair -> 5-minute records: hr mean, 12-minute resting rule, steps sum, gaps, quality."""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.cli import main
from wearable_monitor.data.fitbit import find_pair, import_fitbit
from wearable_monitor.data.readers import load_history
from wearable_monitor.data.validation import InputFileError

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "stanford_covid_wearables"
T0 = pd.Timestamp("2020-01-01 00:00:00")


def write_csv(path: Path, rows: list[tuple], value: str, zipped: bool = False) -> Path:
    """Write the Stanford layout: (row index), user, datetime, value; optionally zipped."""
    df = pd.DataFrame(rows, columns=["user", "datetime", value])
    df["datetime"] = pd.to_datetime(df["datetime"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    text = df.to_csv(index=True)
    if zipped:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(path.name.removesuffix(".zip"), text)
    else:
        path.write_text(text)
    return path


def hr_rows(minutes, user="P1", value=lambda m: 60 + m):
    """Three samples per minute (every 20 s), constant within the minute."""
    return [(user, T0 + pd.Timedelta(minutes=m, seconds=s), value(m)) for m in minutes for s in (0, 20, 40)]


def steps_rows(minutes, user="P1", steps=None):
    steps = steps or {}
    return [(user, T0 + pd.Timedelta(minutes=m), steps.get(m, 0)) for m in minutes]


# HR present except minutes 15,16,18,19 (one-minute bin) and 20-26 (gap bin, then partial bin)
HR_MINUTES = [m for m in range(30) if m not in (15, 16, 18, 19) and not 20 <= m <= 26]
STEPS = {14: 10, 15: 5}


@pytest.fixture
def pair(tmp_path):
    hr = write_csv(tmp_path / "P1_hr.csv.zip", hr_rows(HR_MINUTES), "heartrate", zipped=True)
    st = write_csv(tmp_path / "P1_steps.csv", steps_rows(range(30), steps=STEPS), "steps")
    return hr, st


def by_minute(bins: pd.DataFrame) -> dict[int, dict]:
    return {int((t - T0) / pd.Timedelta(minutes=1)): row for t, row in
            zip(bins["timestamp"], bins.to_dict("records"))}


def test_hand_made_pair_bins(pair):
    res = import_fitbit(*pair)
    b = by_minute(res.bins)
    assert sorted(b) == [0, 5, 10, 15, 25]                    # 00:20 has steps but no HR: no record
    assert [b[m]["hr"] for m in (0, 5, 10, 15, 25)] == [62, 67, 72, 77, 88]  # mean of the minute means
    assert [b[m]["steps"] for m in (0, 5, 10, 15, 25)] == [0, 0, 10, 5, 0]
    assert [b[m]["data_quality"] for m in (0, 5, 10, 15, 25)] == ["high", "high", "high", "low", "medium"]
    # resting minutes: this minute and the 12 before all have steps == 0.
    # 12, 13: window 0..12 / 1..13 is clean (11 is not: minute -1 is unknown); 14: has steps.
    assert b[10]["hr_resting"] == pytest.approx((72 + 73) / 2)
    # 27's window 15..27 contains the 5 steps of minute 15; 28 and 29 are clean
    assert b[25]["hr_resting"] == pytest.approx((88 + 89) / 2)
    for m in (0, 5, 15):
        assert math.isnan(b[m]["hr_resting"])
    s = res.summary
    assert (s.records, s.days, s.steps_only_bins, s.gaps) == (5, 1, 1, 1)
    assert s.gap_hours == pytest.approx(5 / 60) and s.quality == {"high": 3, "medium": 1, "low": 1}


def test_records_omit_missing_fields_and_validate_cleanly(pair):
    records = import_fitbit(*pair).records
    assert "hr_resting" not in records[0]["features"] and records[2]["features"]["hr_resting"] == 72.5
    assert records[0] == {"timestamp": "2020-01-01T00:00:00", "deviceId": "P1",
                          "features": {"hr": 62.0, "steps": 0, "data_quality": "high"}}


def test_missing_steps_row_is_not_rest(tmp_path):
    hr = write_csv(tmp_path / "P1_hr.csv", hr_rows(range(20)), "heartrate")
    st = write_csv(tmp_path / "P1_steps.csv", steps_rows([m for m in range(20) if m != 3]), "steps")
    b = by_minute(import_fitbit(hr, st).bins)
    assert math.isnan(b[10]["hr_resting"])                       # minutes 10..14 all see minute 3
    assert b[15]["hr_resting"] == pytest.approx(np.mean([76, 77, 78, 79]))  # 16..19 are past it


def test_duplicates_are_collapsed_independently_of_row_order(tmp_path):
    hr = hr_rows(range(10)) + [("P1", T0 + pd.Timedelta(seconds=20), 90)]   # same time as the 60 sample
    st = steps_rows(range(10), steps={7: 3}) + [("P1", T0 + pd.Timedelta(minutes=7), 8)]
    a = import_fitbit(write_csv(tmp_path / "A_hr.csv", hr, "heartrate"),
                      write_csv(tmp_path / "A_steps.csv", st, "steps"))
    rng = np.random.default_rng(0)
    b = import_fitbit(write_csv(tmp_path / "B_hr.csv", [hr[i] for i in rng.permutation(len(hr))], "heartrate"),
                      write_csv(tmp_path / "B_steps.csv", [st[i] for i in rng.permutation(len(st))], "steps"))
    pd.testing.assert_frame_equal(a.bins, b.bins)
    # minute 0: samples 60, mean(60, 90)=75, 60 -> 65; bin 0 = mean(65, 61, 62, 63, 64)
    assert a.bins["hr"].iloc[0] == pytest.approx(np.mean([65, 61, 62, 63, 64]))
    assert a.bins["steps"].iloc[1] == 8                           # max of the duplicate minute, not 11
    assert (a.summary.hr_duplicates, a.summary.steps_duplicates) == (1, 1)


def test_impossible_raw_values_are_dropped_and_counted(tmp_path):
    hr = hr_rows(range(5)) + [("P1", T0 + pd.Timedelta(seconds=50), 250), ("P1", "not a date", 70)]
    st = steps_rows(range(5)) + [("P1", T0 + pd.Timedelta(minutes=5), -4)]
    hr_path, st_path = tmp_path / "P1_hr.csv", tmp_path / "P1_steps.csv"
    write_csv(st_path, st, "steps")
    df = pd.DataFrame(hr, columns=["user", "datetime", "heartrate"])
    df["datetime"] = df["datetime"].astype(str)
    hr_path.write_text(df.to_csv(index=True))
    res = import_fitbit(hr_path, st_path)
    assert res.bins["hr"].tolist() == [62.0]                      # 250 bpm never enters the mean
    s = res.summary
    assert (s.hr_out_of_range, s.negative_steps, s.bad_rows) == (1, 1, 1)
    assert "1 HR out of range" in s.text() and "1 negative steps" in s.text()


def test_several_users_in_one_pair(tmp_path):
    hr = hr_rows(range(10), "A") + hr_rows(range(5), "B", value=lambda m: 50)
    st = steps_rows(range(10), "A") + steps_rows(range(5), "B")
    res = import_fitbit(write_csv(tmp_path / "x_hr.csv", hr, "heartrate"),
                        write_csv(tmp_path / "x_steps.csv", st, "steps"))
    assert res.bins.groupby("user_id").size().to_dict() == {"A": 2, "B": 1}
    assert res.bins.loc[res.bins.user_id == "B", "hr"].item() == 50


def test_start_end_restrict_after_binning(tmp_path):
    hr = write_csv(tmp_path / "P1_hr.csv", hr_rows(range(30)), "heartrate")
    st = write_csv(tmp_path / "P1_steps.csv", steps_rows(range(30)), "steps")
    res = import_fitbit(hr, st, start="2020-01-01 00:15", end="2020-01-01 00:25")
    b = by_minute(res.bins)
    assert sorted(b) == [15, 20] and res.summary.records == 2
    # the rest rule still sees the minutes before `start`
    assert b[15]["hr_resting"] == pytest.approx(77)


def test_bad_files_give_clear_errors(tmp_path):
    (tmp_path / "E_hr.csv").write_text("")
    (tmp_path / "E_steps.csv").write_text(",user,datetime,steps\n0,E,2020-01-01 00:00:00,0\n")
    with pytest.raises(InputFileError, match="empty"):
        import_fitbit(tmp_path / "E_hr.csv", tmp_path / "E_steps.csv")
    (tmp_path / "C_hr.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="missing column.*datetime.*heartrate"):
        import_fitbit(tmp_path / "C_hr.csv", tmp_path / "E_steps.csv")
    with pytest.raises(InputFileError, match="cannot tell heart rate from steps"):
        find_pair(tmp_path / "data.csv")
    with pytest.raises(InputFileError, match="Q_steps.csv.*not found"):
        find_pair(tmp_path / "Q_hr.csv")
    assert find_pair(tmp_path / "Q_hr.csv", heart_rate_alone=True) == (tmp_path / "Q_hr.csv", None)
    with pytest.raises(InputFileError, match="Q_hr.csv.*not found"):  # steps alone: nothing to score
        find_pair(tmp_path / "Q_steps.csv", heart_rate_alone=True)


def test_heart_rate_alone_has_unknown_activity_and_says_so(pair, tmp_path):
    from wearable_monitor.data.readers import load_fitbit

    alone = import_fitbit(pair[0], None)
    with_steps = import_fitbit(*pair)
    assert alone.bins["timestamp"].tolist() == with_steps.bins["timestamp"].tolist()
    assert alone.bins["hr"].tolist() == with_steps.bins["hr"].tolist()
    # no steps row: activity is unknown, never zero, so no minute is known to be rest
    assert alone.bins["steps"].isna().all() and alone.bins["hr_resting"].isna().all()
    assert all("steps" not in r["features"] and "hr_resting" not in r["features"] for r in alone.records)
    solo = tmp_path / "solo"
    solo.mkdir()
    hr = solo / pair[0].name
    hr.write_bytes(pair[0].read_bytes())
    res = load_fitbit(hr)  # no steps file beside it
    assert res.counts["accepted"] == len(alone.bins)
    assert [w.field for w in res.warnings] == ["steps"] and "activity unknown" in res.warnings[0].message
    assert not load_fitbit(*pair).warnings  # the pair: no such note


def test_cli_import_fitbit_writes_valid_jsonl_and_summary(pair, tmp_path, capsys):
    out = tmp_path / "out" / "p1.jsonl"
    assert main(["import-fitbit", "--hr", str(pair[0]), "--steps", str(pair[1]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "records: 5 five-minute records over 1 days" in text and "gaps: 1" in text
    r = load_history(out)
    assert r.ok and r.counts["accepted"] == 5 and r.users == {"P1": 5}
    assert main(["import-fitbit", "--hr", str(tmp_path / "none_hr.csv"), "--steps", str(pair[1]),
                 "--out", str(out)]) == 2


needs_shared = pytest.mark.skipif(not (SHARED / "A0NVTRV_hr.csv.zip").exists(),
                                  reason=f"real Fitbit data not present at {SHARED}")


@needs_shared
def test_real_file_matches_an_independent_pandas_reference():
    res = import_fitbit(SHARED / "A0NVTRV_hr.csv.zip", SHARED / "A0NVTRV_steps.csv.zip",
                        start="2020-04-18", end="2020-04-22")
    hr = pd.read_csv(SHARED / "A0NVTRV_hr.csv.zip", parse_dates=["datetime"]).set_index("datetime")["heartrate"]
    st = pd.read_csv(SHARED / "A0NVTRV_steps.csv.zip", parse_dates=["datetime"]).set_index("datetime")["steps"]
    minute_hr = hr.resample("1min").mean()
    ref_hr = minute_hr.resample("5min").mean().dropna()
    steps_min = st.resample("1min").sum(min_count=1)
    clean = (steps_min == 0).astype(float).where(steps_min.notna(), 0.0)
    resting = clean.rolling("13min").sum() == 13  # this minute + the 12 before, all with 0 steps
    ref_rest = minute_hr[resting.reindex(minute_hr.index, fill_value=False)].resample("5min").mean()
    got = res.bins.set_index("timestamp")
    ref_hr = ref_hr["2020-04-18":"2020-04-21"]
    assert len(got) == len(ref_hr) > 500
    np.testing.assert_allclose(got["hr"], ref_hr.to_numpy())
    np.testing.assert_allclose(got["hr_resting"], ref_rest.reindex(got.index).to_numpy())
    assert (got["steps"].to_numpy() == st.resample("5min").sum().reindex(got.index).to_numpy()).all()


@needs_shared
def test_shipped_test_data_regenerates_from_the_shared_files():
    res = import_fitbit(SHARED / "A0NVTRV_hr.csv.zip", SHARED / "A0NVTRV_steps.csv.zip",
                        start="2020-04-01", end="2020-04-29")
    shipped = [json.loads(line) for line in (REPO / "test_data" / "fitbit_A0NVTRV.jsonl").read_text().splitlines()]
    assert res.records == shipped


def test_iso_timestamps_with_offsets_keep_wall_clock_time(tmp_path):
    (tmp_path / "Z_hr.csv").write_text(",user,datetime,heartrate\n0,Z,2020-01-01T00:01:00+02:00,60\n"
                                       "1,Z,2020-01-01 00:02:00,70\n2,Z,2020-01-01T00:03:00.500Z,80\n")
    write_csv(tmp_path / "Z_steps.csv", steps_rows(range(5), "Z"), "steps")
    res = import_fitbit(tmp_path / "Z_hr.csv", tmp_path / "Z_steps.csv")
    assert res.bins["timestamp"].tolist() == [T0] and res.bins["hr"].item() == 70
    assert res.bins["data_quality"].item() == "medium" and res.summary.bad_rows == 0
