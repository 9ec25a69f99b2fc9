"""causal_baseline_columns: the batch path, every row's baseline from the days before it (no look-ahead)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from ..data.records import TIME, USER, static_column
from .config import BaselineConfig, default_baseline_config
from .state import BaselineKey, MetricState, baseline_keys, blend
from .values import REST_COLUMNS, usable_values


def causal_baseline_columns(frame: pd.DataFrame, feature_config: FeatureConfig | None = None,
                            baseline_config: BaselineConfig | None = None, is_normal=None) -> pd.DataFrame:
    """Frame with `bl_<key>_mean/std`, `bl_alpha`, `bl_days`, built from days strictly before each row's day.

    Replays the same guarded day-level update as `UserDataManager.ingest` (loop over days, not
    rows), starting each user from an empty personal state. Group priors use the rows'
    `static_age_group` / `static_sex` codes (unknown when absent).
    """
    config = feature_config or default_feature_config()
    bcfg = baseline_config or default_baseline_config()
    bcfg.check_against(config)
    for col in (USER, TIME):
        if col not in frame.columns:
            raise ValueError(f"causal_baseline_columns: frame has no '{col}' column")
    keys = baseline_keys(config)
    n = len(frame)
    if n == 0:
        names = [f"bl_{k.name}_{s}" for k in keys for s in ("mean", "std", "suspect_days", "suspect_z")] + ["bl_alpha", "bl_days"]
        return frame.assign(**{c: np.zeros(0) for c in names})
    ts = frame[TIME].to_numpy(dtype="datetime64[ns]")
    user_codes = pd.factorize(frame[USER])[0]
    order = np.lexsort((ts, user_codes))  # the contract sorts by (user, time); do not rely on it
    needed = [c for c in {k.source for k in keys} | {TIME, "data_quality"} | {static_column(n) for n in config.static}
              | (set(REST_COLUMNS) if any(k.at_rest for k in keys) else set()) if c in frame.columns]
    sframe = frame[needed].iloc[order]
    mask = None if is_normal is None else np.asarray(is_normal)
    if mask is not None and mask.shape == (n,):
        mask = mask[order]
    values = usable_values(sframe, config, bcfg, keys, mask)
    day = ts[order].astype("datetime64[D]").astype(np.int64)
    ucodes = user_codes[order]
    # a new "run" wherever the user or the day changes; users are contiguous after the sort
    run_start = np.flatnonzero(np.r_[True, (day[1:] != day[:-1]) | (ucodes[1:] != ucodes[:-1])])
    run_end = np.r_[run_start[1:], n]
    run_user = ucodes[run_start]
    user_first_run = np.r_[True, run_user[1:] != run_user[:-1]]
    personal = {k: np.full((len(run_start), 3), np.nan) for k in keys}
    suspect = {k: np.zeros((len(run_start), 2)) for k in keys}
    has_data = np.zeros(len(run_start), dtype=bool)
    for key in keys:
        v, out, min_std = values[key], personal[key], float(bcfg.min_std.get(key.metric, 0.0))
        finite = ~np.isnan(v)
        csum = np.r_[0, np.cumsum(finite)]  # usable values before each row -> slices of the compacted array
        vu = v[finite]
        st = MetricState()
        for i, (a, b) in enumerate(zip(run_start, run_end)):
            if user_first_run[i]:
                st = MetricState()
            out[i] = st.personal(bcfg, min_std)
            suspect[key][i] = st.suspect(min_std)
            if st.add_today(vu[csum[a]:csum[b]], bcfg.guard, min_std):
                has_data[i] = True
            st.close_day(bcfg, min_std)
    # days of history: days with any usable value before this day, per user
    days_before = np.cumsum(has_data) - has_data
    first_idx = np.maximum.accumulate(np.where(user_first_run, np.arange(len(run_start)), 0))
    days_before = days_before - days_before[first_idx]
    reps = run_end - run_start
    age_codes, sex_codes = (sframe[static_column(s)].to_numpy(dtype=np.int64) if static_column(s) in sframe.columns
                            else None for s in ("age_group", "sex"))
    result = {}
    for key in keys:
        pm, ps, pa = (np.repeat(personal[key][:, j], reps) for j in range(3))
        gm, gs = _group_per_row(config, bcfg, key, age_codes, sex_codes, n)
        mean, std = blend(pm, ps, pa, gm, gs)
        result[f"bl_{key.name}_mean"], result[f"bl_{key.name}_std"] = mean, std
        result[f"bl_{key.name}_suspect_days"] = np.repeat(suspect[key][:, 0], reps)
        result[f"bl_{key.name}_suspect_z"] = np.repeat(suspect[key][:, 1], reps)
    row_days = np.repeat(days_before, reps).astype(np.float64)
    result["bl_alpha"] = np.asarray(bcfg.alpha(row_days), dtype=np.float64)
    result["bl_days"] = row_days
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    out = frame.copy()
    for name, col in result.items():
        out[name] = col[inverse]
    return out


def _group_per_row(config: FeatureConfig, bcfg: BaselineConfig, key: BaselineKey,
                   age_codes: np.ndarray | None, sex_codes: np.ndarray | None, n: int):
    """Group (mean, std) per row via a small lookup table over the static codes."""
    def codes_and_labels(name: str, codes: np.ndarray | None):
        spec = config.static.get(name)
        if spec is None:
            return np.zeros(n, dtype=np.int64), [None]
        if codes is None:  # no static column: everyone is the config default ("unknown")
            codes = np.full(n, spec.categories[spec.default], dtype=np.int64)
        return codes, [spec.label(c) for c in range(spec.cardinality)]
    ai, ages = codes_and_labels("age_group", age_codes)
    si, sexes = codes_and_labels("sex", sex_codes)
    table = np.array([[bcfg.group_stats(key.metric, key.period, a, s) for s in sexes] for a in ages])
    return table[ai, si, 0], table[ai, si, 1]
