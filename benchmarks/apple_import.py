"""Apple Health import on a generated ~1 GB export.xml: wall time and peak RSS.

    python benchmarks/apple_import.py [--size-gb 1.0] [--file /tmp/apple_bench_export.xml] [--zip]

The export is synthetic (scripts/make_device_fixtures.py's record generator, heart rate every
~20 s so that a year of days reaches the size) and is written once, then reused. The import
runs in a child process (`python -m wearable_monitor import`), so the peak RSS measured is the
importer's alone (ru_maxrss of the child). Targets (issue 18): <= 90 s, <= 600 MB.
"""
from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from make_device_fixtures import APPLE_HEAD, apple_records  # noqa: E402


def generate(path: Path, size_gb: float) -> None:
    rng = random.Random(18)
    target = int(size_gb * 2**30)
    day = datetime(2021, 1, 1)
    with path.open("wb") as f:
        f.write(APPLE_HEAD.encode())
        while f.tell() < target:
            f.write("".join(apple_records(rng, day, 1, hr_every_s=20)).encode())
            day += timedelta(days=1)
        f.write(b"</HealthData>\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--file", default="/tmp/apple_bench_export.xml")
    ap.add_argument("--zip", action="store_true", help="also time the same export inside export.zip")
    args = ap.parse_args()
    path = Path(args.file)
    if not path.exists() or path.stat().st_size < args.size_gb * 2**30 * 0.99:
        t = time.perf_counter()
        generate(path, args.size_gb)
        print(f"generated {path} ({path.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - t:.0f} s")
    targets = [path]
    if args.zip:
        zpath = path.with_suffix(".zip")
        if not zpath.exists():
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                zf.write(path, "apple_health_export/export.xml")
        targets.append(zpath)
    for target in targets:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "wearable_monitor", "import", str(target), "--out",
                              "/tmp/apple_bench_records.jsonl", "--no-progress"], cwd=REPO, capture_output=True,
                             text=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if out.returncode:
            print(out.stdout, out.stderr)
            raise SystemExit(out.returncode)
        print(out.stdout.splitlines()[1])
        print(f"{target.name}: {target.stat().st_size / 2**30:.2f} GiB, {wall:.1f} s, peak RSS "
              f"{max(peak, before) / 1024:.0f} MB (child process)")


if __name__ == "__main__":
    main()
