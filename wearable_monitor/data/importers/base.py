"""The importer contract, the import report and the shared 5-minute binner.

An importer is a small object with a ``name``, a ``label`` and two methods:

- ``detect(src: Input) -> bool``: does this file look like mine? Cheap: it may look at the
  name, the first bytes (``src.head``) and a zip's member names (``src.zip_names``), never
  read the whole file.
- ``read(src, ctx) -> Iterator[dict]``: stream the 5-minute records out (the record contract
  of `records`), filling ``ctx.report`` (what was read, used and skipped, and why).

Binning is the Fitbit importer's (`wearable_monitor.data.fitbit`): timestamps are the local
wall-clock time of the sample's own UTC offset, a bin is [start, start + 5 min), rates are
the mean of the bin's per-minute means (every minute weighs the same, whatever the sampling
rate), counts are sums, a bin without a value has no value (never 0, never interpolated),
and a bin without heart rate is not exported (``hr`` is the contract's required feature);
those bins are counted in the report. Counts written by several sources for the same time
(an Apple Watch and the iPhone in the pocket both count the same walk) are summed per source
and the source with the larger sum is taken per bin: never added together.
"""
from __future__ import annotations

import io
import zipfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..validation import InputFileError

BIN_MINUTES = 5
BIN_S = BIN_MINUTES * 60
# sleep stages of the config's sleep_state plus "asleep" (asleep, stage not known: counted in
# sleep_minutes but given no sleep_state) and "in_bed" (in bed, not a sleep state: not stored)
SLEEP_CODES = ("awake", "light", "deep", "rem", "asleep", "in_bed")
_SLEEP_ASLEEP = (1, 2, 3, 4)
_EPOCH = date(1970, 1, 1)
_SRC = 1 << 20  # (bin, source) packed in one int64: bin * _SRC + source id
Progress = Callable[[float, str], None]


# ---------------------------------------------------------------- input and report

class Input:
    """A file handed to the importers, with the cheap facts detection needs."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputFileError(f"{self.path}: file not found")
        self.name = self.path.name
        self.lower = self.name.lower()
        self.is_dir = self.path.is_dir()
        self.size = 0 if self.is_dir else self.path.stat().st_size
        self._head: bytes | None = None
        self._zip_names: list[str] | None = None

    @property
    def head(self) -> bytes:
        if self._head is None:
            if self.is_dir:
                self._head = b""
            else:
                with self.path.open("rb") as f:
                    self._head = f.read(4096)
        return self._head

    @property
    def looks_zip(self) -> bool:
        return self.head[:4] == b"PK\x03\x04"

    @property
    def zip_names(self) -> list[str]:
        """Member names of a zip ([] when not a zip); a damaged zip raises a clear error."""
        if self._zip_names is None:
            if not self.looks_zip:
                self._zip_names = []
            else:
                try:
                    with zipfile.ZipFile(self.path) as zf:
                        self._zip_names = zf.namelist()
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise InputFileError(f"{self.path}: a damaged or truncated zip ({exc}); export it again "
                                         "or unpack it and give the files inside") from None
        return self._zip_names


@dataclass
class ImportReport:
    """Per-source import report: raw samples read, used, skipped (with the reason), records out."""

    source: str
    file: str
    read: int = 0
    used: Counter = field(default_factory=Counter)       # what -> samples used
    skipped: Counter = field(default_factory=Counter)    # reason -> samples skipped
    records: int = 0
    bins_without_hr: int = 0
    first: str | None = None
    last: str | None = None
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "file": self.file, "read": self.read, "used": dict(self.used),
                "skipped": dict(self.skipped), "records": self.records, "bins_without_hr": self.bins_without_hr,
                "first": self.first, "last": self.last, "notes": list(self.notes)}

    def text(self) -> str:
        lines = [f"source: {self.source} ({self.file})",
                 f"records: {self.records} five-minute records ({self.first} .. {self.last}); "
                 f"bins with data but no heart rate, not exported: {self.bins_without_hr}",
                 f"samples: {self.read} read, {sum(self.used.values())} used, {sum(self.skipped.values())} skipped"]
        lines += [f"  used {n:>9}  {what}" for what, n in sorted(self.used.items())]
        lines += [f"  skipped {n:>6}  {why}" for why, n in self.skipped.most_common()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Context:
    """What `read` gets besides the input: the report to fill, a progress callback, options."""

    report: ImportReport
    progress: Progress | None = None
    timezone: str | None = None        # IANA zone for sources that write UTC (Takeout, Oura API)
    device_id: str | None = None

    def step(self, frac: float, desc: str) -> None:
        if self.progress is not None:
            self.progress(min(max(frac, 0.0), 1.0), desc)


class Importer(Protocol):
    name: str
    label: str

    def detect(self, src: Input) -> bool: ...

    def read(self, src: Input, ctx: Context) -> Iterator[dict]: ...


# ---------------------------------------------------------------- time helpers

_day_cache: dict[str, int] = {}


def wall_seconds(text: str) -> int:
    """'YYYY-MM-DD[ T]HH:MM[:SS]...' -> seconds since 1970-01-01 of that wall-clock time (offset ignored:
    the local time of the sample's own offset is the text before it). Raises ValueError."""
    d = text[:10]
    day = _day_cache.get(d)
    if day is None:
        if len(_day_cache) > 100_000:
            _day_cache.clear()
        day = (date(int(d[0:4]), int(d[5:7]), int(d[8:10])) - _EPOCH).days
        if d[4] != "-" or d[7] != "-":
            raise ValueError(f"not a date: {text!r}")
        _day_cache[d] = day
    if text[13] != ":":
        raise ValueError(f"not a time: {text!r}")
    sec = int(text[17:19]) if len(text) >= 19 and text[16] == ":" else 0
    return day * 86400 + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + sec


def utc_to_wall(dt: datetime, tz: Any | None) -> int:
    """An aware datetime -> wall-clock seconds in `tz` (ZoneInfo), or in its own offset when tz is None."""
    if tz is not None:
        dt = dt.astimezone(tz)
    return int((dt.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds())


def iso_wall(seconds: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=int(seconds))).isoformat()


def zone(name: str | None):
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputFileError(f"unknown time zone {name!r} (expected an IANA name like Europe/Berlin)") from None


UTC = timezone.utc


# ---------------------------------------------------------------- binner

class Binner:
    """Collects samples as compact arrays (memory grows with the samples kept, ~24 bytes each, not with
    the file) and bins them at the end with numpy.

    - ``rate(feature, t, value, source)``: an instantaneous value (or one measured over a short span)
      at wall-clock second t: minute means, then the bin's mean of minute means.
    - ``count(feature, start, end, value, source)``: an amount over [start, end): split over the bins it
      overlaps in proportion to the overlap (an instant goes to its bin), summed per source and bin;
      per bin the source with the larger sum is taken.
    - ``sleep(start, end, stage, source)``: minutes per stage per bin; per bin the source with the most
      sleep minutes is taken; ``sleep_state`` = its stage with most minutes (awake/light/deep/rem),
      ``sleep_minutes`` = its asleep minutes (any stage, also 'asleep' without a stage).
    """

    def __init__(self):
        self._rates: dict[str, tuple[array, array]] = {}
        self._counts: dict[str, tuple[array, array, array]] = {}
        self._sleep = (array("q"), array("q"), array("q"), array("d"))  # source, bin, code, minutes
        self.sources: dict[str, int] = {}

    def source_id(self, source: str | None) -> int:
        key = source or ""
        sid = self.sources.get(key)
        if sid is None:
            sid = self.sources[key] = len(self.sources)
        return sid

    def rate(self, feature: str, t: int, value: float, source: str | None = None) -> None:
        arrs = self._rates.get(feature)
        if arrs is None:
            arrs = self._rates[feature] = (array("q"), array("d"))
        arrs[0].append(t // 60)
        arrs[1].append(value)

    def count(self, feature: str, start: int, end: int, value: float, source: str | None = None) -> None:
        arrs = self._counts.get(feature)
        if arrs is None:
            arrs = self._counts[feature] = (array("q"), array("q"), array("d"))
        sid = self.source_id(source)
        b0 = start // BIN_S
        if end <= start or (end - 1) // BIN_S == b0:
            arrs[0].append(sid), arrs[1].append(b0), arrs[2].append(value)
            return
        span = end - start
        for b in range((start // BIN_S), (end - 1) // BIN_S + 1):
            lo, hi = max(start, b * BIN_S), min(end, (b + 1) * BIN_S)
            arrs[0].append(sid), arrs[1].append(b), arrs[2].append(value * (hi - lo) / span)

    def sleep(self, start: int, end: int, stage: str, source: str | None = None) -> None:
        code = SLEEP_CODES.index(stage)
        sid = self.source_id(source)
        src, bins, codes, mins = self._sleep
        for b in range(start // BIN_S, (end - 1) // BIN_S + 1) if end > start else ():
            lo, hi = max(start, b * BIN_S), min(end, (b + 1) * BIN_S)
            src.append(sid), bins.append(b), codes.append(code), mins.append((hi - lo) / 60)

    # ------------------------------------------------------------ finalize

    def features(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """feature -> (bin numbers, values); plus '_hr_minutes' (minutes with HR per hr bin)."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for feat, (minutes, values) in self._rates.items():
            m = np.frombuffer(minutes, dtype=np.int64)
            v = np.frombuffer(values, dtype=np.float64)
            um, inv = np.unique(m, return_inverse=True)
            minute_mean = np.bincount(inv, weights=v) / np.bincount(inv)
            ub, binv = np.unique(um // BIN_MINUTES, return_inverse=True)
            n_min = np.bincount(binv)
            out[feat] = (ub, np.bincount(binv, weights=minute_mean) / n_min)
            if feat == "hr":
                out["_hr_minutes"] = (ub, n_min.astype(np.float64))
        for feat, (sids, bins, values) in self._counts.items():
            s = np.frombuffer(sids, dtype=np.int64)
            b = np.frombuffer(bins, dtype=np.int64)
            v = np.frombuffer(values, dtype=np.float64)
            key = b * _SRC + s
            uk, inv = np.unique(key, return_inverse=True)
            sums = np.bincount(inv, weights=v)
            kb = uk // _SRC
            # per bin the source with the largest sum: sort by (bin, sum) and take each bin's last
            order = np.lexsort((sums, kb))
            kb_sorted = kb[order]
            last = np.r_[kb_sorted[1:] != kb_sorted[:-1], True]
            out[feat] = (kb_sorted[last], sums[order][last])
        src, bins, codes, mins = (np.frombuffer(a, dtype=np.int64 if i < 3 else np.float64)
                                  for i, a in enumerate(self._sleep))
        if len(bins):
            key = bins * _SRC + src
            uk, inv = np.unique(key, return_inverse=True)
            per = np.zeros((len(uk), len(SLEEP_CODES)))
            np.add.at(per, (inv, codes), mins)
            asleep = per[:, list(_SLEEP_ASLEEP)].sum(1)
            total = per[:, :5].sum(1)  # in bed alone does not pick a source
            kb = uk // _SRC
            order = np.lexsort((total, kb))
            kb_sorted = kb[order]
            last = np.r_[kb_sorted[1:] != kb_sorted[:-1], True]
            rows = order[last]
            chosen = per[rows]
            staged = chosen[:, :4]
            has_stage = staged.sum(1) > 0
            out["sleep_minutes"] = (kb[rows][total[rows] > 0], np.minimum(asleep[rows], BIN_MINUTES)[total[rows] > 0])
            out["sleep_state"] = (kb[rows][has_stage], staged.argmax(1)[has_stage].astype(np.float64))
        return out


def assemble(feats: dict[str, tuple[np.ndarray, np.ndarray]], report: ImportReport, device_id: str,
             quality: bool = False, decimals: int = 2) -> Iterator[dict]:
    """Per-feature binned values -> records for the bins with hr, in time order.

    quality=True: ``data_quality`` from the share of the bin's 5 minutes with HR, as the Fitbit importer
    (for sources sampling HR at least once a minute; sparse sources leave it out)."""
    if "hr" not in feats:
        all_bins = np.unique(np.concatenate([b for b, _ in feats.values()])) if feats else np.array([])
        report.bins_without_hr = int(len(all_bins))
        return
    hr_bins = feats["hr"][0]
    other = [b for k, (b, _) in feats.items() if not k.startswith("_")]
    all_bins = np.unique(np.concatenate(other))
    report.bins_without_hr = int(len(all_bins) - len(hr_bins))
    cols: dict[str, np.ndarray] = {}
    for name, (b, v) in feats.items():
        col = np.full(len(hr_bins), np.nan)
        idx = np.searchsorted(hr_bins, b)
        ok = (idx < len(hr_bins)) & (hr_bins[np.minimum(idx, len(hr_bins) - 1)] == b)
        col[idx[ok]] = v[ok]
        cols[name] = col
    order = [k for k in ("hr", "hr_resting", "hrv_rmssd", "hrv_sdnn", "spo2", "resp_rate", "skin_temp", "steps",
                         "distance", "calories", "sleep_state", "sleep_minutes") if k in cols]
    hr_min = cols.get("_hr_minutes")
    for i, b in enumerate(hr_bins.tolist()):
        f: dict[str, Any] = {}
        for k in order:
            v = cols[k][i]
            if v != v:
                continue
            if k == "sleep_state":
                f[k] = SLEEP_CODES[int(v)]
            else:
                r = round(float(v), decimals)
                f[k] = int(r) if r.is_integer() and k in ("steps",) else r
        if quality and hr_min is not None:
            cov = hr_min[i] / BIN_MINUTES
            f["data_quality"] = "high" if cov >= 0.8 else "medium" if cov >= 0.4 else "low"
        ts = iso_wall(b * BIN_S)
        if report.first is None:
            report.first = ts
        report.last = ts
        report.records += 1
        yield {"timestamp": ts, "deviceId": device_id, "features": f}


# ---------------------------------------------------------------- reading helpers

class CountingReader(io.RawIOBase):
    """Wraps a binary stream; reports the fraction read to a callback every ~1%."""

    def __init__(self, raw, total: int, ctx: Context, desc: str):
        self.raw, self.total, self.ctx, self.desc = raw, max(total, 1), ctx, desc
        self.done, self._next = 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.done += n
        if self.done >= self._next:
            self._next = self.done + self.total // 100
            self.ctx.step(self.done / self.total, self.desc)
        return n

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.done += len(data)
        if self.done >= self._next:
            self._next = self.done + self.total // 100
            self.ctx.step(self.done / self.total, self.desc)
        return data


def zip_member(src: Input, predicate: Callable[[str], bool]) -> list[str]:
    return [n for n in src.zip_names if predicate(n) and not n.endswith("/")]


def bad_zip(path: Path, exc: BaseException) -> InputFileError:
    return InputFileError(f"{path}: a damaged or truncated zip ({exc}); export it again or unpack it and "
                          "give the files inside")
