"""The named API, which is also the MCP server's tool list (`launch(mcp_server=True)`).

Each tool is a typed method whose docstring is its description: Gradio turns the first paragraph
into the endpoint/tool description and the `Args:` lines into the parameter descriptions of the
"Use via API" page and the MCP input schema. The method names are the MCP tool names; the
components carry a label that says what the parameter is and a real example.

    detect_window(window_json, threshold)                                  -> result JSON
    analyze_history(file, second_file, threshold, markers, summary_only)   -> summary, days, findings, LLM text
    explain_history(file, second_file, language, length, markers)          -> LLM-ready Markdown

Files are two single-file parameters (`file`, and `second_file` for the steps file of a Fitbit pair)
rather than one list: Gradio 6.31's MCP server cannot take a list of files (its schema for an array
of FileData keeps a dangling `$ref`, and the call fails), while single files work over MCP (an https
URL or a base64 data URL) and through gradio_client (`handle_file`) alike.
"""
from __future__ import annotations

import json
from typing import Any

import gradio as gr

from .service import MonitorService

EXAMPLE_MARKERS = "2020-11-07 symptom_onset fever\n2020-11-10 positive_test"


def _paths(*files: Any) -> list[str]:
    items = [f for x in files for f in (x if isinstance(x, list) else [x])]
    return [str(getattr(f, "name", None) or (f.get("path") if isinstance(f, dict) else f)) for f in items if f]


class AgentApi:
    """The three tools over one `MonitorService` (stateless: each call works in a scratch workspace)."""

    def __init__(self, service: MonitorService):
        self.s = service

    def detect_window(self, window_json: str, threshold: float | None = None) -> dict:
        """Score one window of 5-minute wearable records against the person's baseline (screening aid, not a diagnosis).

        Returns the verdict (level normal/watch/alert/urgent with reasons and advice), the model's anomaly score and
        threshold, the features that drove the score, the baseline used and data quality; {"error": ...} for bad input.

        Args:
            window_json: JSON text, a list of 6-24 five-minute records ({"timestamp", "deviceId", "features": {"hr": 72, ...}}) or {"window": [...], "history": [...]} where the history is replayed first to build the personal baseline.
            threshold: decision threshold for the model score between 0 and 1; leave empty (null) for the checkpoint's calibrated threshold.
        """
        return self.s.window_api(window_json, threshold)

    def analyze_history(self, file: str, second_file: str | None = None, threshold: float | None = None,
                        markers: str = "", summary_only: bool = True) -> dict:
        """Analyse a whole history of wearable records: per-day verdicts, alert periods, red flags, rule findings and the history-first LLM text (screening aid, not a diagnosis).

        Returns {"summary": per user, "days": per-day table, "rule_findings", "markers", "llm_text": per user {"short", "full"}, "validation", "patterns"} and, unless summary_only, "windows" (one row per scored window); {"error": ...} for bad input.

        Args:
            file: a JSONL/JSON/CSV history file, a device export (Apple Health export.zip, Fitbit Takeout .zip, Health Connect .zip, Garmin .fit, Oura JSON), or the heart-rate file <ID>_hr.csv of a Fitbit pair.
            second_file: the steps file <ID>_steps.csv of a Fitbit pair; empty otherwise (a heart-rate file alone is read with activity unknown).
            threshold: decision threshold for the model score between 0 and 1; leave empty (null) for the calibrated threshold.
            markers: dated events of the person, one per line 'YYYY-MM-DD kind [note]' (kinds: symptom_onset, positive_test, vaccination, travel, alcohol, hard_training) or a JSON list of {"date", "kind", "note"}; may be empty.
            summary_only: true to leave out the per-window rows (tens of thousands for a 3-month history).
        """
        return self.s.history_api(_paths(file, second_file) or None, threshold, markers or None, bool(summary_only))

    def explain_history(self, file: str, second_file: str | None = None, language: str = "en", length: str = "short",
                        markers: str = "") -> str:
        """Explain a wearable history as LLM-ready Markdown: alert periods first, then red flags and findings, the person's events, baseline, what the device does not measure and the latest window (screening aid, not a diagnosis).

        Args:
            file: a JSONL/JSON/CSV history file, a device export, or the heart-rate file <ID>_hr.csv of a Fitbit pair.
            second_file: the steps file <ID>_steps.csv of a Fitbit pair; empty otherwise (a heart-rate file alone is read with activity unknown).
            language: 'en' for English or 'zh' for Chinese.
            length: 'short' (at most 400 words, for a chat box) or 'full'.
            markers: dated events of the person, one per line 'YYYY-MM-DD kind [note]'; may be empty.
        """
        if language not in ("en", "zh") or length not in ("short", "full"):
            return "Error: language must be 'en' or 'zh' and length 'short' or 'full'."
        out = self.s.history_api(_paths(file, second_file) or None, None, markers or None, True, lang=language)
        if "error" in out:
            return f"Error: {out['error']}"
        return "\n\n---\n\n".join(texts[length] for texts in out["llm_text"].values())


def _example(component, value):
    """A real example for the "Use via API" page instead of the component's generic one."""
    component.example_payload = lambda: value
    component.example_value = lambda: value
    return component


def _file_inputs(hr_example: str, steps_example: str) -> tuple:
    first = _example(gr.File(label="file: a history file, a device export, or <ID>_hr.csv of a Fitbit pair"),
                     gr.FileData(path=hr_example).model_dump())
    second = _example(gr.File(label="second_file: <ID>_steps.csv of a Fitbit pair (else empty)"),
                      gr.FileData(path=steps_example).model_dump())
    return first, second


def register_api(api: AgentApi, window_example: str, window_queue: dict, history_queue: dict) -> None:
    """Hidden components and the three public events (call inside the Blocks context)."""
    with gr.Row(visible=False):
        window = _example(gr.Textbox(label="window_json: a JSON list of 6-24 five-minute records"), window_example)
        thr = _example(gr.Number(value=None, label="threshold: 0-1, empty = calibrated"), None)
        file, second = _file_inputs("A0NVTRV_hr.csv", "A0NVTRV_steps.csv")
        thr2 = _example(gr.Number(value=None, label="threshold: 0-1, empty = calibrated"), None)
        markers = _example(gr.Textbox(value="", label="markers: 'YYYY-MM-DD kind [note]' per line"), EXAMPLE_MARKERS)
        summary_only = _example(gr.Checkbox(value=True, label="summary_only: leave out per-window rows"), True)
        file3, second3 = _file_inputs("A0NVTRV_hr.csv", "A0NVTRV_steps.csv")
        language = _example(gr.Radio(["en", "zh"], value="en", label="language: en or zh"), "en")
        length = _example(gr.Radio(["short", "full"], value="short", label="length: short or full"), "short")
        markers3 = _example(gr.Textbox(value="", label="markers: 'YYYY-MM-DD kind [note]' per line"), EXAMPLE_MARKERS)
        result, report, text = gr.JSON(label="result"), gr.JSON(label="report"), gr.Markdown(label="markdown")
        buttons = gr.Button(), gr.Button(), gr.Button()
    buttons[0].click(api.detect_window, [window, thr], result, api_name="detect_window", **window_queue)
    buttons[1].click(api.analyze_history, [file, second, thr2, markers, summary_only], report,
                     api_name="analyze_history", **history_queue)
    buttons[2].click(api.explain_history, [file3, second3, language, length, markers3], text,
                     api_name="explain_history", **history_queue)


def window_example_text(service: MonitorService) -> str:
    presets = service.presets()
    try:
        return json.dumps(service.preset(presets[0]["name"])["window"][:12]) if presets else "[]"
    except Exception:  # noqa: BLE001 - only an example for the docs
        return "[]"
