"""The context vector of a window: factor statistics, deviations from the personal baseline, guard memory."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import FeatureConfig
from ..data.records import TIME
from .arrays import Columns, gather, interleave, window_sums
from .normalise import ColumnNormaliser


Z_CLIP = 10.0  # z-scores beyond +-10 sigma carry no more information, only overflow risk


SUSPECT_DAYS_CAP = 5.0  # guard-held-back days beyond five say nothing new; scaled to 0..1


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

            def over_window(row_values: np.ndarray, op) -> np.ndarray:  # [R, K] -> [N, K]
                # the T steps made the contiguous last axis: numpy then sums them in its usual order
                return op(np.ascontiguousarray(gather(row_values, starts, T).transpose(0, 2, 1)), axis=2)

            C = len(cfg.factor_channels)
            # the three sums side by side in one pass ([R, 3C]; each column is still summed on its own),
            # and the minimum as the maximum of the negated values (negation is exact)
            sums = over_window(np.concatenate([m.sum(axis=2).astype(np.float64), np.where(m, v, 0.0).sum(axis=2),
                                               np.where(m, v * v, 0.0).sum(axis=2)], axis=1), np.sum)
            n, total, total_sq = sums[:, :C], sums[:, C:2 * C], sums[:, 2 * C:]
            extremes = over_window(np.concatenate([np.where(m, v, -np.inf).max(axis=2, initial=-np.inf),
                                                   np.where(m, -v, -np.inf).max(axis=2, initial=-np.inf)], axis=1),
                                   np.max)
            ok = n > 0
            mean = total / np.maximum(n, 1)
            stats = {
                "mean": mean,
                "std": np.sqrt(np.maximum(total_sq / np.maximum(n, 1) - mean**2, 0.0)),  # population std
                "max": extremes[:, :C],
                "min": -extremes[:, C:],
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
        values.append(interleave(np.where(dev_ok, dev, 0.0), np.where(z_ok, zscore, 0.0)))
        oks.append(interleave(dev_ok, z_ok))

        # multi-day evidence: days the baseline guard just held back as deviant, and how far off
        # (a key without both columns is unavailable: its NaN column fails the finiteness test)
        both = self._columns_at(cols, self._suspect_columns, ends)
        days, zs = both[:, :len(self.baseline_keys)], both[:, len(self.baseline_keys):]
        ok = np.isfinite(days) & np.isfinite(zs)
        values.append(interleave(np.where(ok, np.minimum(days, SUSPECT_DAYS_CAP) / SUSPECT_DAYS_CAP, 0.0),
                                  np.where(ok, np.clip(zs, -Z_CLIP, Z_CLIP), 0.0)))
        oks.append(interleave(ok, ok))

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
        # one [K, R] array from the list in a single call (np.stack converts and reshapes each column first)
        values = np.array([cols[names[j]] for j in present], dtype=np.float64).T[rows]
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
        total = window_sums(np.where(obs, v, 0.0), starts, self.window_size)
        count = window_sums(obs.astype(np.float64), starts, self.window_size)
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
