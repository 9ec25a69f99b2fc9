"""History-first LLM text: alert periods first, red flags, baseline, what the device does not measure,
then the latest window; a short version within 400 words; the same facts in English and Chinese."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.formatter.history_report import history_case, render_history, word_count

TEST_DATA = "test_data/fitbit_A0NVTRV.jsonl"


@pytest.fixture(scope="module")
def fitbit_case(shared_detector):
    from wearable_monitor.data.readers import load_history

    frame = load_history(TEST_DATA).frame
    scored = shared_detector.score_history(frame, update_baseline=False)
    days = shared_detector.daily(scored)
    latest = shared_detector.predict(frame.iloc[-12:], update_baseline=False)
    return history_case(days, frame, [], latest), days


def test_history_text_opens_with_alert_periods_and_says_what_is_not_measured(fitbit_case):
    case, days = fitbit_case
    alert_days = days.loc[days["level"].isin(["alert", "urgent"]), "date"].dt.strftime("%Y-%m-%d").tolist()
    assert alert_days and case["alert_periods"]
    for lang, head, unmeasured in (("en", "### Alert periods", "Not measured by this device"),
                                   ("zh", "### 警示时段", "此设备不测量")):
        text = render_history(case, lang, "full").user_content
        assert text.index(head) < text.index("###", text.index(head) + 1)  # first section after the overview
        assert alert_days[-1] in text and unmeasured in text
        assert "Missing values" not in text and "缺失值" not in text
        assert "Blood oxygen" in text if lang == "en" else "血氧" in text  # the Fitbit export has no SpO2


def test_short_text_fits_a_chat_box_and_full_has_the_days_around(fitbit_case):
    case, _ = fitbit_case
    for lang in ("en", "zh"):
        short, full = render_history(case, lang, "short"), render_history(case, lang, "full")
        assert word_count(short.user_content) <= 400
        assert len(full.user_content) > len(short.user_content)
        assert ("screening aid, not a diagnosis" in short.user_content.lower()) or ("不是诊断" in short.user_content)
    with pytest.raises(ValueError):
        render_history(case, "en", "medium")


def test_no_alert_history_says_so():
    start = datetime(2024, 1, 1)
    days = pd.DataFrame({"user_id": ["q"] * 3, "date": [start + timedelta(days=i) for i in range(3)],
                         "level": ["normal", "watch", "normal"], "reasons": ["", "baseline:hrv_low", ""]})
    frame = pd.DataFrame({"user_id": ["q"], "timestamp": [start], "hr": [60.0]})
    case = history_case(days, frame)
    assert case["alert_periods"] == [] and "No day reached the alert level" in render_history(case).user_content
    assert "没有任何一天达到警示等级" in render_history(case, "zh").user_content


# ----------------------------------------------------------------------------- golden files (no model involved)
# tests/golden/history_<length>.<lang>.md: the whole Markdown of a fixed three-week history with an illness,
# a rule finding and the person's events. After an intended change of the text, regenerate with
#     REGEN_GOLDEN=1 python -m pytest tests/test_history_report.py
# review the diff, and commit.

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_case() -> dict:
    from wearable_monitor.data.markers import parse_markers

    start = datetime(2024, 3, 1)
    dates = [start + timedelta(days=i) for i in range(21)]
    level = ["normal"] * 21
    reasons = [""] * 21
    for i, (lv, why) in {4: ("watch", "baseline:hr_resting_high"), 10: ("alert", "pattern:multi_day_alert; baseline:hr_resting_high"),
                         11: ("urgent", "red_flag:hr_high_rest; baseline:hr_resting_high"),
                         12: ("alert", "pattern:multi_day_alert"), 13: ("watch", "baseline:hrv_low")}.items():
        level[i], reasons[i] = lv, why
    days = pd.DataFrame({"user_id": "golden-user", "date": dates, "level": level, "reasons": reasons,
                         "vitals_flags": ["", "", "", "", "", "", "", "", "", "", "hr_resting +2.1 sd", "hr_resting +3.0 sd",
                                          "", "", "", "", "", "", "", "", ""]})
    stamps = pd.date_range(start, periods=21 * 24, freq="h")
    rest = np.where(stamps < pd.Timestamp("2024-03-08"), 58.0, 61.0)
    frame = pd.DataFrame({"user_id": "golden-user", "timestamp": stamps, "hr": rest + 10, "hr_resting": rest,
                          "steps": 0.0})
    findings = [{"user_id": "golden-user", "status": "finding", "severity": "HIGH", "period": {"end": "2024-03-12"},
                 "title": {"en": "Sudden change in resting heart rate", "zh": "静息心率突变"}}]
    latest = {"window": {"end": "2024-03-21T23:00:00"}, "level": "normal", "reasons": [],
              "baseline": {"source": "personal", "days_of_history": 20,
                           "metrics": {"hr_resting": {"mean": 59.4, "std": 2.2}, "spo2": {"mean": 97.0, "std": 1.0}}}}
    markers = parse_markers("2024-03-05 hard_training intervals\n2024-03-11 symptom_onset fever\n"
                            "2024-03-12 positive_test")
    return history_case(days, frame, findings, latest, markers=markers)


@pytest.mark.parametrize("length", ["short", "full"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_history_golden(lang, length):
    import os

    got = render_history(golden_case(), lang, length).as_markdown()
    path = GOLDEN_DIR / f"history_{length}.{lang}.md"
    if os.environ.get("REGEN_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} missing: REGEN_GOLDEN=1 python -m pytest tests/test_history_report.py"
    assert got == path.read_text(encoding="utf-8"), f"{path} differs (intended? regenerate and review the diff)"


def test_events_are_listed_and_an_alert_day_with_an_event_is_not_a_false_alarm():
    case = golden_case()
    assert case["explained_days"] == ["2024-03-11", "2024-03-12"]  # not 03-05: no alert that day
    for lang, event, note in (("en", "symptom onset", "not a false alarm"), ("zh", "症状出现", "不算误报")):
        for length in ("short", "full"):
            text = render_history(case, lang, length).user_content
            assert event in text and note in text and "2024-03-11" in text
    full = render_history(case, "en", "full").user_content
    assert "2024-03-11: alert · `hr_resting +2.1 sd` · event: symptom onset" in full  # the day carries its event
    assert full.index("### Alert periods") < full.index("### Events entered by the person") < full.index("### Red flags")
