"""One plain method per UI event: component values in, a named group of output values out.

Each tab's outputs are a NamedTuple (`WindowOut`, `UploadOut`, `CaseOut`, `UserOut`); `ui.py` builds
the same NamedTuple of components, so outputs are wired by field name, never by position or slice.
Every handler is tested without a browser (tests/test_app_service.py).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from ..escaping import markdown_text, preformatted
from ..data.markers import MARKER_KINDS, format_markers, parse_markers
from ..data.records import USER
from ..data.validation import InputFileError
from . import plots
from .i18n import CASE_TITLES, PRESET_TEXT, SOURCE_WORDS, VERDICT_WORDS, localize_report, t, word
from .render import (BASELINE_COLUMNS, DRIVER_COLUMNS, FINDING_COLUMNS, DAY_COLUMNS, USER_FINDING_COLUMNS,
                     about_markdown, days_table, drivers_table, empty, error_message, findings_table, headed,
                     plain_description, profile_text, verdict_markdown)
from .service import LOCAL_SESSION, HistoryOutcome, MonitorService, WindowOutcome

CLIENT_SNIPPET = '''```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")          # or the Space id
result = client.predict(window_json=open("test_data/example_window.json").read(), threshold=None,
                        api_name="/detect_window")
print(result["level"], result["anomaly_score"], result["threshold"])

report = client.predict(file=handle_file("A0NVTRV_hr.csv"), second_file=handle_file("A0NVTRV_steps.csv"),
                        threshold=None, markers="2020-04-20 symptom_onset", summary_only=True,
                        api_name="/analyze_history")
print(report["summary"], report["llm_text"])       # per user: short and full Markdown
```'''


def session_of(request: gr.Request | None) -> str:
    """The visitor's session key (its workspace in the service); in-process calls share one."""
    return getattr(request, "session_hash", None) or LOCAL_SESSION


# ----------------------------------------------------------------------------- named output groups

class WindowOut(NamedTuple):
    """Real-time tab: what one scored window shows."""
    verdict: Any
    result: Any
    chart: Any
    drivers: Any
    llm: Any
    state: Any


class UploadOut(NamedTuple):
    """Upload tab: status with its validation details next to it, then the analysis of one user."""
    status: Any
    validation: Any
    user: Any
    timeline: Any
    days: Any
    alpha: Any
    findings: Any
    llm_short: Any
    llm: Any
    csv: Any
    state: Any


class CaseOut(NamedTuple):
    info: Any
    chart: Any
    case: Any
    llm: Any


class UserOut(NamedTuple):
    summary: Any
    baselines: Any
    history: Any
    findings: Any
    finding_id: Any


@dataclass
class UploadView:
    """What the upload tab keeps per session, so a user switch or a language switch re-renders."""
    outcome: HistoryOutcome
    user: str


def preset_text(preset: dict, key: str, lang: str) -> str:
    """A preset's title or description for people, in `lang` (unknown presets: presets.json's text)."""
    own = PRESET_TEXT.get(preset["name"], {}).get(key)
    if own:
        return own[1 if lang == "zh" else 0]
    return preset.get(key) or preset["name"] if key == "title" else plain_description(preset.get(key, ""))


def case_title(case: dict, lang: str) -> str:
    """A PatchTrAD case's title in `lang` (the shipped cases), else the manifest's."""
    own = CASE_TITLES.get(case.get("name", ""))
    return own[1 if lang == "zh" else 0] if own else str(case.get("title") or case.get("name"))


# ----------------------------------------------------------------------------- handlers

class Handlers:
    """One method per UI event; plain values in, plain values (and figures) out."""

    def __init__(self, service: MonitorService):
        self.s = service

    # ------------------------------------------------------------ real-time window
    def preset_choices(self, lang: str = "en") -> list[tuple[str, str]]:
        return [(preset_text(p, "title", lang), p["name"]) for p in self.s.presets()]

    def on_preset(self, name: str | None, lang: str = "en") -> tuple[str, str]:
        """-> (the preset's window as JSON for the editor, its description)"""
        if not name:
            return "", ""
        try:
            doc = self.s.preset(name)
        except Exception as exc:  # noqa: BLE001 - shown as a message, never raised
            return "", error_message(exc, lang)
        meta = next((p for p in self.s.presets() if p["name"] == name), {"name": name})
        history = len(doc.get("history") or [])
        note = t("preset_history", lang, n=history) if history else ""
        return (json.dumps(doc["window"], indent=1, ensure_ascii=False),
                f"*{preset_text({**meta, 'description': doc.get('description', '')}, 'description', lang)}*{note}")

    def preset_description(self, name: str | None, lang: str = "en") -> str:
        return self.on_preset(name, lang)[1]

    def window_view(self, outcome: WindowOutcome | None, lang: str, error: str = "") -> WindowOut:
        if outcome is None:
            return WindowOut(error, None, plots.empty_figure(), empty(DRIVER_COLUMNS, lang), "", None)
        r = outcome.result
        md = verdict_markdown(r, lang)
        if outcome.report:
            md += (f"\n\n<details open><summary>{t('validation', lang)}</summary>\n\n"
                   f"{preformatted(localize_report(outcome.report, lang))}\n</details>")
        return WindowOut(md, r, plots.window_figure(outcome.rows, r, self.s.feature_config, lang),
                         drivers_table(r, lang), self.s.llm_text(result=r, lang=lang), outcome)

    def run_preset(self, name: str | None, threshold: float | None, lang: str = "en",
                   request: gr.Request = None) -> WindowOut:
        try:
            if not name:
                raise InputFileError(t("empty_input", lang))
            return self.window_view(self.s.run_preset(name, threshold, session_of(request)), lang)
        except Exception as exc:  # noqa: BLE001
            return self.window_view(None, lang, error_message(exc, lang))

    def run_window(self, text: str | None, threshold: float | None, lang: str = "en",
                   request: gr.Request = None) -> WindowOut:
        try:
            if not text or not text.strip():
                raise InputFileError(t("empty_input", lang))
            return self.window_view(self.s.detect_window_text(text, threshold, session_of(request)), lang)
        except Exception as exc:  # noqa: BLE001
            return self.window_view(None, lang, error_message(exc, lang))

    # ------------------------------------------------------------ upload
    def upload_view(self, view: UploadView | None, lang: str, status: str = "", report: str = "") -> UploadOut:
        """The upload tab for one user of an analysis (or the error `status` and its `report`)."""
        details = gr.update(value=localize_report(report, lang), visible=bool(report))
        if view is None:
            return UploadOut(status, details, gr.update(choices=[], value=None), plots.empty_figure(),
                             empty(DAY_COLUMNS, lang), plots.empty_figure(), empty(FINDING_COLUMNS, lang), "", "",
                             None, None)
        o, user = view.outcome, view.user
        frame, scored = o.frame[o.frame[USER] == user], o.scored[o.scored[USER] == user]
        days = o.days[o.days[USER] == user]
        findings = [f for f in o.findings if f.get("user_id") == user]
        markers = o.markers
        timeline = plots.timeline_figure(frame, scored, days, o.threshold, self.s.feature_config, lang,
                                         self.s.config.max_chart_points, markers=markers)
        texts = self.s.history_texts(self.s.history_case(o, user), lang)
        imported = getattr(o.validation, "import_report", None)  # device exports: read / used / skipped per source
        report = report or ((imported.text() + "\n\n" if imported else "") + o.validation.summary(max_issues=50))
        return UploadOut(self._upload_status(o, findings, lang), gr.update(value=localize_report(report, lang), visible=True),
                         gr.update(choices=o.users, value=user), timeline, days_table(days, markers, lang),
                         plots.alpha_figure(scored, lang), findings_table(findings, lang), texts["short"], texts["full"],
                         str(o.csv_path), view)

    def warm_up(self, history: Path, lines: int = 600) -> float:
        """Analyse and draw the first `lines` records of a shipped history once, in a scratch workspace,
        so the first visitor does not pay for the lazy imports and plotly's first figure (about 0.3 s
        of a first upload's click-to-result: benchmarks/upload_click.py). Returns the seconds spent."""
        start = time.perf_counter()
        with self.s.scratch() as ws:
            part = ws.dir / history.name
            with history.open(encoding="utf-8") as src:
                part.write_text("".join(line for _, line in zip(range(lines), src)), encoding="utf-8")
            outcome = self.s.analyze_history([str(part)], workspace=ws)
            for lang in ("en", "zh"):
                self.upload_view(UploadView(outcome, outcome.users[0]), lang)
        return time.perf_counter() - start

    def _upload_status(self, o: HistoryOutcome, findings: list[dict], lang: str) -> str:
        status = t("analysis_done", lang, windows=len(o.scored), users=len(o.users), days=len(o.days),
                   alerts=int(o.days["alert"].sum()))
        if o.skipped:
            status += "\n\n" + t("skipped_users", lang, window=self.s.detector.window_size,
                                 users=", ".join(f"{markdown_text(u, 60)} ({n})" for u, n in o.skipped.items()))
        status += "\n\n" + t("derived_note", lang, min_rest=12, cov=0.7)
        return status + ("" if findings else f"\n\n{t('no_findings', lang)}")

    def analyze(self, files: Any, threshold: float | None, lang: str = "en", markers: str | None = None,
                previous: list[str] | None = None, progress=gr.Progress(), request: gr.Request = None) -> UploadOut:
        """`previous`: the files of the last upload; a click that comes before the box's replace event has
        run still analyses only the new files (`replace_files`)."""
        try:
            if not files:
                raise InputFileError(t("no_file", lang))
            paths = self.replace_files(files, previous)[0]
            outcome = self.s.analyze_history(paths, threshold, progress=lambda frac, desc: progress(frac, desc=desc),
                                             session=session_of(request), markers=markers)
            return self.upload_view(UploadView(outcome, outcome.users[0]), lang)
        except Exception as exc:  # noqa: BLE001
            report = ""
            if isinstance(exc, InputFileError) and "\n" in str(exc):  # "no valid record" + the per-line report
                head, report = str(exc).split("\n", 1)
                exc = InputFileError(head)
            return self.upload_view(None, lang, error_message(exc, lang), report)

    def select_upload_user(self, user: str | None, view: UploadView | None, lang: str = "en") -> UploadOut:
        if view is None or not user:
            return self.upload_view(view, lang)
        return self.upload_view(UploadView(view.outcome, user), lang)

    @staticmethod
    def replace_files(files: Any, previous: list[str] | None, lang: str | None = None) -> tuple:
        """A new upload replaces the files of the previous one. The file box appends what is dropped
        to what it holds, so the new files are the ones after the previous list (the same file
        dropped again keeps its cached path, hence by position, not by name):
        -> (the files to keep, their paths for next time[, a status line naming them when `lang`])."""
        items = files if isinstance(files, list) else ([files] if files else [])
        paths = [str(getattr(f, "name", f)) for f in items]
        prev = list(previous or [])
        keep = paths[len(prev):] if len(paths) > len(prev) and paths[:len(prev)] == prev else paths
        if lang is None:
            return keep, keep
        names = ", ".join(markdown_text(Path(p).name, 80) for p in keep)
        return keep, keep, t("files_ready", lang, names=names) if keep else ""

    def marker_kind_choices(self, lang: str = "en") -> list[tuple[str, str]]:
        return [(labels[1 if lang == "zh" else 0], kind) for kind, labels in MARKER_KINDS.items()]

    def add_marker(self, text: str | None, day: str | None, kind: str | None, note: str | None,
                   lang: str = "en") -> tuple[str, str]:
        """-> (the events text with one more line, a message: '' or why the event was not added)"""
        try:
            markers = parse_markers(text) + parse_markers([{"date": day, "kind": kind, "note": note or ""}])
        except ValueError as exc:
            return text or "", error_message(exc, lang)
        return format_markers(parse_markers(markers)), ""

    # ------------------------------------------------------------ PatchTrAD cases
    def refresh_cases(self, lang: str = "en") -> tuple:
        """-> (dropdown update, message)"""
        cases = self.s.cases()
        if not cases:
            return gr.update(choices=[], value=None), t("no_cases", lang, dir=markdown_text(self.s.cases_dir.name))
        return gr.update(choices=[(case_title(c, lang), c["name"]) for c in cases]), ""

    def pick_case(self, name: str | None, lang: str = "en") -> CaseOut:
        if not name:
            return CaseOut("", plots.empty_figure(), None, "")
        try:
            c = self.s.case(name)
        except Exception as exc:  # noqa: BLE001
            return CaseOut(error_message(exc, lang), plots.empty_figure(), None, "")
        meta = c["meta"]
        info = t("case_info", lang, title=markdown_text(case_title(meta, lang)),
                 source=markdown_text(meta.get("source", "?")), created=markdown_text(meta.get("created", "?")))
        if c["problems"]:
            info += "\n\n" + "\n".join(f"- ⚠️ {markdown_text(p, 300)}" for p in c["problems"])
        fig = plots.prescreen_figure(c["prescreen"], lang) if isinstance(c["prescreen"], dict) else plots.empty_figure()
        return CaseOut(info, fig, c["case"], c["llm_input"])

    # ------------------------------------------------------------ users and baselines
    def refresh_users(self, current: str | None = None, lang: str = "en", request: gr.Request = None) -> tuple:
        """-> (user dropdown update, message)"""
        users = self.s.users(session_of(request))
        value = current if current in users else (users[0] if users else None)
        return gr.update(choices=users, value=value), "" if users else t("no_user", lang)

    def user_view_empty(self, message: str, lang: str, finding_id: Any = None) -> UserOut:
        return UserOut(message, empty(BASELINE_COLUMNS, lang), plots.empty_figure(),
                       empty(USER_FINDING_COLUMNS, lang), finding_id or gr.update(choices=[], value=None))

    def select_user(self, user: str | None, metric: str | None, lang: str = "en", request: gr.Request = None) -> UserOut:
        if not user:
            return self.user_view_empty(t("no_user", lang), lang)
        session = session_of(request)
        try:
            block, table = self.s.user_baselines(user, session)
            metric = metric or "hr_resting"
            hist = plots.baseline_history_figure(self.s.baseline_history(user, metric, session), metric, lang,
                                                 day_values=self.s.day_values(user, metric, session))
            findings = self.s.user_findings(user, session)
            profile = profile_text(self.s.user_profile(user, session), lang)
        except Exception as exc:  # noqa: BLE001
            return self.user_view_empty(error_message(exc, lang), lang, gr.update())
        md = (f"**{markdown_text(user)}** · {word(SOURCE_WORDS, block['source'], lang)} · α = {block['alpha']:.2f} · "
              f"{block['days_of_history']} {t('days_word', lang)}" + (f" · {profile}" if profile else ""))
        ids = [int(i) for i in findings["id"]] if len(findings) else []
        return UserOut(md, headed(table, lang), hist, headed(findings if len(findings) else
                                                             empty(USER_FINDING_COLUMNS), lang),
                       gr.update(choices=ids, value=ids[0] if ids else None))

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
            msg += "\n\n" + t("sensitivity_line", lang, rule=markdown_text(a["rule"], 60), old=a["old"], new=a["new"],
                              precision=a["precision"])
        return msg, headed(self.s.user_findings(user, session_of(request)), lang) if user else gr.update()

    # ------------------------------------------------------------ about
    def about(self, lang: str = "en") -> str:
        return about_markdown(self.s.model_card(), lang, CLIENT_SNIPPET)

    # ------------------------------------------------------------ named API endpoints (kept for in-process use)
    def api_detect_window(self, window_json: str, threshold: float | None = None) -> dict:
        return self.s.window_api(window_json, threshold)

    def api_analyze_history(self, history_file: Any, threshold: float | None = None, markers: str | None = None,
                            summary_only: bool = False) -> dict:
        items = history_file if isinstance(history_file, list) else [history_file]
        paths = [getattr(f, "name", f) for f in items if f]
        return self.s.history_api(paths or None, threshold, markers, summary_only)


__all__ = ["CLIENT_SNIPPET", "CaseOut", "Handlers", "UploadOut", "UploadView", "UserOut", "WindowOut", "session_of"]
