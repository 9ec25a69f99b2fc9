"""The named API endpoints through gradio_client, against the app served locally (conftest.app_url)."""
from __future__ import annotations

import json

import pytest

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_only_the_named_endpoints_are_public(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/detect_window", "/analyze_history"}


def test_detect_window(client, app_service):
    window = json.dumps(app_service.preset("short_term")["window"])
    r = client.predict(window, None, api_name="/detect_window")
    assert {"is_anomaly", "anomaly_score", "threshold", "top_features", "baseline", "window"} <= set(r)
    assert 0 <= r["anomaly_score"] <= 1 and r["threshold"] == pytest.approx(app_service.threshold, abs=1e-4)
    forced = client.predict(window, 0.0, api_name="/detect_window")
    assert forced["is_anomaly"] is True and forced["threshold"] == 0.0
    assert "not valid JSON" in client.predict("{oops", None, api_name="/detect_window")["error"]


def test_analyze_history(client, history_jsonl, tmp_path):
    r = client.predict(gradio_client.handle_file(str(history_jsonl)), None, api_name="/analyze_history")
    assert r["validation"]["counts"]["rejected"] == 0 and len(r["patterns"]) == 2
    users = {w["user_id"] for w in r["windows"]}
    assert users == set(r["patterns"]) and {d["user_id"] for d in r["days"]} == users
    assert all(0 <= w["anomaly_score"] <= 1 for w in r["windows"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n")
    err = client.predict(gradio_client.handle_file(str(bad)), None, api_name="/analyze_history")
    assert "no valid record" in err["error"] and "line 1" in err["error"]
