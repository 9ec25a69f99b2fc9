"""Configuration-driven features: frame -> model-ready `Windows` (architecture.md section 3).

A window is `window_size` consecutive records of one user. Spacing may be
irregular: gaps are information (a Phased LSTM uses `dt` / `t` directly), so
nothing is resampled or imputed. Missing values become 0 in the value arrays
and 0 in the matching mask, so the model always sees *that* a value is missing.

Everything is computed on row-level arrays first (one pass over the frame),
then gathered into windows with `sliding_window_view`: no Python loop over
windows, so a user-year (~105k windows) takes well under a second per array.

Which features exist, their channels, normalisation, factor channels/stats and
baseline metrics all come from `configs/features_config.json` (`config.py`);
adding a channel there changes the arrays here without any code change.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from .config import FeatureConfig, FeatureSpec, default_feature_config
from .records import TIME, USER, Record, records_to_frame, static_column

KNOWN_NAMES = ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "is_weekend"]
Z_CLIP = 10.0  # z-scores beyond +-10 sigma carry no more information, only overflow risk
SUSPECT_DAYS_CAP = 5.0  # guard-held-back days beyond five say nothing new; scaled to 0..1
_NS_PER_MIN = 60 * 10**9
_NS_PER_DAY = 24 * 60 * _NS_PER_MIN
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)

# A frame's columns as numpy arrays, name -> [R] (what `frame_columns` and
# `records.records_to_columns` return): the feature maths runs on these, not on pandas.
Columns = Mapping[str, np.ndarray]


# --------------------------------------------------------------------------- Windows


@dataclass
class Windows:
    """A batch of N model-ready windows of T steps (field table: architecture.md section 3)."""

    user_ids: np.ndarray           # [N] object
    end_times: np.ndarray          # [N] datetime64[ns]
    end_index: np.ndarray          # [N] int64, positional row of the last record in the frame
    numeric: np.ndarray            # [N,T,Fn] float32, normalised, 0 where missing
    numeric_mask: np.ndarray       # [N,T,Fn] float32, 1 = observed
    categorical: np.ndarray        # [N,T,Fc] int64, missing = cardinality
    dt: np.ndarray                 # [N,T] float32, minutes since previous record
    t: np.ndarray                  # [N,T] float32, minutes relative to window end
    known: np.ndarray              # [N,T,K] float32
    static: np.ndarray             # [N,S] int64
    context: np.ndarray            # [N,C] float32, 0 where missing
    context_mask: np.ndarray       # [N,C] float32, 1 = available
    numeric_names: list[str]
    categorical_names: list[str]
    categorical_cardinalities: list[int]  # real categories; the embedding needs cardinality + 1 rows
    known_names: list[str]
    static_names: list[str]
    static_cardinalities: list[int]
    context_names: list[str]
    # the frame the windows were cut from (`end_index` rows are its positions): detectors that read
    # more than the window (NightSignal: earlier nights; PatchTrAD: hours of context) read it here.
    # None for windows made from bare columns (the realtime path).
    frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    _NAME_FIELDS = ("numeric_names", "categorical_names", "categorical_cardinalities", "known_names",
                    "static_names", "static_cardinalities", "context_names")

    @classmethod
    def array_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in cls._NAME_FIELDS and f.name != "frame"]

    def source_frame(self, reader: str) -> pd.DataFrame:
        """The frame these windows were cut from; `reader` names who needs it, for the error."""
        if self.frame is None:
            raise ValueError(f"{reader} reads the windows' source frame: make them with "
                             "FeatureCalculator.windows(frame), not from bare columns")
        return self.frame

    def __len__(self) -> int:
        return len(self.end_index)

    @property
    def window_size(self) -> int:
        return self.numeric.shape[1]

    def __getitem__(self, idx: Any) -> "Windows":
        """Sub-batch by int, slice, integer array or boolean mask (an int keeps the batch axis)."""
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]
        arrays = {name: getattr(self, name)[idx] for name in self.array_fields()}
        return Windows(**arrays, **{name: getattr(self, name) for name in self._NAME_FIELDS}, frame=self.frame)

    @classmethod
    def concat(cls, batches: Sequence["Windows"]) -> "Windows":
        """Concatenate batches with identical layouts (same names, same window size)."""
        if not batches:
            raise ValueError("Windows.concat: need at least one batch")
        first = batches[0]
        for i, b in enumerate(batches[1:], 1):
            for name in cls._NAME_FIELDS:
                if getattr(b, name) != getattr(first, name):
                    raise ValueError(f"Windows.concat: batch {i} has different {name}")
            if b.window_size != first.window_size:
                raise ValueError(f"Windows.concat: batch {i} has window size {b.window_size}, "
                                 f"batch 0 has {first.window_size}")
        arrays = {name: np.concatenate([getattr(b, name) for b in batches]) for name in cls.array_fields()}
        # batches of one frame keep it; batches of several frames have no common source
        frame = first.frame if all(b.frame is first.frame for b in batches) else None
        return cls(**arrays, **{name: list(getattr(first, name)) for name in cls._NAME_FIELDS}, frame=frame)

    def to_tensors(self, device: Any = None) -> dict[str, Any]:
        """The numeric arrays as torch tensors (torch imported lazily; ids and times stay numpy)."""
        import torch

        out = {}
        for name in self.array_fields():
            if name in ("user_ids", "end_times"):
                continue
            out[name] = torch.from_numpy(np.ascontiguousarray(getattr(self, name))).to(device)
        return out


# --------------------------------------------------------------------------- helpers


def normalise(values: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Config normalisation of raw values (NaN stays NaN). Raises if a log sees a value <= 0 (-1 for log1p)."""
    return normalise_columns(np.asarray(values, dtype=np.float64)[:, None], [spec])[:, 0]


def normalise_columns(values: np.ndarray, specs: Sequence[FeatureSpec]) -> np.ndarray:
    """`normalise` of every column j of values [R, K] by specs[j], in a few array operations."""
    return ColumnNormaliser(specs)(values)


class ColumnNormaliser:
    """`normalise_columns` for one fixed list of specs, with the per-spec lookups done once
    (the realtime path normalises a 12-row window three times per call)."""

    def __init__(self, specs: Sequence[FeatureSpec]):
        self.specs = list(specs)
        self.methods = [s.norm_method for s in self.specs]
        self.log = [j for j, m in enumerate(self.methods) if m == "log_zscore"]
        self.log1p = [j for j, m in enumerate(self.methods) if m == "log1p_zscore"]
        self.checked = [j for j, m in enumerate(self.methods) if m != "none"]  # "none" passes values through
        # "none" as (x - 0) / 1, which leaves every float as it is
        self.mean = np.array([0.0 if m == "none" else s.norm_mean for s, m in zip(self.specs, self.methods)])
        self.std = np.array([1.0 if m == "none" else s.norm_std for s, m in zip(self.specs, self.methods)])
        # a log column takes values above its floor only (0 for log, -1 for log1p)
        floors = [{"log_zscore": 0.0, "log1p_zscore": -1.0}.get(m) for m in self.methods]
        self.no_log = np.array([f is None for f in floors])
        self.log_floor = np.array([-np.inf if f is None else f for f in floors])
        self.clamp_floor = np.array([{"log_zscore": 1e-3, "log1p_zscore": 0.0}.get(m, -np.inf) for m in self.methods])

    # Three answers to a value a log cannot take, one per caller's need:
    # calling it raises (validated records: such a value is a bug upstream), `safe` gives NaN
    # (unobserved: a non-positive baseline), `clamped` lifts it to the log's smallest input
    # (PatchTrAD, trained so: a zero HRV reads as "very low", not as "missing").
    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Raises if a log sees a value <= 0 (-1 for log1p), naming the feature and row."""
        values = np.asarray(values, dtype=np.float64)
        x = self._transform(values)
        checked = self.checked
        bad = ~np.isfinite(x[:, checked]) & ~np.isnan(values[:, checked])
        if bad.any():
            row, k = _first_true(bad)
            j = checked[k]
            raise ValueError(f"{self.specs[j].name}: value {values[row, j]!r} at frame row {row} cannot be "
                             f"{self.methods[j]}-normalised (log needs a positive argument)")
        return x

    def safe(self, values: np.ndarray) -> np.ndarray:
        """As calling it, but a value a log cannot take (e.g. a non-positive baseline) gives NaN, not an error."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return self(np.where((v > self.log_floor) | self.no_log, v, np.nan))

    def clamped(self, values: np.ndarray) -> np.ndarray:
        """As calling it, but a log input is first raised to at least 1e-3 (log) or 0 (log1p); never raises.
        Infinite values stay infinite (the caller masks non-finite results)."""
        v = np.asarray(values, dtype=np.float64)
        return self._transform(np.maximum(v, self.clamp_floor))

    def _transform(self, values: np.ndarray) -> np.ndarray:
        x = values.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.log:
                x[:, self.log] = np.log(values[:, self.log])
            if self.log1p:
                x[:, self.log1p] = np.log1p(values[:, self.log1p])
            return (x - self.mean) / self.std


def frame_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every column of `frame` as a numpy array (views where pandas allows)."""
    return {c: frame[c].to_numpy() for c in frame.columns}


def _ns(times: np.ndarray) -> np.ndarray:
    """Naive timestamps (datetime64 of any unit, or int64 ns) as int64 nanoseconds."""
    times = np.asarray(times)
    return times if times.dtype == np.int64 else times.astype("datetime64[ns]").astype(np.int64)


def _first_true(mask: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first True of [R, K] `mask` in column order (the first column with
    any, then its first row): an error names the first bad feature, then where it went wrong."""
    col = int(np.flatnonzero(mask.any(axis=0))[0])
    return int(np.flatnonzero(mask[:, col])[0]), col


def _window_sums(x: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Sum of x[start:start+size] along axis 0 for every start, via one cumulative sum (O(rows))."""
    if len(x) == size and len(starts) == 1:  # the realtime case, the rows are the window: the same sums
        return np.cumsum(x, axis=0, dtype=np.float64)[-1:]
    cs = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0, dtype=np.float64)])
    return cs[starts + size] - cs[starts]


def _gather(x: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Windows [N, size, ...] of row-level x [R, ...] starting at `starts` (strided view, one copy)."""
    if len(starts) == 0:  # also covers frames shorter than one window
        return np.zeros((0, size) + x.shape[1:], dtype=x.dtype)
    if len(x) == size:  # the realtime case: the rows are the window
        return np.repeat(x[None], len(starts), axis=0)
    view = sliding_window_view(x, size, axis=0)[starts]  # [N, ..., size]
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))


def baseline_columns(baselines: Mapping[str, Any]) -> dict[str, float]:
    """Flatten a baseline description into frame columns (`bl_<metric>_mean`, ...).

    Accepts either the columns themselves (``{"bl_hrv_mean": 75.0, "bl_alpha": 0.4}``) or a nested
    form ``{"hrv": {"mean": 75, "std": 5, "night": {"mean": 70, "std": 6}}, "alpha": 0.4, "days": 3}``.
    """
    out: dict[str, float] = {}
    for key, value in baselines.items():
        if key.startswith("bl_"):
            out[key] = float(value)
        elif key in ("alpha", "days"):
            out[f"bl_{key}"] = float(value)
        elif isinstance(value, Mapping):
            for stat, v in value.items():
                if isinstance(v, Mapping):  # period block: {"night": {"mean":..., "std":...}}
                    for s, vv in v.items():
                        out[f"bl_{key}_{stat}_{s}"] = float(vv)
                else:
                    out[f"bl_{key}_{stat}"] = float(v)
        else:
            raise ValueError(f"baselines.{key}: expected a bl_ column, 'alpha', 'days' or a "
                             f"{{mean, std, <period>: {{mean, std}}}} object")
    return out


# --------------------------------------------------------------------------- context vector


class ContextVector:
    """The context vector of a window: what the model sees of the window as a whole.

    Layout (fixed by the config, independent of which columns a frame has):
    ``<channel>_<stat>`` for channel in factor_channels, stat in factor_stats (over the window's
    normalised observed values of the channel's numeric model features, pooled over steps and
    features; std is the population std); then per baseline metric ``<m>_deviation_abs`` and
    ``<m>_z_score``; then per baseline key ``<key>_suspect_days`` and ``<key>_suspect_z``; then
    ``baseline_alpha`` and ``observed_fraction``.

    Baseline choice per window (at the window's last row, since causal baselines are per day):
    the window's time period is the last record's `time_period_primary` (derived from the hour
    when absent); if the metric lists that period and `bl_<m>_<period>_mean/std` are finite there,
    they are used (e.g. the night baseline on night windows), otherwise `bl_<m>_mean/std`
    (period all), otherwise the record's own `baseline_<m>_mean/std` features (the seed's
    `baseline_hrv_mean` / `baseline_hrv_std`), otherwise the features are missing (mask 0).
    """

    FACTOR_STATS = ("mean", "std", "max", "min")

    def __init__(self, config: FeatureConfig, numeric_names: list[str], window_size: int):
        cfg = self.config = config
        self.window_size = window_size
        bad = [s for s in cfg.factor_stats if s not in self.FACTOR_STATS]
        if bad:
            raise ValueError(f"factor_stats {bad} not supported; use any of {list(self.FACTOR_STATS)}")
        # baseline keys (metric, or metric_period) whose guard memory is multi-day context
        self.baseline_keys = [m if p == "all" else f"{m}_{p}" for m, spec in cfg.baseline_metrics.items()
                              for p in spec.periods]
        self._suspect_columns = ([f"bl_{key}_suspect_days" for key in self.baseline_keys]
                                 + [f"bl_{key}_suspect_z" for key in self.baseline_keys])
        # factor channel -> column positions in `numeric`
        self.factor_index = {ch: [numeric_names.index(n) for n in cfg.channel_features(ch)]
                             for ch in cfg.factor_channels}
        self._factor_member = np.zeros((len(cfg.factor_channels), len(numeric_names)), dtype=bool)  # [C, F]
        for c, ch in enumerate(cfg.factor_channels):
            self._factor_member[c, self.factor_index[ch]] = True
        self._metric_sources = [spec.source for spec in cfg.baseline_metrics.values()]
        self._metric_norm = ColumnNormaliser(cfg.features[src] for src in self._metric_sources)
        # where a window's baseline comes from, in order of precedence (class docstring): per source
        # (period, the mean column names then the std column names, which metrics have it)
        metrics = list(cfg.baseline_metrics)
        periods = dict.fromkeys(p for spec in cfg.baseline_metrics.values() for p in spec.periods if p != "all")
        self._baseline_column_names = [
            (p, [f"bl_{m}_{p}_{stat}" for stat in ("mean", "std") for m in metrics],
             np.array([p in cfg.baseline_metrics[m].periods for m in metrics])) for p in periods]
        self._baseline_column_names += [
            ("all", [f"bl_{m}_{stat}" for stat in ("mean", "std") for m in metrics], np.ones(len(metrics), bool)),
            ("record", [f"baseline_{m}_{stat}" for stat in ("mean", "std") for m in metrics],
             np.ones(len(metrics), bool))]
        self.names = ([f"{ch}_{s}" for ch in cfg.factor_channels for s in cfg.factor_stats]
                      + [f"{m}_{k}" for m in cfg.baseline_metrics for k in ("deviation_abs", "z_score")]
                      + [f"{key}_{k}" for key in self.baseline_keys for k in ("suspect_days", "suspect_z")]
                      + ["baseline_alpha", "observed_fraction"])

    def __call__(self, cols: Columns, z: np.ndarray, mask: np.ndarray, numeric_mask: np.ndarray,
                 starts: np.ndarray, ends: np.ndarray, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(context, context_mask) [N, C] of the windows `starts`..`ends` of row-level arrays: `z`
        normalised numeric values and `mask` [R, F], `numeric_mask` [N, T, F], `periods` [N] the
        time period at each window's end."""
        N, T, cfg = len(ends), self.window_size, self.config
        values: list[np.ndarray] = []
        oks: list[np.ndarray] = []

        # factor features: stats over each channel's normalised observed values in the window,
        # pooled over steps and features, every channel at once. Rows are reduced first over a
        # [R, C, F] view in which features outside the channel count as unobserved (their zeros
        # leave numpy's sums bit-identical to summing the channel's own columns), then the T rows
        # of each window (sliding views), instead of materialising [N, T, C, F] temporaries.
        if cfg.factor_channels:
            m = mask[:, None, :] & self._factor_member        # [R, C, F]
            v = z.astype(np.float64)[:, None, :]

            def over_window(row_values: np.ndarray, op) -> np.ndarray:  # [R, C] -> [N, C]
                # the T steps made the contiguous last axis: numpy then sums them in its usual order
                return op(np.ascontiguousarray(_gather(row_values, starts, T).transpose(0, 2, 1)), axis=2)

            n = over_window(m.sum(axis=2).astype(np.float64), np.sum)
            total = over_window(np.where(m, v, 0.0).sum(axis=2), np.sum)
            total_sq = over_window(np.where(m, v * v, 0.0).sum(axis=2), np.sum)
            ok = n > 0
            mean = total / np.maximum(n, 1)
            stats = {
                "mean": mean,
                "std": np.sqrt(np.maximum(total_sq / np.maximum(n, 1) - mean**2, 0.0)),  # population std
                "max": over_window(np.where(m, v, -np.inf).max(axis=2, initial=-np.inf), np.max),
                "min": over_window(np.where(m, v, np.inf).min(axis=2, initial=np.inf), np.min),
            }
            # [N, C, S] -> [N, C*S]: the context_names order (channel by channel, its stats in turn)
            block = np.stack([stats[s] for s in cfg.factor_stats], axis=2)
            values.append(np.where(ok[:, :, None], block, 0.0).reshape(N, -1))
            oks.append(np.repeat(ok, len(cfg.factor_stats), axis=1))

        # baseline deviations: window mean of the source feature vs the baseline at the last row,
        # every metric at once ([N, M] arrays; column j = metric j)
        wmean = self._window_means(cols, self._metric_sources, starts)
        bl_mean, bl_std = self._baseline_at(cols, ends, starts, periods)
        with np.errstate(invalid="ignore", divide="ignore"):
            # difference in normalised units: (window - baseline) / norm std for zscore features,
            # the scaled log-ratio for log-normalised ones; O(1) either way
            both = self._metric_norm.safe(np.concatenate([wmean, bl_mean]))  # one pass for the two
            dev = both[:N] - both[N:]
            zscore = np.clip((wmean - bl_mean) / bl_std, -Z_CLIP, Z_CLIP)
        dev_ok = np.isfinite(dev)
        z_ok = np.isfinite(zscore) & (bl_std > 0)
        values.append(_interleave(np.where(dev_ok, dev, 0.0), np.where(z_ok, zscore, 0.0)))
        oks.append(_interleave(dev_ok, z_ok))

        # multi-day evidence: days the baseline guard just held back as deviant, and how far off
        # (a key without both columns is unavailable: its NaN column fails the finiteness test)
        both = self._columns_at(cols, self._suspect_columns, ends)
        days, zs = both[:, :len(self.baseline_keys)], both[:, len(self.baseline_keys):]
        ok = np.isfinite(days) & np.isfinite(zs)
        values.append(_interleave(np.where(ok, np.minimum(days, SUSPECT_DAYS_CAP) / SUSPECT_DAYS_CAP, 0.0),
                                  np.where(ok, np.clip(zs, -Z_CLIP, Z_CLIP), 0.0)))
        oks.append(_interleave(ok, ok))

        alpha = np.asarray(cols["bl_alpha"], dtype=np.float64)[ends] if "bl_alpha" in cols \
            else np.full(N, np.nan)
        values.append(np.where(np.isnan(alpha), 0.0, alpha))
        oks.append(~np.isnan(alpha))
        obs = numeric_mask.mean(axis=(1, 2)) if numeric_mask.shape[2] else np.zeros(N)
        values.append(obs)
        oks.append(np.ones(N, dtype=bool))

        context = np.column_stack(values).astype(np.float32) if N else np.zeros((0, len(self.names)), np.float32)
        context_mask = np.column_stack(oks).astype(np.float32) if N else np.zeros_like(context)
        return context, context_mask

    def _columns_at(self, cols: Columns, names: list[str], rows: np.ndarray) -> np.ndarray:
        """[len(rows), K] float values of the named columns at the given rows (NaN where absent)."""
        present = [j for j, name in enumerate(names) if name in cols]
        if not present:
            return np.full((len(rows), len(names)), np.nan)
        values = np.stack([np.asarray(cols[names[j]], dtype=np.float64) for j in present], axis=1)[rows]
        if len(present) == len(names):  # the usual case: one stacked gather is the answer
            return values
        out = np.full((len(rows), len(names)), np.nan)
        out[:, present] = values
        return out

    def _window_means(self, cols: Columns, names: list[str], starts: np.ndarray) -> np.ndarray:
        """[N, K]: mean of the observed raw values of each named column in each window (NaN if none)."""
        R = len(cols[TIME])
        v = self._columns_at(cols, names, np.arange(R))
        obs = ~np.isnan(v)
        total = _window_sums(np.where(obs, v, 0.0), starts, self.window_size)
        count = _window_sums(obs.astype(np.float64), starts, self.window_size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    def _baseline_at(self, cols, ends, starts, periods):
        """Baseline mean/std [N, M] per window and metric, by the precedence in the class docstring."""
        N, M = len(ends), len(self._metric_sources)
        mean, std = np.full((N, M), np.nan), np.full((N, M), np.nan)
        for period, names, has in self._baseline_column_names:
            if not mean.size or not np.isnan(mean).any():
                break  # every window and metric has its baseline already
            if not any(name in cols for name in names[:M]):
                continue
            if period == "record":  # the seed's records carry their own baseline (baseline_hrv_mean / _std)
                both = self._window_means(cols, names, starts)
            else:
                both = self._columns_at(cols, names, ends)
            mean_vals, std_vals = both[:, :M], both[:, M:]
            where = has[None, :] if period in ("all", "record") else (periods == period)[:, None] & has[None, :]
            use = where & np.isnan(mean) & np.isfinite(mean_vals) & np.isfinite(std_vals)
            mean[use], std[use] = mean_vals[use], std_vals[use]
        return mean, std


# --------------------------------------------------------------------------- calculator


class FeatureCalculator:
    """Turns a frame (records_to_frame layout, any number of users) into `Windows`.

    It lays out the per-step arrays (numeric, categorical, known, static: the row-level arrays
    below, gathered into windows) and leaves the per-window context vector to `ContextVector`.
    """

    FACTOR_STATS = ContextVector.FACTOR_STATS

    def __init__(self, config: FeatureConfig | None = None, window_size: int | None = None):
        self.config = config or default_feature_config()
        self.window_size = int(window_size if window_size is not None else self.config.window_size)
        if self.window_size not in self.config.allowed_window_sizes:
            raise ValueError(f"window_size {self.window_size} is not one of "
                             f"{list(self.config.allowed_window_sizes)} (features config allowed_window_sizes)")
        cfg = self.config
        model = [n for n in cfg.model_features]
        self.numeric_names = [n for n in model if cfg.features[n].is_numeric]
        self.categorical_names = [n for n in model if not cfg.features[n].is_numeric]
        self.categorical_cardinalities = [len(cfg.features[n].categories) for n in self.categorical_names]
        self._categorical_cards = np.array(self.categorical_cardinalities, dtype=np.float64)
        self.known_names = list(KNOWN_NAMES)
        self.static_names = list(cfg.static)
        self.static_cardinalities = [cfg.static[n].cardinality for n in self.static_names]
        self._static_columns = [static_column(n) for n in self.static_names]
        self._static_cards = np.array(self.static_cardinalities, dtype=np.int64)
        self._static_defaults = np.array([cfg.static[n].categories[cfg.static[n].default] for n in self.static_names],
                                         dtype=np.int64)
        self._numeric_specs = [cfg.features[n] for n in self.numeric_names]
        self._numeric_norm = ColumnNormaliser(self._numeric_specs)
        self.context = ContextVector(cfg, self.numeric_names, self.window_size)
        # the context's layout, as the calculator showed it before the context had a class of its own
        self.baseline_keys, self.factor_index = self.context.baseline_keys, self.context.factor_index
        self.context_names = self.context.names
        # what window_summary reports, and time-period lookups by hour and by category code
        self._summary_names = [n for n, spec in cfg.features.items() if spec.is_numeric and spec.channel != "baseline"]
        self._period_of_hour = np.array([cfg.time_period_of_hour(h) for h in range(24)], dtype=object)
        period_spec = cfg.features.get("time_period_primary")
        self._period_of_code = np.array([period_spec.category_label(c) for c in range(len(period_spec.categories))]
                                        if period_spec is not None else [], dtype=object)

    # ---------------------------------------------------------------- public API

    def windows(self, frame: pd.DataFrame, stride: int = 1, min_observed: float = 0.0) -> Windows:
        """All windows of `frame` (never across users).

        Window ends are each user's rows T-1, T-1+stride, ... (position within the user).
        `min_observed` keeps only windows where at least that fraction of records carries an
        observed numeric model feature (0 keeps everything; `end_index` says which rows were used).
        """
        return self.windows_from_columns(frame_columns(frame), stride, min_observed, frame=frame)

    def windows_from_columns(self, cols: Columns, stride: int = 1, min_observed: float = 0.0,
                             frame: pd.DataFrame | None = None) -> Windows:
        """`windows` on a frame's columns as numpy arrays (`frame_columns`, `records_to_columns`).

        All the feature maths lives here and below, on plain arrays: the batch path (a frame of
        many users) and the realtime path (`window`, one user's last rows) run the same code.
        """
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self._check_columns(cols)
        T = self.window_size
        users = np.asarray(cols[USER], dtype=object)
        ts = _ns(cols[TIME])
        R = len(ts)

        # position of each row inside its user's run of rows
        new_user = np.ones(R, dtype=bool)
        new_user[1:] = users[1:] != users[:-1]
        run_start = np.maximum.accumulate(np.where(new_user, np.arange(R), 0)) if R else np.zeros(0, int)
        pos = np.arange(R) - run_start
        ends = np.flatnonzero((pos >= T - 1) & ((pos - (T - 1)) % stride == 0))

        raw, mask = self._numeric_rows(cols, R)
        if min_observed > 0 and len(ends):
            has_obs = mask.any(axis=1).astype(np.float64)
            frac = _window_sums(has_obs, ends - T + 1, T) / T
            ends = ends[frac >= min_observed - 1e-12]
        starts = ends - T + 1

        z = self._numeric_norm(raw)
        z = np.where(np.isnan(z), 0.0, z).astype(np.float32)  # as nan_to_num: a +-inf it would clip is +-inf in float32 again
        dt_row = np.empty(R, dtype=np.float64)
        dt_row[1:] = np.diff(ts) / _NS_PER_MIN
        dt_row[:1] = self.config.sampling_minutes
        dt = _gather(dt_row.astype(np.float32), starts, T)
        dt[:, 0] = self.config.sampling_minutes  # the step before a window is outside it
        tw = _gather(ts, starts, T)
        t = ((tw - ts[ends][:, None]) / _NS_PER_MIN).astype(np.float32)

        numeric = _gather(z, starts, T)
        numeric_mask = _gather(mask.astype(np.float32), starts, T)
        periods = self._period_rows(cols, ends) if len(ends) else np.zeros(0, dtype=object)
        context, context_mask = self.context(cols, z, mask, numeric_mask, starts, ends, periods)
        return Windows(
            user_ids=users[ends], end_times=ts[ends].astype("datetime64[ns]"), end_index=ends.astype(np.int64),
            numeric=numeric, numeric_mask=numeric_mask,
            categorical=_gather(self._categorical_rows(cols, R), starts, T),
            dt=dt, t=t, known=_gather(self._known_rows(ts), starts, T),
            static=self._static_rows(cols, R)[ends],
            context=context, context_mask=context_mask,
            numeric_names=list(self.numeric_names), categorical_names=list(self.categorical_names),
            categorical_cardinalities=list(self.categorical_cardinalities), known_names=list(self.known_names),
            static_names=list(self.static_names), static_cardinalities=list(self.static_cardinalities),
            context_names=list(self.context_names), frame=frame,
        )

    def window(self, cols: Columns, baseline: Mapping[str, float] | None = None) -> Windows:
        """The one window made of the last `window_size` rows of `cols` (one user's rows, in time
        order): the realtime path, without a DataFrame.

        `baseline`: values of the window's `bl_` columns (one number each, e.g. from
        `baseline_columns` or a stored baseline), as if the rows carried them.
        Same arrays as `windows(frame.assign(**baseline))[-1:]`.
        """
        T = self.window_size
        last = {k: np.asarray(v)[-T:] for k, v in cols.items()}
        n = len(last[TIME]) if TIME in last else 0
        if n < T:
            raise ValueError(f"window: need {T} rows for a window, got {n}")
        if baseline:  # one [T, K] block; its columns are the bl_ columns
            block = np.repeat(np.array([list(baseline.values())], dtype=np.float64), T, axis=0)
            last.update(zip(baseline, block.T))
        out = self.windows_from_columns(last)
        if len(out) != 1:
            raise ValueError("window: the last rows belong to more than one user")
        return out

    def window_from_records(self, records: Iterable[Record | dict] | pd.DataFrame,
                            baselines: Mapping[str, Any] | None = None) -> Windows:
        """One realtime window from the last `window_size` records of one user.

        `baselines` (optional) adds baseline columns for that window, see `baseline_columns`.
        """
        frame = records if isinstance(records, pd.DataFrame) else records_to_frame(list(records), self.config)
        if len(frame) and frame[USER].nunique() > 1:
            raise ValueError(f"window_from_records: records of {frame[USER].nunique()} users; "
                             "a realtime window belongs to one user")
        if len(frame) < self.window_size:
            raise ValueError(f"window_from_records: need {self.window_size} records for a window, got {len(frame)}")
        frame = frame.sort_values(TIME, kind="stable").iloc[-self.window_size:].reset_index(drop=True)
        return self.window(frame_columns(frame), baseline_columns(baselines) if baselines else None)

    def window_summary(self, rows: pd.DataFrame) -> dict[str, Any]:
        """Plain-unit summary of one window's frame rows: the `window`, `measurements` and
        `data_quality` blocks of the realtime result (architecture.md section 5)."""
        return self.summary_from_columns(frame_columns(rows))

    def summary_from_columns(self, cols: Columns) -> dict[str, Any]:
        """`window_summary` on the rows' columns as numpy arrays."""
        self._check_columns(cols)
        ts = _ns(cols[TIME])
        R = len(ts)
        if not R:
            raise ValueError("window_summary: no rows")
        _, mask = self._numeric_rows(cols, R)
        gaps = np.diff(ts) / _NS_PER_MIN
        observed = float(mask.mean()) if mask.size else 0.0
        # every reported feature at once: [R, F] values, NaN = not observed
        names = [n for n in self._summary_names if n in cols]
        measurements = {}
        if names:
            v = np.column_stack([np.asarray(cols[n], dtype=np.float64) for n in names])
            obs = ~np.isnan(v)
            count = obs.sum(axis=0)
            lo, hi = np.where(obs, v, np.inf).min(axis=0), np.where(obs, v, -np.inf).max(axis=0)
            for j in np.flatnonzero(count):
                # the mean from the observed values alone, summed in numpy's 1-D order (as ndarray.mean),
                # so a rounded mean never flips at the third decimal with the layout of the rows
                mean = v[obs[:, j], j].sum() / count[j]
                measurements[names[j]] = {"mean": round(float(mean), 3), "min": round(float(lo[j]), 3),
                                          "max": round(float(hi[j]), 3), "unit": self.config.features[names[j]].unit}
        quality = self.config.features.get("data_quality")
        low = 0
        if quality is not None and "data_quality" in cols and "low" in quality.categories:
            low = int((np.asarray(cols["data_quality"]) == quality.categories["low"]).sum())
        return {
            "window": {"start": pd.Timestamp(ts[0]).isoformat(), "end": pd.Timestamp(ts[-1]).isoformat(),
                       "time_period": str(self._period_rows(cols, np.array([R - 1]))[0]), "n_points": int(R),
                       "observed_fraction": round(observed, 4)},
            "measurements": measurements,
            "data_quality": {"missing_fraction": round(1.0 - observed, 4), "low_quality_points": low,
                             "max_gap_minutes": float(gaps.max()) if len(gaps) else 0.0},
        }

    # ---------------------------------------------------------------- row-level arrays

    def _check_columns(self, cols: Columns) -> None:
        for col in (USER, TIME):
            if col not in cols:
                raise ValueError(f"frame: missing column '{col}' (build frames with records_to_frame)")
        users = np.asarray(cols[USER], dtype=object)
        if not len(users):
            return
        ts = _ns(cols[TIME])
        same = users[1:] == users[:-1]
        if not same.all():  # a user's rows must be one contiguous run
            codes = pd.factorize(users)[0]
            if (~same).sum() != codes.max():
                raise ValueError("frame: rows of a user are not contiguous; sort by (user_id, timestamp)")
        bad = np.flatnonzero(same & (np.diff(ts) <= 0))
        if len(bad):
            r = int(bad[0]) + 1
            raise ValueError(f"frame row {r}: timestamp {pd.Timestamp(ts[r])} of user {users[r]} is not after "
                             "the previous row's; sort by (user_id, timestamp) and drop duplicates")

    def _numeric_rows(self, cols: Columns, R: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw numeric model values [R, Fn] (NaN = not observed; an absent column is all unobserved)."""
        raw = np.full((R, len(self.numeric_names)), np.nan)
        for j, n in enumerate(self.numeric_names):
            if n in cols:
                raw[:, j] = cols[n]
        return raw, ~np.isnan(raw)

    def _categorical_rows(self, cols: Columns, R: int) -> np.ndarray:
        """Category codes [R, Kc]; the feature's cardinality (its "missing" index) where not observed."""
        card = self._categorical_cards
        v = np.full((R, len(card)), np.nan)
        for j, n in enumerate(self.categorical_names):
            if n in cols:
                v[:, j] = cols[n]
        missing = np.isnan(v)
        bad = ~missing & ((v < 0) | (v >= card) | (v != np.round(v)))
        if bad.any():
            r, j = _first_true(bad)
            raise ValueError(f"frame row {r}: {self.categorical_names[j]} code {v[r, j]} is not in 0..{card[j] - 1}")
        v[missing] = np.broadcast_to(card, v.shape)[missing]
        return v.astype(np.int64)

    def _static_rows(self, cols: Columns, R: int) -> np.ndarray:
        """Static codes [R, S]; the config default ("unknown") where a static column is absent."""
        out = np.empty((R, len(self.static_names)), dtype=np.int64)
        out[:] = self._static_defaults
        present = [j for j, col in enumerate(self._static_columns) if col in cols]
        if present:
            v = np.stack([np.asarray(cols[self._static_columns[j]]) for j in present], axis=1)
            card = self._static_cards[present]
            bad = (v < 0) | (v >= card)
            if bad.any():
                r, k = _first_true(bad)
                raise ValueError(f"frame row {r}: {self._static_columns[present[k]]} code {v[r, k]} is not in "
                                 f"0..{card[k] - 1}")
            out[:, present] = v
        return out

    def _known_rows(self, ts: np.ndarray) -> np.ndarray:
        """Known-future features from naive local int64 ns timestamps (pure integer arithmetic)."""
        days = ts // _NS_PER_DAY
        hour = (ts - days * _NS_PER_DAY) / (60 * _NS_PER_MIN)  # fractional hour of day
        weekday = (days + _EPOCH_WEEKDAY) % 7
        h, w = 2 * np.pi * hour / 24.0, 2 * np.pi * weekday / 7.0
        return np.column_stack([np.sin(h), np.cos(h), np.sin(w), np.cos(w),
                                (weekday >= 5).astype(np.float64)]).astype(np.float32)

    def _period_rows(self, cols: Columns, rows: np.ndarray) -> np.ndarray:
        """Time-period label of the given rows (record's time_period_primary, else the hour)."""
        hours = (_ns(cols[TIME])[rows] // (60 * _NS_PER_MIN)) % 24
        labels = self._period_of_hour[hours]
        spec = self.config.features.get("time_period_primary")
        if spec is not None and "time_period_primary" in cols:
            codes = np.asarray(cols["time_period_primary"], dtype=np.float64)[rows]
            ok = ~np.isnan(codes)
            labels[ok] = self._period_of_code[codes[ok].astype(int)]
        return labels


def _interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, K] and [N, K] -> [N, 2K] with columns a0, b0, a1, b1, ... (the context_names order)."""
    return np.stack([a, b], axis=2).reshape(len(a), -1)
