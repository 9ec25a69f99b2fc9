"""The named API endpoints through gradio_client, against the app served locally (conftest.app_url)."""
from __future__ import annotations

import json

import pytest

gradio_client = pytest.importorskip("gradio_client")

MARKERS = "2024-01-01 hard_training long run\n2024-01-02 alcohol"


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_only_the_named_endpoints_are_public_with_named_described_parameters(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/detect_window", "/analyze_history", "/explain_history"}
    for name, endpoint in api["named_endpoints"].items():
        assert endpoint["description"], name  # from the tool's docstring
        for p in endpoint["parameters"]:
            assert not p["parameter_name"].startswith("param"), (name, p["parameter_name"])
            assert not p["label"].startswith("parameter_") and p["label"].startswith(p["parameter_name"]), p["label"]
            assert p["example_input"] != "Hello!!", (name, p["parameter_name"])
    names = [p["parameter_name"] for p in api["named_endpoints"]["/analyze_history"]["parameters"]]
    assert names == ["file", "second_file", "threshold", "markers", "summary_only"]
    window = api["named_endpoints"]["/detect_window"]["parameters"][0]["example_input"]
    assert isinstance(json.loads(window), list)  # a real window, not a placeholder


def test_detect_window(client, app_service):
    window = json.dumps(app_service.preset("short_term")["window"])
    r = client.predict(window_json=window, threshold=None, api_name="/detect_window")
    assert {"is_anomaly", "anomaly_score", "threshold", "top_features", "baseline", "window", "level"} <= set(r)
    assert 0 <= r["anomaly_score"] <= 1 and r["threshold"] == pytest.approx(app_service.threshold, abs=1e-4)
    forced = client.predict(window, 0.0, api_name="/detect_window")
    assert forced["details"]["model_anomalous"] is True and forced["threshold"] == 0.0
    assert "not valid JSON" in client.predict("{oops", None, api_name="/detect_window")["error"]


def test_analyze_history(client, history_jsonl, tmp_path):
    f = gradio_client.handle_file(str(history_jsonl))
    r = client.predict(file=f, threshold=None, markers=MARKERS, summary_only=False, api_name="/analyze_history")
    assert r["validation"]["counts"]["rejected"] == 0 and len(r["patterns"]) == 2
    users = {w["user_id"] for w in r["windows"]}
    assert users == set(r["patterns"]) == set(r["summary"]) == set(r["llm_text"])
    assert {d["user_id"] for d in r["days"]} == users
    assert all(0 <= w["anomaly_score"] <= 1 for w in r["windows"])
    assert [m["kind"] for m in r["markers"]] == ["hard_training", "alcohol"]
    assert {d["markers"] for d in r["days"] if d["date"] == "2024-01-01"} == {"hard training (long run)"}
    for texts in r["llm_text"].values():
        assert "hard training" in texts["full"] and len(texts["short"]) <= len(texts["full"])
    short = client.predict(f, None, None, "", True, api_name="/analyze_history")
    assert "windows" not in short and short["days"] and short["markers"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n")
    err = client.predict(gradio_client.handle_file(str(bad)), None, None, "", True, api_name="/analyze_history")
    assert "no valid record" in err["error"] and "line 1" in err["error"]
    wrong = client.predict(f, None, None, "2024-13-01 travel", True, api_name="/analyze_history")
    assert "not a date" in wrong["error"]


def test_analyze_history_takes_a_fitbit_pair(client, tmp_path):
    import numpy as np
    import pandas as pd

    minutes = pd.date_range("2020-01-01", periods=3 * 60, freq="1min")
    hr = pd.DataFrame({"user": "P9", "datetime": minutes.strftime("%Y-%m-%d %H:%M:%S"),
                       "heartrate": 60 + np.arange(len(minutes)) % 7})
    steps = pd.DataFrame({"user": "P9", "datetime": minutes.strftime("%Y-%m-%d %H:%M:%S"),
                          "steps": (np.arange(len(minutes)) % 30 == 0) * 12})
    hr.to_csv(tmp_path / "P9_hr.csv")
    steps.to_csv(tmp_path / "P9_steps.csv")
    hr_file, steps_file = (gradio_client.handle_file(str(tmp_path / n)) for n in ("P9_hr.csv", "P9_steps.csv"))
    r = client.predict(file=hr_file, second_file=steps_file, summary_only=True, api_name="/analyze_history")
    assert list(r["summary"]) == ["P9"] and r["days"]
    text = client.predict(hr_file, steps_file, "zh", "short", "2020-01-01 travel", api_name="/explain_history")
    assert "健康历史" in text and "旅行" in text
