"""Apple Health: ``export.zip`` (as shared from the iPhone's Health app) or its ``export.xml``.

Streamed with ``xml.etree.ElementTree.iterparse``: every element is cleared once read and the
root's children are dropped as we go, so memory stays flat for 0.5-2 GB exports; samples are
kept as compact arrays and binned at the end (`base.Binner`).

Read (``HKQuantityTypeIdentifier...`` unless noted) -> feature:

- HeartRate -> ``hr``; RestingHeartRate -> ``hr_resting`` (Apple's daily estimate, in the bin of
  its start); HeartRateVariabilitySDNN -> ``hrv_sdnn`` (SDNN, ms; never relabelled RMSSD);
  OxygenSaturation -> ``spo2`` (the export writes a fraction with ``unit="%"``: 0.97 -> 97 %);
  RespiratoryRate -> ``resp_rate``; AppleSleepingWristTemperature -> ``skin_temp`` (degC, degF
  converted; one value per night, in the bin where its period starts).
- StepCount -> ``steps``, DistanceWalkingRunning -> ``distance`` (m), ActiveEnergyBurned ->
  ``calories`` (kcal): amounts over [startDate, endDate), split over the bins they overlap, summed
  per source (``sourceName``), one source per bin (the larger sum): the Watch and the iPhone both
  count the same walk, a plain sum would double it.
- ``HKCategoryTypeIdentifierSleepAnalysis``: AsleepCore -> light, AsleepDeep -> deep, AsleepREM ->
  rem, Awake -> awake (``sleep_state``); Asleep / AsleepUnspecified -> asleep without a stage
  (``sleep_minutes`` only); InBed is not a sleep state (counted, not stored). One source per bin.

Dates (``2016-05-28 18:37:45 -0400``) carry their own offset: the wall-clock part is the local
time. The ``device`` attribute embeds a memory address (``<<HKDevice: 0x...>``) that changes from
record to record: it is never used as an identity; sources are told apart by ``sourceName``.
Everything else (other types, Workout, ActivitySummary, ...) is counted as skipped with its type.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

from ..validation import InputFileError
from .base import Binner, Context, CountingReader, Input, assemble, bad_zip, wall_seconds

Q = "HKQuantityTypeIdentifier"
RATES = {  # type -> (feature, {unit: factor})
    Q + "HeartRate": ("hr", {"count/min": 1.0}),
    Q + "RestingHeartRate": ("hr_resting", {"count/min": 1.0}),
    Q + "HeartRateVariabilitySDNN": ("hrv_sdnn", {"ms": 1.0}),
    Q + "OxygenSaturation": ("spo2", {"%": 100.0}),
    Q + "RespiratoryRate": ("resp_rate", {"count/min": 1.0}),
    Q + "AppleSleepingWristTemperature": ("skin_temp", {"degC": 1.0, "degF": None}),
}
COUNTS = {
    Q + "StepCount": ("steps", {"count": 1.0}),
    Q + "DistanceWalkingRunning": ("distance", {"km": 1000.0, "m": 1.0, "mi": 1609.344, "ft": 0.3048, "yd": 0.9144}),
    Q + "ActiveEnergyBurned": ("calories", {"kcal": 1.0, "Cal": 1.0, "kJ": 1 / 4.184}),
}
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
SLEEP_VALUES = {
    "HKCategoryValueSleepAnalysisInBed": "in_bed",
    "HKCategoryValueSleepAnalysisAwake": "awake",
    "HKCategoryValueSleepAnalysisAsleepCore": "light",
    "HKCategoryValueSleepAnalysisAsleepDeep": "deep",
    "HKCategoryValueSleepAnalysisAsleepREM": "rem",
    "HKCategoryValueSleepAnalysisAsleepUnspecified": "asleep",
    "HKCategoryValueSleepAnalysisAsleep": "asleep",
}


def _short(t: str) -> str:
    return t.replace(Q, "").replace("HKCategoryTypeIdentifier", "")


# type -> (kind, feature, units, short name): one dict lookup per record on the hot path
SPECS = {**{t: ("rate", f, u, _short(t)) for t, (f, u) in RATES.items()},
         **{t: ("count", f, u, _short(t)) for t, (f, u) in COUNTS.items()}}


class AppleHealth:
    name = "apple_health"
    label = "Apple Health export (export.zip / export.xml)"

    def detect(self, src: Input) -> bool:
        if src.lower.endswith(".xml"):
            return b"<HealthData" in src.head or b"HealthKit Export" in src.head
        return src.looks_zip and bool(self._member(src))

    @staticmethod
    def _member(src: Input) -> str | None:
        # export.xml, never export_cda.xml (clinical document, same folder)
        names = [n for n in src.zip_names if n.rsplit("/", 1)[-1] == "export.xml"]
        return min(names, key=len) if names else None

    def read(self, src: Input, ctx: Context) -> Iterator[dict]:
        if src.looks_zip:
            member = self._member(src)
            try:
                zf = zipfile.ZipFile(src.path)
                info = zf.getinfo(member)
                stream = CountingReader(zf.open(info), info.file_size, ctx, "reading export.xml")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise bad_zip(src.path, exc) from None
            where = f"{src.path}!{member}"
        else:
            zf = None
            stream = CountingReader(src.path.open("rb"), src.size, ctx, "reading export.xml")
            where = str(src.path)
        try:
            binner = self._parse(stream, where, ctx)
        finally:
            stream.raw.close()
            if zf is not None:
                zf.close()
        ctx.step(1.0, "binning")
        device = ctx.device_id or "apple-health"
        yield from assemble(binner.features(), ctx.report, device)

    def _parse(self, stream, where: str, ctx: Context) -> Binner:
        rep = ctx.report
        binner = Binner()
        used, skipped = rep.used, rep.skipped
        n = n_other = 0
        root = None
        saw_root = False
        parser = ET.iterparse(stream, events=("start", "end"))
        try:
            for event, elem in parser:
                if event == "start":
                    if root is None:
                        root = elem
                        if elem.tag != "HealthData":
                            raise InputFileError(f"{where}: the root element is <{elem.tag}>, expected <HealthData> "
                                                 "(an Apple Health export.xml)")
                        saw_root = True
                    continue
                tag = elem.tag
                if tag == "Record":
                    n += 1
                    self._record(elem.attrib, binner, used, skipped)
                    elem.clear()
                elif tag in ("Workout", "ActivitySummary", "Correlation", "ClinicalRecord", "Audiogram",
                             "VisionPrescription"):
                    skipped[f"<{tag}>: not read"] += 1
                    n_other += 1
                    elem.clear()
                if n % 2000 == 0 and root is not None and elem is not root and len(root) > 64:
                    del root[:]  # the processed children
        except ET.ParseError as exc:
            line, col = exc.position
            if not saw_root:
                raise InputFileError(f"{where}: not an XML file ({exc})") from None
            raise InputFileError(f"{where}: the XML breaks at line {line}, column {col} ({str(exc).split(':')[0]}); "
                                 f"the export is truncated or damaged ({n} records were read before it)") from None
        if not saw_root:
            raise InputFileError(f"{where}: the file is empty")
        rep.read = n + n_other
        return binner

    @staticmethod
    def _record(a: dict, binner: Binner, used, skipped) -> None:
        t = a.get("type", "")
        spec = SPECS.get(t)
        if spec is None:
            if t == SLEEP_TYPE:
                stage = SLEEP_VALUES.get(a.get("value", ""))
                if stage is None:
                    skipped[f"SleepAnalysis: value {a.get('value')!r} not known"] += 1
                    return
                try:
                    s, e = wall_seconds(a["startDate"]), wall_seconds(a["endDate"])
                except (KeyError, ValueError, IndexError):
                    skipped["SleepAnalysis: unreadable startDate/endDate"] += 1
                    return
                if e < s or e - s > 86400:
                    skipped["SleepAnalysis: end before start or longer than a day"] += 1
                    return
                binner.sleep(s, e, stage, a.get("sourceName"))
                used[f"SleepAnalysis {stage}"] += 1
                return
            skipped[f"{_short(t) or '<no type>'}: type not read"] += 1
            return
        kind, feature, units, short = spec
        unit = a.get("unit", "")
        if unit not in units:
            skipped[f"{short}: unit {unit!r} not understood"] += 1
            return
        try:
            value = float(a["value"])
            start = wall_seconds(a["startDate"])
        except (KeyError, ValueError, IndexError):
            skipped[f"{short}: unreadable value or startDate"] += 1
            return
        if value != value or value < 0:
            skipped[f"{short}: negative or NaN value"] += 1
            return
        factor = units[unit]
        if factor is None:  # degF
            value = (value - 32.0) * 5.0 / 9.0
        else:
            if feature == "spo2" and value > 1.0:
                skipped["OxygenSaturation: value above 1 (the export writes a fraction)"] += 1
                return
            value *= factor
        if kind == "rate":
            binner.rate(feature, start, value)
        else:
            try:
                end = wall_seconds(a["endDate"])
            except (KeyError, ValueError, IndexError):
                skipped[f"{short}: unreadable endDate"] += 1
                return
            if end < start or end - start > 86400:
                skipped[f"{short}: end before start or longer than a day"] += 1
                return
            binner.count(feature, start, end, value, a.get("sourceName"))
        used[short] += 1
