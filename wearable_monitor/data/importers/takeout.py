"""Fitbit data from Google Takeout: the whole ``takeout-*.zip`` as downloaded, or an unpacked
``Takeout`` folder, or single files of ``Takeout/Fitbit/Global Export Data/``.

Read:

- ``heart_rate-YYYY-MM-DD.json`` (``[{"dateTime": "05/01/23 07:00:05", "value": {"bpm": 62,
  "confidence": 2}}, ...]``, a sample every 5-15 s) and ``steps-YYYY-MM-DD.json`` (``value`` a
  string, one row a minute): binned exactly as the Stanford Fitbit CSV pair is
  (`wearable_monitor.data.fitbit.fitbit_to_bins`: ``hr``, ``hr_resting`` by the no-steps-for-12-minutes
  rule, ``steps``, ``data_quality``).
- ``sleep-YYYY-MM-DD.json``: ``levels.data`` stages (wake/light/deep/rem; classic logs:
  awake/restless/asleep) -> ``sleep_state`` / ``sleep_minutes``. ``shortData`` (wakes under 3 min
  inside the long stages) is not applied.
- ``Oxygen Saturation (SpO2)/Minute SpO2 - *.csv`` (timestamp, value %) -> ``spo2``.
- ``Heart Rate Variability/Heart Rate Variability Details - *.csv`` (timestamp, rmssd, ...) ->
  ``hrv_rmssd`` (Fitbit measures RMSSD during sleep).

Times: the heart-rate and steps files are read as UTC (as commonly reported for Fitbit's account
export; there is no official format document, so this is an assumption the report states); they are
converted to local time with the account's time zone from ``Profile.csv`` (column ``timezone``)
or the ``--timezone`` option; without either they stay UTC and the report says so. Sleep, SpO2
and HRV times are local already. Other files (calories, distance, weight, daily summaries...) are
listed as skipped.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..fitbit import fitbit_to_bins
from ..validation import InputFileError
from .base import BIN_S, Binner, Context, Input, assemble, bad_zip, utc_to_wall, wall_seconds, zone

HR_FILE = re.compile(r"(^|/)heart_rate-\d{4}-\d{2}-\d{2}\.json$")
STEPS_FILE = re.compile(r"(^|/)steps-\d{4}-\d{2}-\d{2}\.json$")
SLEEP_FILE = re.compile(r"(^|/)sleep-\d{4}-\d{2}-\d{2}\.json$")
SPO2_FILE = re.compile(r"(^|/)Minute SpO2 - .*\.csv$")
HRV_FILE = re.compile(r"(^|/)Heart Rate Variability Details - .*\.csv$")
PROFILE_FILE = re.compile(r"(^|/)Profile\.csv$")
GLOBAL = "Global Export Data/"
STAGES = {"wake": "awake", "awake": "awake", "light": "light", "deep": "deep", "rem": "rem",
          "asleep": "asleep", "restless": "asleep"}


class _Files:
    """Uniform access to the members of a zip, a folder or a single file."""

    def __init__(self, src: Input):
        self.src = src
        self.zf = None
        if src.is_dir:
            self.names = sorted(str(p.relative_to(src.path)).replace("\\", "/") for p in src.path.rglob("*")
                                if p.is_file())
        elif src.looks_zip:
            try:
                self.zf = zipfile.ZipFile(src.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise bad_zip(src.path, exc) from None
            self.names = [n for n in self.zf.namelist() if not n.endswith("/")]
        else:
            self.names = [src.name]

    def read(self, name: str) -> bytes:
        try:
            if self.zf is not None:
                return self.zf.read(name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise bad_zip(self.src.path, exc) from None
        if self.src.is_dir:
            return (self.src.path / name).read_bytes()
        return self.src.path.read_bytes()

    def where(self, name: str) -> str:
        return f"{self.src.path}!{name}" if self.zf is not None or self.src.is_dir else str(self.src.path)

    def close(self):
        if self.zf is not None:
            self.zf.close()


def _json(files: _Files, name: str) -> list:
    raw = files.read(name)
    if not raw.strip():
        raise InputFileError(f"{files.where(name)}: the file is empty")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{files.where(name)}: not valid JSON ({exc})") from None
    if not isinstance(doc, list):
        raise InputFileError(f"{files.where(name)}: expected a JSON list of entries, got {type(doc).__name__}")
    return doc


class FitbitTakeout:
    name = "fitbit_takeout"
    label = "Fitbit data from Google Takeout (takeout .zip, Takeout folder, or its JSON/CSV files)"

    def detect(self, src: Input) -> bool:
        if src.is_dir:
            return any(src.path.rglob("heart_rate-*.json"))
        if src.looks_zip:
            return any(HR_FILE.search(n) or STEPS_FILE.search(n) or (GLOBAL in n and "Fitbit/" in n)
                       for n in src.zip_names)
        n = src.name
        return bool(HR_FILE.search(n) or STEPS_FILE.search(n) or SLEEP_FILE.search(n) or SPO2_FILE.search(n)
                    or HRV_FILE.search(n))

    def read(self, src: Input, ctx: Context) -> Iterator[dict]:
        files = _Files(src)
        try:
            yield from self._read(files, ctx)
        finally:
            files.close()

    def _read(self, files: _Files, ctx: Context) -> Iterator[dict]:
        rep = ctx.report
        tz = zone(ctx.timezone) or self._profile_zone(files, rep)
        if tz is None:
            rep.notes.append("no time zone (no Profile.csv with a timezone column, no --timezone): heart-rate and "
                             "steps times are kept in UTC, as Fitbit exports them")
        hr_rows: list[tuple[np.ndarray, np.ndarray]] = []   # (times, values) per file
        st_rows: list[tuple[np.ndarray, np.ndarray]] = []
        binner = Binner()
        names = files.names
        for i, name in enumerate(names):
            ctx.step(0.9 * i / max(len(names), 1), "reading Takeout files")
            if HR_FILE.search(name):
                self._samples(files, name, tz, hr_rows, rep, "heart_rate", lambda v: float(v["bpm"]))
            elif STEPS_FILE.search(name):
                self._samples(files, name, tz, st_rows, rep, "steps", float)
            elif SLEEP_FILE.search(name):
                self._sleep(files, name, binner, rep)
            elif SPO2_FILE.search(name):
                self._csv(files, name, "value", "spo2", binner, rep, tz)
            elif HRV_FILE.search(name):
                self._csv(files, name, "rmssd", "hrv_rmssd", binner, rep, tz)
            elif not PROFILE_FILE.search(name):
                folder = name.rsplit("/", 2)[-2] if name.count("/") >= 1 else ""
                stem = re.sub(r"[-_ ]*\d{4}-\d{2}-\d{2}.*$", "", name.rsplit("/", 1)[-1])
                rep.skip(f"file not read: {folder + '/' if folder else ''}{stem}*")
        ctx.step(0.92, "binning")
        feats = binner.features()
        hr, steps = (pd.DataFrame({"datetime": np.concatenate([t for t, _ in rows] or [np.array([], "datetime64[s]")]),
                                   "value": np.concatenate([v for _, v in rows] or [np.array([])])})
                     for rows in (hr_rows, st_rows))
        rep.read += len(hr) + len(steps)
        for frame in (hr, steps):
            frame["user"] = "u"
            frame["datetime"] = frame["datetime"].astype("datetime64[s]")
        if len(hr) or len(steps):
            fb = fitbit_to_bins(hr, steps)
            s = fb.summary
            rep.used["heart_rate samples"] += s.hr_rows - s.hr_out_of_range
            rep.used["steps minutes"] += s.steps_rows - s.negative_steps
            if s.hr_out_of_range:
                rep.skip("heart_rate: bpm outside the config's valid range", s.hr_out_of_range)
            if s.negative_steps:
                rep.skip("steps: negative", s.negative_steps)
            if s.hr_duplicates:
                rep.notes.append(f"{s.hr_duplicates} repeated heart-rate timestamps averaged")
            if s.steps_duplicates:
                rep.notes.append(f"{s.steps_duplicates} repeated steps minutes collapsed to their maximum")
            b = fb.bins
            bins = ((b["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64)) // BIN_S).astype(np.int64)
            feats["hr"] = (bins, b["hr"].to_numpy(float))
            feats["hr_resting"] = (bins, b["hr_resting"].to_numpy(float))
            feats["steps"] = (bins, b["steps"].to_numpy(float))
            so = fb.steps_only
            so_bins = (so["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64) // BIN_S
                       if so is not None and len(so) else np.array([], dtype=np.int64))
            quality = dict(zip(bins.tolist(), b["data_quality"].tolist()))
        else:
            so_bins, quality = np.array([], dtype=np.int64), {}
        if so_bins.size:
            feats["_steps_only"] = (so_bins, np.zeros(len(so_bins)))
        feats = {k: (v[0][~np.isnan(v[1])], v[1][~np.isnan(v[1])]) for k, v in feats.items()}
        device = ctx.device_id or "fitbit-takeout"
        for rec in assemble(feats, rep, device):
            q = quality.get(int(pd.Timestamp(rec["timestamp"]).value // 10**9 // BIN_S))
            if q is not None:
                rec["features"]["data_quality"] = q
            yield rec

    @staticmethod
    def _profile_zone(files: _Files, rep) -> object | None:
        for name in files.names:
            if PROFILE_FILE.search(name):
                try:
                    rows = list(csv.DictReader(io.StringIO(files.read(name).decode("utf-8-sig"))))
                except (UnicodeDecodeError, csv.Error):
                    continue
                tzname = rows[0].get("timezone") if rows else None
                if tzname:
                    rep.notes.append(f"time zone {tzname} from {name}")
                    return zone(tzname)
        return None

    @staticmethod
    def _samples(files, name, tz, out, rep, what, value_of) -> None:
        doc = _json(files, name)
        times, values = [], []
        bad = 0
        for i, row in enumerate(doc):
            try:
                t = row["dateTime"]
                v = value_of(row["value"])
                if not isinstance(t, str) or len(t) != 17:
                    raise ValueError(t)
            except (KeyError, TypeError, ValueError):
                bad += 1
                if bad == 1:
                    rep.notes.append(f"{files.where(name)}: entry {i + 1} unreadable (expected dateTime "
                                     f"'MM/DD/YY HH:MM:SS' and a value): {str(row)[:120]}")
                continue
            times.append(t)
            values.append(v)
        parsed = pd.to_datetime(pd.Series(times, dtype=object), format="%m/%d/%y %H:%M:%S", errors="coerce")
        ok = parsed.notna().to_numpy()
        bad += int((~ok).sum())
        parsed = parsed[ok]
        if tz is not None and len(parsed):
            parsed = parsed.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
        vals = np.asarray(values, dtype=np.float64)[ok]
        out.append((parsed.to_numpy().astype("datetime64[s]"), vals))
        if bad:
            rep.skip(f"{what}: unreadable entry", bad)
            rep.read += bad

    @staticmethod
    def _sleep(files, name, binner: Binner, rep) -> None:
        for log in _json(files, name):
            data = (log.get("levels") or {}).get("data") if isinstance(log, dict) else None
            if not isinstance(data, list):
                rep.skip("sleep: log without levels.data")
                continue
            for seg in data:
                rep.read += 1
                try:
                    stage = STAGES[seg["level"]]
                    s = wall_seconds(seg["dateTime"])
                    e = s + int(seg["seconds"])
                except (KeyError, TypeError, ValueError, IndexError):
                    rep.skip("sleep: unreadable stage segment")
                    continue
                binner.sleep(s, e, stage, "fitbit")
                rep.used[f"sleep {seg['level']}"] += 1

    @staticmethod
    def _csv(files, name, column, feature, binner: Binner, rep, tz) -> None:
        text = files.read(name).decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "timestamp" not in reader.fieldnames or column not in reader.fieldnames:
            raise InputFileError(f"{files.where(name)}: expected columns timestamp,{column}; found "
                                 f"{','.join(reader.fieldnames or [])}")
        lo, hi = (50, 100) if feature == "spo2" else (1, 300)
        for line, row in enumerate(reader, start=2):
            rep.read += 1
            try:
                ts = row["timestamp"]
                v = float(row[column])
                if ts.endswith("Z") and tz is not None:
                    t = utc_to_wall(datetime.fromisoformat(ts.replace("Z", "+00:00")), tz)
                else:
                    t = wall_seconds(ts)
            except (KeyError, TypeError, ValueError, IndexError):
                rep.skip(f"{feature}: unreadable row")
                continue
            if not lo <= v <= hi:
                rep.skip(f"{feature}: value outside {lo}-{hi}")
                continue
            binner.rate(feature, t, v)
            rep.used[f"{feature} ({Path(name).name.split(' - ')[0]})"] += 1
