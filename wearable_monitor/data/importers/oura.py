"""Oura: API v2 JSON (as saved from ``/v2/usercollection/heartrate`` and ``/daily_spo2``) and the
app's heart-rate CSV export.

- heartrate (``{"data": [{"bpm": 60, "source": "awake", "timestamp": "2024-01-01T00:00:00+00:00"},
  ...]}``, about every 5 minutes): ``hr`` from every source (awake, rest, sleep, workout, session,
  live); ``hr_resting`` from the ``rest`` and ``sleep`` sources (the ring says the wearer was at
  rest). The CSV export has the same columns (``timestamp``, ``bpm``, ``source``; comma or semicolon).
- daily_spo2 (``{"data": [{"day": "2024-01-01", "spo2_percentage": {"average": 96.5}}]}``): one
  value a night, stored once, on the last ``sleep`` heart-rate bin of that day before noon (the night
  it was measured); a day without such a bin is skipped with that reason.

Times: the API writes UTC (``+00:00``); the wall-clock time of the row's own offset is used unless a
time zone is given (``--timezone``), which converts it to local time; the report says which.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from ..validation import InputFileError
from .base import BIN_S, Binner, Context, Input, assemble, bad_zip, utc_to_wall, wall_seconds, zone

RESTING = {"rest", "sleep"}
SOURCES = {"awake", "rest", "sleep", "workout", "session", "live"}


class Oura:
    name = "oura"
    label = "Oura API v2 heartrate / daily_spo2 JSON, or the Oura heart-rate CSV"

    def detect(self, src: Input) -> bool:
        head = src.head
        if src.looks_zip:  # heartrate.json and daily_spo2.json saved together
            return any(n.rsplit("/", 1)[-1].startswith("heartrate") and n.endswith(".json") for n in src.zip_names)
        if src.lower.endswith(".json"):
            return (b'"bpm"' in head and b'"source"' in head) or b'"spo2_percentage"' in head
        if src.lower.endswith(".csv"):
            first = head.split(b"\n", 1)[0].lower()
            return b"bpm" in first and b"source" in first and b"timestamp" in first
        return False

    def read(self, src: Input, ctx: Context) -> Iterator[dict]:
        rep = ctx.report
        tz = zone(ctx.timezone)
        rep.notes.append(f"times converted to {ctx.timezone}" if tz else
                         "times kept in the offset each row carries (Oura's API writes UTC: give --timezone for "
                         "local time)")
        binner = Binner()
        sleep_bins: list[int] = []
        spo2_days: list[tuple[int, str, float]] = []
        if src.lower.endswith(".csv"):
            rows = self._csv(src)
        elif src.looks_zip:
            try:
                with zipfile.ZipFile(src.path) as zf:
                    docs = [(f"{src.path}!{n}", zf.read(n)) for n in zf.namelist() if n.endswith(".json")]
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise bad_zip(src.path, exc) from None
            rows = [r for where, raw in docs for r in self._json(where, raw)]
        else:
            rows = self._json(str(src.path), src.path.read_bytes())
        for i, row in rows:
            rep.read += 1
            if isinstance(row, dict) and "spo2_percentage" in row:
                avg = (row.get("spo2_percentage") or {}).get("average")
                if avg is None or not 50 <= float(avg) <= 100:
                    rep.skip("daily_spo2: no average (or outside 50-100 %)")
                    continue
                spo2_days.append((i, str(row.get("day")), float(avg)))
                continue
            try:
                bpm = float(row["bpm"])
                source = str(row.get("source", "")).strip().lower()
                dt = datetime.fromisoformat(str(row["timestamp"]).replace("Z", "+00:00"))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputFileError(f"{src.path}: entry {i}: unreadable heart-rate row ({exc}): {str(row)[:120]}") from None
            if source not in SOURCES:
                rep.skip(f"heartrate: source {source!r} not known")
                continue
            if not 25 <= bpm <= 230:
                rep.skip("heartrate: bpm outside 25-230")
                continue
            t = utc_to_wall(dt, tz) if dt.tzinfo is not None else wall_seconds(dt.isoformat())
            binner.rate("hr", t, bpm)
            rep.used[f"heartrate {source}"] += 1
            if source in RESTING:
                binner.rate("hr_resting", t, bpm)
            if source == "sleep":
                sleep_bins.append(t // BIN_S)
        feats = binner.features()
        if spo2_days:
            sb = np.unique(np.array(sleep_bins, dtype=np.int64))
            bins, vals = [], []
            for _, day, avg in spo2_days:
                try:
                    d0 = wall_seconds(day + "T00:00:00") // BIN_S
                except (ValueError, IndexError):
                    rep.skip("daily_spo2: unreadable day")
                    continue
                night = sb[(sb >= d0) & (sb < d0 + 12 * 3600 // BIN_S)]
                if not len(night):
                    rep.skip("daily_spo2: no sleep heart rate that night to attach it to")
                    continue
                bins.append(int(night[-1]))
                vals.append(avg)
                rep.used["daily_spo2"] += 1
            if bins:
                feats["spo2"] = (np.array(bins, dtype=np.int64), np.array(vals))
        yield from assemble(feats, rep, ctx.device_id or "oura")

    @staticmethod
    def _json(where: str, raw: bytes) -> list:
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise InputFileError(f"{where}: expected an Oura API v2 object with a 'data' list")
        return list(enumerate(doc["data"], start=1))

    @staticmethod
    def _csv(src: Input):
        text = src.path.read_bytes().decode("utf-8-sig", errors="replace")
        first = text.split("\n", 1)[0]
        delim = ";" if first.count(";") > first.count(",") else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delim)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if not {"timestamp", "bpm", "source"} <= set(fields):
            raise InputFileError(f"{src.path}: expected columns timestamp, bpm, source; found {', '.join(fields)}")
        reader.fieldnames = fields
        for row in reader:
            yield reader.line_num, row
