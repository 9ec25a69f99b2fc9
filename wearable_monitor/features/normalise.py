"""The one normaliser of the package: the features config's zscore / log_zscore / log1p_zscore / none."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import FeatureSpec
from .arrays import first_true


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
        # the columns whose values are checked ("none" passes values through)
        self.checked_mask = np.array([m != "none" for m in self.methods], dtype=bool)
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
        bad = ~np.isfinite(x) & ~np.isnan(values) & self.checked_mask  # full width: no column gather
        if bad.any():
            row, j = first_true(bad)
            raise ValueError(f"{self.specs[j].name}: value {float(values[row, j])!r} at frame row {row} cannot be "
                             f"{self.methods[j]}-normalised (log needs a positive argument)")
        return x

    def safe(self, values: np.ndarray) -> np.ndarray:
        """As calling it, but a value a log cannot take (e.g. a non-positive baseline) gives NaN, not an error."""
        v = np.asarray(values, dtype=np.float64)
        return self(np.where((v > self.log_floor) | self.no_log, v, np.nan))  # NaN compares False, quietly

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
