"""Gradio Blocks UI: a thin layer over `MonitorService` (importing this module starts nothing).

    from wearable_monitor.app.ui import build_ui, create_service
    build_ui(create_service()).queue().launch(mcp_server=True)

Layout only: each tab is built by one function that returns its components as the same named group
(`WindowOut`, `UploadOut`, ...) its handler returns (handlers.py), so events are wired by field name.
Text and tables come from render.py, figures from plots.py, the named API and MCP tools from api.py.
Errors become a readable message in the page, never a stack trace (details go to the log).
"""
from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..gc_tuning import tune_gc
from .api import AgentApi, register_api, window_example_text
from .handlers import CLIENT_SNIPPET, CaseOut, Handlers, UploadOut, UploadView, UserOut, WindowOut, session_of
from .i18n import t
from .rest import add_rest_routes
from .render import (BASELINE_COLUMNS, DAY_COLUMNS, DRIVER_COLUMNS, EXPECTED_ERRORS, FINDING_COLUMNS,
                     USER_FINDING_COLUMNS, about_markdown, days_table, drivers_table, empty, error_message,
                     findings_table, verdict_markdown)
from .service import AppConfig, MonitorService, upload_limits_text

DISCLAIMER = t("disclaimer", "en")
DELETE_CACHE_EVERY_S, DELETE_CACHE_AGE_S = 1800, 3600  # Gradio's temp files (uploads, CSV downloads)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports to Gradio's servers
# The queue's own per-endpoint statistics (the "Use via API" page): Gradio rebuilds them from a pandas
# frame of the last GRADIO_ANALYTICS_MAX_EVENTS events after *every* event (cache frequency 1), a cost
# that grows with the events served (benchmarks/load.py: ~10 % of the server's GIL time at 500 calls).
# Every 100 events over the last 1,000 keeps the page's figures current at a fraction of that.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
PRIVATE = dict(api_visibility="private")

CSS = """
.disclaimer {border-left: 4px solid #dc2626; padding: 6px 12px; background: #fef2f2;}
.verdict h2 {margin-top: 0;}
.wm-table th, .wm-table th * {white-space: nowrap !important; overflow: visible !important;
                               text-overflow: clip !important; max-width: none !important;}
"""


class _Labels:
    """Components whose text follows the language radio: (component, lang -> gr.update)."""

    def __init__(self, lang: str):
        self.lang = lang
        self.items: list[tuple[Any, Callable[[str], Any]]] = []

    def add(self, component, key: str | None = None, prop: str = "label", fn: Callable[[str], str] | None = None):
        fn = fn or (lambda lang, key=key: t(key, lang))
        self.items.append((component, lambda lang, prop=prop, fn=fn: gr.update(**{prop: fn(lang)})))
        return component

    def lab(self, factory, key: str, **kw):
        return self.add(factory(label=t(key, self.lang), **kw), key)

    def updates(self, lang: str) -> dict:
        return {c: fn(lang) for c, fn in self.items}


def _table(L: _Labels, key: str, columns: list[str], elem_id: str, **kw) -> gr.Dataframe:
    """A read-only table that always has headers (never "1 2 3") and wraps long ones."""
    return L.lab(gr.Dataframe, key, value=empty(columns, L.lang), interactive=False, wrap=True, elem_id=elem_id,
                 elem_classes=["wm-table"], **kw)


@dataclass
class WindowTab:
    preset: Any
    preset_desc: Any
    run_preset: Any
    threshold: Any
    window_json: Any
    run_window: Any
    out: WindowOut


@dataclass
class UploadTab:
    files: Any
    files_state: Any
    threshold: Any
    analyze: Any
    markers: Any
    marker_date: Any
    marker_kind: Any
    marker_note: Any
    add_marker: Any
    marker_msg: Any
    out: UploadOut


@dataclass
class CasesTab:
    tab: Any
    dropdown: Any
    refresh: Any
    out: CaseOut


@dataclass
class UsersTab:
    tab: Any
    user: Any
    metric: Any
    refresh: Any
    reset: Any
    confirm: Any
    false_alarm: Any
    feedback_msg: Any
    out: UserOut


def window_tab(L: _Labels, h: Handlers, service: MonitorService) -> WindowTab:
    lang0 = L.lang
    L.add(gr.Markdown(t("window_help", lang0)), "window_help", prop="value")
    with gr.Row():
        with gr.Column(scale=2):
            choices = h.preset_choices(lang0)
            preset = L.lab(gr.Dropdown, "preset", choices=choices, value=choices[0][1] if choices else None,
                           elem_id="preset")
            first = h.on_preset(choices[0][1], lang0) if choices else ("", t("no_presets", lang0,
                                                                                 dir=service.presets_dir.name))
            preset_desc = gr.Markdown(first[1], elem_id="preset-desc")
            run_preset = L.add(gr.Button(t("run_preset", lang0), variant="primary", elem_id="run-preset"),
                               "run_preset", prop="value")
            threshold = L.lab(gr.Slider, "threshold", minimum=0.0, maximum=1.0, step=0.001,
                              value=round(service.threshold, 3), elem_id="threshold")
            window_json = L.lab(gr.Code, "window_json", language="json", interactive=True, lines=12,
                                max_lines=24, value=first[0], elem_id="window-json")
            run_window = L.add(gr.Button(t("run_window", lang0), elem_id="run-window"), "run_window", prop="value")
        with gr.Column(scale=3):
            verdict = gr.Markdown(elem_id="verdict", elem_classes=["verdict"])
            chart = L.lab(gr.Plot, "window_chart", elem_id="window-plot")
            drivers = _table(L, "drivers", DRIVER_COLUMNS, "drivers")
    llm = L.lab(gr.Textbox, "llm_text", interactive=False, buttons=["copy"], lines=12, max_lines=40,
                elem_id="window-llm")
    with gr.Accordion("JSON", open=False):
        result = L.lab(gr.JSON, "result_json", elem_id="result-json")
    out = WindowOut(verdict=verdict, result=result, chart=chart, drivers=drivers, llm=llm, state=gr.State(None))
    return WindowTab(preset, preset_desc, run_preset, threshold, window_json, run_window, out)


def upload_tab(L: _Labels, h: Handlers, service: MonitorService) -> UploadTab:
    lang0 = L.lang
    mb, max_records = upload_limits_text(service.config)
    L.add(gr.Markdown(t("upload_help", lang0, mb=mb, records=max_records)), prop="value",
          fn=lambda g: t("upload_help", g, mb=mb, records=max_records))
    with gr.Row():
        files = L.lab(gr.File, "files", file_count="multiple",
                      file_types=[".jsonl", ".ndjson", ".json", ".csv", ".zip", ".xml", ".fit", ".db"],
                      elem_id="upload-files")
        with gr.Column():
            threshold = L.lab(gr.Slider, "threshold", minimum=0.0, maximum=1.0, step=0.001,
                              value=round(service.threshold, 3), elem_id="threshold-up")
            analyze = L.add(gr.Button(t("analyze", lang0), variant="primary", elem_id="analyze"), "analyze",
                            prop="value")
            csv = L.lab(gr.File, "download", interactive=False, elem_id="csv-out")
    with L.add(gr.Accordion(t("markers", lang0), open=True, elem_id="markers-box"), "markers"):
        L.add(gr.Markdown(t("markers_help", lang0)), "markers_help", prop="value")
        with gr.Row():
            marker_date = L.lab(gr.Textbox, "marker_date", placeholder="2020-11-07", scale=1, elem_id="marker-date")
            marker_kind = L.lab(gr.Dropdown, "marker_kind", choices=h.marker_kind_choices(lang0), value="symptom_onset",
                                scale=1, elem_id="marker-kind")
            marker_note = L.lab(gr.Textbox, "marker_note", scale=2, elem_id="marker-note")
            add_marker = L.add(gr.Button(t("add_marker", lang0), scale=0, elem_id="add-marker"), "add_marker",
                               prop="value")
        marker_msg = gr.Markdown(elem_id="marker-msg")
        markers = L.lab(gr.Textbox, "markers", lines=3, max_lines=12, placeholder="2020-11-07 symptom_onset fever",
                        elem_id="markers")
    status = gr.Markdown(elem_id="upload-status")
    validation = L.lab(gr.Textbox, "validation", lines=6, max_lines=20, interactive=False, visible=False,
                       elem_id="validation")
    user = L.lab(gr.Dropdown, "user", choices=[], elem_id="upload-user")
    timeline = L.lab(gr.Plot, "timeline", elem_id="timeline")
    days = _table(L, "daily_table", DAY_COLUMNS, "days", max_height=360)
    alpha = L.lab(gr.Plot, "baseline_evolution", elem_id="alpha-plot")
    findings = _table(L, "rule_findings", FINDING_COLUMNS, "upload-findings")
    llm_short = L.lab(gr.Textbox, "llm_short", interactive=False, buttons=["copy"], lines=8, max_lines=30,
                      elem_id="upload-llm-short")
    with L.add(gr.Accordion(t("llm_full", lang0), open=False), "llm_full"):
        llm = L.lab(gr.Textbox, "llm_full", interactive=False, buttons=["copy"], lines=12, max_lines=40,
                    elem_id="upload-llm")
    out = UploadOut(status=status, validation=validation, user=user, timeline=timeline, days=days, alpha=alpha,
                    findings=findings, llm_short=llm_short, llm=llm, csv=csv, state=gr.State(None))
    return UploadTab(files, gr.State([]), threshold, analyze, markers, marker_date, marker_kind, marker_note,
                     add_marker, marker_msg, out)


def cases_tab(L: _Labels) -> CasesTab:
    with gr.Row():
        dropdown = L.lab(gr.Dropdown, "case", choices=[], elem_id="case", scale=3)
        refresh = L.add(gr.Button(t("refresh", L.lang), scale=0, elem_id="case-refresh"), "refresh", prop="value")
    info = gr.Markdown(elem_id="case-msg")
    chart = L.lab(gr.Plot, "prescreen_chart", elem_id="case-plot")
    with gr.Row():
        case = L.lab(gr.JSON, "case_json", elem_id="case-json")
        llm = L.lab(gr.Textbox, "llm_input", interactive=False, buttons=["copy"], lines=12, max_lines=40,
                    elem_id="case-llm")
    return CasesTab(None, dropdown, refresh, CaseOut(info=info, chart=chart, case=case, llm=llm))


def users_tab(L: _Labels, service: MonitorService) -> UsersTab:
    lang0 = L.lang
    L.add(gr.Markdown(t("users_help", lang0)), "users_help", prop="value")
    with gr.Row():
        user = L.lab(gr.Dropdown, "user", choices=[], elem_id="user", scale=2)
        metric = L.lab(gr.Dropdown, "metric", choices=service.baseline_metrics(), value="hr_resting", scale=2,
                       elem_id="metric")
        refresh = L.add(gr.Button(t("refresh", lang0), scale=0, elem_id="users-refresh"), "refresh", prop="value")
        reset = L.add(gr.Button(t("reset", lang0), variant="stop", scale=0, elem_id="reset"), "reset", prop="value")
    summary = gr.Markdown(elem_id="user-msg")
    baselines = _table(L, "baselines_table", BASELINE_COLUMNS, "baselines")
    history = L.lab(gr.Plot, "baseline_history", elem_id="hist-plot")
    findings = _table(L, "findings_table", USER_FINDING_COLUMNS, "user-findings")
    with gr.Row():
        finding_id = L.lab(gr.Dropdown, "finding_id", choices=[], scale=2, elem_id="finding-id")
        confirm = L.add(gr.Button(t("confirm", lang0), scale=0, elem_id="confirm"), "confirm", prop="value")
        false_alarm = L.add(gr.Button(t("false_alarm", lang0), scale=0, elem_id="false-alarm"), "false_alarm",
                            prop="value")
    feedback_msg = gr.Markdown(elem_id="feedback-msg")
    out = UserOut(summary=summary, baselines=baselines, history=history, findings=findings, finding_id=finding_id)
    return UsersTab(None, user, metric, refresh, reset, confirm, false_alarm, feedback_msg, out)


# ----------------------------------------------------------------------------- events

def wire_window(h: Handlers, w: WindowTab, lang, queue: dict) -> None:
    outs = list(w.out)
    w.preset.change(h.on_preset, [w.preset, lang], [w.window_json, w.preset_desc], **PRIVATE)
    w.run_preset.click(h.run_preset, [w.preset, w.threshold, lang], outs, **PRIVATE)
    w.run_window.click(h.run_window, [w.window_json, w.threshold, lang], outs, **PRIVATE, **queue)


def wire_upload(h: Handlers, u: UploadTab, lang, queue: dict) -> None:
    outs = list(u.out)
    # not queued: the box must be replaced before anything else happens to it (a queued reply that came
    # after a second drop would put back the first upload's files)
    u.files.upload(h.replace_files, [u.files, u.files_state, lang], [u.files, u.files_state, u.out.status],
                   queue=False, **PRIVATE)
    u.files.clear(lambda: [], None, u.files_state, **PRIVATE)
    u.analyze.click(h.analyze, [u.files, u.threshold, lang, u.markers, u.files_state], outs, **PRIVATE, **queue)
    u.out.user.input(h.select_upload_user, [u.out.user, u.out.state, lang], outs, **PRIVATE)
    u.add_marker.click(h.add_marker, [u.markers, u.marker_date, u.marker_kind, u.marker_note, lang],
                       [u.markers, u.marker_msg], **PRIVATE)


def wire_cases(h: Handlers, c: CasesTab, lang) -> None:
    c.tab.select(h.refresh_cases, lang, [c.dropdown, c.out.info], **PRIVATE)
    c.refresh.click(h.refresh_cases, lang, [c.dropdown, c.out.info], **PRIVATE)
    c.dropdown.change(h.pick_case, [c.dropdown, lang], list(c.out), **PRIVATE)


def wire_users(h: Handlers, u: UsersTab, lang) -> None:
    outs, select = list(u.out), [u.user, u.metric, lang]
    for trigger in (u.tab.select, u.refresh.click):
        trigger(h.refresh_users, [u.user, lang], [u.user, u.out.summary], **PRIVATE).then(
            h.select_user, select, outs, **PRIVATE)
    u.user.input(h.select_user, select, outs, **PRIVATE)
    u.metric.input(h.select_user, select, outs, **PRIVATE)
    u.reset.click(h.reset_user, select, [u.feedback_msg, u.user], **PRIVATE).then(h.select_user, select, outs,
                                                                                   **PRIVATE)

    def confirm(user, finding, g, request: gr.Request):
        return h.feedback(user, finding, "confirmed", g, request)

    def false_alarm(user, finding, g, request: gr.Request):
        return h.feedback(user, finding, "false_alarm", g, request)

    u.confirm.click(confirm, [u.user, u.out.finding_id, lang], [u.feedback_msg, u.out.findings], **PRIVATE)
    u.false_alarm.click(false_alarm, [u.user, u.out.finding_id, lang], [u.feedback_msg, u.out.findings], **PRIVATE)


def merged(update: Any, value: Any) -> Any:
    """One update with the props of `update` (a label) and `value` (a plain value or an update)."""
    if update is None:
        return value
    props = {k: v for k, v in update.items() if k != "__type__"}
    if isinstance(value, dict) and value.get("__type__") == "update":
        props.update({k: v for k, v in value.items() if k != "__type__"})
    else:
        props["value"] = value
    return gr.update(**props)


def wire_language(h: Handlers, L: _Labels, radio, lang, w: WindowTab, u: UploadTab, about) -> None:
    """The language radio: labels, then everything whose content is text in that language (the shown
    results re-rendered from their state, by field name)."""
    shown_w = [c for name, c in w.out._asdict().items() if name != "state"]
    shown_u = [c for name, c in u.out._asdict().items() if name != "state"]

    def switch(g: str, preset: str | None, wstate, ustate) -> dict:
        out = {lang: g, about: h.about(g), **L.updates(g)}
        changes = {w.preset: gr.update(choices=h.preset_choices(g), value=preset),
                   w.preset_desc: h.preset_description(preset, g),
                   u.marker_kind: gr.update(choices=h.marker_kind_choices(g))}
        if wstate is not None:
            view = h.window_view(wstate, g)
            changes.update({getattr(w.out, name): value for name, value in view._asdict().items() if name != "state"})
        if ustate is not None:
            view = h.upload_view(ustate, g)
            changes.update({getattr(u.out, name): value for name, value in view._asdict().items() if name != "state"})
        for component, value in changes.items():  # a new value and a new label for the same component: both
            out[component] = merged(out.get(component), value)
        return out

    targets = [lang, about, *[c for c, _ in L.items], w.preset, w.preset_desc, u.marker_kind, *shown_w, *shown_u]
    radio.change(switch, [radio, w.preset, w.out.state, u.out.state], list(dict.fromkeys(targets)), **PRIVATE)


def build_ui(service: MonitorService | None = None) -> gr.Blocks:
    """The Blocks app over `service` (created from configs/app_config.json when omitted)."""
    service = service or create_service()
    h = Handlers(service)
    lang0 = service.config.default_language
    L = _Labels(lang0)
    # analytics off (no calls home); Gradio's cached uploads and outputs deleted after an hour
    with gr.Blocks(title=t("title", "en"), fill_width=False, analytics_enabled=False,
                   delete_cache=(DELETE_CACHE_EVERY_S, DELETE_CACHE_AGE_S)) as demo:
        lang = gr.State(lang0)
        with gr.Row():
            L.add(gr.Markdown(f"# {t('title', lang0)}"), prop="value", fn=lambda g: f"# {t('title', g)}")
            radio = gr.Radio([("English", "en"), ("中文", "zh")], value=lang0, label=t("language", lang0),
                             scale=0, min_width=200, elem_id="language")
        L.add(gr.Markdown(t("intro", lang0)), "intro", prop="value")
        L.add(gr.Markdown(t("disclaimer", lang0), elem_classes=["disclaimer"], elem_id="disclaimer"),
              "disclaimer", prop="value")
        with L.add(gr.Tab(t("tab_window", lang0), id="window", elem_id="tab-window"), "tab_window"):
            w = window_tab(L, h, service)
        with L.add(gr.Tab(t("tab_upload", lang0), id="upload", elem_id="tab-upload"), "tab_upload"):
            u = upload_tab(L, h, service)
        with L.add(gr.Tab(t("tab_cases", lang0), id="cases", elem_id="tab-cases"), "tab_cases") as tab:
            c = cases_tab(L)
            c.tab = tab
        with L.add(gr.Tab(t("tab_users", lang0), id="users", elem_id="tab-users"), "tab_users") as tab:
            us = users_tab(L, service)
            us.tab = tab
        with L.add(gr.Tab(t("tab_about", lang0), id="about", elem_id="tab-about"), "tab_about") as about_tab:
            about = gr.Markdown(h.about(lang0), elem_id="about")

        window_queue = dict(concurrency_id="window", concurrency_limit=service.config.window_concurrency_limit)
        history_queue = dict(concurrency_id="history", concurrency_limit=service.config.concurrency_limit)
        register_api(AgentApi(service), window_example_text(service), window_queue, history_queue)
        wire_window(h, w, lang, window_queue)
        wire_upload(h, u, lang, history_queue)
        wire_cases(h, c, lang)
        wire_users(h, us, lang)
        about_tab.select(h.about, lang, about, **PRIVATE)
        wire_language(h, L, radio, lang, w, u, about)
        # a Chinese browser gets the Chinese page: Gradio's own strings follow the browser (its i18n), ours the radio
        demo.load(None, radio, radio, js="(v) => (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : v",
                  **PRIVATE)

        def end_session(request: gr.Request):  # the visitor's workspace goes with the page
            service.close_session(session_of(request))

        demo.unload(end_session)
    return demo


# ----------------------------------------------------------------------------- entry points

# a real Fitbit user's history shipped in test_data/: its first two days are analysed and drawn at start-up
WARM_UP_HISTORY = "fitbit_A0NVTRV.jsonl"


def warm_up(service: MonitorService) -> None:
    """Before the first visitor: start the history workers and analyse and draw a shipped history once."""
    if service.history_pool is not None:
        service.history_pool.warm_up()
    history = service.config.path(service.config.presets_dir) / WARM_UP_HISTORY
    if history.is_file():
        Handlers(service).warm_up(history)


def create_service(config_path: str | Path | None = None, **overrides: Any) -> MonitorService:
    return MonitorService(AppConfig.load(config_path, **overrides))


def default_host() -> str:
    """Where to listen: loopback unless told otherwise, by GRADIO_SERVER_NAME or by running in a
    Hugging Face Space (which sets SPACE_ID and needs 0.0.0.0)."""
    if os.environ.get("GRADIO_SERVER_NAME"):
        return os.environ["GRADIO_SERVER_NAME"]
    return "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"


def set_request_threads() -> None:
    """One torch intra-op thread per request (`WM_TORCH_THREADS`, default 1): concurrent requests, not
    one request's threads, share the cores; an upload that runs alone takes more (`_upload_threads`)."""
    import torch

    torch.set_num_threads(int(os.environ.get("WM_TORCH_THREADS", "1")))


def launch(config_path: str | Path | None = None, data_dir: str | None = None, **kwargs: Any):
    """Build the service and the page, queue with the configured limits, and serve."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    service = create_service(config_path, **overrides)
    set_request_threads()
    demo = build_ui(service)
    # status_update_rate as a number: queue positions are sent to waiting clients every 10 s instead of
    # to every waiting client each time any event starts (quadratic in the number of waiting clients)
    demo.queue(default_concurrency_limit=service.config.concurrency_limit, max_size=service.config.max_queue_size,
               status_update_rate=10)
    # device exports (a 2 GB Apple export.zip) are streamed; other files keep max_upload_bytes (service.read_upload)
    kwargs.setdefault("max_file_size", max(service.config.max_upload_bytes, service.config.max_export_bytes))
    kwargs.setdefault("server_name", default_host())
    kwargs.setdefault("mcp_server", True)  # the named API's tools over MCP at /gradio_api/mcp/ (api.py)
    block = not kwargs.pop("prevent_thread_lock", False)
    # warm before the port opens: a visitor (or a load test) that connects at once finds the server ready,
    # not sharing the cores with the warm-up's analysis and first figures
    warm_up(service)
    out = demo.launch(css=CSS, prevent_thread_lock=True, **kwargs)
    add_rest_routes(demo.app, service)  # POST /api/v1/detect_window without the queue (rest.py)
    tune_gc()  # start-up is over: what is alive now stays out of the collector's way (gc_tuning.py)
    if block:
        signal.signal(signal.SIGTERM, _stop)  # a service manager's stop closes the server as Ctrl-C does
        try:
            demo.block_thread()
        finally:
            service.close()
    return out


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def configure_app(parser: argparse.ArgumentParser):
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; 0.0.0.0 in a Space "
                                                     "or as GRADIO_SERVER_NAME says)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--config", default=None, help="app config JSON (default: configs/app_config.json)")
    parser.add_argument("--data-dir", default=None, help="folder for the SQLite stores and exports (default: temp)")

    def run(args) -> int:
        launch(args.config, args.data_dir, server_name=args.host or default_host(), server_port=args.port)
        return 0

    return run


__all__ = ["CSS", "DISCLAIMER", "EXPECTED_ERRORS", "Handlers", "UploadView", "about_markdown", "build_ui", "configure_app",
           "create_service", "days_table", "default_host", "drivers_table", "error_message", "findings_table", "launch",
           "verdict_markdown", "CLIENT_SNIPPET"]
