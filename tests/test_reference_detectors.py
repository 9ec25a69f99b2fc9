"""Reference detectors behind the shared contract: 3-sigma, IsolationForest, NightSignal."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.baselines import causal_baseline_columns
from wearable_monitor.detectors.base import WindowDetector
from wearable_monitor.detectors.reference import IsolationForestDetector, NightSignalDetector, ThreeSigmaDetector
from wearable_monitor.features import FeatureCalculator
from wearable_monitor.simulation.simulator import EventRequest, simulate_user


@pytest.fixture(scope="module")
def ill_user():
    sim = simulate_user("ns", days=20, seed=9, events=[EventRequest("illness", start=datetime(2024, 1, 12), days=5)],
                        )
    frame = causal_baseline_columns(sim.frame)
    return sim, frame, FeatureCalculator().windows(frame)


def test_all_follow_the_contract(ill_user):
    _, frame, windows = ill_user
    for det in (ThreeSigmaDetector(), IsolationForestDetector(n_estimators=20, max_samples=256).fit(windows[:3000]),
                NightSignalDetector()):
        assert isinstance(det, WindowDetector)
        scores = det.decision_function(windows)
        assert scores.shape == (len(windows),)
        if det.threshold_ is None:
            det.threshold_ = float(np.quantile(scores, 0.99))
        assert det.predict(windows).dtype == bool


def test_nightsignal_alerts_two_nights_into_an_illness_and_never_uses_tonight_early(ill_user):
    sim, frame, windows = ill_user
    nights = NightSignalDetector().nightly(frame)
    ill = sim.labels.iloc[0]
    alerts = nights.loc[nights["score"] >= 4.0, "date"]
    assert len(alerts) and alerts.min() >= ill["start"].normalize()
    assert (nights.loc[nights["date"] < ill["start"].normalize(), "score"].fillna(0) < 4.0).all()
    scores = NightSignalDetector().decision_function(windows)
    end = pd.DatetimeIndex(windows.end_times)
    first = alerts.min()
    # before 07:00 of the first alert date the night is not over: no alert score yet
    early = (end.normalize() == first) & (end.hour < 7)
    assert (scores[early] < 4.0).all()


def test_three_sigma_scores_the_worst_baseline_z(ill_user):
    _, _, windows = ill_user
    z_cols = [i for i, n in enumerate(windows.context_names) if n.endswith("_z_score")]
    expected = np.abs(windows.context[:, z_cols] * windows.context_mask[:, z_cols]).max(axis=1)
    np.testing.assert_allclose(ThreeSigmaDetector().decision_function(windows), expected)
