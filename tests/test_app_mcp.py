"""The app as an MCP server: an MCP client (the `mcp` package) lists the tools and calls one over
streamable HTTP on loopback (conftest.app_url serves the app with mcp_server=True, as `launch()` does)."""
from __future__ import annotations

import ast
import asyncio
import json

import pytest

mcp = pytest.importorskip("mcp")

TOOLS = {"detect_window", "analyze_history", "explain_history"}


async def _session(url: str, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def test_mcp_lists_typed_documented_tools_and_scores_a_window(app_url, app_service):
    window = json.dumps(app_service.preset("short_term")["window"])

    async def work(session):
        tools = (await session.list_tools()).tools
        call = await session.call_tool("detect_window", {"window_json": window})
        bad = await session.call_tool("detect_window", {"window_json": "{oops"})
        return tools, call, bad

    tools, call, bad = asyncio.run(_session(app_url, work))
    by_name = {t.name: t for t in tools}
    assert set(by_name) == TOOLS  # only the named API, none of the page's private events
    detect = by_name["detect_window"].inputSchema
    assert detect["properties"]["window_json"]["type"] == "string" and detect["required"] == ["window_json"]
    assert "6-24 five-minute records" in detect["properties"]["window_json"]["description"]
    assert "calibrated" in detect["properties"]["threshold"]["description"]
    history = by_name["analyze_history"].inputSchema["properties"]
    assert {"file", "second_file", "threshold", "markers", "summary_only"} <= set(history)
    assert "symptom_onset" in history["markers"]["description"]
    assert "screening aid" in by_name["explain_history"].description.lower()
    result = ast.literal_eval(call.content[0].text)  # Gradio sends a JSON output as the Python literal of the dict
    assert 0 <= result["anomaly_score"] <= 1 and result["level"] in ("normal", "watch", "alert", "urgent")
    assert result["user_id"] == app_service.preset("short_term")["window"][0]["deviceId"]
    assert "not valid JSON" in ast.literal_eval(bad.content[0].text)["error"]


def test_mcp_explains_a_history_sent_as_a_data_url(app_url, history_jsonl):
    """An agent without a public URL for its file sends it inline (base64 data URL)."""
    import base64

    data = "data:application/x-ndjson;base64," + base64.b64encode(history_jsonl.read_bytes()).decode()

    async def work(session):
        return await session.call_tool("explain_history", {"file": data, "language": "en", "length": "short",
                                                           "markers": "2024-01-02 travel"})

    out = asyncio.run(_session(app_url, work))
    text = out.content[0].text
    assert text.startswith("**Summary**") and "travel" in text and text.count("**Summary**") == 2  # two users
