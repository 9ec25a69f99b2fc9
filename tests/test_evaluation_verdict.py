"""The verdict's ablation report: every variant on a population, short-event scoring, illness set aside."""
from __future__ import annotations

import pandas as pd

from wearable_monitor.evaluation.verdict import DAY_VARIANTS, WINDOW_VARIANTS, _touches, population_report, render
from wearable_monitor.simulation.heldout_sim import simulate_heldout


def test_touches_marks_episodes_overlapping_an_event_of_the_same_user():
    t = pd.Timestamp("2025-01-05")
    episodes = pd.DataFrame({"user_id": ["a", "a", "b"], "start": [t, t + pd.Timedelta("3D"), t],
                             "end": [t + pd.Timedelta("1h")] * 1 + [t + pd.Timedelta("3D1h"), t + pd.Timedelta("1h")],
                             "n_windows": [3, 3, 3]})
    illness = pd.DataFrame({"user_id": ["a"], "start": [t - pd.Timedelta("1D")], "end": [t + pd.Timedelta("1D")],
                            "kind": ["illness"]})
    assert _touches(episodes, illness).tolist() == [True, False, False]


def test_population_report_has_every_variant_and_short_event_figures(shared_detector):
    pop = simulate_heldout(n_users=3, days=10, seed=0)  # one acute event and one illness
    res = population_report(shared_detector, pop.frame(), pop.labels)
    assert set(res["windows"]) == set(WINDOW_VARIANTS) and set(res["days"]) == set(DAY_VARIANTS)
    for m in res["windows"].values():
        short = m["short_events"]
        assert 0.0 <= short["event_recall"] <= 1.0 and short["false_alarms_per_user_day"] >= 0.0
        assert set(m["per_kind"]) <= {"acute", "bradycardia", "desaturation", "illness"}
    assert res["windows"]["verdict"]["per_kind"]["acute"]["recall"] == 1.0  # the acute event is caught
    md = "\n".join(render({"heldout_sim": res}))
    assert "event F1, short events" in md and "| verdict |" in md


def test_fitbit_report_reads_each_user_as_a_pair_and_as_heart_rate_alone(shared_detector, tmp_path):
    import zipfile

    import numpy as np

    from wearable_monitor.evaluation.verdict import FITBIT_VARIANTS, fitbit_report, pooled_fitbit

    t = pd.date_range("2020-03-01", periods=40 * 24 * 12, freq="5min")  # 40 days, a sample every 5 minutes
    rng = np.random.default_rng(0)
    day = (t.hour >= 8) & (t.hour < 22)
    hr = np.where(day, 72.0, 58.0) + rng.normal(0, 2, len(t))
    steps = np.where(day & (rng.random(len(t)) < 0.3), 300, 0)
    when = t.strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"user": "F1", "datetime": when, "heartrate": hr.round(1)}).to_csv(tmp_path / "F1_hr.csv")
    pd.DataFrame({"user": "F1", "datetime": when, "steps": steps}).to_csv(tmp_path / "F1_steps.csv")
    for name in ("F1_hr.csv", "F1_steps.csv"):  # the shared data's layout: zipped CSVs
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as z:
            z.write(tmp_path / name, name)
        (tmp_path / name).unlink()
    pd.DataFrame({"user_id": ["F1"], "symptom_onset": ["2020-04-05"]}).to_csv(tmp_path / "labels.csv", index=False)
    per_user = fitbit_report(shared_detector, tmp_path)
    assert set(per_user["F1"]) == {"symptom_onset", *FITBIT_VARIANTS}
    pair, alone = per_user["F1"]["verdict"], per_user["F1"]["verdict_heart_rate_alone"]
    assert pair["days_with_data"] == alone["days_with_data"] >= 39
    pooled = pooled_fitbit(per_user)
    assert set(pooled) == set(FITBIT_VARIANTS) and pooled["verdict_heart_rate_alone"]["labelled_users"] == 1
    md = "\n".join(render({"fitbit": {"users": per_user, "pooled": pooled}}))
    assert "| F1 | 2020-04-05 | verdict_heart_rate_alone |" in md


def test_model_days_make_an_alert_only_in_their_ablation(shared_detector):
    """Two days of high model scores: a watch in the shipped verdict, an alert in `verdict_with_model_days`."""
    from wearable_monitor.evaluation.verdict import with_model_days

    pop = simulate_heldout(n_users=1, days=12, seed=3)
    scored, days = shared_detector.score_history_and_days(pop.frame(), update_baseline=False)
    date = pd.DatetimeIndex(scored["timestamp"]).normalize()
    hot = (date >= date.min() + pd.Timedelta(days=8)) & (date <= date.min() + pd.Timedelta(days=9))
    scored = scored.assign(anomaly_score=scored["anomaly_score"].where(~hot, 1.0),
                           model_anomalous=scored["model_anomalous"] | hot)
    shipped = shared_detector.daily(scored)
    both = shipped["date"] >= date.min() + pd.Timedelta(days=8)
    assert shipped.loc[both, "model_anomalous"].iloc[:2].all() and not shipped.loc[both, "alert"].iloc[:2].any()
    windows, ablation = with_model_days(shared_detector, scored)
    ninth = ablation["date"] == date.min() + pd.Timedelta(days=9)
    assert ablation.loc[ninth, "alert"].all() and (ablation.loc[ninth, "level"] == "alert").all()
    carried = pd.DatetimeIndex(windows["timestamp"]).normalize() == date.min() + pd.Timedelta(days=10)
    assert windows.loc[carried, "is_anomaly"].all()
