"""POST /api/v1/detect_window (app/rest.py) on the served app, over HTTP on loopback."""
from __future__ import annotations

import json
from pathlib import Path

import httpx

WINDOW = (Path(__file__).resolve().parents[1] / "test_data" / "example_window.json").read_text()


def test_rest_detect_window_returns_the_same_verdict_as_the_service(app_url, app_service):
    r = httpx.post(f"{app_url}/api/v1/detect_window", content=WINDOW, timeout=60)
    assert r.status_code == 200, r.text
    got, want = r.json(), app_service.window_api(WINDOW)
    assert {k: got[k] for k in ("is_anomaly", "level", "anomaly_score", "threshold")} == \
           {k: want[k] for k in ("is_anomaly", "level", "anomaly_score", "threshold")}
    low = httpx.post(f"{app_url}/api/v1/detect_window", params={"threshold": 0.0}, content=WINDOW, timeout=60).json()
    assert low["threshold"] == 0.0 and low["details"]["model_anomalous"] is True


def test_rest_detect_window_names_bad_fields_and_refuses_oversize_bodies(app_url, app_service):
    recs = json.loads(WINDOW)
    recs = recs if isinstance(recs, list) else recs["window"]
    recs[3]["features"]["hr"] = "fast"
    body = "[\n" + ",\n".join(json.dumps(x) for x in recs) + "\n]"  # record i on line i + 2
    r = httpx.post(f"{app_url}/api/v1/detect_window", content=body, timeout=60)
    # one bad field: the window is still scored, and the answer says what was removed, where
    assert r.status_code == 200 and "line 5, features.hr" in r.json()["validation"]
    r = httpx.post(f"{app_url}/api/v1/detect_window", content=json.dumps([{"timestamp": "x"}]), timeout=60)
    assert r.status_code == 400 and "line 1, timestamp" in r.json()["error"]
    big = b"[" + b" " * (app_service.limits.max_bytes + 1) + b"]"
    r = httpx.post(f"{app_url}/api/v1/detect_window", content=big, timeout=60)
    assert r.status_code == 413 and "size limit" in r.json()["error"]
    assert httpx.post(f"{app_url}/api/v1/detect_window", params={"threshold": 2}, content=WINDOW).status_code == 422
    assert httpx.post(f"{app_url}/api/v1/detect_window", content=b"\xff\xfe", timeout=60).status_code == 400
