"""Multi-day aggregation: day scores, personal reference, runs, alerts and trends."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wearable_monitor.verdict.patterns import PatternConfig, daily_pattern_table, summarize_pattern, trend_of


# The run and alert mechanics below are shown on day *scores*, which count as multi-day evidence only with
# model_days_alert (the product's pattern reads the nightly vitals: test_model_days_are_a_watch_not_a_run)
SCORE_DAYS = PatternConfig(model_days_alert=True)


def _days(day_scores, per_day=288, start="2024-01-01", user="u", config=SCORE_DAYS):
    t = pd.date_range(start, periods=per_day * len(day_scores), freq="5min")
    scores = np.repeat(day_scores, per_day).astype(float)
    night = (t.hour >= 22) | (t.hour < 6)
    out = dict(end_times=t, is_anomaly=scores >= 0.5, is_night=night, is_resting=np.ones(len(t), bool),
               user_ids=np.full(len(t), user, dtype=object), scores=scores)
    return out if config is None else dict(out, config=config)


def test_model_days_are_a_watch_not_a_run():
    """By default (PatternConfig()) two days of high model scores are two anomalous days, not an alert."""
    days = daily_pattern_table(**_days([0.0, 0.9, 0.9, 0.9], config=PatternConfig()))
    assert list(days["is_anomalous_day"]) == [False, True, True, True]
    assert not days["alert"].any() and list(days["pattern_days"]) == [0, 0, 0, 0]


def test_two_anomalous_days_running_make_an_alert_one_does_not():
    one = daily_pattern_table(**_days([0.0, 0.0, 0.9, 0.0, 0.0]))
    assert one["is_anomalous_day"].sum() == 1 and not one["alert"].any()
    two = daily_pattern_table(**_days([0.0, 0.0, 0.9, 0.9, 0.0]))
    assert list(two["pattern_days"]) == [0, 0, 1, 2, 0]
    assert list(two["alert"]) == [False, False, False, True, False]


def test_day_bar_is_absolute_and_inclusive():
    bar = PatternConfig().day_score_threshold
    days = daily_pattern_table(**_days([bar, bar - 0.01]))
    assert list(days["is_anomalous_day"]) == [True, False]


def test_heart_rate_and_steps_only_days_need_the_higher_bar():
    cfg = PatternConfig()
    score = (cfg.day_score_threshold + cfg.limited_day_score_threshold) / 2
    data = _days([score, score, 0.0, cfg.limited_day_score_threshold])
    per_day = len(data["scores"]) // 4
    limited = np.ones(len(data["scores"]), bool)
    limited[per_day // 2] = False  # one window with another vital: the first day is not limited
    days = daily_pattern_table(**data, limited=limited)
    assert list(days["limited_channels"]) == [False, True, True, True]
    assert list(days["model_anomalous"]) == [True, False, False, True]
    assert list(daily_pattern_table(**data)["model_anomalous"]) == [True, True, False, True]  # no info: standard bar


def test_a_person_whose_scores_run_hot_needs_a_day_that_stands_out():
    # a level just over the absolute bar every day would alert daily against that bar alone; the personal
    # reference (median + margin of earlier days) stops that after `min_reference_days`, yet a real jump alerts
    cfg = PatternConfig()
    hot = cfg.day_score_threshold + 0.05
    jump = hot + cfg.reference_margin + 0.01
    assert jump <= 1.0
    days = daily_pattern_table(**_days([hot] * 10 + [jump, jump]))
    assert days["alert"].iloc[:5].any()                   # no history yet: absolute bar only
    assert not days["is_anomalous_day"].iloc[6:10].any()  # the person's usual level is not news
    assert days["alert"].iloc[-1]


def test_days_with_too_little_data_neither_extend_nor_break_a_run():
    data = _days([0.9, 0.9, 0.9])
    keep = np.ones(len(data["scores"]), bool)
    keep[288:288 + 270] = False  # day 2 keeps 18 windows, fewer than min_windows_per_day
    days = daily_pattern_table(**{k: (v[keep] if hasattr(v, "__len__") else v) for k, v in data.items()})
    assert list(days["sufficient"]) == [True, False, True]
    assert list(days["pattern_days"]) == [1, 1, 2]


def test_a_run_carried_over_days_without_data_does_not_make_them_alert_days():
    data = _days([0.9, 0.9, 0.9, 0.9])
    keep = np.ones(len(data["scores"]), bool)
    keep[2 * 288:2 * 288 + 270] = False  # day 3: too little data
    days = daily_pattern_table(**{k: (v[keep] if hasattr(v, "__len__") else v) for k, v in data.items()})
    assert list(days["pattern_days"]) == [1, 2, 2, 3]
    assert list(days["alert"]) == [False, True, False, True]


def test_night_windows_weigh_more_than_active_ones():
    data = _days([0.0])
    data["is_resting"] = np.zeros(288, bool)  # all daytime windows active
    data["scores"] = np.where(data["is_night"], 0.6, 0.0)
    days = daily_pattern_table(**data)
    night_share = data["is_night"].mean()
    assert days["day_score"].iloc[0] > 0.6 * night_share  # nights count double, active windows half


def test_trend_and_summary():
    assert trend_of([0.1, 0.2, 0.3, 0.4])[0] == "rising"
    assert trend_of([0.4, 0.3, 0.2, 0.1])[0] == "falling"
    assert trend_of([0.2, 0.21, 0.2, 0.2])[0] == "stable"
    summary = summarize_pattern(daily_pattern_table(**_days([0.0, 0.1, 0.6, 0.8, 0.9])))
    assert summary["alert"] and summary["trend"] == "rising"
    assert summary["consecutive_anomalous_days"] == 3 and summary["alert_dates"] == ["2024-01-04", "2024-01-05"]
    assert len(summary["days"]) == 5 and summary["days"][2]["is_anomalous_day"]


def test_a_run_is_the_same_evidence_two_days_running():
    from wearable_monitor.verdict.patterns import with_runs

    days = pd.DataFrame({"user_id": "u", "date": pd.date_range("2024-01-01", periods=6),
                         "sufficient": True, "model_anomalous": [False, False, False, True, False, False],
                         "vitals_sustained": False,
                         "vitals_deviant_signals": ["resting_hr", "hrv", "", "hrv", "hrv,resting_hr", "resting_hr"]})
    days["is_anomalous_day"] = days["model_anomalous"] | (days["vitals_deviant_signals"] != "")
    out = with_runs(days, PatternConfig())
    # resting HR then HRV: two single nights; HRV again after a normal day: still one; HRV (with the model)
    # then HRV again: two running; then resting HR on two nights running
    assert list(out["pattern_days"]) == [1, 1, 0, 1, 2, 2]
    assert list(out["alert"]) == [False, False, False, False, True, True]
    # without the column (an older table) any anomalous day continues the run
    legacy = with_runs(days.drop(columns=["vitals_deviant_signals"]), PatternConfig())
    assert list(legacy["pattern_days"]) == [1, 2, 0, 1, 2, 3]
