"""Click to result in the upload tab (issue 17, point 5), in a real browser on loopback.

Serves the app in-process on 127.0.0.1 (a free port, a temp data dir), opens it in Debian's
chromium (Playwright, headless), and for each case uploads the files, clicks "Validate and score"
and waits until the status shows the result (the green tick); the time from the click to that
is one measurement. Cases:

1. a simulated 30-day, one-user JSONL history (8,640 five-minute records);
2. a real 91-day Fitbit pair, `AS2MVDL_hr.csv` + `AS2MVDL_steps.csv` from ../shared/data
   (Stanford COVID-19 wearables study, Mishra et al. 2020; see that folder's README).

It also prints where the server's time goes (in-process, the same service): analysing
(validation, scoring, day table, rules, export) and rendering the tab (charts, tables, LLM text).

    python benchmarks/upload_click.py [--repeats 3] [--fitbit-dir ../shared/data/stanford_covid_wearables]

Targets from the issue: 30 days <= 2 s, 91-day Fitbit pair <= 3 s. Figures depend on the machine
and on what else runs on it (a shared 2-core box here): read them with the load average printed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
CHROMIUM = "/usr/bin/chromium"


def thirty_days(folder: Path) -> list[Path]:
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    path = folder / "thirty_days.jsonl"
    path.write_text(frame_to_jsonl(simulate_population(1, 30, seed=5).frame))
    return [path]


def fitbit_pair(source: Path, folder: Path, uid: str = "AS2MVDL") -> list[Path]:
    out = []
    for kind in ("hr", "steps"):
        with zipfile.ZipFile(source / f"{uid}_{kind}.csv.zip") as z:
            name = next(n for n in z.namelist() if n.endswith(f"{uid}_{kind}.csv"))
            target = folder / f"{uid}_{kind}.csv"
            target.write_bytes(z.read(name))
            out.append(target)
    return out


def upload_cases(folder: Path, fitbit_dir: str) -> dict[str, list[Path]]:
    """The benchmark's cases as files in `folder`: the 30-day JSONL, and the Fitbit pair when present."""
    cases = {"30-day JSONL": thirty_days(folder)}
    if Path(fitbit_dir, "AS2MVDL_hr.csv.zip").is_file():
        cases["91-day Fitbit pair"] = fitbit_pair(Path(fitbit_dir), folder)
    return cases


def served_app(fitbit_dir: str, prefix: str):
    """(upload cases, service, Blocks) as `launch` serves them: the cases and a fresh service's data in a
    new temp folder, the request threads set, the UI built, the service warmed up."""
    from wearable_monitor.app.ui import build_ui, create_service, set_request_threads, warm_up

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    cases = upload_cases(tmp, fitbit_dir)
    service = create_service(data_dir=str(tmp / "data"))
    set_request_threads()  # as `launch` serves the app
    demo = build_ui(service)
    warm_up(service)
    return cases, service, demo


def server_breakdown(service, files: list[Path], repeats: int) -> dict:
    from wearable_monitor.app.handlers import Handlers, UploadView

    h, analyse, render = Handlers(service), [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        outcome = service.analyze_history([str(f) for f in files])
        t1 = time.perf_counter()
        h.upload_view(UploadView(outcome, outcome.users[0]), "en")
        analyse.append(t1 - t0)
        render.append(time.perf_counter() - t1)
    return {"analyse_s": round(statistics.median(analyse), 2), "render_s": round(statistics.median(render), 2),
            "days": int(len(outcome.days)), "windows": int(len(outcome.scored)), "records": int(len(outcome.frame))}


def click_to_result(page, url: str, files: list[Path], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        page.goto(url)
        page.get_by_role("tab", name="Upload a case").click()
        page.set_input_files("#upload-files input[type=file]", [str(f) for f in files])
        page.locator("#upload-files").get_by_text(files[-1].stem).wait_for()
        status = page.locator("#upload-status")
        t0 = time.perf_counter()
        page.click("#analyze")
        status.filter(has_text="✅").wait_for(timeout=120_000)
        page.locator("#timeline .js-plotly-plot").wait_for()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fitbit-dir", default=str(REPO.parent / "shared" / "data" / "stanford_covid_wearables"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.conftest import free_port
    from wearable_monitor.app.ui import CSS
    from wearable_monitor.gc_tuning import tune_gc

    cases, service, demo = served_app(args.fitbit_dir, "wm_bench_")
    demo.queue(default_concurrency_limit=service.config.concurrency_limit)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            css=CSS, max_file_size=service.config.max_upload_bytes)
    tune_gc()  # as `launch` does once the server is up
    report = {"load_average_before": os.getloadavg()}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(60_000)
            for name, files in cases.items():
                clicks = click_to_result(page, url, files, args.repeats)
                report[name] = {"click_to_result_s": [round(x, 2) for x in clicks],
                                "median_s": round(statistics.median(clicks), 2),
                                **server_breakdown(service, files, args.repeats)}
            browser.close()
    finally:
        demo.close()
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
