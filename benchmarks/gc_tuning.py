"""`gc_tuning.tune_gc` on and off, alternating in one process: seconds per `MonitorService.analyze_history`.

The service is built as the app builds it (`ui.create_service`, one torch thread per request), and
the page's Blocks are built too, so the heap holds what a served process holds. Cases: a simulated
30-day JSONL (one user, 8,640 records) and the real 91-day Fitbit pair AS2MVDL (../shared/data).
"off" restores CPython's default thresholds and unfreezes; "on" is `tune_gc()`.

    python benchmarks/gc_tuning.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fitbit-dir", default=str(REPO.parent / "shared" / "data" / "stanford_covid_wearables"))
    args = ap.parse_args()
    from upload_click import served_app

    from wearable_monitor.gc_tuning import tune_gc

    cases, service, _ = served_app(args.fitbit_dir, "wm_gc_")  # the start-up objects `launch` freezes
    defaults = gc.get_threshold()
    report: dict = {"cpus": os.cpu_count(), "load_average_before": os.getloadavg(), "default_thresholds": defaults}
    for name, files in cases.items():
        paths = [str(f) for f in files]
        service.analyze_history(paths)  # warm-up
        seconds: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(args.repeats):
            for mode in ("off", "on"):
                if mode == "on":
                    tune_gc()
                else:
                    gc.unfreeze()
                    gc.set_threshold(*defaults)
                t0 = time.perf_counter()
                service.analyze_history(paths)
                seconds[mode].append(round(time.perf_counter() - t0, 3))
        report[name] = {m: {"runs_s": v, "median_s": round(statistics.median(v), 3)} for m, v in seconds.items()}
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
