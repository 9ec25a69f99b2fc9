"""The app's service layer: plain, testable functions over the package's public APIs.

`MonitorService` holds one `WearableAnomalyDetector` (one model, many users), one SQLite
baseline store and one SQLite findings store (in `data_dir`, a temp dir by default), the
input limits, the PatchTrAD cases folder and the presets folder. Nothing here imports
Gradio; `ui.py` turns these results into components.

A screening aid, not a diagnosis.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..baselines import BaselineStorage, UserDataManager
from ..config import REPO_ROOT, check_known_keys
from ..escaping import write_safe_csv
from ..jsonio import iso_seconds, json_safe  # the one strict-JSON cleaner (re-exported here)
from ..detector import InputError, WearableAnomalyDetector, threshold_warning
from ..detectors.learned.detector import torch_threads
from ..data.readers import (
    CSV_SUFFIXES,
    anonymous_id,
    decode_bytes,
    is_fitbit_file,
    load_device_export,
    load_fitbit,
    parse_csv_text,
    parse_jsonl_text,
    parse_window_text,
)
from ..data.fitbit import fitbit_kind
from ..data.importers import is_device_export
from ..data.markers import Marker, annotate_days, parse_markers
from ..data.records import TIME, USER
from ..data.validation import InputFileError, Limits, ValidationResult, validate_items
from ..formatter.history_report import history_case, reason_text, render_history
from ..verdict.patterns import summarize_pattern
from ..verdict.verdict import rejudge, rejudge_table, with_rule_findings
from ..features.vitals import VitalsConfig, signal_values
from .workers import HistoryPool

DEFAULT_CONFIG = REPO_ROOT / "configs" / "app_config.json"
Progress = Callable[[float, str], None]

# Derived daily values for the rule engine (see `derive_daily`).
MIN_RESTING_VALUES = 12        # an hour of resting 5-minute HR before a day's resting HR is stated
MIN_SLEEP_COVERAGE = 0.7       # share of the noon-to-noon sleep day with a sleep_state observation
DERIVED_METRICS = ("resting_hr", "sleep_hours")

# Visitor isolation (docs/security.md): each browser session gets its own workspace, an in-memory
# baseline store plus a folder for its findings store and CSV exports, deleted when the session
# ends, when idle for SESSION_IDLE_SECONDS, or when MAX_SESSIONS newer ones exist. The service's own
# store (the shared demo users) is only read on behalf of visitors.
LOCAL_SESSION = "local"        # the single session of in-process use (tests, notebooks)
SESSION_IDLE_SECONDS = 3600
MAX_SESSIONS = 200


# ----------------------------------------------------------------------------- config

@dataclass(frozen=True)
class AppConfig:
    """configs/app_config.json; relative paths are relative to the repository root.
    Precedence: keyword overrides > environment `WM_APP_<KEY>` > the file > these defaults."""

    max_upload_bytes: int = 50 * 2**20
    max_export_bytes: int = 2560 * 2**20  # device exports (Apple export.zip 0.5-2 GB) are streamed, not read whole
    max_records: int = 500_000
    concurrency_limit: int = 2          # uploads (/analyze_history) analysed at once
    window_concurrency_limit: int = 8   # windows (/detect_window) scored at once: short, mostly waiting on the GIL
    max_queue_size: int = 512           # requests waiting; beyond it a visitor sees "Queue is full"
    default_language: str = "en"
    model_dir: str | None = None       # None = the shipped checkpoint
    data_dir: str | None = None        # SQLite stores and CSV exports; None = a fresh temp dir
    cases_dir: str = "demo_patchad_cases"
    presets_dir: str = "test_data"
    max_chart_points: int = 4000         # per timeline panel: min/max decimation keeps spikes (plots.envelope)
    solo_upload_threads: int = 0        # torch threads of an upload that runs alone; 0 = all cores
    history_workers: int = 0            # processes that run /analyze_history calls (workers.py); 0 = in this one

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "AppConfig":
        path = Path(path) if path else DEFAULT_CONFIG
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        raw = {k: v for k, v in raw.items() if not k.startswith("_")}  # "_comment" keys
        check_known_keys(cls, raw, str(path))
        known = {f.name for f in fields(cls)}
        # Environment overrides (a Space sets these in its settings): WM_APP_<KEY>, e.g. WM_APP_MODEL_DIR.
        env = {name: os.environ[f"WM_APP_{name.upper()}"] for name in known if f"WM_APP_{name.upper()}" in os.environ}
        env = {k: (int(v) if isinstance(cls.__dataclass_fields__[k].default, int) else v) for k, v in env.items()}
        cfg = cls(**{**raw, **env, **overrides})
        if cfg.default_language not in ("en", "zh"):
            raise ValueError(f"{path}: default_language must be 'en' or 'zh', got {cfg.default_language!r}")
        if (min(cfg.max_upload_bytes, cfg.max_export_bytes, cfg.max_records, cfg.concurrency_limit,
                cfg.window_concurrency_limit, cfg.max_queue_size) < 1
                or min(cfg.solo_upload_threads, cfg.history_workers) < 0):
            raise ValueError(f"{path}: limits must be positive")
        return cfg

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else REPO_ROOT / p


# ----------------------------------------------------------------------------- helpers

def rethreshold(result: dict, threshold: float | None) -> dict:
    """The same result judged against another threshold (the detector instance is shared, so
    the visitor's threshold is applied here rather than by mutating it)."""
    if threshold is None:
        return result
    out = rejudge(result, float(threshold))
    note = threshold_warning(float(threshold), {"threshold": result.get("threshold")})  # far from the calibrated one?
    if note:
        out["details"]["threshold_warning"] = note
    return out


def newest_window_result(rows: pd.DataFrame, baseline: dict, threshold: float) -> dict:
    """The newest window of one user's scored table as a result-like dict (level, reasons with
    titles, baseline block): the row the timeline and day table show, not a second scoring."""
    row = rows.iloc[-1]
    codes = [c for c in str(row.get("reasons") or "").split("; ") if c]
    return {"user_id": str(row[USER]), "anomaly_score": float(row["anomaly_score"]), "threshold": threshold,
            "level": row.get("level"), "is_anomaly": bool(row["is_anomaly"]),
            "window": {"end": pd.Timestamp(row[TIME]).isoformat()},
            "reasons": [{"code": c, "title": {lang: reason_text(c, lang) for lang in ("en", "zh")}} for c in codes],
            "baseline": {"source": baseline.get("source"), "alpha": baseline.get("alpha"),
                         "days_of_history": baseline.get("days_of_history"),
                         "metrics": {k: {"mean": m.get("mean"), "std": m.get("std")}
                                     for k, m in (baseline.get("metrics") or {}).items()}}}


def remember_day_means(ws: "Workspace", frame: pd.DataFrame) -> None:
    """Keep each user's per-day means of the baseline channels (all day, and night 0-6 h) in the
    workspace for the Users tab's chart."""
    cols = [c for c in ("hr", "hr_resting", "hrv_rmssd", "resp_rate", "spo2", "skin_temp") if c in frame]
    if not cols or frame.empty:
        return
    day = frame[TIME].dt.normalize().rename("day")
    night = frame[TIME].dt.hour < 6
    for user, idx in frame.groupby(USER, sort=False).groups.items():
        rows, d = frame.loc[idx, cols], day.loc[idx]
        means = rows.groupby(d).mean()
        night_means = rows[night.loc[idx]].groupby(d[night.loc[idx]]).mean().add_suffix("_night")
        ws.day_means[str(user)] = means.join(night_means, how="left")


def consistent_findings(findings: list[dict]) -> list[dict]:
    """Per-upload rule findings that agree with each other: a finding built on a reading that another
    rule excluded as a measurement error (a `data_problem` of the same metric and value over the same
    days) is dropped, so a CRITICAL sudden change never rests on a value the same table calls an error."""
    excluded = [(f.get("user_id"), f.get("metric"), f.get("value"), (f.get("period") or {}).get("start"),
                 (f.get("period") or {}).get("end")) for f in findings if f.get("status") == "data_problem"]

    def rests_on_excluded(f: dict) -> bool:
        p = f.get("period") or {}
        return any(u == f.get("user_id") and m == f.get("metric") and v is not None and v == f.get("value")
                   and (s or "") <= (p.get("end") or "") and (p.get("start") or "") <= (e or "")
                   for u, m, v, s, e in excluded)

    return [f for f in findings if f.get("status") != "finding" or not rests_on_excluded(f)]


def derive_daily(frame: pd.DataFrame, sleep_codes: dict[str, int], sampling_minutes: int = 5,
                 vitals: VitalsConfig | None = None) -> pd.DataFrame:
    """Daily values the rule engine can use, derived honestly from 5-minute records.

    - resting_hr: median of the day's resting 5-minute HR (vitals.signal_values with the
      `resting_hr` signal of `vitals`, the detector's config: the device's `hr_resting`, else HR of
      records without steps), if at least MIN_RESTING_VALUES exist;
    - sleep_hours: asleep records (light/deep/rem) x sampling minutes over the noon-to-noon
      "sleep day" labelled by the morning it ends, if MIN_SLEEP_COVERAGE of it was observed.
    Anything else (weight, blood pressure, nutrition, exercise minutes) is not derivable: NaN.
    """
    cols = [USER, "date", *DERIVED_METRICS]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    resting = pd.Series(signal_values(frame, (vitals or VitalsConfig()).signals["resting_hr"]), index=frame.index)
    if resting.notna().any():
        g = resting.groupby([frame[USER], frame[TIME].dt.normalize().rename("date")])
        parts.append(g.median().where(g.count() >= MIN_RESTING_VALUES).rename("resting_hr"))
    if "sleep_state" in frame and frame["sleep_state"].notna().any() and "awake" in sleep_codes:
        day = (frame[TIME] + pd.Timedelta(hours=12)).dt.normalize().rename("date")
        state = frame["sleep_state"]
        asleep = (state.notna() & (state != sleep_codes["awake"])).astype(float)
        slots = 24 * 60 / sampling_minutes
        coverage = state.notna().groupby([frame[USER], day]).sum() / slots
        hours = asleep.groupby([frame[USER], day]).sum() * sampling_minutes / 60
        parts.append(hours.where(coverage >= MIN_SLEEP_COVERAGE).rename("sleep_hours"))
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, axis=1).reset_index()
    out.columns = [USER, "date", *out.columns[2:]]
    for c in DERIVED_METRICS:
        if c not in out:
            out[c] = np.nan
    out = out[cols].dropna(subset=list(DERIVED_METRICS), how="all")
    return out.sort_values([USER, "date"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- outcomes

@dataclass
class WindowOutcome:
    result: dict                 # JSON-safe detector result (architecture.md section 5)
    window: ValidationResult     # the validated window
    window_size: int             # records of the scored window
    report: str = ""             # validation summary when something was removed or warned about

    @cached_property
    def rows(self) -> pd.DataFrame:
        """The scored window's records (frame rows), for the page's chart; made when first asked for
        (the API returns the result alone, and a 12-row DataFrame costs more than scoring it)."""
        frame = self.window.frame
        return frame[frame[USER] == self.result["user_id"]].iloc[-self.window_size:].reset_index(drop=True)


@dataclass
class HistoryOutcome:
    validation: ValidationResult
    frame: pd.DataFrame
    scored: pd.DataFrame         # one row per window, is_anomaly at `threshold`
    days: pd.DataFrame           # per user-day pattern table
    patterns: dict[str, dict]    # user -> detect_pattern summary
    latest: dict[str, dict]      # user -> result of the newest window (for the LLM text)
    daily_values: pd.DataFrame   # derived daily values given to the rule engine
    findings: list[dict]         # rule findings (with store ids)
    threshold: float
    csv_path: Path
    users: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # user -> records, too few for one window
    markers: list[Marker] = field(default_factory=list)    # the person's dated events, kept with the analysis


@dataclass
class Workspace:
    """One visitor's private state: a detector view sharing the model, with its own stores."""
    key: str
    dir: Path
    detector: WearableAnomalyDetector
    lock: threading.RLock
    last_used: float
    day_means: dict[str, pd.DataFrame] = field(default_factory=dict)  # user -> each day's own mean per channel

    @property
    def findings_path(self) -> Path:
        return self.dir / "findings.sqlite"

    @property
    def exports(self) -> Path:
        return self.dir / "exports"


# ----------------------------------------------------------------------------- service

class MonitorService:
    """Everything the app does, as plain methods (see the module docstring)."""

    def __init__(self, config: AppConfig | None = None, detector: WearableAnomalyDetector | None = None):
        self.config = config or AppConfig.load()
        self.data_dir = Path(self.config.data_dir) if self.config.data_dir else \
            Path(tempfile.mkdtemp(prefix="wearable_monitor_app_"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "exports").mkdir(exist_ok=True)
        self.detector = detector or WearableAnomalyDetector(self.config.model_dir,
                                                            storage=self.data_dir / "baselines.sqlite")
        self.feature_config = self.detector.config
        self.findings_path = self.data_dir / "findings.sqlite"  # the shared store's findings (read-only to visitors)
        self.sessions_dir = self.data_dir / "sessions"
        self.sessions_dir.mkdir(exist_ok=True)
        self.sessions: dict[str, Workspace] = {}
        self._sessions_lock = threading.Lock()
        self.limits = Limits(max_bytes=self.config.max_upload_bytes, max_records=self.config.max_records)
        self.cases_dir = self.config.path(self.config.cases_dir)
        self.presets_dir = self.config.path(self.config.presets_dir)
        # The shared store is only read for visitors; writes happen in their own workspaces, each
        # with its own lock. This lock guards writes the operator makes to the shared store.
        self.lock = threading.RLock()
        self._uploads_running = 0
        self._uploads_lock = threading.Lock()
        self.history_pool = (HistoryPool(partial(worker_service, self.config), self.config.history_workers,
                                         self.data_dir / "workers", preload=__name__)
                             if self.config.history_workers else None)

    @contextmanager
    def _upload_threads(self) -> Iterator[None]:
        """An upload that runs alone scores on `solo_upload_threads` torch threads (all cores by
        default: a 91-day history's model pass takes about 40 % less time on two cores than on one);
        uploads that overlap score on one thread each, so they share the cores instead of fighting for
        them. The count belongs to the calling OS thread (`torch_threads`), not to the other requests."""
        with self._uploads_lock:
            self._uploads_running += 1
            alone = self._uploads_running == 1
        try:
            with torch_threads((self.config.solo_upload_threads or os.cpu_count() or 1) if alone else 1):
                yield
        finally:
            with self._uploads_lock:
                self._uploads_running -= 1

    @property
    def threshold(self) -> float:
        return self.detector.threshold

    def close(self) -> None:
        """Stop the history workers (if any); the service still answers in-process afterwards."""
        if self.history_pool is not None:
            self.history_pool.close()
            self.history_pool = None

    # ------------------------------------------------------------------ workspaces

    def _new_workspace(self, key: str) -> Workspace:
        folder = Path(tempfile.mkdtemp(prefix="s_", dir=self.sessions_dir))
        (folder / "exports").mkdir()
        view = copy.copy(self.detector)  # shares the (read-only) model, calculator and configs
        view.storage = BaselineStorage(":memory:", self.detector.storage.config)
        view.users = UserDataManager(view.storage, view.config)
        return Workspace(key, folder, view, threading.RLock(), time.monotonic())

    @staticmethod
    def _delete(ws: Workspace) -> None:
        try:
            ws.detector.storage.close()
        finally:
            shutil.rmtree(ws.dir, ignore_errors=True)

    def workspace(self, session: str | None = LOCAL_SESSION) -> Workspace:
        """The session's workspace (created on first use); idle and surplus ones are deleted here."""
        key = session or LOCAL_SESSION
        now = time.monotonic()
        with self._sessions_lock:
            stale = [k for k, w in self.sessions.items() if now - w.last_used > SESSION_IDLE_SECONDS and k != key]
            by_age = sorted((w.last_used, k) for k, w in self.sessions.items() if k not in stale and k != key)
            stale += [k for _, k in by_age[:max(0, len(by_age) - MAX_SESSIONS + 1)]]
            dropped = [self.sessions.pop(k) for k in stale]
            ws = self.sessions.get(key)
            if ws is None:
                ws = self.sessions[key] = self._new_workspace(key)
            ws.last_used = now
        for old in dropped:
            self._delete(old)
        return ws

    @contextmanager
    def scratch(self) -> Iterator[Workspace]:
        """A workspace for one stateless call (the named API), deleted afterwards."""
        ws = self._new_workspace("scratch")
        try:
            yield ws
        finally:
            self._delete(ws)

    def close_session(self, session: str | None) -> None:
        """Delete a session's workspace (the page was closed)."""
        with self._sessions_lock:
            ws = self.sessions.pop(session or LOCAL_SESSION, None)
        if ws is not None:
            self._delete(ws)

    def _owner(self, user: str, session: str | None) -> tuple[WearableAnomalyDetector, bool]:
        """(detector whose store holds `user`, writable): the session's own users first, then the
        shared users (read-only)."""
        ws = self.workspace(session)
        if user in ws.detector.storage.list_users():
            return ws.detector, True
        if user in self.detector.storage.list_users():
            return self.detector, False
        raise InputFileError(f"unknown user {user!r}")

    @contextmanager
    def rule_engine(self, store: Path | None = None) -> Iterator[Any]:
        """A RuleEngine over a findings file (the session's; default the shared one), opened per
        call: its sqlite connection belongs to the calling thread (Gradio runs handlers in threads)."""
        from ..rules import RuleEngine

        engine = RuleEngine(store=store or self.findings_path)
        try:
            yield engine
        finally:
            engine.store.close()

    # ------------------------------------------------------------------ presets

    def presets(self) -> list[dict]:
        """[{"name", "title", "description", "file", "verdict"}]: presets.json's entries (order kept), else preset_*.json."""
        entries: list[dict] = []
        index = self.presets_dir / "presets.json"
        if index.is_file():
            try:
                raw = json.loads(index.read_text(encoding="utf-8"))
                items = raw.get("presets", []) if isinstance(raw, dict) else raw
                entries = [i for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)]
            except json.JSONDecodeError:
                entries = []  # a broken index falls back to the files themselves
        if not entries:
            entries = [{"name": p.stem.removeprefix("preset_"), "file": p.name}
                       for p in sorted(self.presets_dir.glob("preset_*.json"))]
        out = []
        for e in entries:
            rel = str(e.get("file") or f"preset_{e['name']}.json")
            path = next((p for p in (self.config.path(rel), self.presets_dir / Path(rel).name) if p.is_file()), None)
            if path is not None:
                out.append({"name": e["name"], "title": e.get("title", e["name"]),
                            "description": e.get("description", ""), "file": str(path),
                            "verdict": e.get("verdict")})  # the verdict the preset must get (tested)
        return out

    def preset(self, name: str) -> dict:
        """The preset document, normalised to {"window": [...], "history": [...], ...}."""
        for p in self.presets():
            if p["name"] == name:
                doc = json.loads(Path(p["file"]).read_text(encoding="utf-8"))
                doc = {"window": doc} if isinstance(doc, list) else doc
                return {"title": p["title"], "description": p["description"], **doc}
        raise InputFileError(f"unknown preset {name!r}")

    def preset_window_text(self, name: str) -> str:
        """The preset's window as editable JSON (its history stays on the server)."""
        return json.dumps(self.preset(name)["window"], indent=1, ensure_ascii=False)

    def run_preset(self, name: str, threshold: float | None = None, session: str | None = LOCAL_SESSION) -> WindowOutcome:
        """Replay the preset's history from an empty baseline (so every run is the same), then
        score its window; in the session's workspace."""
        doc = self.preset(name)
        window = validate_items(enumerate(doc["window"], start=1), self.feature_config, source=f"preset:{name}",
                                limits=self.limits)
        history = None
        if doc.get("history"):
            history = validate_items(enumerate(doc["history"], start=1), self.feature_config,
                                     source=f"preset:{name} (history)", limits=self.limits)
        ws = self.workspace(session)
        with ws.lock:
            for user in {*window.users, *(history.users if history else {})}:
                ws.detector.storage.reset(user)
            return self._detect(ws.detector, window, history, threshold, update=True)

    # ------------------------------------------------------------------ real-time window

    def detect_window_text(self, text: str | None, threshold: float | None = None,
                           session: str | None = LOCAL_SESSION) -> WindowOutcome:
        """Window JSON text (list, {"window", "history"} object or one record) -> result.

        A window with a history, or of a user of the session's own store, is scored in the session's
        workspace (session None: a scratch one); any other window against the shared baselines,
        read-only (nothing a visitor sends changes them)."""
        if not text or not text.strip():
            raise InputFileError("the input is empty: paste a window (a JSON list of records)")
        if len(text.encode("utf-8")) > self.limits.max_bytes:
            raise InputFileError(f"the text is over the size limit of {self.limits.max_bytes:,} bytes")
        loaded = parse_window_text(text, config=self.feature_config, source="<window>", limits=self.limits)
        has_history = loaded.history is not None and bool(loaded.history.records)
        if session is None:
            if not has_history:
                return self._detect(self.detector, loaded, None, threshold, update=False)
            with self.scratch() as ws:
                return self._detect(ws.detector, loaded, loaded.history, threshold, update=False)
        ws = self.workspace(session)
        own = set(ws.detector.storage.list_users())
        if has_history or any(u in own for u in loaded.users):
            with ws.lock:
                return self._detect(ws.detector, loaded, loaded.history, threshold, update=True)
        return self._detect(self.detector, loaded, None, threshold, update=False)

    def _detect(self, detector: WearableAnomalyDetector, window: ValidationResult, history: ValidationResult | None,
                threshold: float | None, update: bool) -> WindowOutcome:
        if not window.records:
            raise InputError("no valid record in the window:\n" + window.summary(max_issues=10))
        with_history = history is not None and history.records and len(history.records) >= detector.window_size
        if with_history:
            detector.score_history(history)
            ws = next((w for w in list(self.sessions.values()) if w.detector is detector), None)
            if ws is not None:
                remember_day_means(ws, pd.concat([history.frame, window.frame], ignore_index=True))
        result = detector.detect_realtime(window, update_baseline=update, history=history if with_history else None)
        report = ""
        if not window.ok or window.warnings or (history is not None and (not history.ok or history.warnings)):
            report = window.summary(max_issues=20)
        # predict's result is strict JSON already (detector._results); a visitor's threshold or the history's
        # pattern findings add to it, and only then does it need cleaning again
        result = rethreshold(result, threshold)
        if threshold is not None or with_history:
            result = json_safe(result)
        return WindowOutcome(result, window, detector.window_size, report)

    # ------------------------------------------------------------------ upload

    def read_upload(self, paths: list[str] | str | None, progress: Progress | None = None) -> ValidationResult:
        """A JSONL/JSON history file, a records CSV, a Fitbit `<ID>_hr.csv` + `<ID>_steps.csv` pair, or a
        device export as it came from the phone (Apple Health export.zip, Fitbit Takeout .zip, Health
        Connect .zip, Garmin .fit, Oura JSON: `importers`) -> validated records. Whole-input problems
        raise InputFileError with a readable message."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = [str(p) for p in (paths or []) if p]
        if not paths:
            raise InputFileError("no file uploaded")
        if all(is_device_export(p) for p in paths):
            size = sum(Path(p).stat().st_size for p in paths)
            if size > self.config.max_export_bytes:
                raise InputFileError(f"{', '.join(Path(p).name for p in paths)}: {size:,} bytes is over the export "
                                     f"size limit of {self.config.max_export_bytes:,} bytes")
            return load_device_export(paths, self.feature_config, self.limits, progress=progress)
        csvs = [p for p in paths if p.lower().endswith(CSV_SUFFIXES)]
        if len(paths) == 1 and fitbit_kind(paths[0]) == "hr":
            # heart rate alone (no steps file): read with a note, activity unknown (load_fitbit)
            return load_fitbit(paths[0], None, self.feature_config, self.limits, steps_beside=False)
        if (len(paths) == 1 and is_fitbit_file(paths[0])) or len(csvs) > 1:
            if len(csvs) != 2 or len(paths) != 2:
                raise InputFileError("a Fitbit upload is the two files of a pair, <ID>_hr.csv and <ID>_steps.csv, "
                                     "or the heart-rate file alone")
            hr = [p for p in csvs if "_hr" in Path(p).name.lower() or "heart" in Path(p).name.lower()]
            steps = [p for p in csvs if "step" in Path(p).name.lower()]
            if len(hr) != 1 or len(steps) != 1 or hr[0] == steps[0]:
                raise InputFileError(f"cannot tell the heart-rate file from the steps file in "
                                     f"{[Path(p).name for p in csvs]}: name them <ID>_hr.csv and <ID>_steps.csv")
            return load_fitbit(hr[0], steps[0], self.feature_config, self.limits)
        if len(paths) != 1:
            raise InputFileError("upload one JSONL or CSV history file (or one Fitbit CSV pair)")
        path = Path(paths[0])
        if not path.is_file():
            raise InputFileError(f"{path.name}: file not found")
        size = path.stat().st_size
        if size > self.limits.max_bytes:  # refuse before reading it into memory
            raise InputFileError(f"{path.name}: {size:,} bytes is over the size limit of "
                                 f"{self.limits.max_bytes:,} bytes")
        text = decode_bytes(path.read_bytes(), path.name, self.limits, lines=True)
        parse = parse_csv_text if path.name.lower().endswith(".csv") else parse_jsonl_text
        return parse(text, config=self.feature_config, source=path.name, anon_id=anonymous_id(name=path.name),
                     limits=self.limits)

    def analyze_history(self, paths: list[str] | str | None, threshold: float | None = None,
                        progress: Progress | None = None, session: str | None = LOCAL_SESSION,
                        workspace: Workspace | None = None, markers: Any = None) -> HistoryOutcome:
        """Validate, replay and score an uploaded history as the live service would (score_history),
        then the per-day pattern, derived daily values through the rule engine, and a CSV export.

        Users in an upload are replayed from an empty baseline in the session's own workspace
        (never the shared store): replaying old data on top of a newer stored state would be
        look-ahead. Users with fewer records than one window are listed in `skipped`. Each day
        table, threshold decision and the newest window's result is computed once (`_score_upload`).
        `markers`: the person's dated events (markers.parse_markers input), kept with the outcome.
        """
        events = parse_markers(markers)  # a bad event line fails before any scoring
        ws = workspace or self.workspace(session)
        step = progress or (lambda frac, desc: None)
        step(0.05, "validating")
        validation = self.read_upload(paths, progress=lambda frac, desc: step(0.05 + 0.15 * frac, f"importing: {desc}"))
        if not validation.records:
            raise InputFileError("no valid record to score:\n" + validation.summary(max_issues=10))
        frame = validation.frame
        users = [str(u) for u in pd.unique(frame[USER])]
        sizes = frame[USER].value_counts()
        skipped = {str(u): int(n) for u, n in sizes.items() if n < ws.detector.window_size}
        if len(skipped) == len(users):
            raise InputFileError(f"no user has the {ws.detector.window_size} records one window needs: "
                                 + ", ".join(f"{u} ({n})" for u, n in list(skipped.items())[:10]))
        step(0.2, f"scoring {len(users)} user(s)")
        thr = self.threshold if threshold is None else float(threshold)
        scored, days, patterns, latest = self._score_upload(ws, validation, users, thr, step)
        step(0.85, "rules")
        daily_values = derive_daily(frame, self.feature_config.features["sleep_state"].categories
                                    if "sleep_state" in self.feature_config.features else {},
                                    self.feature_config.sampling_minutes, ws.detector.vitals_config)
        findings = consistent_findings(self.run_rules(daily_values, users, ws.findings_path))
        remember_day_means(ws, frame)
        days = annotate_days(with_rule_findings(days, findings), events)  # the rules' findings count too
        step(0.95, "export")
        csv_path = ws.exports / f"scores_{uuid.uuid4().hex[:10]}.csv"
        write_safe_csv(scored, csv_path)  # ids like "=cmd()" must not run in a spreadsheet
        return HistoryOutcome(validation, frame, scored, days, patterns, latest, daily_values, findings, thr,
                              csv_path, users=[str(u) for u in pd.unique(scored[USER])], skipped=skipped,
                              markers=events)

    def _score_upload(self, ws: Workspace, validation: ValidationResult, users: list[str], thr: float,
                      step: Progress) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
        """(scored windows at `thr`, day table, pattern per user, newest-window result per user), each
        computed once: the day table feeds the patterns, the scored table's newest row the latest result."""
        det = ws.detector
        with ws.lock:
            for user in users:
                det.storage.reset(user)
            with self._upload_threads():
                scored, days = det.score_history_and_days(validation)
            if thr != det.threshold:  # the visitor's threshold: the model's flags, so the day table, change
                step(0.7, "daily pattern")
                scored = rejudge_table(scored, thr)
                days = det.daily(scored)
                scored = det.with_pattern(scored, days)
            patterns, latest = {}, {}
            for user, user_days in days.groupby(USER, sort=False):
                patterns[str(user)] = json_safe({"user_id": str(user),
                                                 **summarize_pattern(user_days, det.pattern_config)})
            for user, rows in scored.groupby(USER, sort=False):
                latest[str(user)] = json_safe(newest_window_result(rows, det.users.summary(str(user)), thr))
        return scored, days, patterns, latest

    def run_rules(self, daily_values: pd.DataFrame, users: list[str], store: Path | None = None) -> list[dict]:
        """The daily-log rules that apply to the derived values, through the engine (stored, so
        feedback can be given on them). Findings about metrics we could not derive are dropped:
        they would only say "no weight logged"."""
        if daily_values.empty:
            return []
        derived = [m for m in DERIVED_METRICS if daily_values[m].notna().any()]
        with self.rule_engine(store or self.workspace(LOCAL_SESSION).findings_path) as engine:
            found = engine.run(daily_values, users=[u for u in users if u in set(daily_values[USER])])
        return [json_safe(f.to_dict()) for f in found if f.metric in derived]

    def history_api(self, paths: list[str] | str | None, threshold: float | None = None, markers: Any = None,
                    summary_only: bool = False, lang: str = "en") -> dict:
        """/analyze_history: summary, per-day table, rule findings and both LLM text lengths per user,
        plus per-window scores unless `summary_only` (errors as {"error": ...}). With `history_workers`,
        the call runs in a worker process (workers.py) and this thread waits for it."""
        if self.history_pool is not None:
            return self.history_pool.run(paths, threshold, markers, summary_only, lang)
        try:
            with self.scratch() as ws:  # stateless: nothing of the call outlives it
                out = self.analyze_history(paths, threshold, workspace=ws, markers=markers)
        except (InputFileError, InputError, ValueError) as exc:
            return {"error": str(exc)}
        v = out.validation.to_dict()
        days = out.days.copy()
        days["date"] = days["date"].dt.strftime("%Y-%m-%d")
        cases = {user: self.history_case(out, user) for user in out.users}
        report = {
            "threshold": out.threshold,
            "validation": {"counts": v["counts"], "users": v["users"], "errors": v["errors"][:100],
                           "warnings": v["warnings"][:100]},
            "summary": {user: {k: c[k] for k in ("span", "levels", "alert_periods", "red_flags", "not_measured",
                                                 "explained_days", "latest")} for user, c in cases.items()},
            "days": days.to_dict("records"),
            "patterns": out.patterns,
            "rule_findings": out.findings,
            "markers": [m.to_dict() for m in out.markers],
            "llm_text": {user: self.history_texts(c, lang) for user, c in cases.items()},
            "skipped_users": [{"user_id": u, "records": n, "reason": f"fewer than the {self.detector.window_size} "
                               "records one window needs"} for u, n in out.skipped.items()],
            "disclaimer": "Screening aid, not a diagnosis.",
        }
        if not summary_only:
            windows = out.scored[[USER, TIME, "anomaly_score", "is_anomaly", "level", "reasons",
                                  "model_anomalous"]].copy()
            windows[TIME] = iso_seconds(windows[TIME])
            report["windows"] = windows.to_dict("records")
        return json_safe(report)

    def window_api(self, text: str, threshold: float | None = None) -> dict:
        """/detect_window: window JSON text -> result JSON (errors as {"error": ...}); when records or
        fields were removed or corrected, `validation` says which (line and field), as the page does."""
        try:
            out = self.detect_window_text(text, threshold, session=None)
            return {**out.result, "validation": out.report} if out.report else out.result
        except (InputFileError, InputError, ValueError) as exc:
            return {"error": str(exc)}

    # ------------------------------------------------------------------ LLM text

    def history_case(self, outcome: "HistoryOutcome", user: str) -> dict:
        """The language-neutral facts of one uploaded user's history (history_report.history_case)."""
        return history_case(outcome.days[outcome.days[USER] == user], outcome.frame[outcome.frame[USER] == user],
                            [f for f in outcome.findings if f.get("user_id") == user], outcome.latest.get(user),
                            self.feature_config, markers=outcome.markers)

    def history_texts(self, case: dict, lang: str = "en") -> dict[str, str]:
        """{"short": the user content alone, at most 400 words, to paste into a chat box; "full": the
        system prompt and the full content} of one history case."""
        return {"short": render_history(case, lang, "short", self.feature_config).user_content,
                "full": render_history(case, lang, "full", self.feature_config).as_markdown()}

    def history_llm_text(self, outcome: "HistoryOutcome", user: str, lang: str = "en", length: str = "full") -> str:
        """History-first LLM text of one uploaded user (alert periods first, then flags, events, baseline,
        latest window); `length` "short" or "full" as in `history_texts`."""
        if length not in ("short", "full"):
            raise ValueError("length must be 'short' or 'full'")
        return self.history_texts(self.history_case(outcome, user), lang)[length]

    def llm_text(self, result: dict | None = None, pattern: dict | None = None,
                 findings: list[dict] | None = None, lang: str = "en") -> str:
        from ..formatter import AnomalyFormatter

        if result is None and pattern is None and not findings:
            return ""
        return AnomalyFormatter(language=lang, feature_config=self.feature_config).format(
            result=result, pattern=pattern, findings=findings or None).as_markdown()

    # ------------------------------------------------------------------ PatchTrAD cases

    def cases(self) -> list[dict]:
        """The manifest's cases, read at request time (a new case appears without a restart)."""
        manifest = self.cases_dir / "manifest.json"
        if not manifest.is_file():
            return []
        try:
            raw = json.loads(manifest.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return []
        items = raw.get("cases", []) if isinstance(raw, dict) else []
        return [c for c in items if isinstance(c, dict) and isinstance(c.get("name"), str)
                and isinstance(c.get("files"), dict)]

    def _case_file(self, rel: Any) -> Path | None:
        """A case file path inside the cases folder (no traversal out of it), or None."""
        if not isinstance(rel, str) or not rel:
            return None
        root = self.cases_dir.resolve()
        p = (root / rel).resolve()
        return p if p.is_relative_to(root) and p.is_file() else None

    def case(self, name: str) -> dict:
        """{"meta", "prescreen", "case", "llm_input", "problems"}; missing parts are reported, not raised."""
        meta = next((c for c in self.cases() if c["name"] == name), None)
        if meta is None:
            raise InputFileError(f"unknown case {name!r} (not in {self.cases_dir.name}/manifest.json)")
        out: dict[str, Any] = {"meta": meta, "prescreen": None, "case": None, "llm_input": "", "problems": []}
        for key in ("prescreen", "case", "llm_input"):
            rel = meta["files"].get(key)
            p = self._case_file(rel)
            if p is None:
                out["problems"].append(f"{key}: file {rel!r} missing")
                continue
            text = p.read_text(encoding="utf-8", errors="replace")
            if key == "llm_input":
                out[key] = text
                continue
            try:
                out[key] = json.loads(text)
            except json.JSONDecodeError as exc:
                out["problems"].append(f"{key}: not valid JSON ({exc.msg} at line {exc.lineno})")
        return out

    # ------------------------------------------------------------------ users and baselines

    def users(self, session: str | None = LOCAL_SESSION) -> list[str]:
        """The session's own users, then the shared (read-only) users."""
        own = self.workspace(session).detector.storage.list_users()
        return own + [u for u in self.detector.storage.list_users() if u not in set(own)]

    def user_baselines(self, user: str, session: str | None = LOCAL_SESSION) -> tuple[dict, pd.DataFrame]:
        """(summary block, table metric x personal/group/blend mean and sd)."""
        det, _ = self._owner(user, session)
        block = det.users.summary(user)
        rows = [{"metric": name, "personal_mean": m["personal_mean"], "personal_std": m["personal_std"],
                 "group_mean": m["group_mean"], "group_std": m["group_std"], "blend_mean": m["mean"],
                 "blend_std": m["std"]} for name, m in block["metrics"].items()]
        table = pd.DataFrame(rows).round(2)
        return json_safe({k: v for k, v in block.items() if k != "metrics"}), table

    def baseline_metrics(self) -> list[str]:
        return [f"{k.name}" for k in self._keys()]

    def _keys(self):
        from ..baselines import baseline_keys

        return baseline_keys(self.feature_config)

    def baseline_history(self, user: str, key_name: str, session: str | None = LOCAL_SESSION) -> pd.DataFrame:
        key = next((k for k in self._keys() if k.name == key_name), None)
        if key is None:
            raise InputFileError(f"unknown baseline metric {key_name!r}")
        det, _ = self._owner(user, session)
        return det.storage.history(user, key.metric, key.period)

    def day_values(self, user: str, key_name: str, session: str | None = LOCAL_SESSION) -> pd.Series:
        """Each day's own mean of the metric's channel (from the session's uploads and presets), so a
        spike shows next to the smooth baseline; empty when the records are not in this session."""
        key = next((k for k in self._keys() if k.name == key_name), None)
        means = self.workspace(session).day_means.get(user)
        if key is None or means is None:
            return pd.Series(dtype=float)
        column = f"{key.source}_{key.period}" if f"{key.source}_{key.period}" in means else key.source
        return means[column].dropna() if column in means else pd.Series(dtype=float)

    def user_profile(self, user: str, session: str | None = LOCAL_SESSION) -> dict:
        return self._owner(user, session)[0].storage.get_profile(user)

    def reset_user(self, user: str, session: str | None = LOCAL_SESSION) -> None:
        """Forget one of the session's own users; the shared users are read-only."""
        det, writable = self._owner(user, session)
        if not writable:
            raise InputFileError(f"{user!r} is a shared demo user: read-only (only your own uploads can be reset)")
        with self.workspace(session).lock:
            det.storage.reset(user)

    def user_findings(self, user: str, session: str | None = LOCAL_SESSION) -> pd.DataFrame:
        ws = self.workspace(session)
        with self.rule_engine(ws.findings_path) as engine:  # the session's own findings first
            f = engine.store.findings(user_id=user)
            stats = engine.store.rule_stats()
        if not len(f) and self.findings_path.is_file():  # then the shared (read-only) ones
            with self.rule_engine() as engine:
                f = engine.store.findings(user_id=user)
                stats = engine.store.rule_stats()
        cols = ["id", "rule", "metric", "severity", "episode_start", "episode_end", "value", "status"]
        f = f[cols] if len(f) else pd.DataFrame(columns=cols)
        if len(stats):
            f = f.merge(stats[["rule", "tp", "fp", "precision"]], on="rule", how="left")
        return f

    def feedback(self, finding_id: int, verdict: str, session: str | None = LOCAL_SESSION) -> dict:
        """Confirm a finding or mark it a false alarm; rule statistics (and, per the rules
        config, the rule's sensitivity) update at once."""
        from ..rules.feedback import adjust_sensitivity

        if verdict not in ("confirmed", "false_alarm"):
            raise ValueError(f"verdict must be 'confirmed' or 'false_alarm', got {verdict!r}")
        with self.rule_engine(self.workspace(session).findings_path) as engine:  # only the session's findings
            engine.store.add_feedback(int(finding_id), verdict, source="user")
            adjusted = adjust_sensitivity(engine.store, engine.config.feedback)
            stats = engine.store.rule_stats()
        return {"finding_id": int(finding_id), "verdict": verdict,
                "rule_stats": json_safe(stats.to_dict("records")),
                "adjusted": [asdict(a) for a in adjusted]}

    # ------------------------------------------------------------------ about

    def model_card(self) -> dict:
        """summary.json of the loaded checkpoint (read at request time), {} if absent."""
        path = self.detector.model_dir / "summary.json"
        if not path.is_file():
            return {}
        try:
            return json_safe(json.loads(path.read_text(encoding="utf-8")))  # json accepts NaN; we map it to None
        except json.JSONDecodeError:
            return {}


def worker_service(config: AppConfig, folder: Path) -> MonitorService:
    """The service a history worker process runs (workers.py): the server's settings, one torch thread
    per call, no pool of its own, its stores in `folder`."""
    return MonitorService(replace(config, data_dir=str(folder), history_workers=0, solo_upload_threads=1))


def upload_limits_text(config: AppConfig) -> tuple[int, int]:
    """(MB, records) for the upload help text."""
    return max(1, round(config.max_upload_bytes / 2**20)), config.max_records


__all__ = ["AppConfig", "MonitorService", "WindowOutcome", "HistoryOutcome", "derive_daily", "json_safe",
           "rethreshold", "DERIVED_METRICS"]
