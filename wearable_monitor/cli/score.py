"""`wearable-monitor detect` (one window -> JSON) and `score` (histories -> per-window and per-day CSV,
in this process or on a Dask cluster with `--engine dask`)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from ..data.readers import load_any, load_window
from ..data.records import TIME, USER
from ..data.validation import InputFileError
from ..detector import InputError, WearableAnomalyDetector
from ..distributed import _source_id, is_parquet_dataset, score_population
from ..escaping import write_safe_csv
from ..formatter import AnomalyFormatter
from ..jsonio import dumps

# the CSV columns of `score`, the same for both engines
WINDOW_CSV_COLUMNS = [USER, TIME, "anomaly_score", "is_anomaly", "level", "reasons"]
DAY_CSV_COLUMNS = ["user_id", "date", "windows", "anomalous_windows", "anomaly_share", "alert", "pattern_days",
                   "trend", "level", "reasons"]


def _load_or_none(loader, path):
    """Run a reader; a whole-file problem (empty, binary, too large...) is printed, not raised."""
    try:
        return loader(path)
    except InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def configure_detect(parser: argparse.ArgumentParser):
    parser.add_argument("--window-file", required=True, help="JSON window (list of records or {'window': [...]})")
    parser.add_argument("--model-dir", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--llm", action="store_true", help="also print the LLM-ready Markdown")

    def run(args) -> int:
        loaded = _load_or_none(load_window, args.window_file)
        if loaded is None:
            return 2
        det = WearableAnomalyDetector(args.model_dir, threshold=args.threshold)
        history = loaded.history if loaded.history is not None and loaded.history.records else None
        if history is not None:
            det.score_history(history)
        try:
            result = det.detect_realtime(loaded, history=history)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(dumps(result))
        if args.llm:
            print(AnomalyFormatter().format(result).as_markdown())
        return 0 if loaded.ok else 1  # cli/__init__.py exit codes: 1 = done, with records or fields removed

    return run


def configure_score(parser: argparse.ArgumentParser):
    parser.add_argument("input", help="JSONL history (any number of users) or a Fitbit CSV of a pair")
    parser.add_argument("--out", required=True, help="per-window CSV (user_id, timestamp, anomaly_score, is_anomaly)")
    parser.add_argument("--daily", default=None, help="per-day CSV (user_id, date, windows, anomalous_windows, ...)")
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--db", default=None, help="SQLite baseline store to continue from and update")
    parser.add_argument("--compile", action="store_true",
                        help="score through torch.compile of the network: 1.5-2x the model's windows/s after a one-off "
                             "compilation (~45 s the first time on a machine, seconds once cached); for big inputs")
    add_engine_arguments(parser)  # --engine dask [--workers N | --scheduler ADDRESS] (docs/scale.md)

    def run(args) -> int:
        if args.engine == "dask":
            return _run_score_dask(args)
        if is_parquet_dataset(args.input):
            print(f"error: {args.input} is a Parquet dataset: score it with --engine dask", file=sys.stderr)
            return 2
        loaded = _load_or_none(load_any, args.input)
        if loaded is None:
            return 2
        if loaded.errors or any(w.line is None for w in loaded.warnings):  # per-source notes: aliases, columns
            print(loaded.summary(max_issues=10), file=sys.stderr)
        det = WearableAnomalyDetector(args.model_dir, threshold=args.threshold, storage=args.db)
        if args.compile:
            print("compiling the network (torch.compile; a one-off)...", file=sys.stderr)
            det.learned.compile_batches()
        sizes = loaded.frame[USER].value_counts()
        short = {str(u): int(n) for u, n in sizes.items() if n < det.window_size}
        if short:  # score_history skips them: say so instead of letting them vanish
            print(f"not scored ({len(short)} user(s) with fewer than the {det.window_size} records one window needs): "
                  + ", ".join(f"{u} ({n})" for u, n in list(short.items())[:20]), file=sys.stderr)
        scored, days = det.score_history_and_days(loaded, progress=True)
        write_safe_csv(scored[WINDOW_CSV_COLUMNS], args.out)
        print(f"wrote {len(scored)} windows of {scored[USER].nunique()} users to {args.out}")
        if args.daily:
            days["date"] = days["date"].dt.strftime("%Y-%m-%d")
            write_safe_csv(days[DAY_CSV_COLUMNS], args.daily)
            print(f"wrote {len(days)} user-days to {args.daily} ({int(days['alert'].sum())} alert days)")
        return 1 if (loaded.errors or short) else 0  # cli/__init__.py exit codes: 1 = done, records removed/not scored

    return run



def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """`score`'s engine options (added by configure_score)."""
    g = parser.add_argument_group("engine", "run on Dask: `--engine dask` (docs/scale.md)")
    g.add_argument("--engine", choices=["local", "dask"], default="local",
                   help="local: this process (default); dask: one task per user on a Dask cluster. With dask, "
                        "--out is a Parquet output folder, or a .csv file (the Parquet results then go to "
                        "<out without .csv>.parquet/ beside it); INPUT may also be a Parquet dataset "
                        "from `wearable-monitor convert`")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="dask: processes of the LocalCluster started for the run (default: CPU count)")
    where.add_argument("--scheduler", default=None, help="dask: address of an existing scheduler (tcp://host:8786)")
    g.add_argument("--users-per-task", type=int, default=1, help="dask: users scored by one task")
    g.add_argument("--no-resume", action="store_true",
                   help="dask: score every user again (default: skip users already written to the output)")


def _run_score_dask(args: argparse.Namespace) -> int:
    """`wearable-monitor score ... --engine dask`."""
    if args.db:
        print("error: --db (a shared SQLite baseline store) cannot be used with --engine dask: each user is "
              "replayed from an empty store on its worker", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    out = str(args.out)
    csv_out = out if out.lower().endswith(".csv") else None
    parquet_out = out[:-4] + ".parquet" if csv_out else out
    source: Any = args.input
    if not is_parquet_dataset(args.input):
        source = _load_or_none(load_any, args.input)
        if source is None:
            return 2
        if source.errors or any(w.line is None for w in source.warnings):
            print(source.summary(max_issues=10), file=sys.stderr)
        if not source.records:
            print("error: no valid records to score", file=sys.stderr)
            return 2
    try:
        res = score_population(source, parquet_out, workers=args.workers, scheduler=args.scheduler,
                               model_dir=args.model_dir, threshold=args.threshold, resume=not args.no_resume,
                               users_per_task=args.users_per_task, progress=True, input_name=_source_id(args.input),
                               compile_model=args.compile)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"scored {len(res.done)} users ({res.windows_scored} windows, {res.windows_per_second:,.0f} windows/s) "
          f"into {parquet_out}; {len(res.resumed)} already written, {len(res.skipped)} with too few records, "
          f"{len(res.failures)} failed")
    for user, error in sorted(res.failures.items()):
        print(f"failed: {user}: {error}", file=sys.stderr)
    if csv_out or args.daily:
        windows = res.windows()
        if csv_out:
            write_safe_csv(windows[WINDOW_CSV_COLUMNS], csv_out)
            print(f"wrote {len(windows)} windows of {windows[USER].nunique()} users to {csv_out}")
        if args.daily:
            days = res.days()
            days["date"] = pd.to_datetime(days["date"]).dt.strftime("%Y-%m-%d")
            write_safe_csv(days[DAY_CSV_COLUMNS], args.daily)
            print(f"wrote {len(days)} user-days to {args.daily} ({int(days['alert'].sum())} alert days)")
    return 1 if res.failures else 0
