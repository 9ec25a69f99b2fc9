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
