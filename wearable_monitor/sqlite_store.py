"""The SQLite conventions both stores share (baselines.BaselineStorage, rules.store.FindingStore).

- WAL journal: readers never block the writer, and a crash mid-write leaves the last commit intact.
- A busy timeout: a second process writing the same file waits for the lock instead of failing.
- Explicit `BEGIN IMMEDIATE` transactions: the write lock is taken before the block reads, so two
  writers cannot both read a row, update it and lose one update; the block commits whole or not at all.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator


def connect(path: str | Path, busy_timeout_s: float = 30.0, shared_across_threads: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit, see `transaction`)."""
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                           check_same_thread=not shared_across_threads)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")    # a no-op for ":memory:"
    conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across application crashes
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, lock: threading.RLock | None = None) -> Iterator[sqlite3.Connection]:
    """Exclusive-write transaction; `lock` also serialises threads sharing the connection."""
    with lock if lock is not None else nullcontext():
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

