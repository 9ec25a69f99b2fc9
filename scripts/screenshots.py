"""Take a screenshot of each tab of the app into docs/screenshots/ (Debian chromium + Playwright).

    python scripts/screenshots.py [--out docs/screenshots] [--cases-dir demo_patchad_cases]

Starts the app on a free localhost port (fresh temp stores), runs the long-term preset, uploads
the real Fitbit sample with the participant's symptom onset and positive test as events (and again
in a Chinese browser), opens the first PatchTrAD case, the users tab and the About tab. Never
runs `playwright install`: it drives the system chromium at /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


EVENTS = "2020-04-20 symptom_onset\n2020-04-25 positive_test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick(page, elem_id: str, option: str) -> None:
    """Choose `option` in the Gradio dropdown with elem_id."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def tab(page, label: str) -> None:
    page.get_by_role("tab", name=label).click()


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    from wearable_monitor.app.service import AppConfig, MonitorService
    from wearable_monitor.app.ui import CSS, build_ui

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--cases-dir", default="demo_patchad_cases")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    service = MonitorService(AppConfig.load(data_dir=tempfile.mkdtemp(prefix="screens_"), cases_dir=args.cases_dir))
    demo = build_ui(service).queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            css=CSS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(url)
            page.wait_for_selector("#run-preset")
            pick(page, "preset", "Multi-day illness")
            page.click("#run-preset")
            page.wait_for_selector("#verdict h2", timeout=60_000)
            page.wait_for_selector("#window-plot .js-plotly-plot", timeout=30_000)
            page.screenshot(path=str(out / "1_realtime_window.png"), full_page=True)

            tab(page, "Upload a case")
            page.set_input_files("#upload-files input[type=file]", str(REPO / "test_data" / "fitbit_A0NVTRV.jsonl"))
            page.wait_for_timeout(1000)
            # the participant's self-reported dates (../shared/data/stanford_covid_wearables/labels.csv)
            page.locator("#markers textarea").fill(EVENTS)
            page.click("#analyze")
            page.wait_for_selector("#upload-status :text('✅')", timeout=120_000)
            page.wait_for_selector("#timeline .js-plotly-plot", timeout=30_000)
            page.screenshot(path=str(out / "2_upload_case.png"), full_page=True)

            tab(page, "PatchTrAD cases")
            page.wait_for_timeout(1500)
            cases = service.cases()
            if cases:
                pick(page, "case", cases[0].get("title") or cases[0]["name"])
                page.wait_for_selector("#case-plot .js-plotly-plot", timeout=30_000)
            page.screenshot(path=str(out / "3_patchtrad_cases.png"), full_page=True)

            tab(page, "Users and baselines")
            page.wait_for_selector("#baselines table", timeout=30_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "4_users_baselines.png"), full_page=True)

            tab(page, "About")
            page.wait_for_timeout(800)
            page.screenshot(path=str(out / "5_about.png"), full_page=True)

            page.locator("#language").get_by_text("中文").click()
            tab(page, "实时窗口")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "6_realtime_window_zh.png"), full_page=True)

            # a Chinese browser: Gradio's own strings in Chinese too (needs a CJK font, e.g. fonts-noto-cjk)
            zh = browser.new_page(viewport={"width": 1360, "height": 900}, locale="zh-CN")
            zh.goto(url)
            zh.wait_for_selector("#run-preset")
            tab(zh, "上传数据")
            zh.set_input_files("#upload-files input[type=file]", str(REPO / "test_data" / "fitbit_A0NVTRV.jsonl"))
            zh.wait_for_timeout(1000)
            zh.locator("#markers textarea").fill(EVENTS)
            zh.click("#analyze")
            zh.wait_for_selector("#upload-status :text('✅')", timeout=120_000)
            zh.wait_for_selector("#timeline .js-plotly-plot", timeout=30_000)
            zh.screenshot(path=str(out / "7_upload_case_zh.png"), full_page=True)
            browser.close()
    finally:
        demo.close()
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
