"""The app's service layer: plain, testable functions over the package's public APIs.

`MonitorService` holds one `WearableAnomalyDetector` (one model, many users), one SQLite
baseline store and one SQLite findings store (in `data_dir`, a temp dir by default), the
input limits, the PatchTrAD cases folder and the presets folder. Nothing here imports
Gradio; `ui.py` turns these results into components.

A screening aid, not a diagnosis.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import REPO_ROOT, check_known_keys
from ..jsonio import json_safe  # the one strict-JSON cleaner (re-exported here)
from ..detector import InputError, WearableAnomalyDetector, threshold_warning
from ..readers import (
    CSV_SUFFIXES,
    anonymous_id,
    decode_bytes,
    is_fitbit_file,
    load_fitbit,
    parse_csv_text,
    parse_jsonl_text,
    parse_window_text,
)
from ..records import TIME, USER
from ..validation import InputFileError, Limits, ValidationResult, validate_items
from ..verdict import rejudge, rejudge_table
from ..vitals import VitalsConfig, signal_values

DEFAULT_CONFIG = REPO_ROOT / "configs" / "app_config.json"
Progress = Callable[[float, str], None]

# Derived daily values for the rule engine (see `derive_daily`).
MIN_RESTING_VALUES = 12        # an hour of resting 5-minute HR before a day's resting HR is stated
MIN_SLEEP_COVERAGE = 0.7       # share of the noon-to-noon sleep day with a sleep_state observation
DERIVED_METRICS = ("resting_hr", "sleep_hours")


# ----------------------------------------------------------------------------- config

@dataclass(frozen=True)
class AppConfig:
    """configs/app_config.json; relative paths are relative to the repository root.
    Precedence: keyword overrides > environment `WM_APP_<KEY>` > the file > these defaults."""

    max_upload_bytes: int = 50 * 2**20
    max_records: int = 500_000
    concurrency_limit: int = 2
    max_queue_size: int = 32
    default_language: str = "en"
    model_dir: str | None = None       # None = the shipped checkpoint
    data_dir: str | None = None        # SQLite stores and CSV exports; None = a fresh temp dir
    cases_dir: str = "demo_patchad_cases"
    presets_dir: str = "test_data"
    max_chart_points: int = 6000

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
        if min(cfg.max_upload_bytes, cfg.max_records, cfg.concurrency_limit, cfg.max_queue_size) < 1:
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
    rows: pd.DataFrame           # the scored window's records (frame rows)
    report: str = ""             # validation summary when something was removed or warned about


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
        self.findings_path = self.data_dir / "findings.sqlite"
        self.limits = Limits(max_bytes=self.config.max_upload_bytes, max_records=self.config.max_records)
        self.cases_dir = self.config.path(self.config.cases_dir)
        self.presets_dir = self.config.path(self.config.presets_dir)
        # One model and one store serve every visitor: scoring and baseline updates of one
        # request must not interleave with another's (the queue's concurrency limit bounds the wait).
        self.lock = threading.RLock()

    @property
    def threshold(self) -> float:
        return self.detector.threshold

    @contextmanager
    def rule_engine(self) -> Iterator[Any]:
        """A RuleEngine over the shared findings file, opened per call: its sqlite connection
        belongs to the calling thread (Gradio runs handlers in worker threads)."""
        from ..rules import RuleEngine

        engine = RuleEngine(store=self.findings_path)
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

    def run_preset(self, name: str, threshold: float | None = None) -> WindowOutcome:
        """Replay the preset's history from an empty baseline (so every run is the same), then
        score its window."""
        doc = self.preset(name)
        window = validate_items(enumerate(doc["window"], start=1), self.feature_config, source=f"preset:{name}",
                                limits=self.limits)
        history = None
        if doc.get("history"):
            history = validate_items(enumerate(doc["history"], start=1), self.feature_config,
                                     source=f"preset:{name} (history)", limits=self.limits)
        with self.lock:
            for user in {*window.users, *(history.users if history else {})}:
                self.detector.storage.reset(user)
            return self._detect(window, history, threshold)

    # ------------------------------------------------------------------ real-time window

    def detect_window_text(self, text: str | None, threshold: float | None = None) -> WindowOutcome:
        """Window JSON text (list, {"window", "history"} object or one record) -> result."""
        if not text or not text.strip():
            raise InputFileError("the input is empty: paste a window (a JSON list of records)")
        if len(text.encode("utf-8")) > self.limits.max_bytes:
            raise InputFileError(f"the text is over the size limit of {self.limits.max_bytes:,} bytes")
        loaded = parse_window_text(text, config=self.feature_config, source="<window>", limits=self.limits)
        with self.lock:
            return self._detect(loaded, loaded.history, threshold)

    def _detect(self, window: ValidationResult, history: ValidationResult | None,
                threshold: float | None) -> WindowOutcome:
        if not window.records:
            raise InputError("no valid record in the window:\n" + window.summary(max_issues=10))
        with_history = history is not None and history.records and len(history.records) >= self.detector.window_size
        if with_history:
            self.detector.score_history(history)
        result = self.detector.detect_realtime(window, history=history if with_history else None)
        frame = window.frame
        rows = frame[frame[USER] == result["user_id"]].iloc[-self.detector.window_size:].reset_index(drop=True)
        report = ""
        if not window.ok or window.warnings or (history is not None and (not history.ok or history.warnings)):
            report = window.summary(max_issues=20)
        return WindowOutcome(json_safe(rethreshold(result, threshold)), rows, report)

    # ------------------------------------------------------------------ upload

    def read_upload(self, paths: list[str] | str | None) -> ValidationResult:
        """A JSONL/JSON history file, a records CSV, or a Fitbit `<ID>_hr.csv` + `<ID>_steps.csv` pair
        -> validated records. Whole-input problems raise InputFileError with a readable message."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = [str(p) for p in (paths or []) if p]
        if not paths:
            raise InputFileError("no file uploaded")
        csvs = [p for p in paths if p.lower().endswith(CSV_SUFFIXES)]
        if (len(paths) == 1 and is_fitbit_file(paths[0])) or len(csvs) > 1:
            if len(csvs) != 2 or len(paths) != 2:
                raise InputFileError("a Fitbit upload needs exactly the two files of a pair: "
                                     "<ID>_hr.csv and <ID>_steps.csv")
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
        text = decode_bytes(path.read_bytes(), path.name, self.limits)
        parse = parse_csv_text if path.name.lower().endswith(".csv") else parse_jsonl_text
        return parse(text, config=self.feature_config, source=path.name, anon_id=anonymous_id(name=path.name),
                     limits=self.limits)

    def analyze_history(self, paths: list[str] | str | None, threshold: float | None = None,
                        progress: Progress | None = None) -> HistoryOutcome:
        """Validate, replay and score an uploaded history as the live service would (score_history),
        then the per-day pattern, derived daily values through the rule engine, and a CSV export.

        Users in an upload are replayed from an empty baseline (their stored baselines are
        replaced): replaying old data on top of a newer stored state would be look-ahead.
        """
        step = progress or (lambda frac, desc: None)
        step(0.05, "validating")
        validation = self.read_upload(paths)
        if not validation.records:
            raise InputFileError("no valid record to score:\n" + validation.summary(max_issues=10))
        frame = validation.frame
        users = [str(u) for u in pd.unique(frame[USER])]
        step(0.2, f"scoring {len(users)} user(s)")
        with self.lock:
            for user in users:
                self.detector.storage.reset(user)
            scored = self.detector.score_history(validation)
            thr = self.threshold if threshold is None else float(threshold)
            scored = rejudge_table(scored, thr)
            step(0.7, "daily pattern")
            days = self.detector.daily(scored)
            patterns, latest = {}, {}
            for user in pd.unique(scored[USER]):
                patterns[str(user)] = json_safe(self.detector.detect_pattern(scored, user_id=user))
                rows = frame[frame[USER] == user]
                latest[str(user)] = json_safe(rethreshold(self.detector.predict(rows, update_baseline=False), thr))
        step(0.85, "rules")
        daily_values = derive_daily(frame, self.feature_config.features["sleep_state"].categories
                                    if "sleep_state" in self.feature_config.features else {},
                                    self.feature_config.sampling_minutes, self.detector.vitals_config)
        findings = self.run_rules(daily_values, users)
        step(0.95, "export")
        csv_path = self.data_dir / "exports" / f"scores_{uuid.uuid4().hex[:10]}.csv"
        export = scored.copy()
        export[TIME] = export[TIME].dt.strftime("%Y-%m-%dT%H:%M:%S")
        export.to_csv(csv_path, index=False)
        return HistoryOutcome(validation, frame, scored, days, patterns, latest, daily_values, findings, thr,
                              csv_path, users=[str(u) for u in pd.unique(scored[USER])])

    def run_rules(self, daily_values: pd.DataFrame, users: list[str]) -> list[dict]:
        """The daily-log rules that apply to the derived values, through the engine (stored, so
        feedback can be given on them). Findings about metrics we could not derive are dropped:
        they would only say "no weight logged"."""
        if daily_values.empty:
            return []
        derived = [m for m in DERIVED_METRICS if daily_values[m].notna().any()]
        with self.rule_engine() as engine:
            found = engine.run(daily_values, users=[u for u in users if u in set(daily_values[USER])])
        return [json_safe(f.to_dict()) for f in found if f.metric in derived]

    def history_api(self, path: str | None, threshold: float | None = None) -> dict:
        """/analyze_history: per-window scores and per-day pattern as JSON (errors as {"error": ...})."""
        try:
            out = self.analyze_history(path, threshold)
        except (InputFileError, InputError, ValueError) as exc:
            return {"error": str(exc)}
        v = out.validation.to_dict()
        windows = out.scored[[USER, TIME, "anomaly_score", "is_anomaly", "level", "reasons", "model_anomalous"]].copy()
        windows[TIME] = windows[TIME].dt.strftime("%Y-%m-%dT%H:%M:%S")
        days = out.days.copy()
        days["date"] = days["date"].dt.strftime("%Y-%m-%d")
        return json_safe({
            "threshold": out.threshold,
            "validation": {"counts": v["counts"], "users": v["users"], "errors": v["errors"][:100],
                           "warnings": v["warnings"][:100]},
            "windows": windows.to_dict("records"),
            "days": days.to_dict("records"),
            "patterns": out.patterns,
            "rule_findings": out.findings,
            "disclaimer": "Screening aid, not a diagnosis.",
        })

    def window_api(self, text: str, threshold: float | None = None) -> dict:
        """/detect_window: window JSON text -> result JSON (errors as {"error": ...})."""
        try:
            return self.detect_window_text(text, threshold).result
        except (InputFileError, InputError, ValueError) as exc:
            return {"error": str(exc)}

    # ------------------------------------------------------------------ LLM text

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

    def users(self) -> list[str]:
        return self.detector.storage.list_users()

    def user_baselines(self, user: str) -> tuple[dict, pd.DataFrame]:
        """(summary block, table metric x personal/group/blend mean and sd)."""
        with self.lock:
            block = self.detector.users.summary(user)
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

    def baseline_history(self, user: str, key_name: str) -> pd.DataFrame:
        key = next((k for k in self._keys() if k.name == key_name), None)
        if key is None:
            raise InputFileError(f"unknown baseline metric {key_name!r}")
        return self.detector.storage.history(user, key.metric, key.period)

    def reset_user(self, user: str) -> None:
        with self.lock:
            self.detector.storage.reset(user)

    def user_findings(self, user: str) -> pd.DataFrame:
        with self.rule_engine() as engine:
            f = engine.store.findings(user_id=user)
            stats = engine.store.rule_stats()
        cols = ["id", "rule", "metric", "severity", "episode_start", "episode_end", "value", "status"]
        f = f[cols] if len(f) else pd.DataFrame(columns=cols)
        if len(stats):
            f = f.merge(stats[["rule", "tp", "fp", "precision"]], on="rule", how="left")
        return f

    def feedback(self, finding_id: int, verdict: str) -> dict:
        """Confirm a finding or mark it a false alarm; rule statistics (and, per the rules
        config, the rule's sensitivity) update at once."""
        from ..rules.feedback import adjust_sensitivity

        if verdict not in ("confirmed", "false_alarm"):
            raise ValueError(f"verdict must be 'confirmed' or 'false_alarm', got {verdict!r}")
        with self.rule_engine() as engine:
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


def upload_limits_text(config: AppConfig) -> tuple[int, int]:
    """(MB, records) for the upload help text."""
    return max(1, round(config.max_upload_bytes / 2**20)), config.max_records


__all__ = ["AppConfig", "MonitorService", "WindowOutcome", "HistoryOutcome", "derive_daily", "json_safe",
           "rethreshold", "DERIVED_METRICS"]
