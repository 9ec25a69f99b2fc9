"""Two stages of an upload, the old way and the shipped way, alternating in one process (seconds, medians).

1. Validation: record at a time (`validation.validate_items`, then the frame from the records) vs by
   columns (`frame_validation`: `readers.parse_jsonl_text` for a plain JSONL, `validate_frame` for a
   Fitbit pair's bins), each ending with the validated frame. Both give the same result
   (tests/test_frame_validation.py).
2. The window table's CSV export: pandas' `to_csv` after `csv_safe_frame` vs `escaping.write_safe_csv`.

Cases: a simulated 30-day JSONL (one user, 8,254 records) and the real 91-day Fitbit pair AS2MVDL
(../shared/data; skipped when absent).

    python benchmarks/upload_stages.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return round(statistics.median(runs), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fitbit-dir", default=str(REPO.parent / "shared" / "data" / "stanford_covid_wearables"))
    args = ap.parse_args()
    from wearable_monitor import WearableAnomalyDetector
    from wearable_monitor.data.fitbit import bins_to_frame, bins_to_records, import_fitbit
    from wearable_monitor.data.frame_validation import validate_frame
    from wearable_monitor.data.readers import iter_jsonl, parse_jsonl_text
    from wearable_monitor.data.validation import validate_items
    from wearable_monitor.escaping import csv_safe_frame, write_safe_csv
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    out: dict = {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    text = frame_to_jsonl(simulate_population(1, 30, seed=5).frame)
    cases = {"30-day JSONL": (lambda: validate_items(iter_jsonl(text)).frame, lambda: parse_jsonl_text(text).frame)}
    hr, steps = Path(args.fitbit_dir, "AS2MVDL_hr.csv.zip"), Path(args.fitbit_dir, "AS2MVDL_steps.csv.zip")
    if hr.is_file():
        bins = import_fitbit(hr, steps).bins
        cases["91-day Fitbit pair"] = (lambda: validate_items(enumerate(bins_to_records(bins), start=1)).frame,
                                       lambda: validate_frame(bins_to_frame(bins)).frame)
    det = WearableAnomalyDetector()
    folder = Path(tempfile.mkdtemp(prefix="wm_stages_"))
    for name, (per_record, by_columns) in cases.items():
        scored, _ = det.score_history_and_days(by_columns(), update_baseline=False)
        out[name] = {
            "validation_s": {"record_at_a_time": timed(per_record, args.repeats),
                             "by_columns": timed(by_columns, args.repeats)},
            "csv_export_s": {"pandas_to_csv": timed(lambda: csv_safe_frame(scored).to_csv(folder / "a.csv", index=False),
                                                    args.repeats),
                             "write_safe_csv": timed(lambda: write_safe_csv(scored, folder / "b.csv"), args.repeats)},
            "windows": len(scored)}
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
