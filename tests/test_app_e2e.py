"""End-to-end: the app in a real browser (Debian's chromium driven by Playwright's Python API).

The app is served by the `app_url` fixture (conftest.py) on a free localhost port. Without
/usr/bin/chromium these tests skip, unless the CI environment variable is set: then they fail.
Never run `playwright install`; the system chromium is used.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SLOW = 90_000  # ms: scoring on a busy 2-core CI machine


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI (.ci/run installs it with apt-get)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#run-preset")
    yield page
    page.close()


def pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_page_loads_with_tabs_and_disclaimer(page):
    from playwright.sync_api import expect

    for name in ("Real-time window", "Upload a case", "PatchTrAD cases", "Users and baselines", "About"):
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    expect(page.locator("#disclaimer")).to_contain_text("not a medical device")


def test_each_preset_shows_a_score_and_a_chart(page, app_service):
    from playwright.sync_api import expect

    for p in app_service.presets():
        user = app_service.preset(p["name"])["window"][0].get("deviceId")
        pick(page, "preset", p["title"])
        page.click("#run-preset")
        verdict = page.locator("#verdict")
        expect(verdict).to_contain_text(user or "score", timeout=SLOW)
        expect(verdict).to_contain_text(re.compile(r"score \d\.\d{3} vs threshold \d\.\d{3}"))
        expect(page.locator("#window-plot .js-plotly-plot")).to_be_visible(timeout=SLOW)  # drawn after the text
        assert "DATA BEGIN" in page.locator("#window-llm textarea").input_value()


def test_upload_a_jsonl_then_a_bad_file(page, history_jsonl, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Upload a case").click()
    page.set_input_files("#upload-files input[type=file]", str(history_jsonl))
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("✅", timeout=SLOW)
    expect(page.locator("#timeline .js-plotly-plot")).to_be_visible(timeout=SLOW)
    expect(page.locator("#days table")).to_contain_text("anomalous_windows")
    expect(page.locator("#csv-out")).to_contain_text(".csv")

    bad = tmp_path / "broken.jsonl"
    bad.write_text("this is not json\n{\"timestamp\": 5}\n")
    page.reload()
    page.get_by_role("tab", name="Upload a case").click()
    page.set_input_files("#upload-files input[type=file]", str(bad))
    page.click("#analyze")
    status = page.locator("#upload-status")
    expect(status).to_contain_text("⚠️", timeout=SLOW)
    expect(status).to_contain_text("no valid record")
    assert "line 1" in page.locator("#validation textarea").input_value()
    assert "Traceback" not in page.content()


def test_language_switch_relabels_the_page_and_the_llm_text(page):
    from playwright.sync_api import expect

    page.locator("#language").get_by_text("中文").click()
    expect(page.get_by_role("tab", name="实时窗口")).to_be_visible()
    expect(page.locator("#disclaimer")).to_contain_text("不是医疗器械")
    page.click("#run-preset")
    expect(page.locator("#verdict")).to_contain_text("得分", timeout=SLOW)
    assert "系统提示" in page.locator("#window-llm textarea").input_value() or \
        re.search(r"[\u4e00-\u9fff]", page.locator("#window-llm textarea").input_value())
    page.locator("#language").get_by_text("English").click()
    expect(page.get_by_role("tab", name="Real-time window")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("score")  # the shown result re-rendered in English


def test_pick_a_patchtrad_case(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="PatchTrAD cases").click()
    pick(page, "case", "Demo case")
    expect(page.locator("#case-plot .js-plotly-plot")).to_be_visible(timeout=SLOW)
    expect(page.locator("#case-msg")).to_contain_text("Demo case")
    expect(page.locator("#case-llm textarea")).to_have_value(re.compile("for the LLM"))


# ----------------------------------------------------------------------------- issue 17: messages, events, zh, copy

ALLOWED_ASCII = {"JSON", "CSV", "JSONL", "HRV", "RMSSD", "SpO2", "LLM", "Markdown", "PatchTrAD", "Fitbit", "MCP",
                 "API", "SQLite", "Apple", "Watch", "iPhone", "Garmin", "Oura", "Android", "Pixel", "Takeout",
                 "Health", "Connect", "English", "Language", "PR-AUC", "F1", "ID", "bpm", "MB", "GB", "zip", "fit",
                 "csv", "jsonl", "json", "hr", "steps", "Google", "takeout.google.com", "Samsung", "Connect.zip",
                 "DI-Connect-Wellness", "Monitor", "heartrate", "daily_spo2", "rest/sleep", "Python"}


def fitbit_pair_files(folder: Path) -> list[Path]:
    """Three hours of a Fitbit pair (heart rate every 20 s, steps every minute)."""
    import numpy as np
    import pandas as pd

    minutes = pd.date_range("2020-01-01", periods=3 * 60, freq="1min")
    hr = pd.DataFrame({"user": "P9", "datetime": minutes.strftime("%Y-%m-%d %H:%M:%S"),
                       "heartrate": 60 + np.arange(len(minutes)) % 7})
    steps = pd.DataFrame({"user": "P9", "datetime": minutes.strftime("%Y-%m-%d %H:%M:%S"),
                          "steps": (np.arange(len(minutes)) % 30 == 0) * 12})
    hr.to_csv(folder / "P9_hr.csv")
    steps.to_csv(folder / "P9_steps.csv")
    return [folder / "P9_hr.csv", folder / "P9_steps.csv"]


def test_error_text_quoting_the_input_is_escaped_and_visible(page, tmp_path):
    from playwright.sync_api import expect

    page.locator("#window-json .cm-content").fill("{oops")
    page.click("#run-window")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("<window>: not valid JSON", timeout=SLOW)  # shown as text, not eaten as HTML
    assert verdict.locator("window").count() == 0
    page.get_by_role("tab", name="Upload a case").click()
    page.set_input_files("#upload-files input[type=file]", str(fitbit_pair_files(tmp_path)[1]))  # steps alone
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("pair, <ID>_hr.csv and <ID>_steps.csv", timeout=SLOW)


def test_a_second_upload_replaces_the_first(page, tmp_path):
    from playwright.sync_api import expect

    hr, steps = fitbit_pair_files(tmp_path)
    page.get_by_role("tab", name="Upload a case").click()
    box, status = page.locator("#upload-files"), page.locator("#upload-status")
    page.set_input_files("#upload-files input[type=file]", str(hr))
    expect(status).to_have_text("Ready to score: P9_hr.csv")  # the box's upload event has run
    page.set_input_files("#upload-files input[type=file]", [str(hr), str(steps)])
    expect(status).to_have_text("Ready to score: P9_hr.csv, P9_steps.csv")
    expect(box).to_contain_text("P9_steps")
    expect(box.get_by_text("P9_hr")).to_have_count(1)  # replaced, not appended (it would be listed twice)
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("✅", timeout=SLOW)
    expect(page.locator("#validation textarea")).to_have_value(re.compile("fitbit"))  # details next to the status


def test_events_are_drawn_on_the_timeline_and_listed(page, history_jsonl):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Upload a case").click()
    page.set_input_files("#upload-files input[type=file]", str(history_jsonl))
    page.locator("#marker-date").get_by_role("textbox").fill("2024-01-02")
    pick(page, "marker-kind", "hard training")
    page.locator("#marker-note").get_by_role("textbox").fill("intervals")
    page.click("#add-marker")
    expect(page.locator("#markers textarea")).to_have_value("2024-01-02 hard_training intervals")
    page.locator("#marker-date").get_by_role("textbox").fill("2024-02-30")
    page.click("#add-marker")
    expect(page.locator("#marker-msg")).to_contain_text("not a date")
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("✅", timeout=SLOW)
    expect(page.locator("#timeline .js-plotly-plot")).to_contain_text("hard training", timeout=SLOW)  # its label
    assert page.locator("#timeline .js-plotly-plot path[style*='dash']").count() >= 1
    expect(page.locator("#days table")).to_contain_text("hard training (intervals)")
    assert "hard training" in page.locator("#upload-llm-short textarea").input_value()


def test_copy_the_short_llm_text(browser, app_url, history_jsonl):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1300, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Upload a case").click()
    page.set_input_files("#upload-files input[type=file]", str(history_jsonl))
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("✅", timeout=SLOW)
    short = page.locator("#upload-llm-short textarea").input_value()
    assert short.startswith("**Summary**") and "System prompt" not in short
    page.locator("#upload-llm-short").get_by_role("button", name=re.compile("copy", re.I)).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == short
    context.close()


def own_strings(page, scope: str) -> list[str]:
    """The visible texts the app itself writes in `scope`: labels, buttons, tab names, table headers,
    help text (code spans, data, results and Gradio's own widgets left out)."""
    return page.evaluate("""(scope) => {
        const root = document.querySelector(scope);
        const skip = '#validation, #upload-llm, #upload-llm-short, #window-llm, #window-json, #markers textarea, '
                   + '.js-plotly-plot, td, code, pre, input, textarea, #upload-files .file-preview, [data-testid="file"]';
        const out = [];
        for (const el of root.querySelectorAll('[data-testid="block-info"], button, [role="tab"], th, .prose p, .prose li, .prose h3')) {
            if (el.closest(skip) || !el.offsetParent) continue;
            const clone = el.cloneNode(true);
            clone.querySelectorAll('code, td').forEach(c => c.remove());
            const text = clone.innerText.trim();
            if (text) out.push(text);
        }
        return out;
    }""", scope)


def english_words(texts: list[str], data: set[str] = frozenset()) -> list[str]:
    """English words left in `texts`, apart from names (ALLOWED_ASCII) and the data's ids (`data`)."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9_./-]*[A-Za-z0-9]", " ".join(texts))
    return sorted({w for w in words if w not in ALLOWED_ASCII and w not in data and len(w) > 2})


def test_chinese_page_has_no_english_in_its_own_strings(browser, app_url, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    expect(page.get_by_role("tab", name="实时窗口")).to_be_visible()  # a Chinese browser gets the Chinese page
    page.click("#run-preset")
    expect(page.locator("#verdict")).to_contain_text("得分", timeout=SLOW)
    assert english_words(own_strings(page, "#tab-window"), {"demo-user"}) == []
    page.get_by_role("tab", name="上传数据").click()
    page.set_input_files("#upload-files input[type=file]", [str(p) for p in fitbit_pair_files(tmp_path)])
    page.click("#analyze")
    expect(page.locator("#upload-status")).to_contain_text("✅", timeout=SLOW)
    assert english_words(own_strings(page, "#tab-upload"), {"P9"}) == []
    page.get_by_role("tab", name="关于").click()
    expect(page.locator("#about")).to_contain_text("模型卡")
    assert english_words(own_strings(page, "#tab-about")) == []
    page.locator("#language").get_by_text("English").click()  # and no Chinese left in English mode
    expect(page.get_by_role("tab", name="About")).to_be_visible()
    page.get_by_role("tab", name="Real-time window").click()
    texts = own_strings(page, "#tab-window") + own_strings(page, "#tab-upload")
    assert not [x for x in texts if re.search(r"[\u4e00-\u9fff]", x) and x != "中文"]
    context.close()
