"""An upload analysed alone on one torch thread vs on all cores (`solo_upload_threads`), alternating.

The served app gives each request one torch thread (`ui.set_request_threads`), so concurrent requests
share the cores; an upload that runs alone may take them all (`MonitorService._upload_threads`). This
times `MonitorService.analyze_history` of the real 91-day Fitbit pair AS2MVDL (../shared/data) both
ways, alternating so both see the same host conditions, and prints the seconds per run and medians.

    python benchmarks/upload_threads.py [--repeats 4]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--fitbit-dir", default=str(REPO.parent / "shared" / "data" / "stanford_covid_wearables"))
    args = ap.parse_args()
    from wearable_monitor.app.service import AppConfig, MonitorService
    from wearable_monitor.app.ui import set_request_threads

    set_request_threads()  # as `launch` serves the app: one thread per request
    files = [str(Path(args.fitbit_dir) / f"AS2MVDL_{kind}.csv.zip") for kind in ("hr", "steps")]
    cores = os.cpu_count() or 1
    services = {n: MonitorService(AppConfig.load(solo_upload_threads=n)) for n in (1, cores)}
    for svc in services.values():
        svc.analyze_history(files)  # warm-up: model load, first trace
    seconds: dict[int, list[float]] = {n: [] for n in services}
    for _ in range(args.repeats):
        for n, svc in services.items():
            t0 = time.perf_counter()
            svc.analyze_history(files)
            seconds[n].append(round(time.perf_counter() - t0, 3))
    print(json.dumps({"case": "91-day Fitbit pair AS2MVDL, MonitorService.analyze_history", "cpus": cores,
                      "load_average": os.getloadavg(),
                      **{f"{n}_thread(s)": {"runs_s": v, "median_s": round(statistics.median(v), 3)}
                         for n, v in seconds.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
