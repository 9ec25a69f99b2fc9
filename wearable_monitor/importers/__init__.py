"""Device-export importers: one module per source under one small contract (`base.Importer`:
``detect`` a file, ``read`` 5-minute records out), and a registry that picks the importer
for a file. Used by `readers.load_any` (so `score`, `validate`, `cases`), the `import`
command and the app's upload tab.

Sources: Apple Health (`apple`), Fitbit via Google Takeout (`takeout`), Google Health Connect
(`health_connect`), Garmin FIT (`garmin`), Oura API v2 JSON / heart-rate CSV (`oura`).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..validation import InputFileError
from .base import Context, ImportReport, Importer, Input, Progress


def _registry() -> list[Importer]:
    from .apple import AppleHealth
    from .garmin import GarminFit
    from .health_connect import HealthConnect
    from .oura import Oura
    from .takeout import FitbitTakeout
    return [AppleHealth(), FitbitTakeout(), HealthConnect(), GarminFit(), Oura()]


IMPORTERS: list[Importer] = _registry()
BY_NAME = {imp.name: imp for imp in IMPORTERS}
# file endings worth a detection attempt (the existing JSON/JSONL/CSV readers handle the rest)
DEVICE_SUFFIXES = (".zip", ".xml", ".json", ".csv", ".db", ".sqlite", ".fit")


@dataclass
class ImportResult:
    records: list[dict]
    report: ImportReport


def find_importer(path: str | Path, source: str | None = None) -> Importer | None:
    """The importer for a file (by `source` name when given), or None when no importer claims it.
    A damaged zip raises InputFileError."""
    src = Input(path)
    if source:
        if source not in BY_NAME:
            raise InputFileError(f"unknown source {source!r}; known: {', '.join(BY_NAME)}")
        return BY_NAME[source]
    for imp in IMPORTERS:
        if imp.detect(src):
            return imp
    return None


def is_device_export(path: str | Path) -> bool:
    """True when an importer claims the file (cheap: name, first bytes, zip listing)."""
    p = Path(path)
    if not p.exists():
        return False
    if p.is_file() and p.stat().st_size == 0:
        return False
    if p.is_file() and not p.name.lower().endswith(DEVICE_SUFFIXES):
        return False
    try:
        return find_importer(p) is not None
    except InputFileError:
        return p.name.lower().endswith(".zip")  # a damaged zip: let the importer path say so


def import_file(path: str | Path, *, source: str | None = None, progress: Progress | None = None,
                timezone: str | None = None, device_id: str | None = None) -> ImportResult:
    """Detect (or take `source`) and import one file -> records + report. Raises InputFileError."""
    src = Input(path)
    if src.size == 0 and not src.is_dir:
        raise InputFileError(f"{path}: the file is empty")
    imp = find_importer(path, source)
    if imp is None:
        if src.looks_zip:
            raise InputFileError(f"{path}: a zip, but none of the device exports this app reads "
                                 f"({'; '.join(i.label for i in IMPORTERS)})")
        raise InputFileError(f"{path}: not recognised as a device export ({'; '.join(i.label for i in IMPORTERS)})")
    report = ImportReport(source=imp.name, file=str(path))
    ctx = Context(report=report, progress=progress, timezone=timezone, device_id=device_id)
    records = list(imp.read(src, ctx))
    if not records:
        raise InputFileError(f"{path}: no 5-minute record with heart rate could be made from this "
                             f"{imp.label}\n{report.text()}")
    return ImportResult(records, report)


def write_jsonl(records: Iterable[dict], path: str | Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
            n += 1
    return n


# ---------------------------------------------------------------- CLI: wearable-monitor import

def configure_import(parser):
    parser.add_argument("files", nargs="+", help="device exports: Apple export.zip/export.xml, Fitbit Takeout .zip "
                                                 "(or folder/files), Health Connect .zip/.db, Garmin .fit (or .zip "
                                                 "of them), Oura API JSON / heart-rate CSV")
    parser.add_argument("--out", required=True, help="output JSONL of 5-minute records (all files together)")
    parser.add_argument("--source", default=None, choices=sorted(BY_NAME), help="skip detection: read as this source")
    parser.add_argument("--timezone", default=None, help="IANA time zone for sources that export UTC "
                                                         "(Fitbit Takeout without Profile.csv, Oura API)")
    parser.add_argument("--device-id", default=None, help="deviceId of the records (default: the source name)")
    parser.add_argument("--json", action="store_true", help="print the import reports as JSON")
    parser.add_argument("--no-progress", action="store_true")

    def run(args) -> int:
        from tqdm import tqdm
        all_records, reports = [], []
        for f in args.files:
            bar = None if args.no_progress else tqdm(total=100, desc=Path(f).name, unit="%", file=sys.stderr,
                                                       leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

            def progress(frac: float, desc: str, bar=bar) -> None:
                if bar is not None:
                    bar.n = round(100 * frac)
                    bar.set_postfix_str(desc, refresh=True)

            try:
                result = import_file(f, source=args.source, progress=progress, timezone=args.timezone,
                                     device_id=args.device_id)
            except InputFileError as exc:
                if bar is not None:
                    bar.close()
                print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
                return 2
            if bar is not None:
                bar.close()
            all_records.extend(result.records)
            reports.append(result.report)
        n = write_jsonl(all_records, args.out)
        if args.json:
            print(json.dumps({"out": args.out, "records": n, "reports": [r.to_dict() for r in reports]}, indent=1))
        else:
            for r in reports:
                print(r.text())
            print(f"wrote {n} records to {args.out}")
        return 0

    return run
