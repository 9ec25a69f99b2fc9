"""History-first LLM text: alert periods first, red flags, baseline, what the device does not measure,
then the latest window; a short version within 400 words; the same facts in English and Chinese."""
from __future__ import annotations

from datetime import datetime, timedelta

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
