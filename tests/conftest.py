"""Shared fixtures. Keep this file small: app fixtures live below, add others in their own section."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest


# ----------------------------------------------------------------------------- app (tests/test_app_*.py)

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_case(cases_dir: Path, name: str = "demo_case", title: str = "Demo case") -> dict:
    """One PatchTrAD case in the manifest format (demo_patchad_cases/manifest.json)."""
    import pandas as pd

    (cases_dir / name).mkdir(parents=True, exist_ok=True)
    stamps = pd.date_range("2024-01-01", periods=48, freq="5min")
    scores = [0.1 + 0.8 * (20 <= i < 26) for i in range(48)]
    prescreen = {"user_id": "u-case", "timestamps": [s.isoformat() for s in stamps], "scores": scores,
                 "threshold": 0.5, "segments": [{"start": stamps[20].isoformat(), "end": stamps[25].isoformat(),
                                                 "max_score": 0.9}]}
    (cases_dir / name / "prescreen.json").write_text(json.dumps(prescreen))
    (cases_dir / name / "case.json").write_text(json.dumps({"user_id": "u-case", "verdict": "flagged"}))
    (cases_dir / name / "llm_input.md").write_text(f"## System prompt\n\nCase {name} for the LLM.\n")
    entry = {"name": name, "title": title, "source": "simulated", "created": "2024-01-02T00:00:00",
             "files": {"prescreen": f"{name}/prescreen.json", "case": f"{name}/case.json",
                       "llm_input": f"{name}/llm_input.md"}}
    manifest = cases_dir / "manifest.json"
    cases = json.loads(manifest.read_text())["cases"] if manifest.exists() else []
    manifest.write_text(json.dumps({"cases": [c for c in cases if c["name"] != name] + [entry]}))
    return entry


@pytest.fixture(scope="session")
def history_jsonl(tmp_path_factory) -> Path:
    """Two simulated days of two users as a JSONL upload (5-minute records)."""
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    pop = simulate_population(2, 2, seed=11)
    path = tmp_path_factory.mktemp("upload") / "two_users.jsonl"
    path.write_text(frame_to_jsonl(pop.frame))
    return path


@pytest.fixture(scope="session")
def app_service(tmp_path_factory):
    """One MonitorService (loads the model once) with its stores and a cases folder in a temp dir."""
    from wearable_monitor.app.service import AppConfig, MonitorService

    root = tmp_path_factory.mktemp("app")
    write_case(root / "cases")
    cfg = AppConfig.load(data_dir=str(root / "data"), cases_dir=str(root / "cases"), max_upload_bytes=2_000_000)
    return MonitorService(cfg)


@pytest.fixture(scope="session")
def app_url(app_service):
    """The Blocks app served on a free localhost port from a thread (closed at the end)."""
    from wearable_monitor.app.rest import add_rest_routes
    from wearable_monitor.app.ui import CSS, build_ui

    demo = build_ui(app_service)
    demo.queue(default_concurrency_limit=app_service.config.concurrency_limit)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, css=CSS, max_file_size=app_service.config.max_upload_bytes,
                            mcp_server=True)  # as `launch()` serves it: the named API is also an MCP server
    add_rest_routes(demo.app, app_service)  # and the plain JSON routes (rest.py)
    yield url.rstrip("/")
    demo.close()


# ----------------------------------------------------------------------------- detector

@pytest.fixture(scope="session")
def shared_detector():
    """One shipped-checkpoint detector for tests that only read (update_baseline=False)."""
    from wearable_monitor import WearableAnomalyDetector

    return WearableAnomalyDetector()
