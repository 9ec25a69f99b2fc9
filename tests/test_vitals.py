"""Nightly vitals: NightSignal's rule generalised to every vital, read against earlier nights only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.verdict.patterns import daily_pattern_table
from wearable_monitor.simulation.simulator import simulate_user
from wearable_monitor.features.vitals import VitalsConfig, _rested, nightly_vitals, score_nights

SIGNALS = VitalsConfig().signals


def _nights(values: dict[str, list[float]], user="u") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"user_id": user, "date": pd.date_range("2024-01-01", periods=n, freq="D"), **values})


def test_resting_hr_floor_is_nightsignal_four_bpm_after_a_week_of_nights():
    floor = SIGNALS["resting_hr"].floor
    week = [60.0, 61.0, 59.0, 60.0, 62.0, 58.0, 60.0]
    table = score_nights(_nights({"resting_hr": week + [60.0 + floor, 60.0 + floor - 0.1]}))
    assert table["resting_hr_reference"].iloc[:7].isna().all()   # fewer than 7 earlier nights: no reference
    assert table["resting_hr_reference"].iloc[7] == 60.0
    assert list(table["resting_hr_deviant"]) == [False] * 7 + [True, False]
    early = score_nights(_nights({"resting_hr": [60.0] * 3 + [80.0]}))
    assert not early["vitals_anomalous"].any()                    # a big value with no week behind it


def test_a_person_whose_nights_wander_is_held_to_their_own_spread():
    wandering = [74.0, 76.0, 78.0, 80.0, 82.0, 84.0, 86.0]  # median 80, median absolute deviation 4
    k = VitalsConfig().spread_factor
    floor = k * 1.4826 * 4.0
    assert floor > SIGNALS["resting_hr"].floor
    table = score_nights(_nights({"resting_hr": wandering + [80.0 + floor - 0.1]}))
    assert table["resting_hr_floor"].iloc[7] == pytest.approx(floor)
    assert not table["resting_hr_deviant"].iloc[7]           # +6.6 bpm is inside this person's own spread
    above = score_nights(_nights({"resting_hr": wandering + [80.0 + floor + 0.1]}))
    assert above["resting_hr_deviant"].iloc[7]
    fixed = score_nights(_nights({"resting_hr": wandering + [80.0 + floor - 0.1]}),
                         VitalsConfig(noise_alert_days_per_30=None))
    assert fixed["resting_hr_deviant"].iloc[7]                # NightSignal's fixed +4 bpm alone
    assert fixed["resting_hr_floor"].iloc[7] == SIGNALS["resting_hr"].floor


def test_the_personal_floor_of_a_relative_signal_is_relative_too():
    nights = [36.0, 42.0, 48.0, 54.0, 60.0, 66.0, 72.0]  # HRV: median 54, spread 1.4826 * 12 = 17.8 (33 %)
    table = score_nights(_nights({"hrv": nights + [54.0 * (1 - 0.30)]}))
    assert table["hrv_floor"].iloc[7] == pytest.approx(VitalsConfig().spread_factor * 1.4826 * 12 / 54)
    assert not table["hrv_deviant"].iloc[7]                   # -30 %: past the fixed -25 %, not past this spread


def test_the_spread_factor_spends_the_false_alert_budget_of_two_noise_nights_running():
    from statistics import NormalDist
    for budget in (0.25, 0.5, 1.0):
        k = VitalsConfig(noise_alert_days_per_30=budget).spread_factor
        assert 30 * (1 - NormalDist().cdf(k)) ** 2 == pytest.approx(budget)
    assert VitalsConfig(noise_alert_days_per_30=None).spread_factor == 0.0
    for bad in (0.0, -1.0, 30.0):
        with pytest.raises(ValueError, match="noise_alert_days_per_30"):
            VitalsConfig(noise_alert_days_per_30=bad)


@pytest.mark.parametrize("sd", [2.0, 6.0])
def test_noise_only_nights_alert_about_as_often_as_the_budget_whatever_their_spread(sd):
    """Two deviant resting-HR nights running on a person whose nights are only noise: with the fixed
    +4 bpm floor a person with a 6 bpm night-to-night spread alerts on about two days a month; the
    personal floor keeps every spread near the budget (0.5 per 30 days)."""
    people = [60.0 + np.random.default_rng(seed).normal(0.0, sd, 1000) for seed in range(4)]

    def alert_days_per_30(config: VitalsConfig) -> float:
        pairs = []
        for values in people:
            deviant = score_nights(_nights({"resting_hr": values.tolist()}), config)["resting_hr_deviant"].to_numpy()
            pairs.append(deviant[1:] & deviant[:-1])
        return 30 * float(np.concatenate(pairs).mean())

    assert alert_days_per_30(VitalsConfig()) <= 0.8
    if sd > 4:
        assert alert_days_per_30(VitalsConfig(noise_alert_days_per_30=None)) > 1.5


def test_hrv_is_read_as_a_relative_fall():
    floor = SIGNALS["hrv"].floor
    table = score_nights(_nights({"hrv": [40.0, 40.0, 40.0, 40 * (1 - floor), 40 * (1 - floor) + 0.5, 80.0]}))
    assert list(table["hrv_deviant"]) == [False, False, False, True, False, False]  # a rise is never a concern
    assert table["vitals_flags"].iloc[3] == f"hrv {-floor * 100:+.0f}%"


def test_later_nights_never_change_earlier_verdicts():
    values = [60.0, 61.0, 59.0, 60.0, 62.0, 58.0, 60.0, 65.0, 66.0, 61.0]
    full = score_nights(_nights({"resting_hr": values}))
    changed = score_nights(_nights({"resting_hr": values[:8] + [90.0, 40.0]}))
    cols = ["resting_hr_reference", "resting_hr_deviation", "resting_hr_deviant"]
    pd.testing.assert_frame_equal(full[cols].iloc[:8], changed[cols].iloc[:8])


def test_a_gradual_hrv_fall_over_three_nights_is_sustained_evidence():
    # one night 27.5 % down: not two deviant nights, but three nights running, each lower than the
    # one before, 20.8 % below the nights before them on average and the last past the floor
    table = score_nights(_nights({"hrv": [40.0] * 3 + [35.0, 31.0, 29.0]}))
    assert list(table["hrv_deviant"]) == [False] * 5 + [True]
    assert list(table["hrv_sustained"].notna()) == [False] * 5 + [True]
    assert table["hrv_sustained"].iloc[5] == pytest.approx((5 + 9 + 11) / 3 / 40)
    assert table["vitals_flags"].iloc[5] == "hrv -28%; hrv -21% on average over 3 nights"
    assert list(table["vitals_sustained"]) == [False] * 5 + [True]


@pytest.mark.parametrize("values, why", [
    ([40.0] * 3 + [36.0, 32.0, 29.0], "mean fall 19 % < 80 % of the floor"),
    ([40.0] * 3 + [30.0, 33.0, 29.0], "a dip, not a fall: the second night is higher than the first"),
    ([40.0] * 3 + [35.0, 31.0, 31.0], "the last night 22.5 % down, not past the floor"),
])
def test_the_sustained_rule_needs_a_fall_its_mean_and_the_last_night(values, why):
    assert score_nights(_nights({"hrv": values}))["hrv_sustained"].isna().all(), why


def test_a_sustained_run_needs_consecutive_calendar_nights():
    nights = _nights({"hrv": [40.0] * 3 + [35.0, 31.0, 29.0]})
    nights.loc[5, "date"] += pd.Timedelta(days=1)   # a night without data before the last one
    assert score_nights(nights)["hrv_sustained"].isna().all()


def test_a_sustained_fall_is_a_watch_on_its_day_and_an_alert_when_it_goes_on():
    from wearable_monitor.verdict.patterns import PatternConfig

    t = pd.date_range("2024-01-01", periods=288 * 7, freq="5min")
    quiet = dict(end_times=t, is_anomaly=np.zeros(len(t), bool), is_night=np.asarray(t.hour < 6),
                 is_resting=np.ones(len(t), bool), user_ids=np.full(len(t), "u", dtype=object),
                 scores=np.zeros(len(t)))
    nights = score_nights(_nights({"hrv": [40.0] * 3 + [35.0, 31.0, 29.0, 27.0]}))
    assert nights["vitals_sustained"].tolist() == [False] * 5 + [True, True]
    days = daily_pattern_table(**quiet, nights=nights)
    assert days["is_anomalous_day"].tolist() == [False] * 5 + [True, True]
    assert days["alert"].tolist() == [False] * 6 + [True]   # one falling day is a watch; the next one alerts
    alone = daily_pattern_table(**quiet, nights=nights, config=PatternConfig(sustained_fall_alerts=True))
    assert alone["alert"].tolist() == [False] * 5 + [True, True]


def _heart_rate_and_steps(days: int, raised_days: tuple[int, ...] = (), with_nights: bool = True) -> pd.DataFrame:
    """A device with heart rate and steps only: a walk at 10:00-10:30 each day, rest otherwise;
    on `raised_days` the heart rate is 6 bpm higher all day."""
    t = pd.date_range("2024-01-01", periods=288 * days, freq="5min").as_unit("ns")
    day = np.asarray((t - t[0]).days)
    walking = np.asarray((t.hour == 10) & (t.minute < 30))
    hr = np.where(walking, 100.0, np.where(t.hour < 7, 55.0, 65.0)) + 6.0 * np.isin(day, raised_days)
    frame = pd.DataFrame({"user_id": "u", "timestamp": t, "hr": hr, "steps": np.where(walking, 500.0, 0.0)})
    return frame if with_nights else frame[np.asarray(t.hour >= 7)].reset_index(drop=True)


def test_without_nights_the_days_resting_heart_rate_stands_in():
    table = nightly_vitals(_heart_rate_and_steps(10, raised_days=(8, 9), with_nights=False))
    assert table["resting_hr"].isna().all()
    assert table["resting_hr_day"].iloc[0] == 65.0 and table["resting_hr_day"].iloc[8] == 71.0  # walk left out
    assert list(table["resting_hr_day_deviant"]) == [False] * 8 + [True, True]
    assert table["vitals_flags"].iloc[8] == "resting_hr_day +6.0 bpm"


def test_the_day_time_stand_in_is_silent_when_the_night_has_a_reading():
    # the same raised days with nights: only the nightly rule speaks (NightSignal, unchanged)
    table = nightly_vitals(_heart_rate_and_steps(10, raised_days=(8, 9)))
    assert table["resting_hr_day_deviation"].iloc[8] == 6.0 and not table["resting_hr_day_deviant"].any()
    assert list(table["resting_hr_deviant"]) == [False] * 8 + [True, True]


def test_day_time_rest_starts_fifteen_minutes_after_the_last_steps():
    frame = _heart_rate_and_steps(1)
    rested = _rested(frame, VitalsConfig())
    after_walk = np.asarray((frame["timestamp"].dt.hour == 10) & (frame["timestamp"].dt.minute >= 30)
                            & (frame["timestamp"].dt.minute < 45))
    assert not rested[after_walk][:2].any() and rested[after_walk][2]   # 10:30, 10:35 not yet; 10:40 is
    gap = frame.drop(index=range(150, 160)).reset_index(drop=True)       # 50 minutes without records
    assert not _rested(gap, VitalsConfig())[150:152].any()


def test_nights_come_from_midnight_to_seven_with_an_hour_of_records():
    t = pd.date_range("2024-01-01", periods=288 * 9, freq="5min").as_unit("ns")
    hr = np.where(t.hour < 7, 55.0, 90.0)          # day values would make the night look terrible
    hr[(t.normalize() == t[0].normalize() + pd.Timedelta(days=8)) & (t.hour < 7)] = 61.0
    frame = pd.DataFrame({"user_id": "u", "timestamp": t, "hr_resting": hr})
    frame.loc[(t.normalize() == t[0].normalize() + pd.Timedelta(days=3)) & (t.hour == 2), "hr_resting"] = np.nan
    sparse = (t.normalize() == t[0].normalize() + pd.Timedelta(days=5)) & (t.hour < 7) & (t.hour >= 1)
    frame.loc[sparse, "hr_resting"] = np.nan         # 12 points left: still a night; 11 would not be
    frame.loc[np.flatnonzero(sparse)[:1] - 1, "hr_resting"] = np.nan
    table = nightly_vitals(frame)
    assert list(table["resting_hr"].iloc[:8].isna()) == [False] * 5 + [True] + [False] * 2
    assert table["resting_hr"].iloc[8] == 61.0 and table["resting_hr_reference"].iloc[8] == 55.0
    assert table["resting_hr_deviant"].iloc[8] and table["vitals_flags"].iloc[8] == "resting_hr +6.0 bpm"


def test_two_deviant_nights_running_alert_one_does_not():
    t = pd.date_range("2024-01-01", periods=288 * 10, freq="5min")
    quiet = dict(end_times=t, is_anomaly=np.zeros(len(t), bool), is_night=np.asarray(t.hour < 6),
                 is_resting=np.ones(len(t), bool), user_ids=np.full(len(t), "u", dtype=object),
                 scores=np.zeros(len(t)))
    one = score_nights(_nights({"resting_hr": [60.0] * 8 + [66.0, 60.0]}))
    two = score_nights(_nights({"resting_hr": [60.0] * 8 + [66.0, 67.0]}))
    days_one = daily_pattern_table(**quiet, nights=one)
    days_two = daily_pattern_table(**quiet, nights=two)
    assert days_one["is_anomalous_day"].sum() == 1 and not days_one["alert"].any()
    assert list(days_two["alert"]) == [False] * 9 + [True]
    assert not days_two["model_anomalous"].any() and days_two["vitals_flags"].iloc[-1] == "resting_hr +7.0 bpm"


@pytest.fixture(scope="module")
def detector():
    from wearable_monitor.detector import WearableAnomalyDetector

    return WearableAnomalyDetector()


def test_detector_pattern_reports_a_resting_hr_rise_the_model_alone_may_miss(detector):
    frame = simulate_user("nights", days=12, seed=4, events=[]).frame.copy()
    day = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.days.to_numpy()
    at_night = (frame["timestamp"].dt.hour < 7).to_numpy()
    rise = np.where((day >= 10) & at_night, 7.0, 0.0)   # two nights, +7 bpm, nothing else changed
    for col in ("hr", "hr_resting"):
        frame[col] = frame[col] + rise
    pattern = detector.detect_pattern(frame)
    assert pattern["alert"] is True
    assert pattern["alert_dates"] == [pattern["days"][-1]["date"]]
    assert all("resting_hr +" in d["vitals_flags"] for d in pattern["days"][-2:])
    assert not any(d["vitals_flags"] for d in pattern["days"][:-2])


def test_heart_rate_at_rest_stands_in_where_the_device_gives_no_resting_hr():
    t = pd.date_range("2024-01-01", periods=288 * 10, freq="5min").as_unit("ns")
    night = t.hour < 7
    hr = np.where(night, 55.0, 90.0)
    hr[(t.normalize() >= t[0].normalize() + pd.Timedelta(days=8)) & night] = 61.0   # two nights +6 bpm
    steps = np.where(night & (t.minute == 0), 30.0, 0.0)         # an hourly walk to the bathroom...
    hr = np.where(steps > 0, 120.0, hr)                             # ...at a heart rate that is not resting
    frame = pd.DataFrame({"user_id": "u", "timestamp": t, "hr": hr, "steps": steps,
                          "hr_resting": np.nan})                    # the device gives no resting HR
    table = nightly_vitals(frame)
    assert (table["resting_hr"].iloc[:8] == 55.0).all()             # the walks (steps > 0) are left out
    assert list(table["resting_hr_deviant"]) == [False] * 8 + [True, True]
    with_resting = nightly_vitals(frame.assign(hr_resting=np.where(night, 50.0, np.nan)))
    assert (with_resting["resting_hr"] == 50.0).all()               # the device's own estimate comes first
    assert not with_resting["vitals_anomalous"].any()


def _night_after(run_minutes: float, cadence_steps: float = 800.0, rise: float = 8.0) -> pd.DataFrame:
    """Ten quiet nights at 60 bpm, then day 10 with a run of `run_minutes` and a night 11 at 60 + rise."""
    t = pd.date_range("2024-01-01", periods=288 * 12, freq="5min")
    hr, steps = np.full(len(t), 60.0), np.zeros(len(t))
    hr[(t >= "2024-01-11") & (t < "2024-01-11 07:00")] += rise
    steps[(t >= "2024-01-10 17:00") & (t < pd.Timestamp("2024-01-10 17:00") + pd.Timedelta(minutes=run_minutes))] = cadence_steps
    table = nightly_vitals(pd.DataFrame({"user_id": "u", "timestamp": t, "hr": hr, "steps": steps}))
    return table.set_index("date").loc["2024-01-11"]


def test_the_night_after_hard_exercise_is_not_a_deviant_resting_heart_rate():
    """Resting HR +8 the night after 40 minutes at a running cadence is recovery (Stanley 2013), not a sign;
    after 20 minutes, or 40 minutes of brisk walking (110 steps/min), or with no exercise, it counts."""
    assert not _night_after(40)["resting_hr_deviant"]
    assert _night_after(20)["resting_hr_deviant"]
    assert _night_after(40, cadence_steps=550)["resting_hr_deviant"]
    assert _night_after(0)["resting_hr_deviant"]
    off = VitalsConfig(exercise_minutes=0)
    t = pd.date_range("2024-01-01", periods=288 * 12, freq="5min")
    hr = np.where((t >= "2024-01-11") & (t < "2024-01-11 07:00"), 68.0, 60.0)
    steps = np.where((t >= "2024-01-10 17:00") & (t < "2024-01-10 17:40"), 800.0, 0.0)
    table = nightly_vitals(pd.DataFrame({"user_id": "u", "timestamp": t, "hr": hr, "steps": steps}), off)
    assert table.set_index("date").loc["2024-01-11", "resting_hr_deviant"]


FITBIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "stanford_covid_wearables"


@pytest.mark.skipif(not (FITBIT / "labels.csv").is_file(), reason="needs ../shared/data")
def test_real_users_resting_hr_runs_near_onset_and_none_far_from_it():
    """The nightly resting-HR rule on the three labelled real Fitbit users (heart rate + steps): two
    deviant nights running within the week before symptom onset for each, and none more than 21 days
    before it (with the fixed +4 bpm floor alone, AS2MVDL has two such runs, 4-5 weeks before onset)."""
    from wearable_monitor.data.readers import load_fitbit
    from wearable_monitor.data.validation import Limits

    labels = pd.read_csv(FITBIT / "labels.csv", parse_dates=["symptom_onset"]).dropna(subset=["symptom_onset"])
    far_runs = {}
    for row in labels.itertuples():
        frame = load_fitbit(FITBIT / f"{row.user_id}_hr.csv.zip", FITBIT / f"{row.user_id}_steps.csv.zip",
                            limits=Limits(max_bytes=2**30)).frame
        for name, config in (("personal", VitalsConfig()), ("fixed", VitalsConfig(noise_alert_days_per_30=None))):
            nights = nightly_vitals(frame, config)
            dates = pd.DatetimeIndex(nights["date"])
            deviant = nights["resting_hr_deviant"].to_numpy(bool)
            consecutive = np.r_[False, (dates[1:] - dates[:-1]).days == 1]
            run_ends = dates[deviant & np.r_[False, deviant[:-1]] & consecutive]
            days = (run_ends - row.symptom_onset).days
            far_runs[row.user_id, name] = int((days < -21).sum())
            if name == "personal":
                assert ((days >= -7) & (days <= 0)).any(), row.user_id
    assert sum(v for (_, name), v in far_runs.items() if name == "personal") == 0
    assert far_runs["AS2MVDL", "fixed"] == 2
