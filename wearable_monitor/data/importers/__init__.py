"""Device-export importers: one module per source under one small contract (`base.Importer`:
``detect`` a file, ``read`` 5-minute records out), and a registry that picks the importer
for a file. Used by `readers.load_any` (so `score`, `validate`, `cases`), the `import`
command and the app's upload tab.

Sources: Apple Health (`apple`), Fitbit via Google Takeout (`takeout`), Google Health Connect
(`health_connect`), Garmin FIT (`garmin`), Oura API v2 JSON / heart-rate CSV (`oura`).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..validation import InputFileError
from .base import Context, Importer, ImportReport, Input, Progress


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

