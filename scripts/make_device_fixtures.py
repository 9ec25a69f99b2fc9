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


def _zput(zf: zipfile.ZipFile, name: str, data: str | bytes) -> None:
    """A member with a fixed date, so that the fixtures are byte-for-byte reproducible."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)

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
        _zput(zf, "apple_health_export/export.xml", xml)
        _zput(zf, "apple_health_export/export_cda.xml", '<?xml version="1.0"?><ClinicalDocument/>')
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
            _zput(zf, name, text)


# ---------------------------------------------------------------- Google Health Connect

HC_SCHEMA = """
CREATE TABLE application_info_table (row_id INTEGER PRIMARY KEY, package_name TEXT, app_name TEXT);
CREATE TABLE heart_rate_record_table (row_id INTEGER PRIMARY KEY, uuid BLOB, app_info_id INTEGER,
  start_time INTEGER, start_zone_offset INTEGER, end_time INTEGER, end_zone_offset INTEGER, local_date INTEGER);
CREATE TABLE heart_rate_record_series_table (beats_per_minute INTEGER, epoch_millis INTEGER, parent_key INTEGER);
CREATE TABLE resting_heart_rate_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER, time INTEGER,
  zone_offset INTEGER, beats_per_minute INTEGER);
CREATE TABLE heart_rate_variability_rmssd_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER,
  time INTEGER, zone_offset INTEGER, heart_rate_variability_millis REAL);
CREATE TABLE oxygen_saturation_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER, time INTEGER,
  zone_offset INTEGER, percentage REAL);
CREATE TABLE respiratory_rate_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER, time INTEGER,
  zone_offset INTEGER, rate REAL);
CREATE TABLE steps_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER, start_time INTEGER,
  start_zone_offset INTEGER, end_time INTEGER, end_zone_offset INTEGER, count INTEGER);
CREATE TABLE sleep_session_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER, start_time INTEGER,
  start_zone_offset INTEGER, end_time INTEGER, end_zone_offset INTEGER, title TEXT);
CREATE TABLE sleep_stages_table (parent_key INTEGER, stage_start_time INTEGER, stage_end_time INTEGER,
  stage_type INTEGER);
CREATE TABLE weight_record_table (row_id INTEGER PRIMARY KEY, time INTEGER, zone_offset INTEGER, weight REAL);
"""
HC_OFFSET = 3600  # Europe/Berlin in winter: UTC+1


def hc_database(path: Path, rng: random.Random) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(HC_SCHEMA)
    conn.execute("PRAGMA user_version = 10")
    conn.executemany("INSERT INTO application_info_table VALUES (?, ?, ?)",
                     [(1, "com.google.android.apps.fitness", "Fit"), (2, "com.fitbit.FitbitMobile", "Fitbit"),
                      (3, "com.sec.android.app.shealth", "Samsung Health")])
    t0 = int(datetime(2024, 1, 15, 5, 0, tzinfo=timezone.utc).timestamp() * 1000)  # 06:00 local
    # heart rate: one series record per hour, a sample every 30 s, 4 hours, a 20-minute gap
    for h in range(4):
        conn.execute("INSERT INTO heart_rate_record_table VALUES (?, ?, 2, ?, ?, ?, ?, 0)",
                     (h + 1, b"u", t0 + h * 3600_000, HC_OFFSET, t0 + (h + 1) * 3600_000, HC_OFFSET))
        for k in range(120):
            ms = t0 + h * 3600_000 + k * 30_000
            if h == 2 and k < 40:
                continue
            conn.execute("INSERT INTO heart_rate_record_series_table VALUES (?, ?, ?)",
                         (int(58 + 10 * (h == 3) + rng.gauss(0, 2)), ms, h + 1))
    conn.execute("INSERT INTO heart_rate_record_series_table VALUES (?, ?, ?)", (400, t0 + 5_000, 1))  # out of range
    conn.execute("INSERT INTO resting_heart_rate_record_table VALUES (1, 2, ?, ?, 57)", (t0 + 60_000, HC_OFFSET))
    for k in range(6):
        ms = t0 + k * 300_000 + 30_000
        conn.execute("INSERT INTO heart_rate_variability_rmssd_record_table VALUES (?, 2, ?, ?, ?)",
                     (k + 1, ms, HC_OFFSET, round(rng.uniform(30, 45), 1)))
        conn.execute("INSERT INTO oxygen_saturation_record_table VALUES (?, 2, ?, ?, ?)",
                     (k + 1, ms, HC_OFFSET, rng.choice([95.0, 96.0, 97.0])))
        conn.execute("INSERT INTO respiratory_rate_record_table VALUES (?, 2, ?, ?, ?)",
                     (k + 1, ms, HC_OFFSET, round(rng.uniform(13, 16), 1)))
    # steps: Fitbit per minute and Samsung Health in 10-minute chunks for the same walk (07:00-07:30 local)
    walk = t0 + 3 * 3600_000
    for m in range(30):
        conn.execute("INSERT INTO steps_record_table (app_info_id, start_time, start_zone_offset, end_time, "
                     "end_zone_offset, count) VALUES (2, ?, ?, ?, ?, ?)",
                     (walk + m * 60_000, HC_OFFSET, walk + (m + 1) * 60_000, HC_OFFSET, rng.randint(95, 110)))
    for m in range(3):
        conn.execute("INSERT INTO steps_record_table (app_info_id, start_time, start_zone_offset, end_time, "
                     "end_zone_offset, count) VALUES (3, ?, ?, ?, ?, ?)",
                     (walk + m * 600_000, HC_OFFSET, walk + (m + 1) * 600_000, HC_OFFSET, rng.randint(900, 1000)))
    # sleep until 06:40 local with stages
    s0 = t0 - 3600_000
    conn.execute("INSERT INTO sleep_session_record_table VALUES (1, 2, ?, ?, ?, ?, 'night')",
                 (s0, HC_OFFSET, t0 + 40 * 60_000, HC_OFFSET))
    t = s0
    for stage, minutes in ((4, 30), (5, 30), (6, 20), (1, 5), (2, 15)):
        conn.execute("INSERT INTO sleep_stages_table VALUES (1, ?, ?, ?)", (t, t + minutes * 60_000, stage))
        t += minutes * 60_000
    conn.execute("INSERT INTO weight_record_table VALUES (1, ?, ?, 70.5)", (t0, HC_OFFSET))
    conn.commit()
    conn.close()


def make_health_connect(rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "health_connect_export.db"
        hc_database(db, rng)
        with zipfile.ZipFile(OUT / "health_connect.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            _zput(zf, "health_connect_export.db", db.read_bytes())


# ---------------------------------------------------------------- Oura

def make_oura(rng: random.Random) -> None:
    start = datetime(2024, 2, 10, 22, 0, tzinfo=timezone.utc)  # 23:00 in Europe/Paris (UTC+1)
    rows = []
    for k in range(0, 12 * 12):  # 12 hours, about every 5 minutes
        t = start + timedelta(minutes=5 * k, seconds=rng.randint(0, 50))
        hour_local = (t.hour + 1) % 24
        source = ("sleep" if hour_local >= 23 or hour_local < 7 else "rest" if hour_local < 8
                  else "workout" if 9 <= hour_local < 10 else "awake")
        if k in (50, 51, 52):  # ring off the finger: a gap
            continue
        bpm = {"sleep": 52, "rest": 58, "workout": 120, "awake": 72}[source] + rng.randint(-3, 3)
        rows.append({"bpm": bpm, "source": source, "timestamp": t.isoformat()})
    hr = {"data": rows, "next_token": None}
    spo2 = {"data": [{"id": "a1", "day": "2024-02-11", "spo2_percentage": {"average": 96.4}},
                     {"id": "a2", "day": "2024-02-12", "spo2_percentage": {"average": 97.1}}], "next_token": None}
    (OUT / "oura_heartrate.json").write_text(json.dumps(hr, indent=1))
    with zipfile.ZipFile(OUT / "oura_api.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        _zput(zf, "heartrate.json", json.dumps(hr))
        _zput(zf, "daily_spo2.json", json.dumps(spo2))
    lines = ["timestamp;bpm;source"] + [f"{r['timestamp']};{r['bpm']};{r['source']}" for r in rows[:60]]
    (OUT / "oura_heartrate.csv").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- Garmin FIT (hand-encoded)

_CRC = [0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
        0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400]
FIT_EPOCH = 631065600
# base types: (code, struct format)
ENUM, UINT8, SINT16, UINT16, UINT32, UINT32Z = (0x00, "B"), (0x02, "B"), (0x83, "h"), (0x84, "H"), (0x86, "I"), (0x8C, "I")


def fit_crc(data: bytes, crc: int = 0) -> int:
    for byte in data:
        tmp = _CRC[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC[byte & 0xF]
        tmp = _CRC[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC[(byte >> 4) & 0xF]
    return crc


class FitWriter:
    """Minimal FIT encoder: definition messages, data messages, header and file CRC (FIT protocol 2.0)."""

    def __init__(self):
        self.body = bytearray()
        self.defs: dict[int, list] = {}

    def define(self, local: int, global_num: int, fields: list[tuple[int, tuple[int, str]]]) -> None:
        self.defs[local] = fields
        self.body += struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(fields))
        for num, (base, fmt) in fields:
            self.body += struct.pack("<BBB", num, struct.calcsize(fmt), base)

    def data(self, local: int, *values) -> None:
        fields = self.defs[local]
        self.body += struct.pack("<B", local)
        for (_, (_, fmt)), v in zip(fields, values):
            self.body += struct.pack("<" + fmt, v)

    def bytes(self) -> bytes:
        head = struct.pack("<BBHI4s", 14, 0x20, 2132, len(self.body), b".FIT")
        head += struct.pack("<H", fit_crc(head))
        out = head + bytes(self.body)
        return out + struct.pack("<H", fit_crc(out))


def garmin_monitoring(rng: random.Random, day_utc: datetime, offset_s: int = -7 * 3600) -> bytes:
    """One day-part of a monitoring file: HR each minute (timestamp_16 between full timestamps),
    cumulative walking steps, stress every 3 minutes. Local = UTC + offset_s (PDT: -7 h)."""
    w = FitWriter()
    t0 = int(day_utc.replace(tzinfo=timezone.utc).timestamp()) - FIT_EPOCH
    w.define(0, 0, [(0, ENUM), (1, UINT16), (2, UINT16), (3, UINT32Z), (4, UINT32)])  # file_id
    w.data(0, 32, 1, 3113, 123456789, t0)
    w.define(1, 103, [(253, UINT32), (0, UINT32)])  # monitoring_info: timestamp, local_timestamp
    w.data(1, t0, t0 + offset_s)
    w.define(2, 55, [(253, UINT32), (5, ENUM), (3, UINT32), (27, UINT8)])  # full timestamp, activity, cycles, hr
    w.define(3, 55, [(26, UINT16), (27, UINT8)])  # timestamp_16, heart_rate
    w.define(4, 227, [(0, SINT16), (1, UINT32)])  # stress_level value, time
    cum = 1000  # steps so far today (before the file): only a starting point
    for m in range(0, 180):
        t = t0 + m * 60 + rng.randint(0, 5)
        walking = 90 <= m < 110
        hr = int((105 if walking else 60) + rng.gauss(0, 2))
        if m in range(40, 55):  # watch off the wrist: a gap
            continue
        if m % 15 == 0:
            cum += rng.randint(0, 5) if not walking else 0
            w.data(2, t, 6, cum, hr)
        elif walking and m % 5 == 0:
            cum += rng.randint(480, 560)
            w.data(2, t, 6, cum, hr)
        else:
            w.data(3, t & 0xFFFF, hr)
        if m % 3 == 0:
            w.data(4, -1 if m < 3 else (15 if not walking else 60) + rng.randint(0, 8), t)
    return w.bytes()


def make_garmin(rng: random.Random) -> None:
    data = garmin_monitoring(rng, datetime(2024, 6, 3, 14, 0))  # 07:00 local (PDT)
    (OUT / "garmin_monitoring.fit").write_bytes(data)
    with zipfile.ZipFile(OUT / "garmin_wellness.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        _zput(zf, "DI_CONNECT/DI-Connect-Wellness/garmin_monitoring.fit", data)
        _zput(zf, "DI_CONNECT/DI-Connect-Wellness/garmin_monitoring_2.fit",
                    garmin_monitoring(random.Random(5), datetime(2024, 6, 4, 14, 0)))


MAKERS = {"apple": make_apple, "takeout": make_takeout, "health_connect": make_health_connect, "oura": make_oura, "garmin": make_garmin}


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in argv or list(MAKERS):
        MAKERS[name](random.Random(sum(map(ord, name))))
        print(f"wrote the {name} fixture(s) to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
