"""Reference detectors the learned model has to beat, behind the same contract.

- `ThreeSigmaDetector`: the personal 3-sigma rule, |z| of the window mean against
  the personal (blended) baseline, worst metric wins.
- `IsolationForestDetector`: scikit-learn IsolationForest on the same windows
  (per-feature window means + the context vector).
- `NightSignalDetector`: the published NightSignal rule (Alavi et al. 2022):
  nightly resting HR at least 4 bpm above the median of earlier nights, two
  nights running. It reads the nights from the windows' source frame
  (`Windows.frame`), never a night that has not ended yet at the window's time.

The rules keep their published thresholds (3 sigma, 4 bpm); IsolationForest has none
and is calibrated by the contract's criterion (`WindowDetector.calibrate`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..features import Windows
from ..features.vitals import VitalsConfig, VitalSignal, nightly_vitals
from .base import WindowDetector


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=1)
    return np.where(count > 0, (values * mask).sum(axis=1) / np.maximum(count, 1), 0.0)


class ThreeSigmaDetector(WindowDetector):
    name = "personal_3sigma"

    def __init__(self, threshold: float = 3.0):
        super().__init__(threshold, "published rule: |z| >= 3 against the personal baseline")

    def decision_function(self, windows: Windows) -> np.ndarray:
        cols = [i for i, n in enumerate(windows.context_names) if n.endswith("_z_score")]
        if not cols:
            return np.zeros(len(windows))
        z = np.abs(windows.context[:, cols]) * windows.context_mask[:, cols]
        return z.max(axis=1).astype(np.float64)


class IsolationForestDetector(WindowDetector):
    name = "isolation_forest"

    def __init__(self, n_estimators: int = 200, max_samples: int = 4096, seed: int = 0, threshold: float | None = None):
        super().__init__(threshold)
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(n_estimators=n_estimators, max_samples=max_samples, random_state=seed, n_jobs=1)

    @staticmethod
    def _features(windows: Windows) -> np.ndarray:
        means = _masked_mean(windows.numeric, windows.numeric_mask)
        observed = windows.numeric_mask.mean(axis=1)
        return np.concatenate([means, observed, windows.context * windows.context_mask], axis=1)

    def fit(self, windows: Windows, y: np.ndarray | None = None) -> "IsolationForestDetector":
        x = self._features(windows)
        if y is not None:  # unsupervised: learn what normal looks like
            x = x[~np.asarray(y, dtype=bool)]
        self.model.fit(x)
        return self

    def decision_function(self, windows: Windows) -> np.ndarray:
        return -self.model.score_samples(self._features(windows))


class NightSignalDetector(WindowDetector):
    """Nightly resting HR (median HR 00:00-07:00 while at rest) vs the median of earlier nights."""

    name = "nightsignal"

    def __init__(self, threshold: float = 4.0, night_end_hour: int = 7, min_baseline_nights: int = 7,
                 min_night_points: int = 12):
        super().__init__(threshold, "published rule: nightly resting HR >= 4 bpm over the median of earlier "
                                    "nights, two nights running")
        self.night_end_hour = night_end_hour
        self.min_baseline_nights = min_baseline_nights
        self.min_night_points = min_night_points
        # the score table of the last frame read: windows of one frame are often scored in parts
        self._frame: pd.DataFrame | None = None
        self._table: dict[tuple[str, pd.Timestamp], float] = {}

    def nightly(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per user and date: nightly resting HR, its deviation and the two-nights-running score."""
        # the published rule is vitals.py's resting-HR signal (heart rate at rest where the device
        # gives no resting-HR estimate) with an unbounded reference
        config = VitalsConfig(night_end_hour=self.night_end_hour, min_night_points=self.min_night_points,
                              reference_nights=len(frame) + 1, noise_alert_days_per_30=None,  # fixed +4 bpm
                              signals={"rhr": VitalSignal("hr_resting", +1, self.threshold_, "bpm",
                                                          min_reference_nights=self.min_baseline_nights,
                                                          fallback="hr")})
        nights = nightly_vitals(frame, config).dropna(subset=["rhr"])
        out = []
        for user, g in nights.groupby("user_id", sort=False):
            dev = g["rhr_deviation"].to_numpy(dtype=np.float64)
            # two nights running: the smaller of tonight's and the previous valid night's deviation
            score = np.minimum(dev, np.r_[np.nan, dev[:-1]])
            out.append(pd.DataFrame({"user_id": user, "date": g["date"].to_numpy(), "rhr": g["rhr"].to_numpy(),
                                     "baseline": g["rhr_reference"].to_numpy(), "deviation": dev, "score": score}))
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
            columns=["user_id", "date", "rhr", "baseline", "deviation", "score"])

    def _scores_of(self, frame: pd.DataFrame) -> dict[tuple[str, pd.Timestamp], float]:
        if frame is not self._frame:
            table = self.nightly(frame)
            self._table = {(u, pd.Timestamp(d)): s for u, d, s in zip(table["user_id"], table["date"], table["score"])}
            self._frame = frame
        return self._table

    def decision_function(self, windows: Windows) -> np.ndarray:
        table = self._scores_of(windows.source_frame(self.name))
        ends = pd.DatetimeIndex(windows.end_times)
        # the night of date d is over only from night_end_hour on; before that, use the previous night
        night_date = ends.normalize() - pd.to_timedelta((ends.hour < self.night_end_hour).astype(int), unit="D")
        scores = np.array([table.get((u, d), np.nan) for u, d in zip(windows.user_ids, night_date)])
        return np.nan_to_num(scores, nan=-np.inf).astype(np.float64)
