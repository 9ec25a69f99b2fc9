"""SQLite store for rule findings, feedback, rule statistics and sensitivity (stdlib sqlite3).

One file (beside the baselines' database, or ":memory:"). WAL journal so the app can read
while the scheduled job writes; every multi-statement change runs in one transaction.

Episodes: a finding whose period touches a stored episode of the same user, rule and
metric updates that episode (no duplicates, however often the job re-runs). A new
episode starting within `cooldown_days` after the previous one ended is stored with
status 'cooldown' and not notified.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import sqlite_store
from ..metrics import precision_recall_f1
from .config import DAILY_NUMERIC, SEVERITIES
from .finding import Finding, evidence_json
from .logs import normalise_frame

SCHEMA = """
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL, rule TEXT NOT NULL, metric TEXT NOT NULL,
    episode_start TEXT NOT NULL, episode_end TEXT NOT NULL,
    severity TEXT, value REAL, evidence TEXT NOT NULL, label_kinds TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('notified', 'cooldown')),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, n_updates INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, rule, metric, episode_start));
CREATE INDEX IF NOT EXISTS findings_key ON findings (user_id, rule, metric, episode_end);
CREATE TABLE IF NOT EXISTS data_problems (
    user_id TEXT NOT NULL, date TEXT NOT NULL, metric TEXT NOT NULL, value REAL, evidence TEXT NOT NULL,
    PRIMARY KEY (user_id, date, metric));
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'false_alarm')),
    source TEXT NOT NULL CHECK (source IN ('user', 'clinician', 'simulator')),
    note TEXT, created_at TEXT NOT NULL,
    UNIQUE (finding_id, source));
CREATE TABLE IF NOT EXISTS missed_events (
    id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, rule TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
    source TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL,
    UNIQUE (user_id, rule, start, source));
CREATE TABLE IF NOT EXISTS rule_stats (
    rule TEXT PRIMARY KEY, tp INTEGER NOT NULL, fp INTEGER NOT NULL, fn INTEGER NOT NULL,
    precision REAL, recall REAL, f1 REAL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_sensitivity (
    rule TEXT PRIMARY KEY, sensitivity REAL NOT NULL, n_labelled INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS adjustments (
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, precision REAL NOT NULL, n_labelled INTEGER NOT NULL,
    old_sensitivity REAL NOT NULL, new_sensitivity REAL NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS daily_logs (
    user_id TEXT NOT NULL, date TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (user_id, date));
"""

# when sources disagree about one finding, the more authoritative verdict counts
SOURCE_RANK = {"user": 0, "simulator": 1, "clinician": 2}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _day(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).date().isoformat()


class FindingStore:
    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        self.conn = sqlite_store.connect(self.path, busy_timeout_s=5.0)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.executescript(SCHEMA)

    def transaction(self):
        return sqlite_store.transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ findings

    def upsert_episode(self, f: Finding, cooldown_days: int) -> tuple[int, str]:
        """Store a finding episode; returns (row id, action) with action one of
        new / escalated / updated / unchanged / cooldown. `cooldown_days` < 0: never held back
        (a reading in a dangerous range), even when it extends an episode stored in cooldown."""
        start, end = _day(f.start), _day(f.end)
        touch_lo = _day(f.start - pd.Timedelta(days=1))
        touch_hi = _day(f.end + pd.Timedelta(days=1))
        evidence, kinds = json.dumps(evidence_json(f.evidence)), json.dumps(f.label_kinds)
        value = None if f.value is None or not np.isfinite(f.value) else float(f.value)
        with self.transaction() as c:
            row = c.execute(
                "SELECT * FROM findings WHERE user_id=? AND rule=? AND metric=? AND episode_start<=? AND episode_end>=? "
                "ORDER BY episode_start LIMIT 1", (f.user_id, f.rule, f.metric, touch_hi, touch_lo)).fetchone()
            if row is not None:
                new_start, new_end = min(row["episode_start"], start), max(row["episode_end"], end)
                old_rank = SEVERITIES.index(row["severity"]) if row["severity"] else -1
                escalated = f.severity_rank > old_rank
                if cooldown_days < 0 and row["status"] == "cooldown":  # a dangerous reading: tell it now
                    c.execute("UPDATE findings SET status='notified', severity=?, value=?, evidence=?, episode_start=?, "
                              "episode_end=?, updated_at=?, n_updates=n_updates+1 WHERE id=?",
                              (f.severity if escalated else row["severity"], value, evidence,
                               min(row["episode_start"], start), max(row["episode_end"], end), _now(), row["id"]))
                    return row["id"], "escalated"
                if (new_start, new_end) == (row["episode_start"], row["episode_end"]) and not escalated:
                    return row["id"], "unchanged"
                sev = f.severity if escalated else row["severity"]
                c.execute("UPDATE findings SET episode_start=?, episode_end=?, severity=?, value=?, evidence=?, "
                          "updated_at=?, n_updates=n_updates+1 WHERE id=?",
                          (new_start, new_end, sev, value if escalated else row["value"],
                           evidence if escalated else row["evidence"], _now(), row["id"]))
                return row["id"], "escalated" if escalated and row["status"] == "notified" else "updated"
            prev = c.execute(
                "SELECT episode_end FROM findings WHERE user_id=? AND rule=? AND metric=? AND episode_end<? "
                "AND status='notified' ORDER BY episode_end DESC LIMIT 1", (f.user_id, f.rule, f.metric, start)
            ).fetchone()
            cooled = prev is not None and (f.start - pd.Timestamp(prev["episode_end"])).days <= cooldown_days
            status = "cooldown" if cooled else "notified"
            cur = c.execute(
                "INSERT INTO findings (user_id, rule, metric, episode_start, episode_end, severity, value, evidence, "
                "label_kinds, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.user_id, f.rule, f.metric, start, end, f.severity, value, evidence, kinds, status, _now(), _now()))
            return cur.lastrowid, "cooldown" if cooled else "new"

    def findings(self, user_id: str | None = None, rule: str | None = None) -> pd.DataFrame:
        q, args = "SELECT * FROM findings WHERE 1=1", []
        if user_id:
            q, args = q + " AND user_id=?", args + [user_id]
        if rule:
            q, args = q + " AND rule=?", args + [rule]
        return pd.read_sql_query(q + " ORDER BY user_id, episode_start, rule", self.conn, params=args)

    def add_data_problem(self, f: Finding) -> None:
        value = None if f.value is None or not np.isfinite(f.value) else float(f.value)
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO data_problems VALUES (?,?,?,?,?)",
                      (f.user_id, _day(f.start), f.metric, value, json.dumps(evidence_json(f.evidence))))

    def data_problems(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM data_problems ORDER BY user_id, date", self.conn)

    # ------------------------------------------------------------ feedback and statistics

    def add_feedback(self, finding_id: int, verdict: str, source: str = "user", note: str | None = None) -> None:
        """A user / clinician confirms a finding or marks it a false alarm; rule statistics update at once."""
        with self.transaction() as c:
            row = c.execute("SELECT rule FROM findings WHERE id=?", (finding_id,)).fetchone()
            if row is None:
                raise KeyError(f"no finding with id {finding_id}")
            c.execute("INSERT INTO feedback (finding_id, verdict, source, note, created_at) VALUES (?,?,?,?,?) "
                      "ON CONFLICT (finding_id, source) DO UPDATE SET verdict=excluded.verdict, note=excluded.note, "
                      "created_at=excluded.created_at", (finding_id, verdict, source, note, _now()))
            self._refresh_stats(c, row["rule"])

    def add_missed_event(self, user_id: str, rule: str, start, end, source: str = "user",
                         note: str | None = None) -> None:
        """An anomaly the rule should have found but did not (a false negative, for recall)."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO missed_events (user_id, rule, start, end, source, note, created_at) "
                      "VALUES (?,?,?,?,?,?,?)", (user_id, rule, _day(start), _day(end), source, note, _now()))
            self._refresh_stats(c, rule)

    def _refresh_stats(self, c: sqlite3.Connection, rule: str) -> None:
        verdicts = c.execute(
            "SELECT fb.finding_id, fb.verdict, fb.source FROM feedback fb JOIN findings f ON f.id = fb.finding_id "
            "WHERE f.rule=?", (rule,)).fetchall()
        best: dict[int, tuple[int, str]] = {}
        for r in verdicts:  # the most authoritative source decides each finding
            rank = SOURCE_RANK[r["source"]]
            if r["finding_id"] not in best or rank > best[r["finding_id"]][0]:
                best[r["finding_id"]] = (rank, r["verdict"])
        tp = sum(v == "confirmed" for _, v in best.values())
        fp = sum(v == "false_alarm" for _, v in best.values())
        fn = c.execute("SELECT COUNT(*) FROM missed_events WHERE rule=?", (rule,)).fetchone()[0]
        p, r, f1 = precision_recall_f1(tp, fp, fn)
        c.execute("INSERT OR REPLACE INTO rule_stats VALUES (?,?,?,?,?,?,?,?)",
                  (rule, tp, fp, fn, p if tp + fp else None, r if tp + fn else None, f1 if tp else None, _now()))

    def rule_stats(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM rule_stats ORDER BY rule", self.conn)

    # ------------------------------------------------------------ sensitivity (dynamic adjustment)

    def sensitivities(self) -> dict[str, float]:
        return {r["rule"]: r["sensitivity"] for r in self.conn.execute("SELECT rule, sensitivity FROM rule_sensitivity")}

    def sensitivity_row(self, rule: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM rule_sensitivity WHERE rule=?", (rule,)).fetchone()

    def set_sensitivity(self, rule: str, new: float, precision: float, n_labelled: int, reason: str) -> None:
        with self.transaction() as c:
            old = c.execute("SELECT sensitivity FROM rule_sensitivity WHERE rule=?", (rule,)).fetchone()
            c.execute("INSERT OR REPLACE INTO rule_sensitivity VALUES (?,?,?,?)", (rule, new, n_labelled, _now()))
            c.execute("INSERT INTO adjustments (rule, precision, n_labelled, old_sensitivity, new_sensitivity, reason, "
                      "created_at) VALUES (?,?,?,?,?,?,?)",
                      (rule, precision, n_labelled, old[0] if old else 1.0, new, reason, _now()))

    def adjustments(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM adjustments ORDER BY id", self.conn)

    # ------------------------------------------------------------ daily logs (history for on_data_entry)

    def save_daily(self, frame: pd.DataFrame) -> None:
        rows = []
        for rec in frame.to_dict("records"):
            payload = {k: (None if isinstance(v, float) and np.isnan(v) else v)
                       for k, v in rec.items() if k not in ("user_id", "date")}
            rows.append((rec["user_id"], _day(rec["date"]), json.dumps(payload)))
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO daily_logs VALUES (?,?,?)", rows)

    def load_daily(self) -> pd.DataFrame:
        rows = self.conn.execute("SELECT user_id, date, payload FROM daily_logs").fetchall()
        frame = pd.DataFrame([{"user_id": r["user_id"], "date": r["date"], **json.loads(r["payload"])} for r in rows],
                             columns=["user_id", "date", *DAILY_NUMERIC, "bedtime"])
        return normalise_frame(frame)
