"""FeatureCalculator: a frame (any number of users) or one user's last records -> Windows."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from ..data.records import TIME, USER, Record, records_to_frame, static_column
from .arrays import (EPOCH_WEEKDAY, NS_PER_DAY, NS_PER_MIN, Columns, as_ns, first_true, frame_columns, gather,
                     iso_of_ns, window_sums)
from .context import ContextVector, baseline_columns
from .normalise import ColumnNormaliser
from .windows import Windows


KNOWN_NAMES = ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "is_weekend"]


def baseline_rows(baseline: Mapping[str, float], n: int) -> dict[str, np.ndarray]:
    """One number per `bl_` column (a stored baseline) as `n` rows: the columns of one [n, K] block."""
    block = np.repeat(np.array([list(baseline.values())], dtype=np.float64), n, axis=0)
    return dict(zip(baseline, block.T))


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
        ts = as_ns(cols[TIME])
        R = len(ts)

        if R == T and users[0] == users[-1]:  # one user's rows (contiguous, checked above) are one window
            ends = np.array([T - 1])
        else:  # position of each row inside its user's run of rows
            new_user = np.ones(R, dtype=bool)
            new_user[1:] = users[1:] != users[:-1]
            run_start = np.maximum.accumulate(np.where(new_user, np.arange(R), 0)) if R else np.zeros(0, int)
            pos = np.arange(R) - run_start
            ends = np.flatnonzero((pos >= T - 1) & ((pos - (T - 1)) % stride == 0))

        raw, mask = self._numeric_rows(cols, R)
        if min_observed > 0 and len(ends):
            has_obs = mask.any(axis=1).astype(np.float64)
            frac = window_sums(has_obs, ends - T + 1, T) / T
            ends = ends[frac >= min_observed - 1e-12]
        starts = ends - T + 1

        z = self._numeric_norm(raw)
        z = np.where(np.isnan(z), 0.0, z).astype(np.float32)  # as nan_to_num: a +-inf it would clip is +-inf in float32 again
        dt_row = np.empty(R, dtype=np.float64)
        dt_row[1:] = np.diff(ts) / NS_PER_MIN
        dt_row[:1] = self.config.sampling_minutes
        dt = gather(dt_row.astype(np.float32), starts, T)
        dt[:, 0] = self.config.sampling_minutes  # the step before a window is outside it
        tw = gather(ts, starts, T)
        t = ((tw - ts[ends][:, None]) / NS_PER_MIN).astype(np.float32)

        numeric = gather(z, starts, T)
        numeric_mask = gather(mask.astype(np.float32), starts, T)
        periods = self._period_rows(cols, ends) if len(ends) else np.zeros(0, dtype=object)
        context, context_mask = self.context(cols, z, mask, numeric_mask, starts, ends, periods)
        return Windows(
            user_ids=users[ends], end_times=ts[ends].astype("datetime64[ns]"), end_index=ends.astype(np.int64),
            numeric=numeric, numeric_mask=numeric_mask,
            categorical=gather(self._categorical_rows(cols, R), starts, T),
            dt=dt, t=t, known=gather(self._known_rows(ts), starts, T),
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
        if baseline:
            last.update(baseline_rows(baseline, T))
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

    def summary_from_columns(self, cols: Columns, window: Windows | None = None) -> dict[str, Any]:
        """`window_summary` on the rows' columns as numpy arrays. `window`: the one window made of
        exactly these rows (`window(cols)`), whose checks and observed mask are then not made again."""
        if window is None or len(window) != 1 or window.window_size != len(cols[TIME]):
            window = None
            self._check_columns(cols)
        ts = as_ns(cols[TIME])
        R = len(ts)
        if not R:
            raise ValueError("window_summary: no rows")
        mask = self._numeric_rows(cols, R)[1] if window is None else window.numeric_mask[0]
        gaps = np.diff(ts) / NS_PER_MIN
        observed = float(mask.mean(dtype=np.float64)) if mask.size else 0.0
        # every reported feature at once: [R, F] values, NaN = not observed
        names = [n for n in self._summary_names if n in cols]
        measurements = {}
        if names:
            v = np.array([cols[n] for n in names], dtype=np.float64)  # [F, R], each feature's rows contiguous
            obs = ~np.isnan(v)
            count = obs.sum(axis=1)
            lo, hi = np.where(obs, v, np.inf).min(axis=1).tolist(), np.where(obs, v, -np.inf).max(axis=1).tolist()
            # The mean from the observed values alone, summed in numpy's 1-D order (as ndarray.mean), so a
            # rounded mean never flips at the third decimal with the layout of the rows. A fully observed
            # feature's contiguous row sums in that same order, so one reduction serves all of them.
            full = v.sum(axis=1).tolist()
            for j in np.flatnonzero(count).tolist():
                n = int(count[j])
                total = full[j] if n == R else float(v[j][obs[j]].sum())
                measurements[names[j]] = {"mean": round(total / n, 3), "min": round(lo[j], 3),
                                          "max": round(hi[j], 3), "unit": self.config.features[names[j]].unit}
        quality = self.config.features.get("data_quality")
        low = 0
        if quality is not None and "data_quality" in cols and "low" in quality.categories:
            low = int((np.asarray(cols["data_quality"]) == quality.categories["low"]).sum())
        return {
            "window": {"start": iso_of_ns(ts[0]), "end": iso_of_ns(ts[-1]),
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
        ts = as_ns(cols[TIME])
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
            r, j = first_true(bad)
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
                r, k = first_true(bad)
                raise ValueError(f"frame row {r}: {self._static_columns[present[k]]} code {v[r, k]} is not in "
                                 f"0..{card[k] - 1}")
            out[:, present] = v
        return out

    def _known_rows(self, ts: np.ndarray) -> np.ndarray:
        """Known-future features from naive local int64 ns timestamps (pure integer arithmetic)."""
        days = ts // NS_PER_DAY
        hour = (ts - days * NS_PER_DAY) / (60 * NS_PER_MIN)  # fractional hour of day
        weekday = (days + EPOCH_WEEKDAY) % 7
        h, w = 2 * np.pi * hour / 24.0, 2 * np.pi * weekday / 7.0
        return np.column_stack([np.sin(h), np.cos(h), np.sin(w), np.cos(w),
                                (weekday >= 5).astype(np.float64)]).astype(np.float32)

    def _period_rows(self, cols: Columns, rows: np.ndarray) -> np.ndarray:
        """Time-period label of the given rows (record's time_period_primary, else the hour)."""
        hours = (as_ns(cols[TIME])[rows] // (60 * NS_PER_MIN)) % 24
        labels = self._period_of_hour[hours]
        spec = self.config.features.get("time_period_primary")
        if spec is not None and "time_period_primary" in cols:
            codes = np.asarray(cols["time_period_primary"], dtype=np.float64)[rows]
            ok = ~np.isnan(codes)
            labels[ok] = self._period_of_code[codes[ok].astype(int)]
        return labels
