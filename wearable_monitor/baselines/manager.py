"""UserDataManager: the realtime path, records of one user in, their baselines updated and returned."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .. import sqlite_store
from ..config import FeatureConfig, default_feature_config
from ..data.records import TIME, USER, static_column
from ..verdict.stream_context import StreamContext
from .config import BaselineConfig, MeanStd
from .state import BaselineKey, BlendedBaseline, MetricState, baseline_keys, blended, source_of
from .storage import BaselineStorage, UserRow, day_iso
from .values import REST_COLUMNS, day_bounds, static_label, usable_values


@dataclass
class IngestReport:
    rows: int                      # rows given
    skipped_rows: int              # rows at or before the last ingested timestamp (already seen)
    closed_days: list[str]         # days folded into the baseline by this call
    events: dict[str, list[tuple[str, str]]]  # key -> [(day, event)], event in update/frozen/shift/skipped


class UserDataManager:
    """What the detector uses: guarded ingestion and blended baselines per user.

    `ingest` feeds rows (one user's frame slice, in time order; rows already seen are skipped
    by timestamp); `baseline_for` returns the blended baselines at the start of the open day
    (or of a later day, `as_of`), i.e. from data strictly before that day.
    """

    def __init__(self, storage: BaselineStorage, feature_config: FeatureConfig | None = None,
                 baseline_config: BaselineConfig | None = None):
        self.storage = storage
        self.config = feature_config or default_feature_config()
        self.bcfg = baseline_config or storage.config
        self.bcfg.check_against(self.config)
        self.keys = baseline_keys(self.config)
        self._group_cache: dict[tuple, MeanStd] = {}
        self._ingest_columns = [USER, TIME, "data_quality", *dict.fromkeys(k.source for k in self.keys),
                                *(REST_COLUMNS if any(k.at_rest for k in self.keys) else ()),
                                *(static_column(n) for n in self.config.static)]

    def _min_std(self, metric: str) -> float:
        return float(self.bcfg.min_std.get(metric, 0.0))

    def _close_open_day(self, user: UserRow, states: dict, events: dict) -> None:
        """Close the open day for every key; events collect (day, event, snapshot) for history."""
        for key in self.keys:
            st = states[key.metric, key.period]
            ev = st.close_day(self.bcfg, self._min_std(key.metric))
            if ev:
                events.setdefault(key, []).append((user.open_day, ev, replace(st)))
        user.days += int(user.open_has_data)
        user.open_has_data = False

    def ingest(self, user_id: str, frame_rows, is_normal=None, context: StreamContext | None = None) -> IngestReport:
        """Guarded update from one user's rows (frame contract columns); one atomic transaction.

        `frame_rows`: a frame, or its columns as numpy arrays (`features.frame_columns`). `context`: the
        rows' stream context if the caller already made it (the realtime verdict): at-rest rows are read
        from it instead of made again.
        """
        if TIME not in frame_rows:
            raise ValueError(f"ingest({user_id}): frame has no '{TIME}' column")
        n_rows = len(frame_rows[TIME])
        if USER in frame_rows:
            others = {str(u) for u in set(np.asarray(frame_rows[USER], dtype=object).tolist())} - {user_id}
            if others:
                raise ValueError(f"ingest({user_id}): frame rows belong to other users too: {sorted(others)[:3]}")
        # only the columns ingest reads, as arrays, in time order
        rows = {c: np.asarray(frame_rows[c]) for c in self._ingest_columns if c in frame_rows}
        ts = rows[TIME].astype("datetime64[ns]")
        mask = None if is_normal is None else np.asarray(is_normal)
        if n_rows > 1 and (ts[1:] < ts[:-1]).any():
            order = np.argsort(ts, kind="stable")
            rows = {c: v[order] for c, v in rows.items()}
            context = None  # made for the rows' given order
            ts = ts[order]
            if mask is not None and mask.shape == (n_rows,):
                mask = mask[order]
        values = usable_values(rows, self.config, self.bcfg, self.keys, mask, context)
        events: dict[BaselineKey, list] = {}
        closed: list[str] = []
        st = self.storage
        with st._lock:  # held until the committed state is remembered (no other thread in between)
            with sqlite_store.transaction(st._conn, st._lock) as conn:
                user, stored, version = st._snapshot(user_id, in_transaction=True)
                states = {(k.metric, k.period): stored.get((k.metric, k.period)) or MetricState() for k in self.keys}
                start = 0 if user.last_ts is None else int(np.searchsorted(ts, user.last_ts, side="right"))
                day = ts[start:].astype("datetime64[D]").astype(np.int64)
                bounds = day_bounds(day)
                # states to store: those a value reached, all of them when a day closed, and any not stored yet
                changed = {k for k in self.keys if (k.metric, k.period) not in stored}
                for a, b in zip(bounds[:-1], bounds[1:]):
                    d = int(day[a])
                    if user.open_day is not None and d > user.open_day:
                        closed.append(day_iso(user.open_day))
                        self._close_open_day(user, states, events)
                        changed.update(self.keys)
                    user.open_day = d
                    for key in self.keys:
                        seg = values[key][start + a:start + b]
                        seg = seg[~np.isnan(seg)]
                        if states[key.metric, key.period].add_today(seg, self.bcfg.guard, self._min_std(key.metric)):
                            user.open_has_data = True
                            changed.add(key)
                if start < len(ts):
                    user.last_ts = ts[-1]
                self._update_profile(user, rows)
                st._write_user(conn, user)
                st._write_states(conn, user_id, [(k.metric, k.period, states[k.metric, k.period])
                                                 for k in self.keys if k in changed])
                for key in self.keys:
                    for d, ev, snap in events.get(key, []):
                        st._write_history(conn, user_id, key.metric, key.period, snap, ev, d)
                committed = (user, {**stored, **states})
            # Committed (an exception above rolls back and skips this): no other connection could
            # commit while this one held the write lock, so the version read inside still holds.
            st._remember(user_id, version, *committed)
        return IngestReport(rows=n_rows, skipped_rows=start, closed_days=closed,
                            events={k.name: [(day_iso(d), e) for d, e, _ in v] for k, v in events.items()})

    def _update_profile(self, user: UserRow, rows: Mapping[str, np.ndarray]) -> None:
        """Fill unknown profile entries from the rows' static columns (last row wins)."""
        for name, spec in self.config.static.items():
            col = static_column(name)
            if col in rows and len(rows[col]):
                label = spec.label(int(rows[col][-1]))
                if label != spec.default and user.profile.get(name) in (None, spec.default):
                    user.profile[name] = label

    def _state_as_of(self, user_id: str, as_of: Any = None) -> tuple[UserRow, dict]:
        with self.storage._lock:
            user, stored, _ = self.storage._snapshot(user_id, copy=False)  # read only, unless the day closes below
        states = {(k.metric, k.period): stored.get((k.metric, k.period)) or MetricState() for k in self.keys}
        if as_of is not None and user.open_day is not None:
            day = int(np.datetime64(pd.Timestamp(as_of).to_datetime64(), "D").astype(np.int64))
            if day > user.open_day:  # the open day is over by then: close it in memory, not on disk,
                # on copies, so the remembered state is not touched
                user, states = user.copy(), {k: st.copy() for k, st in states.items()}
                self._close_open_day(user, states, {})
        return user, states

    def _labels(self, user: UserRow, static: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        src = user.profile if static is None else static
        return (static_label(self.config, "age_group", src.get("age_group"), "static"),
                static_label(self.config, "sex", src.get("sex"), "static"))

    def baseline_for(self, user_id: str, static: Mapping[str, Any] | None = None,
                     as_of: Any = None) -> dict[str, BlendedBaseline]:
        """Blended baseline per key name (`hr_resting`, `hr_resting_night`, ...).

        `static`: labels or codes ({"age_group": "40-49", "sex": 0}); None -> stored profile.
        `as_of`: a timestamp; baselines for that day (default: the open day).
        """
        user, states = self._state_as_of(user_id, as_of)
        return self._blended(user, states, static)

    def _blended(self, user: UserRow, states: dict, static: Mapping[str, Any] | None) -> dict[str, BlendedBaseline]:
        age, sex = self._labels(user, static)
        return {k.name: blended(states[k.metric, k.period], self._group_stats(k, age, sex),
                                self.bcfg, self._min_std(k.metric)) for k in self.keys}

    def _group_stats(self, key: BaselineKey, age: str | None, sex: str | None) -> MeanStd:
        """`bcfg.group_stats`, memoised: it depends on the (fixed) baseline config only."""
        cache_key = (key.metric, key.period, age, sex)
        stats = self._group_cache.get(cache_key)
        if stats is None:
            stats = self._group_cache[cache_key] = self.bcfg.group_stats(key.metric, key.period, age, sex)
        return stats

    def days_of_history(self, user_id: str, as_of: Any = None) -> int:
        """Days with usable data before the open day (or before `as_of`'s day)."""
        return self._state_as_of(user_id, as_of)[0].days

    def summary(self, user_id: str, static: Mapping[str, Any] | None = None, as_of: Any = None) -> dict[str, Any]:
        """The result's `baseline` block (architecture section 5)."""
        user, states = self._state_as_of(user_id, as_of)
        alpha = float(self.bcfg.alpha(user.days))
        metrics = {name: {"mean": b.mean, "std": b.std, "personal_mean": b.personal_mean,
                          "personal_std": b.personal_std, "group_mean": b.group_mean, "group_std": b.group_std,
                          "suspect_days": b.suspect_days, "suspect_z": b.suspect_z, "source": b.source}
                   for name, b in self._blended(user, states, static).items()}
        return {"source": source_of(alpha), "alpha": alpha, "days_of_history": user.days, "metrics": metrics}

    def baseline_columns(self, user_id: str, frame_rows: pd.DataFrame,
                         static: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """`frame_rows` with the bl_ columns of `causal_baseline_columns`, from the stored state.

        Each row gets the baseline of its day (no look-ahead). Rows on a day before the open
        day get the current state (the store keeps no rewind). `static` None -> the rows'
        static columns if present, else the stored profile.
        """
        names = [n for n in ("age_group", "sex") if n in self.config.static]
        if static is None and len(frame_rows) and all(static_column(n) in frame_rows.columns for n in names):
            static = {n: int(frame_rows[static_column(n)].iloc[0]) for n in names}
        days = frame_rows[TIME].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        cols = {f"bl_{k.name}_{s}": np.full(len(days), np.nan) for k in self.keys
                for s in ("mean", "std", "suspect_days", "suspect_z")}
        cols["bl_alpha"], cols["bl_days"] = np.full(len(days), np.nan), np.full(len(days), np.nan)
        for d in np.unique(days):
            rows = days == d
            user, states = self._state_as_of(user_id, as_of=d)
            for name, b in self._blended(user, states, static).items():
                cols[f"bl_{name}_mean"][rows], cols[f"bl_{name}_std"][rows] = b.mean, b.std
                cols[f"bl_{name}_suspect_days"][rows], cols[f"bl_{name}_suspect_z"][rows] = b.suspect_days, b.suspect_z
            cols["bl_alpha"][rows], cols["bl_days"][rows] = self.bcfg.alpha(user.days), user.days
        return frame_rows.assign(**cols)
