"""`wearable-monitor convert`: records files -> a Parquet dataset partitioned by user."""
from __future__ import annotations

import argparse
import sys

from ..distributed import convert_to_parquet, start_local_cluster


def configure_convert(parser: argparse.ArgumentParser):
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="record files (JSONL / CSV / Fitbit CSV) or folders of .jsonl / .csv files")
    parser.add_argument("--to", choices=["parquet"], default="parquet", help="output format (Parquet)")
    parser.add_argument("--out", required=True, help="output folder (local path or fsspec URL): one partition per user")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--engine", choices=["local", "dask"], default="local",
                        help="dask: one task per input file (the workers must see the input files)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="dask: LocalCluster processes (default: CPU count)")
    where.add_argument("--scheduler", default=None, help="dask: address of an existing scheduler")

    def run(args: argparse.Namespace) -> int:
        own, client = None, None
        try:
            if args.engine == "dask":
                if args.scheduler:
                    from distributed import Client

                    client = Client(args.scheduler)
                else:
                    own, client = start_local_cluster(args.workers)
            s = convert_to_parquet(args.inputs, args.out, overwrite=args.overwrite, progress=not args.quiet,
                                   client=client)
        except (FileExistsError, FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            if client is not None:
                client.close()
            if own is not None:
                own.close()
        for report in s.reports:
            print(report, file=sys.stderr)
        for error in s.failed_files:
            print(f"error: {error}", file=sys.stderr)
        print(f"wrote {s.records} records of {s.users} users from {s.files - len(s.failed_files)} of {s.files} "
              f"files to {s.out} ({s.rejected_lines} lines rejected)")
        return 2 if not s.records else (1 if s.failed_files else 0)

    return run
