"""The seed model card's `feature_calculator.py`: configuration-driven feature construction and the
user history cache, as thin aliases of the package (`wearable_monitor.features` / `.baselines`).

    from feature_calculator import FeatureCalculator
    calc = FeatureCalculator(window_size=24)          # any of the config's allowed_window_sizes (6-24)
"""
from wearable_monitor.baselines import BaselineStorage, UserDataManager
from wearable_monitor.config import FeatureConfig, load_feature_config
from wearable_monitor.features import FeatureCalculator, Windows

__all__ = ["FeatureCalculator", "Windows", "UserDataManager", "BaselineStorage", "FeatureConfig",
           "load_feature_config"]
