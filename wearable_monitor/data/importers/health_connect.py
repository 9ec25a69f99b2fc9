"""Google Health Connect export (Android: Settings > Health Connect > Export): ``Health Connect.zip``
holding ``health_connect_export.db``, a SQLite database (or that .db file itself).

The database is opened read-only (``file:...?mode=ro`` URI) from a temporary copy when it sits in
a zip. There is no official format document and the schema changes between versions: before
reading, the tables and columns below are checked; a database lacking them is refused with an
error naming what was expected and the ``PRAGMA user_version`` found. Tables that are absent
(a person without SpO2 data) are simply empty; a table present with other columns is an error.

Read (times are epoch milliseconds; each row carries its zone offset in seconds, so the local
wall-clock time is ``time + offset``):

- ``heart_rate_record_table`` + ``heart_rate_record_series_table`` (beats_per_minute, epoch_millis,
  parent_key) -> ``hr``; ``resting_heart_rate_record_table`` -> ``hr_resting``;
  ``heart_rate_variability_rmssd_record_table`` -> ``hrv_rmssd``; ``oxygen_saturation_record_table``
  (percentage) -> ``spo2``; ``respiratory_rate_record_table`` -> ``resp_rate``.
- ``steps_record_table`` (count over start..end) -> ``steps``, per writing app
  (``app_info_id``), one app per bin (the larger sum).
- ``sleep_session_record_table`` + ``sleep_stages_table`` (stage_type: 1 awake, 2 sleeping,
  3 out of bed, 4 light, 5 deep, 6 REM, 7 awake in bed) -> ``sleep_state`` / ``sleep_minutes``.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..validation import InputFileError
from .base import Binner, Context, Input, assemble, bad_zip

DB_NAME = "health_connect_export.db"
SQLITE_MAGIC = b"SQLite format 3\x00"
# table -> columns that must exist (when the table exists)
EXPECTED = {
    "heart_rate_record_table": ("row_id", "app_info_id"),
    "heart_rate_record_series_table": ("parent_key", "beats_per_minute", "epoch_millis"),
    "resting_heart_rate_record_table": ("time", "zone_offset", "beats_per_minute"),
    "heart_rate_variability_rmssd_record_table": ("time", "zone_offset", "heart_rate_variability_millis"),
    "oxygen_saturation_record_table": ("time", "zone_offset", "percentage"),
    "respiratory_rate_record_table": ("time", "zone_offset", "rate"),
    "steps_record_table": ("start_time", "start_zone_offset", "end_time", "end_zone_offset", "count", "app_info_id"),
    "sleep_session_record_table": ("row_id", "start_zone_offset", "app_info_id"),
    "sleep_stages_table": ("parent_key", "stage_start_time", "stage_end_time", "stage_type"),
}
REQUIRED_ANY = ("heart_rate_record_series_table",)  # without heart rate no record can be made
STAGE = {1: "awake", 2: "asleep", 3: "awake", 4: "light", 5: "deep", 6: "rem", 7: "awake"}
INSTANT = {  # table -> (value column, feature, valid range)
    "resting_heart_rate_record_table": ("beats_per_minute", "hr_resting", (25, 200)),
    "heart_rate_variability_rmssd_record_table": ("heart_rate_variability_millis", "hrv_rmssd", (1, 300)),
    "oxygen_saturation_record_table": ("percentage", "spo2", (50, 100)),
    "respiratory_rate_record_table": ("rate", "resp_rate", (4, 60)),
}


def _expected_text() -> str:
    return "; ".join(f"{t} ({', '.join(c)})" for t, c in EXPECTED.items())


class HealthConnect:
    name = "health_connect"
    label = "Google Health Connect export (Health Connect.zip / health_connect_export.db)"

    def detect(self, src: Input) -> bool:
        if src.looks_zip:
            return any(n.rsplit("/", 1)[-1] == DB_NAME for n in src.zip_names)
        if not src.head.startswith(SQLITE_MAGIC):
            return False
        if src.lower == DB_NAME:
            return True
        with src.path.open("rb") as f:  # the schema (sqlite_master) is at the start of the file
            return src.lower.endswith((".db", ".sqlite")) and b"heart_rate_record" in f.read(1 << 20)

    def read(self, src: Input, ctx: Context) -> Iterator[dict]:
        with tempfile.TemporaryDirectory(prefix="hc_") as tmp:
            if src.looks_zip:
                member = next(n for n in src.zip_names if n.rsplit("/", 1)[-1] == DB_NAME)
                db = Path(tmp) / DB_NAME
                try:
                    with zipfile.ZipFile(src.path) as zf, zf.open(member) as f, db.open("wb") as out:
                        shutil.copyfileobj(f, out, 1 << 20)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise bad_zip(src.path, exc) from None
                where = f"{src.path}!{member}"
            else:
                db, where = src.path, str(src.path)
            binner = self._read_db(db, where, ctx)
        ctx.step(1.0, "binning")
        yield from assemble(binner.features(), ctx.report, ctx.device_id or "health-connect", quality=True)

    def _read_db(self, db: Path, where: str, ctx: Context) -> Binner:
        rep = ctx.report
        conn, version, tables = _open(db, where)
        try:
            _check_schema(conn, tables, version, where)
            rep.notes.append(f"Health Connect database user_version {version}")
            binner = Binner()
            apps = {}
            if "application_info_table" in tables:
                apps = dict(conn.execute("SELECT row_id, COALESCE(app_name, package_name) FROM application_info_table"))
            _read_heart_rate(conn, binner, ctx)
            _read_instant(conn, tables, binner, ctx)
            if "steps_record_table" in tables:
                _read_steps(conn, apps, binner, rep)
            if "sleep_stages_table" in tables and "sleep_session_record_table" in tables:
                _read_sleep(conn, apps, binner, rep)
            _skip_unread_tables(conn, tables, rep)
            return binner
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{where}: the database could not be read ({exc})") from None
        finally:
            conn.close()


def _open(db: Path, where: str) -> tuple[sqlite3.Connection, int, set[str]]:
    """Read-only connection, PRAGMA user_version and table names; a non-database is an input error."""
    try:
        conn = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise InputFileError(f"{where}: not a readable SQLite database ({exc})") from None
    return conn, version, tables


def _check_schema(conn: sqlite3.Connection, tables: set[str], version: int, where: str) -> None:
    """Refuse an unknown schema up front, naming every problem at once, rather than failing on the
    first query that meets a renamed column."""
    problems = []
    for t, cols in EXPECTED.items():
        if t in tables:
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({t})")}
            missing = [c for c in cols if c not in have]
            if missing:
                problems.append(f"{t} lacks {', '.join(missing)}")
    if not any(t in tables for t in REQUIRED_ANY):
        problems.append(f"no {' / '.join(REQUIRED_ANY)} table")
    if problems:
        raise InputFileError(f"{where}: unknown Health Connect schema (user_version {version}): "
                             f"{'; '.join(problems)}. Expected tables: {_expected_text()}")


def _read_heart_rate(conn: sqlite3.Connection, binner: Binner, ctx: Context) -> None:
    rep = ctx.report
    # the series rows carry no zone offset: the parent row's gives local time (older versions lack it)
    off = "r.start_zone_offset" if "start_zone_offset" in {c[1] for c in conn.execute(
        "PRAGMA table_info(heart_rate_record_table)")} else "0"
    ctx.step(0.1, "heart rate")
    for bpm, ms, offset in conn.execute(
            f"SELECT s.beats_per_minute, s.epoch_millis, COALESCE({off}, 0) FROM heart_rate_record_series_table s "
            "LEFT JOIN heart_rate_record_table r ON r.row_id = s.parent_key"):
        rep.read += 1
        if bpm is None or ms is None or not 25 <= bpm <= 230:
            rep.skip("heart rate: missing or outside 25-230 bpm")
            continue
        binner.rate("hr", ms // 1000 + int(offset), float(bpm))
        rep.used["heart rate samples"] += 1


def _read_instant(conn: sqlite3.Connection, tables: set[str], binner: Binner, ctx: Context) -> None:
    """The single-value tables of INSTANT (resting heart rate, HRV, SpO2, respiratory rate)."""
    rep = ctx.report
    for i, (table, (col, feature, (lo, hi))) in enumerate(INSTANT.items()):
        ctx.step(0.4 + 0.1 * i, feature)
        if table not in tables:
            continue
        for value, ms, offset in conn.execute(f"SELECT {col}, time, COALESCE(zone_offset, 0) FROM {table}"):
            rep.read += 1
            if value is None or ms is None or not lo <= value <= hi:
                rep.skip(f"{table}: missing or outside {lo}-{hi}")
                continue
            binner.rate(feature, ms // 1000 + int(offset), float(value))
            rep.used[feature] += 1


def _read_steps(conn: sqlite3.Connection, apps: dict, binner: Binner, rep) -> None:
    for cnt, s, e, so, eo, app in conn.execute(
            "SELECT count, start_time, end_time, COALESCE(start_zone_offset, 0), "
            "COALESCE(end_zone_offset, 0), app_info_id FROM steps_record_table"):
        rep.read += 1
        if cnt is None or s is None or e is None or cnt < 0 or e < s:
            rep.skip("steps: missing, negative or end before start")
            continue
        # the source app is kept so the binner can take one app per bin instead of double counting
        binner.count("steps", s // 1000 + int(so), e // 1000 + int(so), float(cnt), str(apps.get(app, app)))
        rep.used["steps"] += 1


def _read_sleep(conn: sqlite3.Connection, apps: dict, binner: Binner, rep) -> None:
    for s, e, stage, offset, app in conn.execute(
            "SELECT st.stage_start_time, st.stage_end_time, st.stage_type, "
            "COALESCE(ss.start_zone_offset, 0), ss.app_info_id FROM sleep_stages_table st "
            "JOIN sleep_session_record_table ss ON ss.row_id = st.parent_key"):
        rep.read += 1
        name = STAGE.get(stage)
        if name is None or s is None or e is None or e < s:
            rep.skip(f"sleep stage: type {stage} unknown or bad times")
            continue
        binner.sleep(s // 1000 + int(offset), e // 1000 + int(offset), name, str(apps.get(app, app)))
        rep.used[f"sleep {name}"] += 1


def _skip_unread_tables(conn: sqlite3.Connection, tables: set[str], rep) -> None:
    """Count the rows of tables this importer does not read, so the report shows what was left out."""
    for t in sorted(tables - set(EXPECTED) - {"application_info_table", "sqlite_sequence",
                                              "android_metadata"}):
        n = conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        if n:
            rep.skip(f"table not read: {t}", n)
