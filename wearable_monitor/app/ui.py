"""Gradio Blocks UI: a thin layer over `MonitorService` (importing this module starts nothing).

    from wearable_monitor.app.ui import build_ui, create_service
    build_ui(create_service()).queue().launch()

`Handlers` holds one plain method per UI event; each takes the component values and returns
the output values, so every handler is tested without a browser (tests/test_app_service.py).
Errors become a readable message in the page, never a stack trace (details go to the log).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ..detector import InputError
from ..escaping import markdown_lines, markdown_text, preformatted
from ..verdict.findings import LEVEL_NAMES, Level
from ..formatter import FormatterInputError
from ..data.records import USER
from ..data.validation import InputFileError
from . import plots
from .i18n import PERIOD_WORDS, SOURCE_WORDS, VERDICT_WORDS, t, word
from .service import LOCAL_SESSION, AppConfig, HistoryOutcome, MonitorService, WindowOutcome, upload_limits_text

log = logging.getLogger(__name__)

DISCLAIMER = t("disclaimer", "en")
DELETE_CACHE_EVERY_S, DELETE_CACHE_AGE_S = 1800, 3600  # Gradio's temp files (uploads, CSV downloads)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports to Gradio's servers
EXPECTED_ERRORS = (InputFileError, InputError, FormatterInputError, ValueError, KeyError)

CLIENT_SNIPPET = '''```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")          # or the Space id
result = client.predict(open("test_data/example_window.json").read(), None,
                        api_name="/detect_window")   # window JSON text, threshold (None = calibrated)
print(result["is_anomaly"], result["anomaly_score"], result["threshold"])

report = client.predict(handle_file("test_data/fitbit_A0NVTRV.jsonl"), None,
                        api_name="/analyze_history") # per-window scores + per-day pattern
print(report["patterns"])
```'''


def session_of(request: gr.Request | None) -> str:
    """The visitor's session key (its workspace in the service); in-process calls share one."""
    return getattr(request, "session_hash", None) or LOCAL_SESSION


def error_message(exc: BaseException, lang: str) -> str:
    """A message for the page: what was wrong with the input, never a traceback. The message may
    quote the input (ids, file names), so it is escaped for Markdown."""
    if isinstance(exc, EXPECTED_ERRORS):
        return t("error", lang, msg=markdown_lines(str(exc).strip().strip("'\""), max_len=4000))
    log.exception("unexpected error in an app handler")
    return t("error", lang, msg=t("error_internal", lang, kind=type(exc).__name__,
                                  msg=markdown_text(str(exc), max_len=300)))


# ----------------------------------------------------------------------------- formatting helpers

def level_name(level: str | None, lang: str) -> str:
    try:
        return LEVEL_NAMES[Level.parse(level)]["zh" if lang == "zh" else "en"]
    except (ValueError, TypeError):
        return str(level)


def verdict_markdown(result: dict, lang: str) -> str:
    level = result.get("level") or ("alert" if result["is_anomaly"] else "normal")
    head = t(f"level_{level}", lang)
    reasons = [f"- **{level_name(r.get('level'), lang)}** · "
               + markdown_text((r.get("title") or {}).get(lang) or (r.get("title") or {}).get("en", ""))
               for r in result.get("reasons", [])]
    advice = markdown_text((result.get("advice") or {}).get(lang, ""))
    why = f"\n\n**{t('reasons', lang)}**\n\n" + "\n".join(reasons) if reasons else ""
    w, b = result.get("window", {}), result.get("baseline", {})
    line = t("score_line", lang, score=result["anomaly_score"], threshold=result["threshold"],
             user=markdown_text(result.get("user_id", "?")), start=str(w.get("start", "?")).replace("T", " "),
             end=str(w.get("end", "?")).replace("T", " "), period=word(PERIOD_WORDS, w.get("time_period"), lang),
             source=word(SOURCE_WORDS, b.get("source"), lang), alpha=b.get("alpha") or 0.0,
             days=b.get("days_of_history", 0))
    q = result.get("data_quality") or {}
    quality = t("quality_line", lang, missing=q.get("missing_fraction") or 0.0, gap=q.get("max_gap_minutes") or 0)
    note = f"{advice} {t('screening_note', lang)}".strip()
    return f"## {head}{why}\n\n{note}\n\n{line}\n\n{quality}"


def drivers_table(result: dict) -> pd.DataFrame:
    cols = ["feature", "importance", "value", "unit", "baseline_mean", "baseline_std", "z_score"]
    return pd.DataFrame([{c: f.get(c) for c in cols} for f in result.get("top_features", [])], columns=cols)


def findings_table(findings: list[dict], lang: str) -> pd.DataFrame:
    cols = ["id", "user_id", "rule", "metric", "status", "severity", "start", "end", "title"]
    rows = [{"id": f.get("id"), "user_id": f.get("user_id"), "rule": f.get("rule"), "metric": f.get("metric"),
             "status": f.get("status"), "severity": f.get("severity"), "start": f.get("period", {}).get("start"),
             "end": f.get("period", {}).get("end"), "title": (f.get("title") or {}).get(lang, "")}
            for f in findings]
    return pd.DataFrame(rows, columns=cols)


def days_table(days: pd.DataFrame) -> pd.DataFrame:
    cols = ["user_id", "date", "level", "reasons", "windows", "anomalous_windows", "anomaly_share", "day_score",
            "reference_score", "sufficient", "limited_channels", "model_anomalous", "vitals_flags", "is_anomalous_day",
            "pattern_days", "alert", "trend"]
    out = days[[c for c in cols if c in days]].copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.round({"anomaly_share": 3, "day_score": 3, "reference_score": 3})


def about_markdown(card: dict, lang: str) -> str:
    """Model card facts from summary.json; only what the file states."""
    lines = [f"### {t('about_model', lang)}"]
    if not card:
        lines.append("summary.json not found.")
    else:
        m = card.get("metrics", {}).get("test", {})
        d = card.get("data", {})
        users = d.get("users", {})
        facts = [("model", card.get("model")), ("parameters", card.get("parameters")),
                 ("threshold", card.get("threshold")), ("threshold criterion", card.get("threshold_criterion")),
                 ("window", (card.get("window") or {}).get("label")),
                 ("data", d.get("source")), ("seed / days", f"{d.get('seed')} / {d.get('days')}"),
                 ("users train / val / test", f"{users.get('train')} / {users.get('val')} / {users.get('test')}")]
        lines += ["| fact | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in facts if v is not None]
        keys = ["window_pr_auc", "window_precision", "window_recall", "window_f1", "event_recall",
                "event_precision", "event_f1", "false_alarms_per_user_day"]
        if m:
            lines += ["", "**Test metrics (held-out simulated users)**", "",
                      "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
                      "| " + " | ".join("n/a" if m.get(k) is None else f"{m[k]:.3g}" for k in keys) + " |"]
    lines += ["", f"### {t('byod_title', lang)}", "", t("byod_table", lang)]
    lines += ["", f"### {t('client_usage', lang)}", "", CLIENT_SNIPPET, "",
              "Endpoints: `/detect_window` (window JSON text, threshold or None -> result JSON), "
              "`/analyze_history` (JSONL file, threshold or None -> per-window scores, per-day pattern, rule findings).",
              "", t("disclaimer", lang)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- state

@dataclass
class UploadView:
    """What the upload tab keeps per session, so a user switch or a language switch re-renders."""
    outcome: HistoryOutcome
    user: str


# ----------------------------------------------------------------------------- handlers

class Handlers:
    """One method per UI event; plain values in, plain values (and figures) out."""

    def __init__(self, service: MonitorService):
        self.s = service

    # ------------------------------------------------------------ real-time window
    def preset_choices(self) -> list[tuple[str, str]]:
        return [(p["title"], p["name"]) for p in self.s.presets()]

    def on_preset(self, name: str | None) -> tuple[str, str]:
        """-> (the preset's window as JSON for the editor, its description)"""
        if not name:
            return "", ""
        try:
            doc = self.s.preset(name)
        except Exception as exc:  # noqa: BLE001 - shown as a message, never raised
            return "", error_message(exc, "en")
        history = len(doc.get("history") or [])
        note = f" · history: {history:,} records" if history else ""
        return json.dumps(doc["window"], indent=1, ensure_ascii=False), f"*{doc.get('description', '')}*{note}"

    def _window_outputs(self, outcome: WindowOutcome | None, lang: str, error: str = "") -> tuple:
        if outcome is None:
            return (error, None, plots.empty_figure(), pd.DataFrame(), "", None)
        r = outcome.result
        md = verdict_markdown(r, lang)
        if outcome.report:
            md += f"\n\n<details><summary>validation</summary>\n\n{preformatted(outcome.report)}\n</details>"
        return (md, r, plots.window_figure(outcome.rows, r, self.s.feature_config, lang), drivers_table(r),
                self.s.llm_text(result=r, lang=lang), outcome)

    def run_preset(self, name: str | None, threshold: float | None, lang: str = "en",
                   request: gr.Request = None) -> tuple:
        """-> (verdict markdown, result JSON, window figure, drivers table, LLM text, state)"""
        try:
            if not name:
                raise InputFileError(t("empty_input", lang))
            return self._window_outputs(self.s.run_preset(name, threshold, session_of(request)), lang)
        except Exception as exc:  # noqa: BLE001
            return self._window_outputs(None, lang, error_message(exc, lang))

    def run_window(self, text: str | None, threshold: float | None, lang: str = "en",
                   request: gr.Request = None) -> tuple:
        try:
            if not text or not text.strip():
                raise InputFileError(t("empty_input", lang))
            return self._window_outputs(self.s.detect_window_text(text, threshold, session_of(request)), lang)
        except Exception as exc:  # noqa: BLE001
            return self._window_outputs(None, lang, error_message(exc, lang))

    # ------------------------------------------------------------ upload
    def _upload_outputs(self, view: UploadView | None, lang: str, status: str = "", report: str = "") -> tuple:
        """-> (status, validation report, user dropdown, timeline, days, alpha, findings, LLM text, CSV, state)"""
        if view is None:
            return (status, report, gr.update(choices=[], value=None), plots.empty_figure(), pd.DataFrame(),
                    plots.empty_figure(), pd.DataFrame(), "", None, None)
        o, user = view.outcome, view.user
        frame = o.frame[o.frame[USER] == user]
        scored = o.scored[o.scored[USER] == user]
        days = o.days[o.days[USER] == user]
        findings = [f for f in o.findings if f.get("user_id") == user]
        timeline = plots.timeline_figure(frame, scored, days, o.threshold, self.s.feature_config, lang,
                                         self.s.config.max_chart_points)
        llm = self.s.history_llm_text(o, user, lang)
        status = status or t("analysis_done", lang, windows=len(o.scored), users=len(o.users), days=len(o.days),
                              alerts=int(o.days["alert"].sum()))
        if o.skipped:
            status += "\n\n" + t("skipped_users", lang, window=self.s.detector.window_size,
                                     users=", ".join(f"{markdown_text(u, 60)} ({n})" for u, n in o.skipped.items()))
        note = t("derived_note", lang, min_rest=12, cov=0.7)
        status += f"\n\n{note}" + ("" if findings else f"\n\n{t('no_findings', lang)}")
        imported = getattr(o.validation, "import_report", None)  # device exports: read / used / skipped per source
        report = report or ((imported.text() + "\n\n" if imported else "") + o.validation.summary(max_issues=50))
        return (status, report, gr.update(choices=o.users, value=user),
                timeline, days_table(days), plots.alpha_figure(scored, lang), findings_table(findings, lang), llm,
                str(o.csv_path), view)

    def analyze(self, files: Any, threshold: float | None, lang: str = "en", progress=gr.Progress(),
                request: gr.Request = None) -> tuple:
        try:
            if not files:
                raise InputFileError(t("no_file", lang))
            paths = [getattr(f, "name", f) for f in (files if isinstance(files, list) else [files])]
            outcome = self.s.analyze_history(paths, threshold, progress=lambda frac, desc: progress(frac, desc=desc),
                                             session=session_of(request))
            return self._upload_outputs(UploadView(outcome, outcome.users[0]), lang)
        except Exception as exc:  # noqa: BLE001
            report = ""
            if isinstance(exc, InputFileError) and "\n" in str(exc):  # "no valid record" + the per-line report
                head, report = str(exc).split("\n", 1)
                exc = InputFileError(head)
            return self._upload_outputs(None, lang, error_message(exc, lang), report)

    def select_upload_user(self, user: str | None, view: UploadView | None, lang: str = "en") -> tuple:
        if view is None or not user:
            return self._upload_outputs(view, lang)
        return self._upload_outputs(UploadView(view.outcome, user), lang)

    # ------------------------------------------------------------ PatchTrAD cases
    def refresh_cases(self, lang: str = "en") -> tuple:
        """-> (dropdown update, message)"""
        cases = self.s.cases()
        if not cases:
            return gr.update(choices=[], value=None), t("no_cases", lang, dir=self.s.cases_dir.name)
        return gr.update(choices=[(c.get("title") or c["name"], c["name"]) for c in cases]), ""

    def pick_case(self, name: str | None, lang: str = "en") -> tuple:
        """-> (info markdown, prescreen figure, case JSON, LLM input)"""
        if not name:
            return "", plots.empty_figure(), None, ""
        try:
            c = self.s.case(name)
        except Exception as exc:  # noqa: BLE001
            return error_message(exc, lang), plots.empty_figure(), None, ""
        meta = c["meta"]
        info = t("case_info", lang, title=meta.get("title") or name, source=meta.get("source", "?"),
                 created=meta.get("created", "?"))
        if c["problems"]:
            info += "\n\n" + "\n".join(f"- ⚠️ {p}" for p in c["problems"])
        fig = plots.prescreen_figure(c["prescreen"], lang) if isinstance(c["prescreen"], dict) else plots.empty_figure()
        return info, fig, c["case"], c["llm_input"]

    # ------------------------------------------------------------ users and baselines
    def refresh_users(self, current: str | None = None, lang: str = "en", request: gr.Request = None) -> tuple:
        """-> (user dropdown update, message)"""
        users = self.s.users(session_of(request))
        value = current if current in users else (users[0] if users else None)
        return gr.update(choices=users, value=value), "" if users else t("no_user", lang)

    def select_user(self, user: str | None, metric: str | None, lang: str = "en", request: gr.Request = None) -> tuple:
        """-> (summary markdown, baselines table, history figure, findings table, finding-id dropdown)"""
        if not user:
            return t("no_user", lang), pd.DataFrame(), plots.empty_figure(), pd.DataFrame(), gr.update(choices=[], value=None)
        session = session_of(request)
        try:
            block, table = self.s.user_baselines(user, session)
            metric = metric or "hr_resting"
            hist = plots.baseline_history_figure(self.s.baseline_history(user, metric, session), metric, lang)
            findings = self.s.user_findings(user, session)
            profile = json.dumps(self.s._owner(user, session)[0].storage.get_profile(user))
        except Exception as exc:  # noqa: BLE001
            return error_message(exc, lang), pd.DataFrame(), plots.empty_figure(), pd.DataFrame(), gr.update()
        md = (f"**{markdown_text(user)}** · {word(SOURCE_WORDS, block['source'], lang)} · α = {block['alpha']:.2f} · "
              f"{block['days_of_history']} days · profile {markdown_text(profile, 500)}")
        ids = [int(i) for i in findings["id"]] if len(findings) else []
        return md, table, hist, findings, gr.update(choices=ids, value=ids[0] if ids else None)

    def reset_user(self, user: str | None, metric: str | None, lang: str = "en", request: gr.Request = None) -> tuple:
        """-> (message, user dropdown update)"""
        if not user:
            return t("no_user", lang), gr.update()
        try:
            self.s.reset_user(user, session_of(request))
        except Exception as exc:  # noqa: BLE001 - a shared (read-only) or unknown user
            return error_message(exc, lang), gr.update()
        return t("reset_done", lang, user=markdown_text(user)), self.refresh_users(None, lang, request)[0]

    def feedback(self, user: str | None, finding_id: Any, verdict: str, lang: str = "en",
                 request: gr.Request = None) -> tuple:
        """-> (message, findings table)"""
        if finding_id in (None, ""):
            return t("pick_finding", lang), gr.update()
        try:
            out = self.s.feedback(int(finding_id), verdict, session_of(request))
        except Exception as exc:  # noqa: BLE001
            return error_message(exc, lang), gr.update()
        msg = t("feedback_done", lang, id=out["finding_id"], verdict=word(VERDICT_WORDS, verdict, lang))
        for a in out["adjusted"]:
            msg += f"\n\nrule `{a['rule']}`: sensitivity {a['old']:.2f} → {a['new']:.2f} (precision {a['precision']:.2f})"
        return msg, self.s.user_findings(user, session_of(request)) if user else gr.update()

    # ------------------------------------------------------------ about
    def about(self, lang: str = "en") -> str:
        return about_markdown(self.s.model_card(), lang)

    # ------------------------------------------------------------ named API endpoints
    def api_detect_window(self, window_json: str, threshold: float | None = None) -> dict:
        return self.s.window_api(window_json, threshold)

    def api_analyze_history(self, history_file: Any, threshold: float | None = None) -> dict:
        path = getattr(history_file, "name", history_file)
        return self.s.history_api(path, threshold)


# ----------------------------------------------------------------------------- layout

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

    def updates(self, lang: str) -> list:
        return [fn(lang) for _, fn in self.items]


CSS = """
.disclaimer {border-left: 4px solid #dc2626; padding: 6px 12px; background: #fef2f2;}
.verdict h2 {margin-top: 0;}
"""


def build_ui(service: MonitorService | None = None) -> gr.Blocks:
    """The Blocks app over `service` (created from configs/app_config.json when omitted)."""
    service = service or create_service()
    h = Handlers(service)
    lang0 = service.config.default_language
    L = _Labels(lang0)
    mb, max_records = upload_limits_text(service.config)
    private = dict(api_visibility="private")

    # analytics off (no calls home); Gradio's cached uploads and outputs deleted after an hour
    with gr.Blocks(title=t("title", "en"), fill_width=False, analytics_enabled=False,
                   delete_cache=(DELETE_CACHE_EVERY_S, DELETE_CACHE_AGE_S)) as demo:
        lang = gr.State(lang0)
        with gr.Row():
            L.add(gr.Markdown(f"# {t('title', lang0)}"), prop="value", fn=lambda g: f"# {t('title', g)}")
            lang_radio = gr.Radio([("English", "en"), ("中文", "zh")], value=lang0, label=t("language", lang0),
                                  scale=0, min_width=200, elem_id="language")
        L.add(gr.Markdown(t("intro", lang0)), "intro", prop="value")
        L.add(gr.Markdown(t("disclaimer", lang0), elem_classes=["disclaimer"], elem_id="disclaimer"),
              "disclaimer", prop="value")

        # ---------------------------------------------------------------- tab 1
        with L.add(gr.Tab(t("tab_window", lang0), id="window"), "tab_window"):
            L.add(gr.Markdown(t("window_help", lang0)), "window_help", prop="value")
            with gr.Row():
                with gr.Column(scale=2):
                    choices = h.preset_choices()
                    preset = L.lab(gr.Dropdown, "preset", choices=choices, value=choices[0][1] if choices else None,
                                   elem_id="preset")
                    first = h.on_preset(choices[0][1]) if choices else ("", t("no_presets", lang0,
                                                                                  dir=service.presets_dir))
                    preset_desc = gr.Markdown(first[1], elem_id="preset-desc")
                    run_preset_btn = L.add(gr.Button(t("run_preset", lang0), variant="primary", elem_id="run-preset"),
                                           "run_preset", prop="value")
                    threshold = L.lab(gr.Slider, "threshold", minimum=0.0, maximum=1.0, step=0.001,
                                      value=round(service.threshold, 3), elem_id="threshold")
                    window_json = L.lab(gr.Code, "window_json", language="json", interactive=True, lines=12,
                                        max_lines=24, value=first[0],
                                        elem_id="window-json")
                    run_window_btn = L.add(gr.Button(t("run_window", lang0), elem_id="run-window"), "run_window",
                                           prop="value")
                with gr.Column(scale=3):
                    verdict = gr.Markdown(elem_id="verdict", elem_classes=["verdict"])
                    window_plot = L.lab(gr.Plot, "window_chart", elem_id="window-plot")
                    drivers = L.lab(gr.Dataframe, "drivers", interactive=False, elem_id="drivers")
            window_llm = L.lab(gr.Textbox, "llm_text", interactive=False, buttons=["copy"], lines=12,
                               max_lines=40, elem_id="window-llm")
            with gr.Accordion("JSON", open=False):
                result_json = L.lab(gr.JSON, "result_json", elem_id="result-json")
            window_state = gr.State(None)

        # ---------------------------------------------------------------- tab 2
        with L.add(gr.Tab(t("tab_upload", lang0), id="upload"), "tab_upload"):
            L.add(gr.Markdown(t("upload_help", lang0, mb=mb, records=max_records)), prop="value",
                  fn=lambda g: t("upload_help", g, mb=mb, records=max_records))
            with gr.Row():
                files = L.lab(gr.File, "files", file_count="multiple",
                              file_types=[".jsonl", ".ndjson", ".json", ".csv", ".zip", ".xml", ".fit", ".db"],
                              elem_id="upload-files")
                with gr.Column():
                    threshold_up = L.lab(gr.Slider, "threshold", minimum=0.0, maximum=1.0, step=0.001,
                                         value=round(service.threshold, 3))
                    analyze_btn = L.add(gr.Button(t("analyze", lang0), variant="primary", elem_id="analyze"),
                                        "analyze", prop="value")
                    csv_out = L.lab(gr.File, "download", interactive=False, elem_id="csv-out")
            status = gr.Markdown(elem_id="upload-status")
            upload_user = L.lab(gr.Dropdown, "user", choices=[], elem_id="upload-user")
            timeline = L.lab(gr.Plot, "timeline", elem_id="timeline")
            with gr.Row():
                days = L.lab(gr.Dataframe, "daily_table", interactive=False, elem_id="days", max_height=360)
                alpha_plot = L.lab(gr.Plot, "baseline_evolution", elem_id="alpha-plot")
            findings = L.lab(gr.Dataframe, "rule_findings", interactive=False, elem_id="upload-findings")
            upload_llm = L.lab(gr.Textbox, "llm_text", interactive=False, buttons=["copy"], lines=12,
                               max_lines=40, elem_id="upload-llm")
            validation = L.lab(gr.Textbox, "validation", lines=6, max_lines=20, interactive=False,
                               elem_id="validation")
            upload_state = gr.State(None)

        # ---------------------------------------------------------------- tab 3
        with L.add(gr.Tab(t("tab_cases", lang0), id="cases"), "tab_cases") as cases_tab:
            with gr.Row():
                case_dd = L.lab(gr.Dropdown, "case", choices=[], elem_id="case", scale=3)
                case_refresh = L.add(gr.Button(t("refresh", lang0), scale=0, elem_id="case-refresh"), "refresh",
                                     prop="value")
            case_msg = gr.Markdown(elem_id="case-msg")
            case_plot = L.lab(gr.Plot, "prescreen_chart", elem_id="case-plot")
            with gr.Row():
                case_json = L.lab(gr.JSON, "case_json", elem_id="case-json")
                case_llm = L.lab(gr.Textbox, "llm_input", interactive=False, buttons=["copy"], lines=12,
                                 max_lines=40, elem_id="case-llm")

        # ---------------------------------------------------------------- tab 4
        with L.add(gr.Tab(t("tab_users", lang0), id="users"), "tab_users") as users_tab:
            L.add(gr.Markdown(t("users_help", lang0)), "users_help", prop="value")
            with gr.Row():
                user_dd = L.lab(gr.Dropdown, "user", choices=[], elem_id="user", scale=2)
                metric_dd = L.lab(gr.Dropdown, "metric", choices=service.baseline_metrics(), value="hr_resting",
                                  scale=2, elem_id="metric")
                users_refresh = L.add(gr.Button(t("refresh", lang0), scale=0, elem_id="users-refresh"), "refresh",
                                      prop="value")
                reset_btn = L.add(gr.Button(t("reset", lang0), variant="stop", scale=0, elem_id="reset"), "reset",
                                  prop="value")
            user_msg = gr.Markdown(elem_id="user-msg")
            baselines = L.lab(gr.Dataframe, "baselines_table", interactive=False, elem_id="baselines")
            hist_plot = L.lab(gr.Plot, "baseline_history", elem_id="hist-plot")
            user_findings = L.lab(gr.Dataframe, "findings_table", interactive=False, elem_id="user-findings")
            with gr.Row():
                finding_dd = L.lab(gr.Dropdown, "finding_id", choices=[], scale=2, elem_id="finding-id")
                confirm_btn = L.add(gr.Button(t("confirm", lang0), scale=0, elem_id="confirm"), "confirm", prop="value")
                false_btn = L.add(gr.Button(t("false_alarm", lang0), scale=0, elem_id="false-alarm"), "false_alarm",
                                  prop="value")
            feedback_msg = gr.Markdown(elem_id="feedback-msg")

        # ---------------------------------------------------------------- tab 5
        with L.add(gr.Tab(t("tab_about", lang0), id="about"), "tab_about") as about_tab:
            about_md = gr.Markdown(h.about(lang0), elem_id="about")

        # ---------------------------------------------------------------- named API (no visible UI)
        with gr.Row(visible=False):
            api_text, api_thr, api_out = gr.Textbox(), gr.Number(value=None), gr.JSON()
            api_file, api_thr2, api_out2 = gr.File(), gr.Number(value=None), gr.JSON()
            api_btn, api_btn2 = gr.Button(), gr.Button()
        window_queue = dict(concurrency_id="window", concurrency_limit=service.config.window_concurrency_limit)
        history_queue = dict(concurrency_id="history", concurrency_limit=service.config.concurrency_limit)
        api_btn.click(h.api_detect_window, [api_text, api_thr], api_out, api_name="detect_window", **window_queue,
                      api_description="Window JSON text (+ optional threshold) -> detector result JSON")
        api_btn2.click(h.api_analyze_history, [api_file, api_thr2], api_out2, api_name="analyze_history",
                       **history_queue,
                       api_description="JSONL history file (+ optional threshold) -> per-window scores, "
                                       "per-day pattern and rule findings as JSON")

        # ---------------------------------------------------------------- events
        window_outs = [verdict, result_json, window_plot, drivers, window_llm, window_state]
        preset.change(h.on_preset, preset, [window_json, preset_desc], **private)
        run_preset_btn.click(h.run_preset, [preset, threshold, lang], window_outs, **private)
        run_window_btn.click(h.run_window, [window_json, threshold, lang], window_outs, **private, **window_queue)

        upload_outs = [status, validation, upload_user, timeline, days, alpha_plot, findings, upload_llm, csv_out,
                       upload_state]
        analyze_btn.click(h.analyze, [files, threshold_up, lang], upload_outs, **private, **history_queue)
        upload_user.input(h.select_upload_user, [upload_user, upload_state, lang], upload_outs, **private)

        cases_tab.select(h.refresh_cases, lang, [case_dd, case_msg], **private)
        case_refresh.click(h.refresh_cases, lang, [case_dd, case_msg], **private)
        case_dd.change(h.pick_case, [case_dd, lang], [case_msg, case_plot, case_json, case_llm], **private)

        user_outs = [user_msg, baselines, hist_plot, user_findings, finding_dd]
        for trigger in (users_tab.select, users_refresh.click):
            trigger(h.refresh_users, [user_dd, lang], [user_dd, user_msg], **private).then(
                h.select_user, [user_dd, metric_dd, lang], user_outs, **private)
        user_dd.input(h.select_user, [user_dd, metric_dd, lang], user_outs, **private)
        metric_dd.input(h.select_user, [user_dd, metric_dd, lang], user_outs, **private)
        reset_btn.click(h.reset_user, [user_dd, metric_dd, lang], [feedback_msg, user_dd], **private).then(
            h.select_user, [user_dd, metric_dd, lang], user_outs, **private)
        def confirm(u, f, g, request: gr.Request):
            return h.feedback(u, f, "confirmed", g, request)

        def false_alarm(u, f, g, request: gr.Request):
            return h.feedback(u, f, "false_alarm", g, request)

        confirm_btn.click(confirm, [user_dd, finding_dd, lang], [feedback_msg, user_findings], **private)
        false_btn.click(false_alarm, [user_dd, finding_dd, lang], [feedback_msg, user_findings], **private)

        def end_session(request: gr.Request):  # the visitor's workspace goes with the page
            service.close_session(session_of(request))

        demo.unload(end_session)
        about_tab.select(h.about, lang, about_md, **private)

        # language: labels, then everything whose content is text in that language
        def switch(g: str, wstate, ustate):
            w = h._window_outputs(wstate, g) if wstate is not None else (gr.update(),) * 6
            u = h._upload_outputs(ustate, g) if ustate is not None else (gr.update(),) * 10
            return (g, *L.updates(g), *w[:5], *u[:9], h.about(g))

        lang_radio.change(switch, [lang_radio, window_state, upload_state],
                          [lang, *[c for c, _ in L.items], *window_outs[:5], *upload_outs[:9], about_md], **private)
    return demo


# ----------------------------------------------------------------------------- entry points

def create_service(config_path: str | Path | None = None, **overrides: Any) -> MonitorService:
    return MonitorService(AppConfig.load(config_path, **overrides))


def default_host() -> str:
    """Where to listen: loopback unless told otherwise, by GRADIO_SERVER_NAME or by running in a
    Hugging Face Space (which sets SPACE_ID and needs 0.0.0.0)."""
    if os.environ.get("GRADIO_SERVER_NAME"):
        return os.environ["GRADIO_SERVER_NAME"]
    return "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"


def launch(config_path: str | Path | None = None, data_dir: str | None = None, **kwargs: Any):
    """Build the service and the page, queue with the configured limits, and serve."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    service = create_service(config_path, **overrides)
    try:  # one intra-op thread per request: concurrent requests, not one request's threads, share the cores
        import torch
        torch.set_num_threads(int(os.environ.get("WM_TORCH_THREADS", "1")))
    except ImportError:
        pass
    demo = build_ui(service)
    # status_update_rate as a number: queue positions are sent to waiting clients every 10 s instead of
    # to every waiting client each time any event starts (quadratic in the number of waiting clients)
    demo.queue(default_concurrency_limit=service.config.concurrency_limit, max_size=service.config.max_queue_size,
               status_update_rate=10)
    # device exports (a 2 GB Apple export.zip) are streamed; other files keep max_upload_bytes (service.read_upload)
    kwargs.setdefault("max_file_size", max(service.config.max_upload_bytes, service.config.max_export_bytes))
    kwargs.setdefault("server_name", default_host())
    return demo.launch(css=CSS, **kwargs)


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
