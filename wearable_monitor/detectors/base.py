"""The detector contract every detector follows (after PyOD's BaseDetector).

``fit(windows, y=None)`` learns whatever the detector needs (may be nothing),
``decision_function(windows)`` returns one score per window (higher = more
anomalous), ``predict(windows)`` compares it with ``threshold_`` kept on the
object. Evaluation and the app treat the learned model, PatchTrAD, the rule
baselines and the reference detectors alike through this contract.

`windows` is a `wearable_monitor.features.Windows` batch.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class BaseDetector(ABC):
    #: short identifier used in reports and the app
    name: str = "detector"

    def __init__(self, threshold: float | None = None):
        self.threshold_: float | None = threshold

    def fit(self, windows: Any, y: np.ndarray | None = None) -> "BaseDetector":
        """Learn from (mostly normal) windows; `y` (1 = anomalous) is optional."""
        return self

    @abstractmethod
    def decision_function(self, windows: Any) -> np.ndarray:
        """One float score per window, higher = more anomalous."""

    def predict(self, windows: Any) -> np.ndarray:
        """Boolean verdict per window: score >= threshold_."""
        if self.threshold_ is None:
            raise RuntimeError(f"{self.name}: no threshold set; call fit()/calibrate or pass threshold=")
        return self.decision_function(windows) >= self.threshold_

    def calibrate_threshold(self, windows: Any, y: np.ndarray, criterion: str = "f1") -> float:
        """Pick threshold_ on labelled validation windows (max F1 by default)."""
        from ..metrics import best_threshold

        self.threshold_ = best_threshold(self.decision_function(windows), np.asarray(y), criterion=criterion)
        return self.threshold_
