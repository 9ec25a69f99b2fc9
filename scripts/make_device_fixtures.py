"""Write the small SYNTHETIC device-export fixtures of test_data/devices/.

No real person's export is committed: every value here is generated (seeded), in the layout of
each vendor's export as publicly described (see /work/shared/references/device_exports.md and
the importers' docstrings). Run from the repository root:

    python scripts/make_device_fixtures.py            # all fixtures
    python scripts/make_device_fixtures.py apple      # one of: apple takeout health_connect garmin oura

`apple_export_xml(f, ...)` is also used by benchmarks/apple_import.py to write a large export.
"""
from __future__ import annotations

import io
import json
import random
import sqlite3
import struct
import sys
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "test_data" / "devices"

# ---------------------------------------------------------------- Apple Health

APPLE_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2024-03-03 09:00:00 -0500"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexNotSet"/>
"""
WATCH, PHONE = "Sam\u2019s Apple Watch", "Sam\u2019s iPhone"
Q = "HKQuantityTypeIdentifier"


def _fmt(t: datetime, off: str) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S ") + off


def _device(rng: random.Random, name: str) -> str:
    # a memory address that changes from record to record (the trap of open-wearables #578)
    model = "Watch" if "Watch" in name else "iPhone"
    return (f"&lt;&lt;HKDevice: 0x{rng.randrange(16**12):012x}&gt;, name:{model}, manufacturer:Apple Inc., "
            f"model:{model}, hardware:{model}6,1, software:10.2&gt;")


def _rec(typ: str, unit: str | None, value, source: str, start: datetime, end: datetime, off: str,
         rng: random.Random, children: str = "") -> str:
    u = f' unit="{unit}"' if unit else ""
    dev = f' device="{_device(rng, source)}"'
    head = (f' <Record type="{typ}" sourceName="{source}" sourceVersion="10.2"{dev}{u} '
            f'creationDate="{_fmt(end, off)}" startDate="{_fmt(start, off)}" endDate="{_fmt(end, off)}" value="{value}"')
    return head + (f">\n{children} </Record>\n" if children else "/>\n")


def apple_records(rng: random.Random, day0: datetime, days: int, off: str = "-0500", hr_every_s: int = 300):
    """Yield export.xml Record lines for `days` days from day0 (local wall clock, offset `off`)."""
    for d in range(days):
        base = day0 + timedelta(days=d)
        # night: sleep 23:00 -> 07:00 (the previous evening), stages from the watch, InBed from the phone
        night = base - timedelta(hours=1)
        yield _rec("HKCategoryTypeIdentifierSleepAnalysis", None, "HKCategoryValueSleepAnalysisInBed", PHONE,
                   night - timedelta(minutes=10), night + timedelta(hours=8, minutes=5), off, rng)
        t = night
        for stage, minutes in (("AsleepCore", 50), ("AsleepDeep", 40), ("AsleepREM", 25), ("Awake", 5),
                               ("AsleepCore", 90), ("AsleepREM", 30), ("AsleepUnspecified", 60), ("Asleep", 45),
                               ("AsleepCore", 135)):
            yield _rec("HKCategoryTypeIdentifierSleepAnalysis", None, f"HKCategoryValueSleepAnalysis{stage}", WATCH,
                       t, t + timedelta(minutes=minutes), off, rng)
            t += timedelta(minutes=minutes)
        yield _rec(Q + "AppleSleepingWristTemperature", "degC", f"{35.1 + rng.uniform(-0.3, 0.3):.2f}", WATCH,
                   night, night + timedelta(hours=8), off, rng)
        yield _rec(Q + "RestingHeartRate", "count/min", rng.randint(55, 60), WATCH, base,
                   base + timedelta(hours=23, minutes=59), off, rng)
        # heart rate through the day
        t = night
        while t < base + timedelta(hours=23):
            hour = t.hour
            asleep = hour < 7 or hour >= 23
            walking = 12 <= hour < 13
            hr = (54 if asleep else 95 if walking else 70) + rng.gauss(0, 3)
            meta = (' <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="1"/>\n'
                    if not walking else "")
            yield _rec(Q + "HeartRate", "count/min", f"{hr:.0f}", WATCH, t, t, off, rng, meta)
            t += timedelta(seconds=hr_every_s + rng.randint(-20, 20))
        for h in (2, 4):
            s = base + timedelta(hours=h, minutes=rng.randint(0, 50))
            beats = "  <HeartRateVariabilityMetadataList>\n   <InstantaneousBeatsPerMinute bpm=\"55\" time=\"2:10:01,20 AM\"/>\n  </HeartRateVariabilityMetadataList>\n"
            yield _rec(Q + "HeartRateVariabilitySDNN", "ms", f"{rng.uniform(35, 60):.3f}", WATCH, s,
                       s + timedelta(seconds=60), off, rng, beats)
            yield _rec(Q + "OxygenSaturation", "%", f"{rng.choice([0.95, 0.96, 0.97, 0.98])}", WATCH, s, s, off, rng)
            yield _rec(Q + "RespiratoryRate", "count/min", f"{rng.uniform(13, 16):.1f}", WATCH, s, s, off, rng)
        # the noon walk: the watch and the phone both count it (never add them)
        for k in range(12):
            s = base + timedelta(hours=12, minutes=5 * k)
            w = rng.randint(450, 550)
            yield _rec(Q + "StepCount", "count", w, WATCH, s, s + timedelta(minutes=5), off, rng)
            yield _rec(Q + "DistanceWalkingRunning", "km", f"{w * 0.00075:.4f}", WATCH, s, s + timedelta(minutes=5), off, rng)
            yield _rec(Q + "ActiveEnergyBurned", "kcal", f"{w * 0.04:.2f}", WATCH, s, s + timedelta(minutes=5), off, rng)
        for k in range(6):  # phone: 10-minute chunks, a few steps fewer, offset by 2 minutes
            s = base + timedelta(hours=12, minutes=10 * k + 2)
            yield _rec(Q + "StepCount", "count", rng.randint(850, 1000), PHONE, s, s + timedelta(minutes=10), off, rng)
        # the phone alone at 17:00 (watch charging)
        s = base + timedelta(hours=17, minutes=1)
        yield _rec(Q + "StepCount", "count", 240, PHONE, s, s + timedelta(minutes=3), off, rng)
        yield _rec(Q + "BodyMassIndex", "count", "22.1", PHONE, base + timedelta(hours=8), base + timedelta(hours=8), off, rng)


def apple_export_xml(f, rng: random.Random, day0: datetime, days: int, off: str = "-0500", hr_every_s: int = 300,
                     tail: bool = True) -> None:
    f.write(APPLE_HEAD.encode())
    buf = []
    for line in apple_records(rng, day0, days, off, hr_every_s):
        buf.append(line)
        if len(buf) >= 5000:
            f.write("".join(buf).encode())
            buf.clear()
    f.write("".join(buf).encode())
    f.write(b' <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="60" durationUnit="min" '
            b'sourceName="x" startDate="2024-03-01 12:00:00 -0500" endDate="2024-03-01 13:00:00 -0500"/>\n')
    if tail:
        f.write(b"</HealthData>\n")


def make_apple(rng: random.Random) -> None:
    buf = io.BytesIO()
    apple_export_xml(buf, rng, datetime(2024, 3, 1), 2)
    # a third day written while travelling (offset +0100): the wall-clock time of its own offset is kept
    xml = buf.getvalue().decode()
    extra = "".join(apple_records(random.Random(7), datetime(2024, 3, 3), 1, off="+0100"))
    xml = xml.replace("</HealthData>\n", extra + "</HealthData>\n")
    (OUT / "apple_export.xml").write_text(xml, encoding="utf-8")
    with zipfile.ZipFile(OUT / "apple_export.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("apple_health_export/export.xml", xml)
        zf.writestr("apple_health_export/export_cda.xml", '<?xml version="1.0"?><ClinicalDocument/>')
    (OUT / "apple_export.xml").unlink()  # the zip is the fixture; tests unpack what they need


# ---------------------------------------------------------------- Fitbit Takeout

def make_takeout(rng: random.Random) -> None:
    root = "Takeout/Fitbit/"
    g = root + "Global Export Data/"
    files: dict[str, str] = {}
    files[root + "Profile/Profile.csv"] = ("id,full_name,first_name,timezone,date_of_birth\n"
                                           "ABC123,Synthetic Person,Synthetic,America/New_York,1990-01-01\n")
    # UTC 2023-05-01 10:00 .. 14:00 = 06:00 .. 10:00 New York (EDT, UTC-4)
    start = datetime(2023, 5, 1, 10, 0)
    hr, steps = [], []
    for sec in range(0, 4 * 3600, 10):
        t = start + timedelta(seconds=sec + rng.randint(0, 4))
        if 3600 + 600 <= sec < 3600 + 1500:  # a 15-minute gap without HR (watch off)
            continue
        walking = 2 * 3600 <= sec < 2 * 3600 + 1800
        hr.append({"dateTime": t.strftime("%m/%d/%y %H:%M:%S"),
                   "value": {"bpm": int((100 if walking else 62) + rng.gauss(0, 2)), "confidence": 2}})
    hr.append({"dateTime": "05/01/23 13:59:59", "value": {"bpm": 300, "confidence": 0}})  # out of range
    for m in range(0, 4 * 60):
        t = start + timedelta(minutes=m)
        walking = 120 <= m < 150
        steps.append({"dateTime": t.strftime("%m/%d/%y %H:%M:%S"), "value": str(rng.randint(90, 120) if walking
                                                                                 else rng.choice([0, 0, 0, 0, 3]))})
    files[g + "heart_rate-2023-05-01.json"] = json.dumps(hr, indent=0)
    files[g + "steps-2023-05-01.json"] = json.dumps(steps, indent=0)
    files[g + "calories-2023-05-01.json"] = json.dumps([{"dateTime": "05/01/23 10:00:00", "value": "1.2"}])
    # sleep (local time): 2023-04-30 23:30 -> 2023-05-01 06:40, then the morning overlaps the HR above
    levels, t = [], datetime(2023, 4, 30, 23, 30)
    for level, minutes in (("wake", 10), ("light", 60), ("deep", 50), ("rem", 30), ("light", 120), ("deep", 40),
                           ("rem", 60), ("wake", 5), ("light", 45)):
        levels.append({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S.000"), "level": level, "seconds": minutes * 60})
        t += timedelta(minutes=minutes)
    files[g + "sleep-2023-05-01.json"] = json.dumps([{
        "logId": 1, "dateOfSleep": "2023-05-01", "startTime": "2023-04-30T23:30:00.000",
        "endTime": t.strftime("%Y-%m-%dT%H:%M:%S.000"), "type": "stages", "mainSleep": True,
        "levels": {"data": levels, "shortData": [{"dateTime": "2023-05-01T03:00:30.000", "level": "wake", "seconds": 60}]}}])
    spo2 = "timestamp,value\n" + "".join(f"2023-05-01T{6 + m // 60:02d}:{m % 60:02d}:00,{rng.choice([95.5, 96.0, 97.2])}\n"
                                         for m in range(0, 40))
    files[root + "Oxygen Saturation (SpO2)/Minute SpO2 - 2023-05-01.csv"] = spo2
    hrv = "timestamp,rmssd,coverage,low_frequency,high_frequency\n" + "".join(
        f"2023-05-01T{6 + m // 60:02d}:{m % 60:02d}:00,{rng.uniform(25, 45):.3f},0.9,500,400\n" for m in range(0, 40, 5))
    files[root + "Heart Rate Variability/Heart Rate Variability Details - 2023-05-01.csv"] = hrv
    with zipfile.ZipFile(OUT / "fitbit_takeout.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)


MAKERS = {"apple": make_apple, "takeout": make_takeout}


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in argv or list(MAKERS):
        MAKERS[name](random.Random(sum(map(ord, name))))
        print(f"wrote the {name} fixture(s) to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
