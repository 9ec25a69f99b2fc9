"""Detectors behind one contract (see `base.BaseDetector`)."""
from .base import BaseDetector

__all__ = ["BaseDetector"]
