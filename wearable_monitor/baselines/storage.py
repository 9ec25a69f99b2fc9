"""BaselineStorage: the per-user baseline states in SQLite (WAL, one IMMEDIATE transaction per update)."""
from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import sqlite_store
from ..config import ConfigError
from .config import ALL, BaselineConfig, default_baseline_config
from .state import STATE_FIELDS, MetricState, merge_capped, moments_of, state_values


SCHEMA_VERSION = 1


# one state row (user, metric, period, the state's fields, updated_at); written per ingest, so made once
_WRITE_STATE = (f"INSERT OR REPLACE INTO stats (user_id, metric, period, {', '.join(STATE_FIELDS)}, updated_at) "
                f"VALUES (?, ?, ?, {', '.join('?' * len(STATE_FIELDS))}, ?)")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def day_iso(day: int | None) -> str | None:
    return None if day is None else str(np.datetime64(int(day), "D"))


def _day_int(iso: str | None) -> int | None:
    return None if iso is None else int(np.datetime64(iso, "D").astype(np.int64))


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, profile TEXT NOT NULL DEFAULT '{{}}',
    days INTEGER NOT NULL DEFAULT 0, open_day TEXT, open_has_data INTEGER NOT NULL DEFAULT 0,
    last_ts TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stats (
    user_id TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,
    {", ".join(f"{n} REAL NOT NULL" for n in STATE_FIELDS)},
    updated_at TEXT NOT NULL, PRIMARY KEY (user_id, metric, period));
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, metric TEXT NOT NULL,
    period TEXT NOT NULL, event TEXT NOT NULL, day TEXT, updated_at TEXT NOT NULL,
    count REAL NOT NULL, mean REAL, std REAL, day_mean REAL, frozen_days INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS history_key ON history (user_id, metric, period, id);
"""


@dataclass
class UserRow:
    user_id: str
    profile: dict[str, Any] = field(default_factory=dict)
    days: int = 0
    open_day: int | None = None
    open_has_data: bool = False
    last_ts: np.datetime64 | None = None

    def copy(self) -> "UserRow":
        return UserRow(self.user_id, dict(self.profile), self.days, self.open_day, self.open_has_data, self.last_ts)


class BaselineStorage:
    """Durable per-user baseline state in one SQLite file (":memory:" for tests).

    Every read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent writers
    (threads with their own storage object, or processes) serialise instead of losing updates;
    WAL + synchronous=NORMAL survives a killed process (not guaranteed against power loss).
    One object may be shared by threads: its connection is guarded by a lock.

    The realtime path reads a user's row and states twice per window (baseline lookup, then
    ingest) and writes them once. The last state of up to `max_cached_users` users is kept in
    memory next to SQLite's `PRAGMA data_version`, which changes when another connection (thread
    or process) commits: while it has not changed, the remembered state is what the file holds
    (this connection's own writes go through `transaction`, which forgets, or through ingest,
    which remembers what it wrote once it has committed). SQLite stays the only source of truth.
    """

    def __init__(self, path: str | Path = ":memory:", baseline_config: BaselineConfig | None = None,
                 busy_timeout_s: float = 30.0, max_cached_users: int = 10_000):
        self.path = str(path)
        self.config = baseline_config or default_baseline_config()
        self._lock = threading.RLock()
        self._snapshots: OrderedDict[str, tuple[int, UserRow, dict]] = OrderedDict()  # user -> (data_version, ...)
        self.max_cached_users = max_cached_users
        self._conn = sqlite_store.connect(self.path, busy_timeout_s, shared_across_threads=True)
        with self.transaction() as conn:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ConfigError(f"{self.path}: baseline database schema {row[0]}, expected {SCHEMA_VERSION}")

    # -- plumbing
    @contextmanager
    def transaction(self) -> Iterator:
        """Exclusive-write transaction: the whole block commits or nothing does."""
        with self._lock:
            self._snapshots.clear()  # the block may write any user's state: forget what was remembered
            with sqlite_store.transaction(self._conn, self._lock) as conn:
                yield conn

    def _data_version(self) -> int:
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def _snapshot(self, user_id: str, in_transaction: bool = False, copy: bool = True) -> tuple[UserRow, dict, int]:
        """(user row, stored states, data_version) as fresh objects the caller may change (with
        `copy=False`: the remembered objects themselves, for a caller that only reads them).

        Call with the lock held. From memory while no other connection has committed since it
        was read; otherwise read in one transaction (the caller's, or a read transaction here).
        The version is read before the rows, so a commit in between only makes the next call
        read again.
        """
        version = self._data_version()
        hit = self._snapshots.get(user_id)
        if hit is not None and hit[0] == version:
            self._snapshots.move_to_end(user_id)
            user, states = hit[1], hit[2]
        else:
            conn = self._conn
            if not in_transaction:
                conn.execute("BEGIN")  # one consistent snapshot of user row and stats
            try:
                user, states = self._read_user(conn, user_id), self._read_states(conn, user_id)
            finally:
                if not in_transaction:
                    conn.execute("COMMIT")
            self._remember(user_id, version, user, states)
        if not copy:
            return user, dict(states), version
        return user.copy(), {k: st.copy() for k, st in states.items()}, version

    def _remember(self, user_id: str, version: int, user: UserRow, states: dict) -> None:
        """Keep a user's committed state (call with the lock held, after the commit)."""
        self._snapshots[user_id] = (version, user, states)
        self._snapshots.move_to_end(user_id)
        while len(self._snapshots) > self.max_cached_users:
            self._snapshots.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "BaselineStorage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _min_std(self, metric: str) -> float:
        return float(self.config.min_std.get(metric, 0.0))

    @staticmethod
    def _ensure_user(conn, user_id: str) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        conn.execute("INSERT INTO users (user_id, updated_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
                     (user_id, _now()))

    @staticmethod
    def _read_state(conn, user_id: str, metric: str, period: str) -> MetricState | None:
        row = conn.execute(f"SELECT {', '.join(STATE_FIELDS)} FROM stats WHERE user_id=? AND metric=? AND period=?",
                           (user_id, metric, period)).fetchone()
        if row is None:
            return None
        st = MetricState(*row)
        st.days, st.frozen_days, st.p_days = int(st.days), int(st.frozen_days), int(st.p_days)
        return st

    @staticmethod
    def _write_state(conn, user_id: str, metric: str, period: str, st: MetricState,
                     event: str | None = None, day: int | None = None) -> None:
        """Store the state; with an event also append a history snapshot of it."""
        conn.execute(_WRITE_STATE,
                     (user_id, metric, period, *[getattr(st, n) for n in STATE_FIELDS], _now()))
        if event:
            BaselineStorage._write_history(conn, user_id, metric, period, st, event, day)

    @staticmethod
    def _write_states(conn, user_id: str, states: list[tuple[str, str, MetricState]]) -> None:
        """Store several states in one statement (no history snapshot)."""
        now = _now()
        conn.executemany(_WRITE_STATE,
                         [(user_id, metric, period, *state_values(st), now) for metric, period, st in states])

    @staticmethod
    def _write_history(conn, user_id: str, metric: str, period: str, st: MetricState, event: str,
                       day: int | None) -> None:
        std = st.std
        conn.execute("INSERT INTO history (user_id, metric, period, event, day, updated_at, count, mean, std, "
                     "day_mean, frozen_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (user_id, metric, period, event, day_iso(day), _now(), st.count,
                      st.mean if st.count else None, None if math.isnan(std) else std,
                      st.day_mean if st.day_count else None, st.frozen_days))

    def _read_user(self, conn, user_id: str) -> UserRow:
        row = conn.execute("SELECT profile, days, open_day, open_has_data, last_ts FROM users WHERE user_id=?",
                           (user_id,)).fetchone()
        if row is None:
            return UserRow(user_id)
        return UserRow(user_id, json.loads(row[0]), int(row[1]), _day_int(row[2]), bool(row[3]),
                       None if row[4] is None else np.datetime64(row[4], "ns"))

    def _write_user(self, conn, u: UserRow) -> None:
        if not isinstance(u.user_id, str) or not u.user_id:
            raise ValueError(f"user_id must be a non-empty string, got {u.user_id!r}")
        conn.execute("INSERT INTO users (user_id, profile, days, open_day, open_has_data, last_ts, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET profile=excluded.profile, "
                     "days=excluded.days, open_day=excluded.open_day, open_has_data=excluded.open_has_data, "
                     "last_ts=excluded.last_ts, updated_at=excluded.updated_at",
                     (u.user_id, json.dumps(u.profile, sort_keys=True), u.days, day_iso(u.open_day),
                      int(u.open_has_data), None if u.last_ts is None else str(u.last_ts), _now()))

    def _read_states(self, conn, user_id: str) -> dict[tuple[str, str], MetricState]:
        rows = conn.execute(f"SELECT metric, period, {', '.join(STATE_FIELDS)} FROM stats WHERE user_id=?",
                            (user_id,)).fetchall()
        out = {}
        for r in rows:
            st = MetricState(*r[2:])
            st.days, st.frozen_days, st.p_days = int(st.days), int(st.frozen_days), int(st.p_days)
            out[(r[0], r[1])] = st
        return out

    # -- public API
    def get(self, user_id: str, metric: str, period: str = ALL) -> MetricState | None:
        """Stored state of one metric and period, or None for a user/metric never seen."""
        with self._lock:
            return self._read_state(self._conn, user_id, metric, period)

    def set_stats(self, user_id: str, metric: str, mean: float, std: float, count: float,
                  period: str = ALL, days: int | None = None) -> MetricState:
        """Seed a baseline from known summary stats (sample std, ddof=1), replacing any state.

        A seeded baseline is evidence about the person: `days` says how many days of history it
        summarises (None: an established baseline, `blend.full_personal_days`, so it is used at
        full personal weight). The user's days of history are raised to at least `days`, so the
        result's baseline block reports the alpha and source the seeded metric is used with.
        Fewer than `blend.min_personal_count` values cannot make a personal baseline: refused.
        """
        if not (math.isfinite(mean) and math.isfinite(std) and std >= 0 and count >= 1):
            raise ValueError(f"set_stats({user_id}, {metric}): need finite mean, std >= 0, count >= 1")
        if count < self.config.blend.min_personal_count:
            raise ValueError(f"set_stats({user_id}, {metric}): count {count} is below blend.min_personal_count "
                             f"{self.config.blend.min_personal_count}; so few values would never be used as a "
                             "personal baseline (update() them in instead)")
        if days is None:
            days = math.ceil(self.config.blend.full_personal_days)
        st = MetricState(count=float(count), mean=float(mean), m2=float(std) ** 2 * (count - 1), days=int(days))
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            self._write_state(conn, user_id, metric, period, st, event="seed")
            conn.execute("UPDATE users SET days = MAX(days, ?), updated_at = ? WHERE user_id = ?",
                         (int(days), _now(), user_id))
        return st

    def update(self, user_id: str, metric: str, values: Iterable[float] | float, period: str = ALL,
               winsorise: bool = True) -> MetricState:
        """Merge already-vetted values now (Welford / batch merge), atomically; no day guard.

        This is the low-level path (the seed's `update`); frames should go through
        `UserDataManager.ingest`, which applies the quality, anomaly and day-level guards.
        Values are winsorised at mean +- winsor_k*sd once enough data exist. Non-finite values
        raise, they are not dropped.
        """
        x = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if not np.isfinite(x).all():
            raise ValueError(f"update({user_id}, {metric}): value {x[~np.isfinite(x)][0]} is not finite")
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            st = self._read_state(conn, user_id, metric, period) or MetricState()
            if x.size:
                lo, hi = st.winsor_bounds(self.config.guard, self._min_std(metric)) if winsorise else (-np.inf, np.inf)
                st.count, st.mean, st.m2 = merge_capped((st.count, st.mean, st.m2), moments_of(np.clip(x, lo, hi)),
                                                         self.config.forgetting.max_effective_count)
                self._write_state(conn, user_id, metric, period, st, event="update")
        return st

    def history(self, user_id: str, metric: str, period: str = ALL) -> pd.DataFrame:
        """Snapshots after each change (seed / update / day / frozen / shift), oldest first, for charts."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, event, day, updated_at, count, mean, std, day_mean, frozen_days FROM history "
                "WHERE user_id=? AND metric=? AND period=? ORDER BY id", (user_id, metric, period)).fetchall()
        df = pd.DataFrame(rows, columns=["id", "event", "day", "updated_at", "count", "mean", "std", "day_mean",
                                         "frozen_days"])
        df["day"] = pd.to_datetime(df["day"])
        df["updated_at"] = pd.to_datetime(df["updated_at"])
        return df.astype({"count": float, "mean": float, "std": float, "day_mean": float})

    def reset(self, user_id: str) -> None:
        """Forget everything about a user (stats, history, profile)."""
        with self.transaction() as conn:
            for table in ("stats", "history", "users"):
                conn.execute(f"DELETE FROM {table} WHERE user_id=?", (user_id,))

    def list_users(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT user_id FROM users ORDER BY user_id")]

    def get_profile(self, user_id: str) -> dict[str, Any]:
        """Static features of a user as stored (labels, e.g. {"age_group": "40-49"}); {} if unknown."""
        with self._lock:
            row = self._conn.execute("SELECT profile FROM users WHERE user_id=?", (user_id,)).fetchone()
        return {} if row is None else json.loads(row[0])

    def set_profile(self, user_id: str, profile: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            self._ensure_user(conn, user_id)
            conn.execute("UPDATE users SET profile=?, updated_at=? WHERE user_id=?",
                         (json.dumps(dict(profile), sort_keys=True), _now(), user_id))
