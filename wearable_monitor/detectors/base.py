"""The one detector contract (after PyOD's BaseDetector), typed on `features.Windows`.

    fit(windows, y=None)         learn what the detector needs (may be nothing)
    decision_function(windows)   one float per window, higher = more anomalous
    predict(windows)             decision_function >= threshold_
    calibrate(windows, events, user_days)
                                 threshold_ by the package's one calibration criterion

A `Windows` batch carries the frame it was cut from (`Windows.frame`), so a detector that needs
more than the window itself (NightSignal: the nights before; PatchTrAD: the hours around each
record) reads it there: nothing is prepared beforehand and nothing is passed beside the windows.

The calibration criterion is the same for every detector: the threshold with the best
*event-level* F1 on labelled validation users (consecutive flagged windows form one alarm
episode, events.py), because an episode is what a person is shown. Where a detector has a
threshold of its own (a published rule: 3 sigma, NightSignal's 4 bpm; PatchTrAD's unsupervised
quantile of normal scores), `threshold_` starts there and `threshold_criterion` says so.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from ..events import calibrate_event_threshold
from ..features import Windows

EVENT_F1_CRITERION = "maximum event-level F1 on the validation users (alarm episodes vs labelled events)"


class WindowDetector(ABC):
    #: short identifier used in reports and the app
    name: str = "detector"

    def __init__(self, threshold: float | None = None, threshold_criterion: str = ""):
        self.threshold_: float | None = threshold
        self.threshold_criterion = threshold_criterion  # how threshold_ was chosen, in words

    def fit(self, windows: Windows, y: np.ndarray | None = None) -> "WindowDetector":
        """Learn from (mostly normal) windows; `y` (1 = anomalous) is optional."""
        return self

    @abstractmethod
    def decision_function(self, windows: Windows) -> np.ndarray:
        """One float score per window, higher = more anomalous."""

    def predict(self, windows: Windows) -> np.ndarray:
        """Boolean verdict per window: score >= threshold_."""
        if self.threshold_ is None:
            raise RuntimeError(f"{self.name}: no threshold set; fit() / calibrate() first or pass threshold=")
        return self.decision_function(windows) >= self.threshold_

    def calibrate(self, windows: Windows, events: pd.DataFrame, user_days: float) -> float:
        """Set threshold_ by the one criterion: best event-level F1 on these labelled validation windows."""
        self.threshold_ = calibrate_event_threshold(windows, self.decision_function(windows), events, user_days)
        self.threshold_criterion = EVENT_F1_CRITERION
        return self.threshold_
