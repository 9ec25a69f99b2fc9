"""An upload's analysis in two source trees, measured in alternation (a benchmark, not a test).

As benchmarks/realtime_ab.py does for the realtime call: a fresh process for tree A, then tree B, then A
again..., each timing `MonitorService.analyze_history` (built as the app builds it: `ui.create_service`,
one torch thread per request, the GC tuning where the tree has it) on a simulated 30-day JSONL (one user,
8,254 records) and the real 91-day Fitbit pair AS2MVDL (../shared/data), median of three calls after a
warm-up. Both trees see the same host conditions, so the ratio means more than either figure.

    git worktree add /tmp/base <commit>
    python benchmarks/upload_ab.py /tmp/base . [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RUN = """
import json, statistics, sys, tempfile, time
from pathlib import Path
import wearable_monitor
assert wearable_monitor.__file__.startswith(sys.argv[1]), wearable_monitor.__file__
from wearable_monitor.app.ui import create_service, set_request_threads
svc = create_service(data_dir=tempfile.mkdtemp())
set_request_threads()
try:
    from wearable_monitor.gc_tuning import tune_gc  # trees before it: the collector's defaults
    tune_gc()
except ImportError:
    pass
out = {}
for name, files in json.loads(sys.argv[2]).items():
    svc.analyze_history(files)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        svc.analyze_history(files)
        runs.append(time.perf_counter() - t0)
    out[name] = statistics.median(runs)
print(json.dumps(out))
"""


def seconds(tree: Path, cases: dict[str, list[str]]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", RUN, str(tree), json.dumps(cases)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fitbit-dir", default=str(REPO.parent / "shared" / "data" / "stanford_covid_wearables"))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from upload_click import upload_cases

    cases = {k: [str(p) for p in v] for k, v in upload_cases(Path(tempfile.mkdtemp(prefix="wm_ab_")),
                                                              args.fitbit_dir).items()}
    a_tree, b_tree = args.tree_a.resolve(), args.tree_b.resolve()
    a, b = [], []
    for r in range(args.rounds):
        a.append(seconds(a_tree, cases))
        b.append(seconds(b_tree, cases))
        print(f"round {r + 1}: " + "   ".join(f"{k}: A {a[-1][k]:.3f} s  B {b[-1][k]:.3f} s  B/A {b[-1][k] / a[-1][k]:.3f}"
                                              for k in cases), flush=True)
    for k in cases:
        ratios = [y[k] / x[k] for x, y in zip(a, b)]
        print(f"{k}: A median {statistics.median(x[k] for x in a):.3f} s, B median {statistics.median(y[k] for y in b):.3f} s, "
              f"B/A per round median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
