"""Detectors behind one contract (`base.WindowDetector`): the learned model (learned/), PatchTrAD
(patchtrad/) and the reference detectors (reference.py); hub.py is the one checkpoint format."""
from .base import WindowDetector

__all__ = ["WindowDetector"]
