"""The seed model card's import name, kept working:

    from wearable_anomaly_detector import WearableAnomalyDetector

A thin alias of the package's public API (`wearable_monitor`); there is no second implementation.
See API_USAGE.md for every call with a runnable example.
"""
from wearable_monitor.baselines import BaselineStorage, UserDataManager
from wearable_monitor.detector import DEFAULT_MODEL_DIR, InputError, WearableAnomalyDetector
from wearable_monitor.formatter import AnomalyFormatter

__all__ = ["WearableAnomalyDetector", "InputError", "AnomalyFormatter", "BaselineStorage", "UserDataManager",
           "DEFAULT_MODEL_DIR"]
