"""Wearable TimeSeries Health Monitor: personalised anomaly screening for 5-minute wearable records.

A screening aid, not a diagnosis. Data flow, one module per step:
records -> validation -> features (+ baselines) -> detectors -> patterns/rules -> formatter -> app/CLI.
"""
from __future__ import annotations

__version__ = "0.1.0"

# Heavy imports (torch) are deferred so `import wearable_monitor` stays fast.
_LAZY = {
    "WearableAnomalyDetector": "wearable_monitor.detector",
    "FeatureCalculator": "wearable_monitor.features",
    "BaselineStorage": "wearable_monitor.baselines",
    "UserDataManager": "wearable_monitor.baselines",
    "AnomalyFormatter": "wearable_monitor.formatter",
    "RuleEngine": "wearable_monitor.rules",
    "load_feature_config": "wearable_monitor.config",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wearable_monitor' has no attribute {name!r}")


__all__ = list(_LAZY)
