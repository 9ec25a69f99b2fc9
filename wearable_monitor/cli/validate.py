"""`wearable-monitor validate`: read a file and print the per-line validation report."""
from __future__ import annotations

import argparse
import json

from ..config import default_feature_config, load_feature_config
from ..data.readers import load_any
from ..data.validation import InputFileError, Limits


def configure_validate(parser: argparse.ArgumentParser):
    parser.add_argument("file", help=".json window, .jsonl history, records .csv, one file of a Fitbit "
                                     "<ID>_hr/_steps CSV pair, or a device export (see `import`)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--config", default=None, help="features config (default: configs/features_config.json)")
    parser.add_argument("--max-bytes", type=int, default=Limits.max_bytes, help="refuse larger files")
    parser.add_argument("--max-records", type=int, default=Limits.max_records, help="refuse files with more records")
    parser.add_argument("--max-issues", type=int, default=50, help="issues shown in the text report")

    def run(args: argparse.Namespace) -> int:
        """Exit 0: clean (warnings allowed); 1: some records/fields removed; 2: input unusable."""
        config = load_feature_config(args.config) if args.config else default_feature_config()
        limits = Limits(max_bytes=args.max_bytes, max_records=args.max_records)
        try:
            result = load_any(args.file, config, limits)
        except InputFileError as exc:
            print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
            return 2
        report = getattr(result, "import_report", None)  # device exports: what was read, used, skipped
        if args.json:
            print(json.dumps({**result.to_dict(), **({"import_report": report.to_dict()} if report else {})}, indent=1))
        else:
            print((report.text() + "\n\n" if report else "") + result.summary(args.max_issues))
        ok = result.ok and (result.history is None or result.history.ok)
        return 0 if ok else 1

    return run
