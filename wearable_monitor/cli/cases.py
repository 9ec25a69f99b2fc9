"""`wearable-monitor cases`: the PatchTrAD prescreen + official precheck case pipeline."""
from __future__ import annotations

import argparse
import json
import sys

from ..cases import MODES, PRESCREEN_DIR, CaseConfig, CaseError, CaseModels, CaseRequest, run_case
from ..data.validation import InputFileError
from ..detector import InputError
from ..detectors.hub import CheckpointError


def configure_cases(parser: argparse.ArgumentParser):
    parser.add_argument("--mode", choices=MODES, default="all",
                        help="prescreen (PatchTrAD), precheck (learned detector; uses an earlier prescreen.json "
                             "of the same case if present) or all")
    parser.add_argument("--data-file", required=True, help="JSONL history (one or many users) or a Fitbit CSV")
    parser.add_argument("--save-dir", default="demo_patchad_cases", help="cases folder holding manifest.json")
    parser.add_argument("--sample-name", required=True, help="case name: letters, digits, '_' or '-'")
    parser.add_argument("--title", default=None)
    parser.add_argument("--source", default=None, help="where the data come from (shown in the app)")
    parser.add_argument("--created", default=None,
                        help="timestamp recorded in the manifest (default: the data's last timestamp; "
                             "never the wall clock, so regeneration gives the same bytes)")
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--user", default=None, help="user (deviceId) when the file has several; default: the first")
    parser.add_argument("--start", default=None, help="keep records at or after this time")
    parser.add_argument("--end", default=None, help="keep records before this time")
    parser.add_argument("--prescreen-dir", default=str(PRESCREEN_DIR), help="PatchTrAD checkpoint folder")
    parser.add_argument("--prescreen-threshold", type=float, default=None, help="PatchTrAD threshold override")
    parser.add_argument("--model-dir", default=None, help="learned detector checkpoint (default: the shipped one)")
    parser.add_argument("--threshold", type=float, default=None, help="learned detector threshold override")
    parser.add_argument("--around-minutes", type=int, default=CaseConfig.around_minutes)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def run(args: argparse.Namespace) -> int:
        try:
            request = CaseRequest(args.data_file, args.save_dir, args.sample_name, mode=args.mode, title=args.title,
                                  language=args.language, user=args.user, created=args.created, source=args.source,
                                  start=args.start, end=args.end)
            models = CaseModels(args.prescreen_dir, args.prescreen_threshold, args.model_dir, args.threshold)
            out = run_case(request, models, CaseConfig(around_minutes=args.around_minutes), progress=not args.quiet)
        except (CaseError, InputFileError, InputError, CheckpointError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        pre, chk = out.case["prescreen"], out.case["precheck"]
        print(json.dumps({"case": str(out.folder), "files": out.files,
                          "segments": len(pre["segments"]) if pre else None,
                          "confirmed": chk["segments_confirmed"] if chk else None,
                          "top_score": chk["top_window"]["anomaly_score"] if chk else None}, ensure_ascii=False))
        return 0

    return run
