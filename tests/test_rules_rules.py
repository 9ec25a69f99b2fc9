"""Every rule on hand-made series: fires at each severity boundary, silent just below it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rules_helpers import engine, evaluate, frame, top

# ------------------------------------------------------------------ sudden change (3 sigma)

HIST = [70.0, 71.0] * 10  # mean 70.5, sample sd 0.5130 (above the 0.3 kg floor)


@pytest.mark.parametrize("k,expected", [(2.99, None), (3.0, None), (3.01, "MEDIUM"), (3.49, "MEDIUM"), (3.5, "HIGH"),
                                        (3.99, "HIGH"), (4.0, "CRITICAL")])
def test_sudden_change_severity_boundaries(k, expected):
    mean, sd = np.mean(HIST), np.std(HIST, ddof=1)
    x = mean + k * sd
    df = frame(22, weight_kg=HIST + [x, x])  # the second reading confirms the first
    found = [f for f in evaluate(df, "sudden_change") if f.metric == "weight_kg"]
    assert (found[0].severity if found else None) == expected
    if found:
        assert found[0].evidence["confirmed"] is True
        assert found[0].evidence["sigma"] == pytest.approx(k, rel=1e-6)


def test_sudden_change_downward_and_bp_minimum_is_five_readings():
    sys_hist = [118.0, 126.0, 118.0, 126.0, 118.0]  # 5 readings: enough for blood pressure
    df = frame(7, systolic=sys_hist + [160.0, 160.0], diastolic=80.0)
    assert [f.metric for f in evaluate(df, "sudden_change")] == ["systolic"]
    df4 = frame(6, systolic=sys_hist[:4] + [160.0, 160.0], diastolic=80.0)
    assert not [f for f in evaluate(df4, "sudden_change") if f.metric == "systolic"]


# ------------------------------------------------------------------ weight day-to-day and weekly

@pytest.mark.parametrize("delta,expected", [(1.99, None), (2.0, None), (2.01, "MEDIUM"), (2.99, "MEDIUM"),
                                            (3.0, "HIGH"), (4.99, "HIGH"), (5.0, "HIGH"), (5.01, "CRITICAL"),
                                            (-5.01, "CRITICAL")])
def test_weight_daily_change_boundaries(delta, expected):
    df = frame(12, weight_kg=[70.0] * 10 + [70.0 + delta] * 2)
    assert top(df, "weight_daily_change") == expected


def test_weight_daily_change_lengthens_over_one_missing_day():
    w = [70.0] * 9 + [None, 72.5, 72.5]  # day 10 not logged: compare with day 9
    assert top(frame(12, weight_kg=w), "weight_daily_change") == "MEDIUM"


@pytest.mark.parametrize("total,expected", [(4.99, None), (5.0, None), (5.01, "MEDIUM"), (-5.01, "MEDIUM")])
def test_weight_weekly_change_boundary(total, expected):
    ramp = list(70.0 + np.arange(8) * total / 7)  # no day-to-day jump, 5 kg over a week
    df = frame(18, weight_kg=[70.0] * 10 + ramp)
    assert top(df, "weight_weekly_change") == expected


# ------------------------------------------------------------------ blood pressure and resting HR ranges

@pytest.mark.parametrize("sy,di,expected", [(139.9, 85, None), (140, 85, "MEDIUM"), (159.9, 85, "MEDIUM"),
                                            (160, 85, "HIGH"), (180, 85, "CRITICAL"), (125, 89.9, None),
                                            (125, 90, "MEDIUM"), (125, 100, "HIGH"), (130, 120, "CRITICAL"),
                                            (90.1, 70, None), (90, 70, None), (89.9, 70, "MEDIUM"),
                                            (110, 60, None), (110, 59.9, "MEDIUM")])
def test_blood_pressure_range_boundaries(sy, di, expected):
    df = frame(12, systolic=[120.0] * 10 + [sy, sy], diastolic=[78.0] * 10 + [di, di])
    found = evaluate(df, "blood_pressure_range")
    assert (max((f.severity for f in found), key=["LOW", "MEDIUM", "HIGH", "CRITICAL"].index)
            if found else None) == expected
    if found:
        assert found[0].evidence["category"] in ("stage_2", "stage_1", "elevated", "normal")


@pytest.mark.parametrize("hr,expected", [(99.9, None), (100, None), (100.1, "MEDIUM"), (120, "HIGH"),
                                         (50.1, None), (50, None), (49.9, "MEDIUM"), (40, "HIGH")])
def test_resting_hr_range_boundaries(hr, expected):
    df = frame(12, resting_hr=[62.0] * 10 + [hr, hr])
    assert top(df, "resting_hr_range") == expected


# ------------------------------------------------------------------ nutrition

@pytest.mark.parametrize("rule,value,target,field,tfield,expected", [
    ("protein_low", 49.9, 100.0, "protein_g", "protein_target_g", "HIGH"),
    ("protein_low", 50.0, 100.0, "protein_g", "protein_target_g", None),
    ("protein_high", 200.1, 100.0, "protein_g", "protein_target_g", "LOW"),
    ("protein_high", 200.0, 100.0, "protein_g", "protein_target_g", None),
    ("calories_high", 2601.0, 2000.0, "calories_kcal", "calories_target", "MEDIUM"),
    ("calories_high", 2600.0, 2000.0, "calories_kcal", "calories_target", None),
    ("calories_low", 1399.0, 2000.0, "calories_kcal", "calories_target", "MEDIUM"),
    ("calories_low", 1400.0, 2000.0, "calories_kcal", "calories_target", None),
])
def test_nutrition_ratio_boundaries(rule, value, target, field, tfield, expected):
    normal = target
    df = frame(8, **{field: [normal] * 5 + [value] * 3, tfield: target})
    assert top(df, rule) == expected


def test_nutrition_needs_three_days_in_a_row_and_tolerates_an_unlogged_day():
    two = frame(8, protein_g=[90.0] * 5 + [40.0, 40.0, 90.0], protein_target_g=100.0)
    assert top(two, "protein_low") is None
    gap = frame(8, protein_g=[90.0] * 4 + [40.0, None, 40.0, 40.0], protein_target_g=100.0)
    found = evaluate(gap, "protein_low")
    assert found and found[0].start == pd.Timestamp("2024-01-05")


def _macro_day(carbs: float, protein: float, fat: float, kcal: float = 2000.0) -> dict:
    return {"carbs_g": carbs * kcal / 4, "protein_g": protein * kcal / 4, "fat_g": fat * kcal / 9}


@pytest.mark.parametrize("fat_factor,expected", [(1.31, "MEDIUM"), (1.3, None)])
def test_macro_imbalance_boundary(fat_factor, expected):
    fat = 0.32 * fat_factor
    day = _macro_day(1 - 0.18 - fat, 0.18, fat)  # only fat is far from the 50/18/32 split
    df = frame(3, **{k: v for k, v in day.items()})
    found = evaluate(df, "macro_imbalance")
    assert (found[0].severity if found else None) == expected
    if found:
        assert found[0].evidence["worst"] == "fat"


# ------------------------------------------------------------------ exercise

@pytest.mark.parametrize("recent,expected", [(19.9, "MEDIUM"), (20.0, None)])
def test_exercise_drop_boundary(recent, expected):
    df = frame(35, exercise_minutes=[40.0] * 28 + [recent] * 7)
    assert top(df, "exercise_drop") == expected


@pytest.mark.parametrize("surge,expected", [(60.1, "LOW"), (60.0, None)])
def test_exercise_surge_boundary(surge, expected):
    df = frame(35, exercise_minutes=[30.0] * 32 + [surge] * 3)
    assert top(df, "exercise_surge") == expected


@pytest.mark.parametrize("share,expected", [(0.375, "MEDIUM"), (0.374, None), (0.075, "MEDIUM"), (0.076, None)])
def test_exercise_intensity_boundary(share, expected):
    # usual share cycles 0.200 / 0.225 / 0.250: median 0.225, robust sd 0.037 -> band = min_abs_share 0.15
    zone = [8.0, 9.0, 10.0] * 9 + [9.0] + [share * 40] * 7
    df = frame(35, exercise_minutes=40.0, hr_zone_high_minutes=zone)
    assert top(df, "exercise_intensity") == expected


# ------------------------------------------------------------------ sleep

@pytest.mark.parametrize("hours,band", [(6.0, "short"), (6.01, None), (4.99, "severe"), (5.0, "short"),
                                        (10.01, "long"), (10.0, None)])
def test_sleep_duration_bands(hours, band):
    df = frame(8, sleep_hours=[7.5] * 5 + [hours] * 3)
    found = evaluate(df, "sleep_duration")
    assert (found[-1].evidence["band"] if found else None) == band
    if found:
        assert found[-1].severity == "MEDIUM"


@pytest.mark.parametrize("last,expected", [(67.9, "LOW"), (68.0, None)])
def test_sleep_quality_decline_boundary(last, expected):
    # the document: falling on 5 nights in a row, no size of fall required; a flat night breaks it
    df = frame(8, sleep_quality=[80.0, 80.0, 80.0, 80.0, 76.0, 72.0, 68.0, last])
    assert top(df, "sleep_quality_decline") == expected


def test_sleep_quality_decline_needs_a_sustained_fall():
    df = frame(8, sleep_quality=[80.0, 80.0, 80.0, 80.0, 70.0, 72.0, 66.0, 60.0])  # one rebound
    assert top(df, "sleep_quality_decline") is None


def _bedtimes(spread_min: int) -> list[str]:
    # 23:00 +- spread alternately: sample sd of the 7 nights is exactly the spread
    base = 23 * 60
    mins = [base + s * spread_min for s in (-1, 1, -1, 1, -1, 1, 0)]
    return ["23:00"] * 5 + [f"{(m // 60) % 24:02d}:{m % 60:02d}" for m in mins]


@pytest.mark.parametrize("spread,expected", [(121, "LOW"), (120, None)])
def test_bedtime_irregular_boundary(spread, expected):
    df = frame(12, bedtime=_bedtimes(spread))
    assert top(df, "bedtime_irregular") == expected


# ------------------------------------------------------------------ health score

@pytest.mark.parametrize("drop,expected", [(15.01, "MEDIUM"), (15.0, None)])
def test_health_score_drop_boundary(drop, expected):
    fall = list(80.0 - np.arange(7) * drop / 6)
    df = frame(17, health_score=[80.0] * 10 + fall)
    assert top(df, "health_score_drop") == expected


@pytest.mark.parametrize("margin,expected", [(0.999, "LOW"), (1.0, None)])
def test_health_score_volatility_boundary(margin, expected):
    rng = np.random.default_rng(3)
    usual = list(80 + rng.normal(0, 1, 30))
    wild = list(80 + rng.normal(0, 4, 7))
    s = pd.Series(usual + wild)
    d = s.diff()
    ratio = d.iloc[-7:].std() / max(d.iloc[:30].std(), 1.0)  # the definition, computed here independently
    df = frame(37, health_score=usual + wild)
    eng = engine({"rules": {"health_score_volatility": {"ratio": float(ratio * margin)}}})
    found = [f for f in evaluate(df, "health_score_volatility", eng) if f.end == df["date"].iloc[-1]]
    assert (found[0].severity if found else None) == expected


# ------------------------------------------------------------------ reference classifications

@pytest.mark.parametrize("bmi,expected", [(28.0, "LOW"), (27.99, None), (18.49, "LOW"), (18.5, None)])
def test_bmi_category_boundaries(bmi, expected):
    w = bmi * 1.7 ** 2
    eng = engine(profiles={"u1": {"height_cm": 170.0}})
    assert top(frame(7, weight_kg=w), "bmi_category", eng) == expected


@pytest.mark.parametrize("age_group,pct,expected", [("18-29", 25.0, "LOW"), ("18-29", 24.9, None),
                                                    ("50-59", 30.0 + 1.25, "LOW"), ("50-59", 30.0 + 1.24, None)])
def test_body_fat_category_with_age_adjustment(age_group, pct, expected):
    # male 15-20 %, +2.5 % per decade above 30 (50-59 -> age 55 -> +6.25), out of range by >= 5 points
    eng = engine(profiles={"u1": {"sex": "male", "age_group": age_group}})
    assert top(frame(7, body_fat_pct=pct), "body_fat_category", eng) == expected


def test_prior_statistics_equal_pandas_rolling_on_gappy_series():
    """The prior_* statistics (numpy over a strided window) give what pandas' rolling gives: the days
    before each day only, NaN for unlogged days, the minimum-count rule, std with ddof 1."""
    import numpy as np
    import pandas as pd

    from wearable_monitor.rules.stats import MAD_TO_SD, prior_median, prior_robust, prior_stats

    rng = np.random.default_rng(7)
    for n, days, need in ((40, 7, 3), (90, 28, 5), (5, 14, 1), (1, 3, 1), (0, 7, 1)):
        x = rng.normal(70, 5, n).round(1)
        x[rng.random(n) < 0.3] = np.nan
        s = pd.Series(x, index=pd.date_range("2024-01-01", periods=n, freq="D"))
        roll = s.shift(1).rolling(days, min_periods=1)
        count = roll.count()
        ok = count >= need
        got = prior_stats(s, days, need)
        pd.testing.assert_series_equal(got["n"], count, check_names=False)
        pd.testing.assert_series_equal(got["mean"], roll.mean().where(ok), check_names=False)
        pd.testing.assert_series_equal(got["std"], roll.std(ddof=1).where(ok), check_names=False)
        pd.testing.assert_series_equal(prior_median(s, days, need), roll.median().where(ok), check_names=False)
        robust = prior_robust(s, days, need)
        mad = roll.apply(lambda a: MAD_TO_SD * np.nanmedian(np.abs(a - np.nanmedian(a))), raw=True)
        pd.testing.assert_series_equal(robust["median"], roll.median().where(ok), check_names=False)
        pd.testing.assert_series_equal(robust["sd"], mad.where(ok), check_names=False)
