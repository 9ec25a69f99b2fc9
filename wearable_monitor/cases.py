"""PatchTrAD case pipeline: a cheap prescreen next to the official precheck, written as app cases.

    wearable-monitor cases --mode all --data-file data.jsonl --save-dir demo_patchad_cases --sample-name NAME

Two paths run over one user's records (the seed's `simulate_patchad_case_pipeline.py` job):

* **platform prescreen**: the unsupervised PatchTrAD detector (checkpoints/patchtrad) scores every
  record (`score_series`) and merges flagged patches into segments (`flag_segments`).
* **official precheck**: the learned detector (`WearableAnomalyDetector`) replays the whole history
  (`score_history`: every window against the baseline of the days before it, no look-ahead),
  then looks at the windows ending in each flagged segment +- `around_minutes`: a segment is
  *confirmed* when one of them is anomalous. The most anomalous window of each checked segment
  and of the whole history is re-scored as a realtime result (baseline = only the days before
  it), and multi-day data also get the `detect_pattern` summary.

Per case, in ``save_dir/NAME/``: ``prescreen.json`` (scores for the chart), ``case.json`` (all
facts), ``llm_input.md`` (AnomalyFormatter Markdown: the top realtime result, the pattern, and
each prescreen segment as a finding with its precheck verdict). ``save_dir/manifest.json`` gains
(or replaces) the entry ``{name, title, source, created, files}``; the app reads it per request.

Reproducible by construction: no wall-clock time (``created`` defaults to the data's last
timestamp), fixed rounding, sorted keys where order is not meaningful, files written atomically.
This is a screening aid, not a diagnosis.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .baselines import BaselineStorage, UserDataManager
from .config import REPO_ROOT
from .data.readers import load_any
from .data.records import TIME, USER
from .errors import CaseError
from .formatter import AnomalyFormatter
from .jsonio import json_safe

PRESCREEN_DIR = REPO_ROOT / "checkpoints" / "patchtrad"
MANIFEST = "manifest.json"
FILES = {"prescreen": "prescreen.json", "case": "case.json", "llm_input": "llm_input.md"}
MODES = ("all", "prescreen", "precheck")
CASE_SCHEMA = "wearable_monitor.patchad_case/1"
DISCLAIMER = "Screening aid, not a diagnosis."
# a sample name becomes a folder name and a manifest key: one path component, nothing else
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class CaseConfig:
    around_minutes: int = 60        # precheck looks at windows ending within a segment +- this
    max_points: int = 3000          # prescreen.json keeps at most this many points (max per bucket)
    max_checked_segments: int = 12  # segments (highest prescreen score first) re-scored in detail
    max_issues: int = 20            # validation issues copied into case.json


# ----------------------------------------------------------------------------- names and files

def slugify(name: str) -> str:
    """A safe sample name from arbitrary text (offered in the error message, never applied silently)."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_-")
    return s[:64] or "case"


def check_sample_name(name: str) -> str:
    """The name unchanged if it is one safe path component; CaseError otherwise.

    Rejected: empty, '.', '..', anything with a separator, drive or dot (no '../x', '/abs',
    'a/b', 'a\\b', 'manifest.json'), more than 64 characters.
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise CaseError(f"sample name {name!r}: use 1-64 letters, digits, '_' or '-', starting with a "
                        f"letter or digit (no paths or dots); e.g. {slugify(str(name))!r}")
    return name


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + os.replace: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; case files are meant to be read by the app and by git
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def dumps(obj: Any) -> str:
    """The one JSON layout of every case file (stable bytes: indent 2, UTF-8, no NaN)."""
    return json.dumps(json_safe(obj, digits=6), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


@contextlib.contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on the folder itself, so two pipelines cannot interleave read-modify-write."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic replace still protects readers
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_manifest(save_dir: Path) -> list[dict]:
    path = save_dir / MANIFEST
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); fix or remove it") from None
    cases = raw.get("cases") if isinstance(raw, dict) else None
    if not isinstance(cases, list):
        raise CaseError(f"{path}: expected {{\"cases\": [...]}}")
    return cases


def update_manifest(save_dir: str | Path, entry: dict) -> list[dict]:
    """Insert or replace (same name, same position) one entry; other entries are kept as they are."""
    save_dir = Path(save_dir)
    check_sample_name(entry.get("name"))
    save_dir.mkdir(parents=True, exist_ok=True)
    with _dir_lock(save_dir):
        cases = read_manifest(save_dir)
        names = [c.get("name") if isinstance(c, dict) else None for c in cases]
        if entry["name"] in names:
            cases[names.index(entry["name"])] = entry
        else:
            cases.append(entry)
        atomic_write_text(save_dir / MANIFEST, dumps({"cases": cases}))
    return cases


def _rel(path: Path) -> str:
    """Repository-relative path when inside the repo (stable across checkouts), else as given."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _sha256(path: Path, n: int = 16) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:n] if path.is_file() else None


# ----------------------------------------------------------------------------- small helpers

def _iso(t: Any) -> str:
    return pd.Timestamp(t).isoformat()


def _num(x: Any, nd: int = 4) -> float | None:
    """JSON-safe rounded float; None for NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


def _downsample(times: pd.DatetimeIndex, scores: np.ndarray, max_points: int) -> tuple[list, list, dict | None]:
    """At most `max_points`: the max of each bucket of k records (peaks survive), at the bucket's first time."""
    n = len(scores)
    if n <= max_points:
        return [_iso(t) for t in times], [_num(s) for s in scores], None
    k = int(np.ceil(n / max_points))
    pad = (-n) % k
    padded = np.r_[scores, np.full(pad, np.nan)].reshape(-1, k)
    with np.errstate(all="ignore"):
        peak = np.where(np.isnan(padded).all(1), np.nan, np.nanmax(np.where(np.isnan(padded), -np.inf, padded), 1))
    return ([_iso(t) for t in times[::k]], [_num(s) for s in peak],
            {"factor": k, "method": f"max of each {k} consecutive records, at the first record's time"})


# ----------------------------------------------------------------------------- input

@dataclass
class CaseInput:
    frame: pd.DataFrame   # one user's records (records_to_frame layout), time order
    user_id: str
    validation: dict      # counts and the first issues of the whole file
    description: dict


def load_case_input(data_file: str | Path, user: str | None = None, start: str | None = None,
                    end: str | None = None, max_issues: int = 20) -> CaseInput:
    """Validate a JSONL history (readers.load_history) or Fitbit CSV (load_any) and pick one user.

    Rejected lines are reported (stderr by the CLI, and in case.json), never silently dropped.
    """
    loaded = load_any(data_file)
    frame = loaded.frame
    if frame.empty:
        raise CaseError(f"{data_file}: no valid records\n{loaded.summary(max_issues)}")
    users = list(pd.unique(frame[USER].astype(str)))
    if user is None:
        user = users[0]
    elif user not in users:
        raise CaseError(f"{data_file}: user {user!r} not found; users: {', '.join(users[:10])}")
    frame = frame[frame[USER].astype(str) == user]
    if start is not None:
        frame = frame[frame[TIME] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame[TIME] < pd.Timestamp(end)]
    if frame.empty:
        raise CaseError(f"{data_file}: user {user!r} has no records between {start} and {end}")
    frame = frame.reset_index(drop=True)
    c = loaded.counts
    validation = {"items": c["items"], "accepted": c["accepted"], "rejected": c["rejected"],
                  "duplicates": c["duplicates"], "fields_removed": c["fields_removed"],
                  "errors": [str(i) for i in loaded.errors[:max_issues]], "errors_total": c["errors"],
                  "warnings_total": c["warnings"], "users_in_file": len(users)}
    return CaseInput(frame, user, validation, describe(frame, loaded.config, Path(data_file).name))


def describe(frame: pd.DataFrame, config, file_name: str) -> dict:
    """What the data are: span, records, gaps, which features were observed and how often."""
    ts = pd.DatetimeIndex(frame[TIME])
    gaps = np.diff(ts.as_unit("ns").asi8) / 60e9 if len(ts) > 1 else np.zeros(0)
    observed = {f: round(float(frame[f].notna().mean()), 3) for f in config.features
                if f in frame and frame[f].notna().any()}
    return {"file": file_name, "user_id": str(frame[USER].iloc[0]), "records": int(len(frame)),
            "start": _iso(ts[0]), "end": _iso(ts[-1]),
            "calendar_days": int(ts.normalize().nunique()),
            "max_gap_minutes": _num(gaps.max(), 1) if len(gaps) else None,
            "sampling_minutes": config.sampling_minutes, "observed_share": observed}


# ----------------------------------------------------------------------------- prescreen

def run_prescreen(frame: pd.DataFrame, detector, cfg: CaseConfig = CaseConfig(),
                  threshold: float | None = None) -> tuple[dict, dict]:
    """PatchTrAD over one user's records -> (prescreen.json content, summary for case.json)."""
    thr = float(detector.threshold_ if threshold is None else threshold)
    scores = detector.score_series(frame)
    segments = detector.flag_segments(frame, threshold=thr)
    times = pd.DatetimeIndex(frame[TIME])
    t_out, s_out, down = _downsample(times, scores, cfg.max_points)
    segs = [{"start": _iso(s.start), "end": _iso(s.end), "max_score": _num(s.max_score)} for s in segments]
    prescreen = {"user_id": str(frame[USER].iloc[0]), "timestamps": t_out, "scores": s_out,
                 "threshold": _num(thr), "segments": segs, "model": "PatchTrAD", "records": int(len(frame)),
                 "downsample": down}
    finite = np.isfinite(scores)
    summary = {"model": "PatchTrAD (patch-wise transformer reconstruction), unsupervised prescreen",
               "threshold": _num(thr), "threshold_criterion": detector.threshold_criterion if threshold is None
               else f"set by the caller (checkpoint: {_num(detector.threshold_)})",
               "records_scored": int(finite.sum()), "records_unscored": int((~finite).sum()),
               "flagged_records": int((scores[finite] >= thr).sum()),
               "flagged_share": _num((scores[finite] >= thr).mean() if finite.any() else 0.0),
               "max_score": _num(np.nanmax(scores)) if finite.any() else None,
               "segments": segs}
    return prescreen, summary


# ----------------------------------------------------------------------------- precheck

@contextlib.contextmanager
def _scratch_baselines(detector) -> Iterator[None]:
    """Run against an empty in-memory baseline store, never the detector's own (which may be a
    user's SQLite file): the case replays the data from its first day and must not write back."""
    saved = detector.storage, detector.users
    detector.storage = BaselineStorage(":memory:", baseline_config=saved[0].config)
    detector.users = UserDataManager(detector.storage, detector.config)
    try:
        yield
    finally:
        detector.storage.close()
        detector.storage, detector.users = saved


def _realtime_results(detector, frame: pd.DataFrame, ends: list[pd.Timestamp],
                      progress: bool = False) -> dict[pd.Timestamp, dict]:
    """Realtime results of the windows ending at `ends`, each against the baseline of the days before it.

    Ends are taken in time order and the (scratch) baseline store is fed day by day, as a live
    service would have seen the data (UserDataManager.ingest skips rows it already has).
    """
    user = str(frame[USER].iloc[0])
    ts = frame[TIME]
    out = {}
    for t in tqdm(sorted(set(ends)), desc="precheck windows", disable=not progress, leave=False):
        before = frame[ts < t.normalize()]
        if len(before):
            detector.users.ingest(user, before)
        window = frame[ts <= t].tail(detector.window_size)
        out[t] = detector.predict(window, update_baseline=False)
    return out


def _compact(result: dict) -> dict:
    """The facts of a realtime result that fit in a segment row."""
    return {"anomaly_score": result["anomaly_score"], "is_anomaly": result["is_anomaly"],
            "window": result.get("window"),
            "top_features": [{k: f[k] for k in ("feature", "importance", "value", "z_score") if k in f}
                             for f in result.get("top_features", [])[:3]],
            "baseline": {k: result["baseline"].get(k) for k in ("source", "alpha", "days_of_history")}}


def check_segments(scored: pd.DataFrame, segments: list[dict], threshold: float,
                   around_minutes: int) -> list[dict]:
    """Per prescreen segment: the precheck windows ending inside it and within +- around_minutes."""
    ends = pd.DatetimeIndex(scored[TIME])
    score = scored["anomaly_score"].to_numpy(dtype=np.float64)
    pad = pd.Timedelta(minutes=around_minutes)
    rows = []
    for seg in segments:
        s, e = pd.Timestamp(seg["start"]), pd.Timestamp(seg["end"])
        near = (ends >= s - pad) & (ends <= e + pad)
        inside = (ends >= s) & (ends <= e)
        row = {"start": seg["start"], "end": seg["end"], "prescreen_max_score": seg["max_score"],
               "windows_inside": int(inside.sum()), "anomalous_inside": int((score[inside] >= threshold).sum()),
               "windows_around": int(near.sum()), "anomalous_around": int((score[near] >= threshold).sum())}
        if near.any():
            i = np.flatnonzero(near)[int(np.argmax(score[near]))]  # first of equal maxima
            row.update(precheck_max_score=_num(score[i]), precheck_max_at=_iso(ends[i]),
                       verdict="confirmed" if row["anomalous_around"] else "not_confirmed")
        else:
            row.update(precheck_max_score=None, precheck_max_at=None, verdict="no_precheck_windows")
        rows.append(row)
    return rows


def run_precheck(frame: pd.DataFrame, detector, segments: list[dict], cfg: CaseConfig = CaseConfig(),
                 progress: bool = False) -> dict:
    """The learned detector over the whole history, then on and around the prescreen segments."""
    user = str(frame[USER].iloc[0])
    with _scratch_baselines(detector):
        return _precheck(frame, user, detector, segments, cfg, progress)


def _precheck(frame: pd.DataFrame, user: str, detector, segments: list[dict], cfg: CaseConfig,
              progress: bool) -> dict:
    scored = detector.score_history(frame, progress=progress, update_baseline=False)
    thr = float(detector.threshold)
    checked = check_segments(scored, segments, thr, cfg.around_minutes)
    # detail (a realtime re-score) for the highest-scoring segments; all segments keep their counts
    detail = sorted((r for r in checked if r["precheck_max_at"]), key=lambda r: -(r["prescreen_max_score"] or 0))
    detail = detail[:cfg.max_checked_segments]
    score = scored["anomaly_score"].to_numpy(dtype=np.float64)
    top_at = pd.Timestamp(scored[TIME].iloc[int(np.argmax(score))])
    wanted = [pd.Timestamp(r["precheck_max_at"]) for r in detail] + [top_at]
    results = _realtime_results(detector, frame, wanted, progress)
    for r in checked:
        at = pd.Timestamp(r["precheck_max_at"]) if r["precheck_max_at"] else None
        r["realtime"] = _compact(results[at]) if at in results else None
    ends = pd.DatetimeIndex(scored[TIME])
    covered = np.zeros(len(scored), bool)
    pad = pd.Timedelta(minutes=cfg.around_minutes)
    for seg in segments:
        covered |= (ends >= pd.Timestamp(seg["start"]) - pad) & (ends <= pd.Timestamp(seg["end"]) + pad)
    flagged = score >= thr
    pattern = None
    if ends.normalize().nunique() >= 2:
        pattern = detector.detect_pattern(scored, user_id=user)
    return {
        "model": "WearableAnomalyNet (Phased LSTM + TFT), learned detector",
        "checkpoint": {"path": _rel(detector.model_dir),
                       "weights_sha256": _sha256(Path(detector.model_dir) / "model.safetensors")},
        "threshold": _num(thr), "window_size": detector.window_size,
        "windows": int(len(scored)), "anomalous_windows": int(flagged.sum()),
        "anomalous_share": _num(flagged.mean() if len(flagged) else 0.0),
        "around_minutes": cfg.around_minutes,
        "segments": checked,
        "segments_confirmed": sum(r["verdict"] == "confirmed" for r in checked),
        "outside_segments": {"windows": int((~covered).sum()), "anomalous_windows": int((flagged & ~covered).sum())},
        "top_window": results[top_at],
        "pattern": pattern,
    }


# ----------------------------------------------------------------------------- LLM input

FINDING_TEXT = {
    "confirmed": ({"en": "PatchTrAD prescreen segment, confirmed by the official precheck",
                   "zh": "PatchTrAD 预筛片段，官方复核确认"}, "MEDIUM"),
    "not_confirmed": ({"en": "PatchTrAD prescreen segment, not confirmed by the official precheck",
                       "zh": "PatchTrAD 预筛片段，官方复核未确认"}, "LOW"),
    "no_precheck_windows": ({"en": "PatchTrAD prescreen segment, too few records for the official precheck",
                             "zh": "PatchTrAD 预筛片段，记录不足，无法官方复核"}, None),
    None: ({"en": "PatchTrAD prescreen segment (official precheck not run)",
            "zh": "PatchTrAD 预筛片段（未进行官方复核）"}, None),
}


def segment_findings(prescreen: dict | None, precheck: dict | None, limit: int = 10) -> list[dict]:
    """Prescreen segments in the rule-finding shape, so the formatter lists them with their verdict.

    At most `limit`: confirmed segments first, then by prescreen score (case.json keeps them all).
    """
    if not prescreen:
        return []
    checked = {(r["start"], r["end"]): r for r in (precheck or {}).get("segments", [])}
    out = []
    for seg in prescreen["segments"]:
        r = checked.get((seg["start"], seg["end"]))
        verdict = r["verdict"] if r else None
        title, severity = FINDING_TEXT[verdict]
        evidence = {"prescreen_threshold": prescreen["threshold"]}
        if r and r["precheck_max_score"] is not None:
            evidence.update(precheck_max_pct=round(100 * r["precheck_max_score"], 1),
                            precheck_flagged=r["anomalous_around"], n=r["windows_around"])
        status = "finding" if verdict in ("confirmed", "not_confirmed") else "insufficient_data" \
            if verdict == "no_precheck_windows" else "awaiting_confirmation"
        out.append({"rule": "patchtrad_prescreen", "metric": "reconstruction_error", "severity": severity,
                    "status": status, "value": seg["max_score"], "evidence": evidence,
                    "period": {"start": seg["start"], "end": seg["end"]}, "title": title})
    out.sort(key=lambda f: (f["severity"] != "MEDIUM", -(f["value"] or 0.0), f["period"]["start"]))
    return out[:limit]


# ----------------------------------------------------------------------------- the pipeline

@dataclass
class CaseOutput:
    name: str
    folder: Path
    files: dict[str, str]
    entry: dict
    case: dict


@dataclass(frozen=True)
class CaseRequest:
    """What case to build: the data, where it goes, how it is named and described."""
    data_file: str | Path
    save_dir: str | Path
    name: str
    mode: str = "all"                 # all / prescreen / precheck (MODES)
    title: str | None = None          # default: "<name>: <user>, <first day> to <last day>"
    language: str = "en"
    user: str | None = None           # the file's first user when None
    created: str | None = None        # default: the data's last timestamp (never the wall clock)
    source: str | None = None         # default: "file <name of the data file>"
    start: str | None = None          # keep records at or after this time
    end: str | None = None            # keep records before this time
    meta: dict | None = None          # extra facts copied into case.json as they are


@dataclass(frozen=True)
class CaseModels:
    """Which checkpoints score the case, and their threshold overrides (None: the checkpoint's)."""
    prescreen_dir: str | Path = PRESCREEN_DIR
    prescreen_threshold: float | None = None
    model_dir: str | Path | None = None
    threshold: float | None = None


def run_case(request: CaseRequest, models: CaseModels = CaseModels(), config: CaseConfig = CaseConfig(),
             progress: bool = True, log=None) -> CaseOutput:
    """Build one case folder and register it in the manifest (see the module docstring)."""
    name = check_sample_name(request.name)
    if request.mode not in MODES:
        raise CaseError(f"mode {request.mode!r}: expected one of {', '.join(MODES)}")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    folder = Path(request.save_dir) / name
    steps = tqdm(total=4, desc=f"case {name}", disable=not progress, leave=False)

    steps.set_postfix_str("validate")
    data = _validated_input(request, config, log)
    steps.update(1)
    steps.set_postfix_str("prescreen")
    prescreen, prescreen_summary = _prescreen_step(request.mode, data, folder, models, config)
    steps.update(1)
    steps.set_postfix_str("precheck")
    precheck = _precheck_step(request.mode, data, prescreen, models, config, progress)
    steps.update(1)
    steps.set_postfix_str("write")
    out = _write_case(request, name, folder, data, prescreen, prescreen_summary, precheck, config)
    steps.update(1)
    steps.close()
    return out


def _validated_input(request: CaseRequest, config: CaseConfig, log) -> CaseInput:
    """The user's records; rejected records are reported through `log`, not raised."""
    data = load_case_input(request.data_file, request.user, request.start, request.end, config.max_issues)
    v = data.validation
    if v["errors_total"]:
        hidden = v["errors_total"] - len(v["errors"])
        more = f"\n  ... and {hidden} more" if hidden > 0 else ""
        log(f"{request.data_file}: rejected records: {v['rejected']} of {v['items']} ({v['errors_total']} issues):\n  "
            + "\n  ".join(v["errors"]) + more)
    return data


def _prescreen_step(mode: str, data: CaseInput, folder: Path, models: CaseModels,
                    config: CaseConfig) -> tuple[dict | None, dict | None]:
    """(prescreen, its summary for case.json): a new PatchTrAD run, or the folder's earlier one for a precheck."""
    if mode in ("all", "prescreen"):
        from .detectors.patchtrad import PatchTrADDetector  # torch: imported when a case runs, not with the manifest reader

        prescreen_dir = Path(models.prescreen_dir)
        pdet = PatchTrADDetector.from_pretrained(prescreen_dir)
        prescreen, summary = run_prescreen(data.frame, pdet, config, models.prescreen_threshold)
        summary["checkpoint"] = {"path": _rel(prescreen_dir),
                                 "weights_sha256": _sha256(prescreen_dir / "model.safetensors")}
        return prescreen, summary
    if (folder / FILES["prescreen"]).is_file():  # precheck of an earlier prescreen run
        prescreen = json.loads((folder / FILES["prescreen"]).read_text(encoding="utf-8"))
        if prescreen.get("user_id") != data.user_id:
            raise CaseError(f"{folder / FILES['prescreen']}: prescreen of user {prescreen.get('user_id')!r}, "
                            f"not {data.user_id!r}; rerun with --mode all")
        return prescreen, None
    return None, None


def _precheck_step(mode: str, data: CaseInput, prescreen: dict | None, models: CaseModels, config: CaseConfig,
                   progress: bool) -> dict | None:
    """The learned detector's look at the prescreen segments (None in prescreen mode)."""
    if mode not in ("all", "precheck"):
        return None
    from .detector import WearableAnomalyDetector  # torch: imported when a case runs

    det = WearableAnomalyDetector(models.model_dir, threshold=models.threshold)
    if len(data.frame) < det.window_size:
        raise CaseError(f"user {data.user_id}: {len(data.frame)} records, the precheck needs {det.window_size}")
    return run_precheck(data.frame, det, (prescreen or {}).get("segments", []), config, progress)


def _write_case(request: CaseRequest, name: str, folder: Path, data: CaseInput, prescreen: dict | None,
                prescreen_summary: dict | None, precheck: dict | None, config: CaseConfig) -> CaseOutput:
    """case.json, prescreen.json and llm_input.md in the case folder, and the manifest entry."""
    findings = segment_findings(prescreen, precheck)
    llm = None
    if precheck is not None or findings:
        llm = AnomalyFormatter(request.language).format(precheck["top_window"] if precheck else None,
                                                        pattern=(precheck or {}).get("pattern"),
                                                        findings=findings or None)
    created = request.created or data.description["end"]
    title = request.title or (f"{name}: {data.user_id}, {data.description['start'][:10]} to "
                              f"{data.description['end'][:10]}")
    source = request.source or f"file {data.description['file']}"
    case = {"schema": CASE_SCHEMA, "name": name, "title": title, "source": source, "created": created,
            "language": request.language, "mode": request.mode, "disclaimer": DISCLAIMER, "meta": request.meta or {},
            "data": {**data.description, "validation": data.validation},
            "prescreen": prescreen_summary if prescreen_summary is not None else
            ({"from_file": FILES["prescreen"], "threshold": prescreen["threshold"], "segments": prescreen["segments"]}
             if prescreen else None),
            "precheck": precheck,
            "summary": llm.summary if llm else None,
            "llm_case": llm.case if llm else None,
            "config": asdict(config)}
    folder.mkdir(parents=True, exist_ok=True)
    if prescreen_summary is not None:
        atomic_write_text(folder / FILES["prescreen"], dumps(prescreen))
    atomic_write_text(folder / FILES["case"], dumps(case))
    if llm is not None:
        atomic_write_text(folder / FILES["llm_input"], llm.as_markdown())
    files = {k: f"{name}/{v}" for k, v in FILES.items() if (folder / v).is_file()}
    entry = {"name": name, "title": title, "source": source, "created": created, "files": files}
    update_manifest(request.save_dir, entry)
    return CaseOutput(name, folder, files, entry, case)
