"""`wearable-monitor import` (device exports) and `import-fitbit` (a Fitbit CSV pair) -> 5-minute JSONL records."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from ..data.fitbit import import_fitbit
from ..data.importers import BY_NAME, import_file, write_jsonl
from ..data.validation import InputFileError


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



def configure_import_fitbit(parser: argparse.ArgumentParser):
    parser.add_argument("--hr", required=True, help="<ID>_hr.csv or .csv.zip (user, datetime, heartrate)")
    parser.add_argument("--steps", default=None, help="<ID>_steps.csv or .csv.zip (user, datetime, steps); omit for "
                                                       "heart rate alone (the records then carry no step count)")
    parser.add_argument("--out", required=True, help="output JSONL of 5-minute records")
    parser.add_argument("--start", default=None, help="keep bins from this date/time on (e.g. 2020-04-01)")
    parser.add_argument("--end", default=None, help="keep bins before this date/time (exclusive)")

    def run(args: argparse.Namespace) -> int:
        try:
            result = import_fitbit(args.hr, args.steps, start=args.start, end=args.end)
        except InputFileError as exc:
            print(f"error: {exc}")
            return 2
        write_jsonl(result.records, args.out)
        print(f"wrote {args.out}")
        print(result.summary.text())
        return 0

    return run
