"""Garmin FIT monitoring (daily wellness) files, read with ``fitdecode``: one ``.fit`` file or a zip of
them (e.g. the ``DI_CONNECT/DI-Connect-Wellness`` / ``Monitor`` folder of a Garmin account export).

Read:

- ``monitoring`` messages: ``heart_rate`` -> ``hr``. Most carry only ``timestamp_16`` (the low 16 bits
  of the time): the full time is rebuilt against the last full ``timestamp`` seen
  (``last + ((ts16 - last) & 0xFFFF)``). ``cycles`` of walking/running ``activity_type`` are
  steps, *cumulative* per activity type since the start of the day: the steps of a message are the
  increase over the previous value of the same type (a decrease = a new day, counted from 0),
  put in the bin of the message; a file's first value of a type is only the starting point.
- ``stress_level`` messages (0-100, every ~3 min; negative = not measured): heart rate measured while
  the latest stress reading (within 3 minutes) is 0-25 ("rest" in Garmin Connect) also goes to
  ``hr_resting``.
- ``monitoring_info.local_timestamp`` - ``timestamp`` gives the UTC offset of the file: times are
  shifted to local wall-clock time; without it they stay UTC (noted in the report) unless
  ``--timezone`` is given.

Other messages (activity files' ``record``, sleep, SpO2...) are counted as skipped by name.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from ..validation import InputFileError
from .base import Binner, Context, Input, assemble, bad_zip, utc_to_wall, zone

FIT_EPOCH = 631065600  # 1989-12-31T00:00:00Z in Unix seconds
STEP_ACTIVITIES = {"walking", "running", 1, 6}
REST_STRESS = (0, 25)

try:  # optional at import time: the rest of the app works without it
    import fitdecode
except ImportError:  # pragma: no cover - fitdecode is a declared dependency
    fitdecode = None


def _unix(value) -> int | None:
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp())
    if isinstance(value, (int, float)):
        return int(value) + FIT_EPOCH
    return None


@dataclass
class _FitState:
    """What one FIT file yields: (UTC time, value) samples plus the running decoding context."""
    last_ts: int | None = None   # latest full timestamp (Unix s), the base for timestamp_16
    offset: int | None = None    # local - UTC seconds from monitoring_info
    hr: list[tuple[int, float]] = field(default_factory=list)
    steps: list[tuple[int, float]] = field(default_factory=list)
    stress: list[tuple[int, float]] = field(default_factory=list)
    cumulative: dict[object, float] = field(default_factory=dict)  # last step count per activity type
    n_data: int = 0

    def sorted_stress(self) -> np.ndarray:
        """(n, 2) array of (time, stress) by time, for searchsorted."""
        st = np.array(self.stress) if self.stress else np.zeros((0, 2))
        if len(st):
            st = st[np.argsort(st[:, 0], kind="stable")]
        return st


def _from_ts16(last_ts: int, ts16) -> int:
    """Full Unix time of a timestamp_16 value, the first such time at or after `last_ts`."""
    fit_last = last_ts - FIT_EPOCH  # the 16 bits are of FIT time (seconds since 1989-12-31)
    return last_ts + ((int(ts16) - (fit_last & 0xFFFF)) & 0xFFFF)


def _at_rest(stress: np.ndarray, t: int) -> bool:
    """Whether the latest stress reading at or before `t`, within 3 minutes, is in the rest range."""
    if not len(stress):
        return False
    i = np.searchsorted(stress[:, 0], t, side="right") - 1
    return bool(i >= 0 and t - stress[i, 0] <= 180 and REST_STRESS[0] <= stress[i, 1] <= REST_STRESS[1])


class GarminFit:
    name = "garmin_fit"
    label = "Garmin FIT monitoring files (.fit, or a zip of them)"

    def detect(self, src: Input) -> bool:
        if src.looks_zip:
            return any(n.lower().endswith(".fit") for n in src.zip_names)
        return len(src.head) >= 12 and src.head[8:12] == b".FIT"

    def read(self, src: Input, ctx: Context) -> Iterator[dict]:
        if fitdecode is None:
            raise InputFileError(f"{src.path}: reading Garmin FIT files needs the 'fitdecode' package "
                                 "(pip install fitdecode)")
        rep = ctx.report
        tz = zone(ctx.timezone)
        binner = Binner()
        if src.looks_zip:
            try:
                with zipfile.ZipFile(src.path) as zf:
                    members = [n for n in zf.namelist() if n.lower().endswith(".fit")]
                    for i, n in enumerate(members):
                        ctx.step(i / len(members), f"reading {n}")
                        self._file(io.BytesIO(zf.read(n)), f"{src.path}!{n}", binner, rep, tz)
            except (zipfile.BadZipFile, EOFError) as exc:
                raise bad_zip(src.path, exc) from None
        else:
            with src.path.open("rb") as f:
                self._file(f, str(src.path), binner, rep, tz)
        yield from assemble(binner.features(), rep, ctx.device_id or "garmin", quality=True)

    def _file(self, stream, where: str, binner: Binner, rep, tz) -> None:
        state = self._decode(stream, where, rep)
        self._emit(state, where, binner, rep, tz)

    def _decode(self, stream, where: str, rep) -> _FitState:
        """Collect the samples of one FIT file (UTC times); binning waits until the whole file is read
        because the UTC offset (monitoring_info) and the stress readings may come after the samples."""
        state = _FitState()
        try:
            with fitdecode.FitReader(stream, check_crc=fitdecode.CrcCheck.RAISE) as fit:
                for frame in fit:
                    if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                        self._data_frame(frame, state, rep)
        except fitdecode.FitError as exc:
            raise InputFileError(f"{where}: not a readable FIT file ({exc})") from None
        if state.n_data == 0:
            raise InputFileError(f"{where}: the FIT file holds no data messages")
        return state

    def _data_frame(self, frame, state: _FitState, rep) -> None:
        state.n_data += 1
        rep.read += 1
        name = frame.name
        ts = _unix(frame.get_value("timestamp", fallback=None)) if frame.has_field("timestamp") else None
        if ts is not None:  # any message's full time anchors the later timestamp_16 values
            state.last_ts = ts
        if name == "monitoring_info":
            self._monitoring_info(frame, ts, state, rep)
        elif name == "monitoring":
            self._monitoring(frame, ts, state, rep)
        elif name == "stress_level":
            self._stress_level(frame, state, rep)
        elif name in ("file_id", "device_info", "software", "file_creator"):
            rep.read -= 1  # file metadata, not data: neither read nor skipped
        else:
            rep.skip(f"FIT message not read: {name}")

    @staticmethod
    def _monitoring_info(frame, ts: int | None, state: _FitState, rep) -> None:
        local = frame.get_value("local_timestamp", fallback=None)
        if ts is not None and local is not None:
            state.offset = _unix(local) - ts
        rep.used["monitoring_info"] += 1

    def _monitoring(self, frame, ts: int | None, state: _FitState, rep) -> None:
        if ts is None and frame.has_field("timestamp_16"):
            if state.last_ts is None:
                rep.skip("monitoring: timestamp_16 before any full timestamp")
                return
            ts = state.last_ts = _from_ts16(state.last_ts, frame.get_value("timestamp_16"))
        if ts is None:
            rep.skip("monitoring: no time")
            return
        used = False
        hr = frame.get_value("heart_rate", fallback=None) if frame.has_field("heart_rate") else None
        if hr is not None:
            if 25 <= hr <= 230:
                state.hr.append((ts, float(hr)))
                used = True
            else:
                rep.skip("monitoring: heart_rate outside 25-230")
        used = self._monitoring_steps(frame, ts, state, rep) or used
        if used:
            rep.used["monitoring"] += 1
        elif hr is None:
            rep.skip("monitoring: no heart rate or steps")

    @staticmethod
    def _monitoring_steps(frame, ts: int, state: _FitState, rep) -> bool:
        """Steps of a monitoring message from its cumulative count; True when some were recorded."""
        count = "steps" if frame.has_field("steps") else "cycles"  # fitdecode names the subfield
        if not (frame.has_field(count) and frame.has_field("activity_type")):
            return False
        act = frame.get_value("activity_type")
        raw = frame.get_field(count).raw_value
        if act not in STEP_ACTIVITIES or raw is None:
            return False
        prev = state.cumulative.get(act)
        state.cumulative[act] = raw
        if prev is None:  # the count before this message is unknown: a starting point
            rep.skip("monitoring: first cumulative step count of a file (starting point)")
            return False
        state.steps.append((ts, float(raw if raw < prev else raw - prev)))  # drop = new day
        return True

    @staticmethod
    def _stress_level(frame, state: _FitState, rep) -> None:
        v = frame.get_value("stress_level_value", fallback=None)
        t = _unix(frame.get_value("stress_level_time", fallback=None))
        if v is None or t is None:
            rep.skip("stress_level: no value or time")
        else:
            state.stress.append((t, float(v)))
            rep.used["stress_level"] += 1

    @staticmethod
    def _emit(state: _FitState, where: str, binner: Binner, rep, tz) -> None:
        """Bin the collected samples at local wall-clock time; rest is judged on UTC times (the
        stress readings are UTC too)."""
        def local(t: int) -> int:
            if tz is not None:
                return utc_to_wall(datetime.fromtimestamp(t, timezone.utc), tz)
            return t + (state.offset or 0)

        if state.offset is None and tz is None:
            rep.notes.append(f"{where}: no monitoring_info local time and no --timezone: times kept in UTC")
        st = state.sorted_stress()
        for t, v in state.hr:
            lt = local(t)
            binner.rate("hr", lt, v)
            if _at_rest(st, t):
                binner.rate("hr_resting", lt, v)
        for t, v in state.steps:
            binner.count("steps", local(t), local(t), v, "garmin")

