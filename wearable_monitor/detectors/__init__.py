"""Detectors behind one contract (`base.WindowDetector`): the learned model (detector.py),
PatchTrAD (patchtrad.py) and the reference detectors (reference.py)."""
from .base import WindowDetector

__all__ = ["WindowDetector"]
