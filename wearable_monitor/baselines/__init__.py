"""Adaptive baselines: personal (learned online, guarded) blended with group priors.

    config.py   the configuration (configs/baseline_config.json)
    state.py    online statistics of one (user, metric, period) and the blend with the group prior
    values.py   records -> the values a baseline may learn from
    storage.py  BaselineStorage, the states in SQLite
    manager.py  UserDataManager, the realtime path (one user's records in, baselines out)
    replay.py   causal_baseline_columns, the batch path (every row's baseline from the days before it)

For every user, baseline metric and time period (`FeatureConfig.baseline_metrics`, e.g.
``hr_resting`` over periods ``all`` and ``night``) we keep running moments of the metric's
source feature. The baseline a detector sees is

    mean = a * personal_mean + (1 - a) * group_mean
    std  = sqrt(a * personal_std^2 + (1 - a) * group_std^2)     (blend of variances)

with ``a = curve(days_of_history / full_personal_days)`` (fully personal from 7 days) and the
group prior looked up by age group and sex in ``configs/baseline_config.json``.

Day clock. A baseline changes only at day boundaries: values of the current ("open") day are
collected in the state's today-moments and folded in when the first row of a later day
arrives. So the baseline for any row is built from data strictly before the row's day, the
same in realtime (`UserDataManager`) and in batch replay (`causal_baseline_columns`), which
share the update code below.

The guard (why an ongoing anomaly is not learned):
1. values with ``data_quality == low`` or flagged by the caller (``is_normal`` False) are ignored;
2. once ``winsor_min_count`` values exist, values are winsorised at mean +- winsor_k * sd,
   so one wild value moves the mean by a bounded amount;
3. the day's winsorised level is compared with the distribution of past day levels: a day
   deviating by more than ``day_k`` sd is *frozen* (kept aside in pending moments, not merged);
   a normal day ends the freeze and discards the pending days (they were the anomaly);
4. after more than ``max_frozen_days`` consecutive frozen days the change is taken as a lasting
   level shift: the baseline re-centres on the pending level and keeps its learned spread.
Known limit: a day level is the mean of whatever hours were observed, so a day worn only at
night can look deviant for period ``all`` and be held back (never learned wrongly, just skipped).
Optionally the effective counts are capped (exponential forgetting) so slow drift is followed.

Storage is SQLite (stdlib sqlite3, WAL, one IMMEDIATE transaction per read-modify-write, busy
timeout), so several threads or processes can update one file without losing updates and a
killed process leaves the last committed state. A screening aid, not a diagnosis.
"""
from ..config import ConfigError  # noqa: F401 - importable from here, as before the split
from .config import (ALL, DEFAULT_BASELINE_CONFIG, BaselineConfig, BlendConfig, ForgettingConfig, GroupTable,
                     GuardConfig, PeriodAdjust, default_baseline_config, load_baseline_config, parse_baseline_config)
from .manager import IngestReport, UserDataManager
from .replay import causal_baseline_columns
from .state import STATE_FIELDS, BaselineKey, BlendedBaseline, MetricState, baseline_keys, blend, blended
from .storage import SCHEMA_VERSION, BaselineStorage, UserRow
from .values import REST_COLUMNS

__all__ = ["ALL", "DEFAULT_BASELINE_CONFIG", "BaselineConfig", "BlendConfig", "ForgettingConfig", "GroupTable",
           "GuardConfig", "PeriodAdjust", "default_baseline_config", "load_baseline_config", "parse_baseline_config",
           "IngestReport", "UserDataManager", "causal_baseline_columns", "STATE_FIELDS", "BaselineKey",
           "BlendedBaseline", "MetricState", "baseline_keys", "blend", "blended", "SCHEMA_VERSION", "BaselineStorage",
           "UserRow", "REST_COLUMNS"]
