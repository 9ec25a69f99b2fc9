"""Population-scale scoring on Dask (issue 19, part 1).

    from wearable_monitor.distributed import convert_to_parquet, score_population
    convert_to_parquet(["sim/records"], "records.parquet")            # one partition per user
    result = score_population("records.parquet", "scores/", workers=2)  # LocalCluster, 2 processes
    result = score_population("records.parquet", "scores/", scheduler="tcp://10.0.0.5:8786")
    windows, days = result.windows(), result.days()

The same from the command line:

    wearable-monitor convert sim/records --to parquet --out records.parquet
    wearable-monitor score records.parquet --engine dask --workers 2 --out scores/
    wearable-monitor score history.jsonl --engine dask --out scores.csv --daily daily.csv

Why Dask: pure Python and pandas-native (Spark needs a JVM; Ray dropped its local mode), and
its LocalCluster runs the same code a real cluster does.

How a run goes:

- One task per user (or per `users_per_task` users). A task reads only that user's partition
  (`INPUT/user_id=<id>/*.parquet`; for a JSONL / CSV input the driver validates the file and
  scatters each user's rows), replays the user causally with `score_history` and `daily` on
  one worker, and writes the user's windows and days as Parquet. State never crosses workers
  mid-user: the worker's detector scores with `update_baseline=False` and an in-memory store,
  so every task starts from the same empty store, exactly as the single-process replay of a
  new user does. Memory per worker is bounded by the largest user, not the population.
- Each worker process loads the model once (a per-thread cache in this module) and runs
  torch on one thread; processes, not threads, give the parallelism.
- Output, a directory OUT (a local path or any fsspec URL, e.g. s3://bucket/run/):
  `OUT/windows/user_id=<id>/part-0.parquet`, `OUT/days/user_id=<id>/part-0.parquet`
  (hive layout: `pandas.read_parquet(OUT + "/windows")` and `dask.dataframe.read_parquet`
  read it whole), `OUT/_done/<id>.json` per finished user (written last), `OUT/_run.json`
  (what was run) and `OUT/_failures.json` (users that failed in the last run, with the error).
- Resume: a rerun into the same OUT skips users whose `_done` marker exists; failed users are
  retried. A failure of one user is reported and never stops the others.

The windows and days are the single-process `score_history` / `daily` tables of the same
users, value for value (tests/test_distributed.py checks this on a 2-worker LocalCluster).
This is a screening aid, not a diagnosis.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .config import FeatureConfig, default_feature_config
from .data.readers import load_any
from .data.records import TIME, USER, static_column
from .data.validation import InputFileError, ValidationResult

PARTITION = USER
META_FILE = "_wearable_monitor.json"
DATASET_FORMAT = "wearable-monitor/records-frame"
DONE_DIR = "_done"
RUN_FILE = "_run.json"
FAILURES_FILE = "_failures.json"
RECORD_SUFFIXES = (".jsonl", ".json", ".csv", ".zip")


# ---------------------------------------------------------------------- paths (local or fsspec)

def _fs(url: str | Path):
    """(fsspec filesystem, root path inside it) for a local path or a URL such as s3://bucket/x."""
    import fsspec

    url = str(url)
    if "://" not in url:
        url = os.path.abspath(url)
    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


def _join(*parts: str) -> str:
    return "/".join(p.rstrip("/") for p in parts)


def partition_name(user: str) -> str:
    """Hive partition folder of a user (`user_id=<percent-encoded id>`), as pyarrow reads it."""
    return f"{PARTITION}={quote(str(user), safe='')}"


def _user_of(name: str) -> str | None:
    name = name.rstrip("/").rsplit("/", 1)[-1]
    prefix = PARTITION + "="
    return unquote(name[len(prefix):]) if name.startswith(prefix) else None


def _is_local(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _write_bytes(fs, path: str, data: bytes) -> None:
    """Write a whole file. Locally through a temporary name, so a crash leaves no half file;
    object stores (s3, gcs, azure) make an object visible only once it is complete, so there a
    rename (a copy and a delete, two more requests) would buy nothing."""
    if not _is_local(fs):
        fs.pipe_file(path, data)
        return
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    tmp = path + ".tmp"
    with fs.open(tmp, "wb") as fh:
        fh.write(data)
    fs.mv(tmp, path)


def _write_parquet(fs, path: str, frame: pd.DataFrame) -> None:
    _write_bytes(fs, path, frame.to_parquet(index=False, engine="pyarrow"))


def _write_json(fs, path: str, obj: Any) -> None:
    _write_bytes(fs, path, json.dumps(obj, indent=1, default=str).encode("utf-8"))


def _read_json(fs, path: str) -> Any:
    with fs.open(path, "r") as fh:
        return json.load(fh)


def _read_parquet_files(fs, files: Sequence[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    tables = []
    for f in files:
        with fs.open(f, "rb") as fh:
            tables.append(pq.read_table(fh))
    if len(tables) == 1:
        return tables[0].to_pandas()
    import pyarrow as pa

    return pa.concat_tables(tables, promote_options="default").to_pandas()


# ---------------------------------------------------------------------- records dataset (convert)

def _frame_layout(config: FeatureConfig) -> dict[str, Any]:
    """What a records-frame dataset's numbers mean: the column order and the category codes."""
    return {"features": list(config.features),
            "categories": {n: dict(s.categories) for n, s in config.features.items() if s.categories},
            "static": {n: dict(s.categories) for n, s in config.static.items()}}


def _expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files to read: each file as given; a folder's JSONL / JSON / CSV files (sorted)."""
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith((".jsonl", ".csv")))
        else:
            files.append(p)
    return files


@dataclass
class ConvertSummary:
    out: str
    files: int = 0
    users: int = 0
    records: int = 0
    rejected_lines: int = 0
    failed_files: list[str] = field(default_factory=list)  # files that could not be read at all
    reports: list[str] = field(default_factory=list)  # validation summaries of files with problems


def _convert_file(i: int, path: str | Path, out: str, config: FeatureConfig | None) -> dict:
    """Validate one record file and write each of its users' rows as `OUT/user_id=<id>/part-<i>.parquet`."""
    config = config or default_feature_config()
    fs, root = _fs(out)
    info: dict[str, Any] = {"file": str(path), "users": [], "records": 0, "rejected": 0, "report": None,
                            "error": None}
    try:
        loaded = load_any(path, config)
    except (InputFileError, OSError) as exc:
        info["error"] = f"{path}: {exc}"
        return info
    info["rejected"] = len(loaded.errors)
    if loaded.errors or any(w.line is None for w in loaded.warnings):
        info["report"] = loaded.summary(max_issues=10)
    if not loaded.records:
        return info
    for user, rows in loaded.frame.groupby(USER, sort=True):
        fs.makedirs(_join(root, partition_name(user)), exist_ok=True)
        _write_parquet(fs, _join(root, partition_name(user), f"part-{i:05d}.parquet"),
                       rows.drop(columns=[USER]).reset_index(drop=True))
        info["users"].append(str(user))
        info["records"] += len(rows)
    return info


def convert_to_parquet(inputs: Iterable[str | Path], out: str | Path, config: FeatureConfig | None = None,
                       overwrite: bool = False, progress: bool = False, client=None) -> ConvertSummary:
    """Validate record files (JSONL / CSV / Fitbit, as `score` reads them) and write a Parquet
    dataset partitioned by user: `OUT/user_id=<id>/part-<file number>.parquet`, the validated
    columnar frame (architecture.md section 2) without the user column, plus `OUT/_wearable_monitor.json`.

    One input file is in memory at a time (per worker, with a Dask `client`: one task per file; the
    files must then be readable by the workers). A file that cannot be read at all is reported in
    `failed_files` and the others are converted. A user found in several files gets one part per
    file; the reader sorts that user's parts by time and keeps the first record of a duplicated
    timestamp (the validator's rule within a file).
    """
    fs, root = _fs(out)
    if fs.exists(root) and fs.ls(root):
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty (pass overwrite=True / --overwrite)")
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)
    files = [str(f.resolve()) if client is not None else str(f) for f in _expand_inputs(inputs)]
    if not files:
        raise FileNotFoundError("no record files to convert")
    out_url = str(out) if "://" in str(out) else os.path.abspath(str(out))
    bar = None
    if progress:
        bar = tqdm(total=len(files), desc="convert", unit="file")
    if client is None:
        def results():
            for i, path in enumerate(files):
                yield _convert_file(i, path, out_url, config)
    else:
        from distributed import as_completed

        def results():
            futures = [client.submit(_convert_file, i, path, out_url, config, pure=False)
                       for i, path in enumerate(files)]
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:
                    yield {"file": "?", "users": [], "records": 0, "rejected": 0, "report": None,
                           "error": f"{type(exc).__name__}: {exc}"}
                fut.release()
    summary = ConvertSummary(out=str(out))
    users: set[str] = set()
    for info in results():
        summary.files += 1
        if info["error"]:
            summary.failed_files.append(info["error"])
        summary.rejected_lines += info["rejected"]
        if info["report"]:
            summary.reports.append(info["report"])
        users.update(info["users"])
        summary.records += info["records"]
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    summary.users = len(users)
    _write_json(fs, _join(root, META_FILE), {"format": DATASET_FORMAT, "version": 1,
                                             **_frame_layout(config or default_feature_config()),
                                             "inputs": files, "users": summary.users,
                                             "records": summary.records})
    return summary


def is_parquet_dataset(path: str | Path) -> bool:
    """A folder written by `convert_to_parquet` (or any hive dataset partitioned by user_id)."""
    try:
        fs, root = _fs(path)
        if not fs.isdir(root):
            return False
        return fs.exists(_join(root, META_FILE)) or any(_user_of(p) is not None for p in fs.ls(root, detail=False))
    except (OSError, ValueError):
        return False


def dataset_users(path: str | Path) -> list[str]:
    """The users of a dataset partitioned by user, sorted (folder names only: no data is read)."""
    return _list_users(*_fs(path))


def _list_users(fs, root: str) -> list[str]:
    return sorted(u for u in (_user_of(p) for p in fs.ls(root, detail=False)) if u is not None)


def check_dataset(path: str | Path, config: FeatureConfig | None = None) -> None:
    """Refuse a dataset written under other category codes than this feature config's."""
    config = config or default_feature_config()
    fs, root = _fs(path)
    meta_path = _join(root, META_FILE)
    if not fs.exists(meta_path):
        return  # a foreign hive dataset: the columns are checked when read
    meta = _read_json(fs, meta_path)
    layout = _frame_layout(config)
    for key in ("categories", "static"):
        if meta.get(key) != layout[key]:
            raise ValueError(f"{path}: written with other {key} codes than the current features config; "
                             f"convert the records again (wearable-monitor convert)")


def read_user_records(path: str | Path, user: str, config: FeatureConfig | None = None) -> pd.DataFrame:
    """One user's rows of a dataset partitioned by user, in the `records_to_frame` layout."""
    config = config or default_feature_config()
    fs, root = _fs(path)
    folder = _join(root, partition_name(user))
    files = sorted(fs.glob(_join(folder, "*.parquet")))
    if not files:
        raise FileNotFoundError(f"no Parquet files under {folder}")
    raw = _read_parquet_files(fs, files)
    n = len(raw)
    cols: dict[str, Any] = {USER: pd.Series(np.full(n, str(user), dtype=object), dtype=object),
                            TIME: pd.to_datetime(raw[TIME]).to_numpy().astype("datetime64[ns]")}
    for name in config.features:
        cols[name] = raw[name].to_numpy(dtype=np.float64) if name in raw else np.full(n, np.nan)
    for name, spec in config.static.items():
        col = static_column(name)
        cols[col] = raw[col].to_numpy(dtype=np.int64) if col in raw else np.full(n, spec.categories[spec.default],
                                                                                   dtype=np.int64)
    frame = pd.DataFrame(cols)
    if len(files) > 1 or not frame[TIME].is_monotonic_increasing:
        frame = frame.sort_values(TIME, kind="stable").drop_duplicates(TIME, keep="first")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------- worker side

_POOL: dict[tuple, list] = {}
_POOL_LOCK = threading.Lock()


@contextmanager
def worker_detector(model_dir: str | None = None, threshold: float | None = None, compile_model: bool = False):
    """Borrow this worker process's detector (`with worker_detector() as det:`): loaded once per
    process (once per concurrent thread, where a worker runs several), in-memory baselines, torch
    on one thread, with `compile_model` its batches through torch.compile (compiled once per detector;
    workers on one machine share Inductor's on-disk cache). A detector is never used by two threads at once."""
    key = (model_dir, threshold, compile_model)
    with _POOL_LOCK:
        free = _POOL.setdefault(key, [])
        det = free.pop() if free else None
    if det is None:
        import torch

        torch.set_num_threads(1)
        from .detector import WearableAnomalyDetector

        det = WearableAnomalyDetector(model_dir, threshold=threshold)
        if compile_model:
            det.learned.compile_batches()
    try:
        yield det
    finally:
        with _POOL_LOCK:
            _POOL[key].append(det)


def score_user(det, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Windows and days of one user's rows, as the single-process replay makes them; None when
    the user has fewer records than a window (the single-process replay skips such users too)."""
    if len(rows) < det.window_size:
        return None
    return det.score_history_and_days(rows, update_baseline=False)


def _write_user(fs, root: str, user: str, windows: pd.DataFrame | None, days: pd.DataFrame | None,
                info: dict) -> None:
    for kind, table in (("windows", windows), ("days", days)):
        if table is None or table.empty:
            continue
        folder = _join(root, kind, partition_name(user))
        fs.makedirs(folder, exist_ok=True)
        _write_parquet(fs, _join(folder, "part-0.parquet"), table.drop(columns=[USER]).reset_index(drop=True))
    _write_json(fs, _join(root, DONE_DIR, quote(str(user), safe="") + ".json"), info)


def _score_task(items: list[tuple[str, Any]], source: str | None, out: str, model_dir: str | None,
                threshold: float | None, compile_model: bool = False) -> list[dict]:
    """A Dask task: score and write each user of `items` ((user, rows or None) pairs; None = read
    the user's partition of `source`). One user's failure is caught and reported, not raised."""
    fs, root = _fs(out)
    results = []
    with worker_detector(model_dir, threshold, compile_model) as det:
        for user, rows in items:
            results.append(_score_one(det, fs, root, user, rows, source))
    return results


def _score_one(det, fs, root: str, user: str, rows: pd.DataFrame | None, source: str | None) -> dict:
    t0 = time.perf_counter()
    try:
        if rows is None:
            rows = read_user_records(source, user, det.config)
        tables = score_user(det, rows)
        n_records = len(rows)
        if tables is None:
            info = {"user_id": user, "status": "skipped", "records": n_records, "windows": 0, "days": 0,
                    "reason": f"fewer than {det.window_size} records"}
            _write_user(fs, root, user, None, None, info)
        else:
            windows, days = tables
            info = {"user_id": user, "status": "ok", "records": n_records, "windows": len(windows),
                    "days": len(days), "alert_days": int(days["alert"].sum()),
                    "alert_windows": int(windows["is_anomaly"].sum()),
                    "seconds": round(time.perf_counter() - t0, 4)}
            _write_user(fs, root, user, windows, days, info)
    except Exception as exc:  # one user's failure must not lose the others
        info = {"user_id": user, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=6)}
    return info


def _warm(model_dir: str | None, threshold: float | None, compile_model: bool = False) -> int:
    with worker_detector(model_dir, threshold, compile_model):
        return os.getpid()


def warm_workers(client, model_dir: str | None = None, threshold: float | None = None,
                 compile_model: bool = False) -> dict:
    """Load (and with `compile_model` compile) the model on every worker now (the first task would
    otherwise pay for it)."""
    return client.run(_warm, model_dir, threshold, compile_model)


# ---------------------------------------------------------------------- driver side

# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand memory back to the OS).
# Any explicit glibc trim threshold also freezes the mmap threshold, so each window batch's arrays
# are mapped and unmapped afresh: measured here, scoring a user took twice as long in such a worker
# (and in a plain process given that variable). Our workers keep glibc's adaptive default.
WORKER_ENV_UNSET = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def start_local_cluster(workers: int | None = None, memory_limit: str | float | None = "auto"):
    """A LocalCluster of `workers` processes with one thread each (loopback only, no dashboard)
    and a Client on it. Close both when done (`client.close(); cluster.close()`)."""
    import dask
    from distributed import Client, LocalCluster

    n = int(workers or os.cpu_count() or 1)
    with dask.config.set(WORKER_ENV_UNSET):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, memory_limit=memory_limit)
    return cluster, Client(cluster)


@dataclass
class ScoreResult:
    out: str
    users: int = 0                        # users in the input
    done: list[str] = field(default_factory=list)        # scored and written in this run
    resumed: list[str] = field(default_factory=list)     # skipped: already written by an earlier run
    skipped: list[str] = field(default_factory=list)     # fewer records than a window
    failures: dict[str, str] = field(default_factory=dict)  # user -> error
    windows_scored: int = 0               # in this run
    seconds: float = 0.0                  # scoring wall time (cluster start excluded)
    dashboard: str | None = None

    @property
    def windows_per_second(self) -> float:
        return self.windows_scored / self.seconds if self.seconds > 0 else float("nan")

    def windows(self) -> pd.DataFrame:
        return read_results(self.out, "windows")

    def days(self) -> pd.DataFrame:
        return read_results(self.out, "days")


def done_users(out: str | Path) -> set[str]:
    """Users with a finished result in OUT (their `_done` marker exists)."""
    fs, root = _fs(out)
    folder = _join(root, DONE_DIR)
    if not fs.exists(folder):
        return set()
    return {unquote(p.rsplit("/", 1)[-1][:-len(".json")]) for p in fs.ls(folder, detail=False)
            if p.endswith(".json")}


def read_results(out: str | Path, kind: str = "windows", users: Iterable[str] | None = None) -> pd.DataFrame:
    """The `windows` or `days` table of a run, users in sorted order (the single-process order),
    with `user_id` as the first column. Fine for small runs; at scale read the hive dataset
    (`OUT/windows`) with pandas / dask filters instead."""
    if kind not in ("windows", "days"):
        raise ValueError("kind must be 'windows' or 'days'")
    fs, root = _fs(out)
    base = _join(root, kind)
    if users is None:
        users = _list_users(fs, base) if fs.exists(base) else []
    parts = []
    for user in sorted(users):
        files = sorted(fs.glob(_join(base, partition_name(user), "*.parquet")))
        if not files:
            continue
        table = _read_parquet_files(fs, files)
        table.insert(0, USER, pd.Series([str(user)] * len(table)))  # the dtype pandas gives score_history's
        parts.append(table)
    if not parts:
        return pd.DataFrame(columns=[USER])
    return pd.concat(parts, ignore_index=True)


def _run_manifest(source: str, model_dir: str | None, threshold: float | None) -> dict:
    return {"input": source, "model_dir": model_dir, "threshold": threshold}


def _source_id(input: Any) -> str:
    if isinstance(input, (str, Path)):
        s = str(input)
        return s if "://" in s else os.path.abspath(s)
    return "<records>"


def score_population(input: Any, out: str | Path, *, workers: int | None = None, scheduler: str | None = None,
                     client=None, model_dir: str | Path | None = None, threshold: float | None = None,
                     resume: bool = True, users_per_task: int = 1, progress: bool = False,
                     config: FeatureConfig | None = None, max_in_flight: int | None = None,
                     input_name: str | None = None, compile_model: bool = False) -> ScoreResult:
    """Score a population on Dask and write Parquet windows and days to `out` (module docstring).

    input: a Parquet dataset partitioned by user (`convert_to_parquet`; local or fsspec URL), a
        JSONL / CSV / Fitbit file (validated here, then each user's rows are scattered), a
        `ValidationResult` or a records frame.
    Cluster: `client` (an existing Client) or `scheduler` (its address), else a LocalCluster of
        `workers` processes (one thread each), closed at the end.
    resume: skip users already written to `out`; False clears `out`'s results first. A resume
        refuses an `out` written from another input (`input_name`, default: the path), model or threshold.
    compile_model: each worker scores its batches through torch.compile (LearnedDetector.compile_batches:
        1.5-2x the model's windows/s after a one-off compilation; a worker's whole task takes about 13 %
        less CPU, docs/scale.md; for big populations).
    """
    config = config or default_feature_config()
    model_dir = str(model_dir) if model_dir is not None else None
    fs, root = _fs(out)
    _start_run(fs, root, out, _run_manifest(input_name or _source_id(input), model_dir, threshold), resume)
    todo, frames, data_path, result = _users_to_score(input, out, config, resume)
    job = _Job(data_path, str(out), model_dir, threshold, max(1, users_per_task), max_in_flight, compile_model)
    with _cluster(client, scheduler, workers) as (client, local):
        result.dashboard = _dashboard(client, local=local)
        if progress and result.dashboard:
            print(f"Dask dashboard: {result.dashboard}", file=sys.stderr)
        _score_users(client, todo, frames, job, result, progress)
    failures_path = _join(root, FAILURES_FILE)
    if result.failures:
        _write_json(fs, failures_path, result.failures)
    elif fs.exists(failures_path):
        fs.rm(failures_path)
    return result


def _start_run(fs, root: str, out, manifest: dict, resume: bool) -> None:
    """Clear `out` (resume=False) or check that it holds a run of the same settings; write the manifest."""
    run_path = _join(root, RUN_FILE)
    if fs.exists(root) and not resume:
        for name in ("windows", "days", DONE_DIR, RUN_FILE, FAILURES_FILE):
            if fs.exists(_join(root, name)):
                fs.rm(_join(root, name), recursive=True)
    if resume and fs.exists(run_path):
        before = _read_json(fs, run_path)
        if before != manifest:
            raise ValueError(f"{out} holds a run of other settings ({before}); write to a new output or "
                             f"start again (resume=False / --no-resume)")
    fs.makedirs(_join(root, DONE_DIR), exist_ok=True)
    _write_json(fs, run_path, manifest)


def _users_to_score(input: Any, out, config: FeatureConfig,
                    resume: bool) -> tuple[list[str], dict[str, pd.DataFrame] | None, str | None, ScoreResult]:
    """(users to score, their rows or None when the tasks read the Parquet dataset, the dataset's path,
    the result with the users already written listed as resumed)."""
    parquet = isinstance(input, (str, Path)) and is_parquet_dataset(input)
    data_path = _source_id(input) if parquet else None  # what the workers read
    if parquet:
        check_dataset(input, config)
        users = dataset_users(input)
        frames: dict[str, pd.DataFrame] | None = None
    else:
        frame = _records_frame(input, config)
        frames = {str(u): g.reset_index(drop=True) for u, g in frame.groupby(USER, sort=True)}
        del frame
        users = sorted(frames)
    result = ScoreResult(out=str(out), users=len(users))
    finished = done_users(out) if resume else set()
    result.resumed = [u for u in users if u in finished]
    for user in result.resumed if frames is not None else ():
        del frames[user]
    return [u for u in users if u not in finished], frames, data_path, result


@dataclass(frozen=True)
class _Job:
    """What every scoring task is given besides its users."""
    data_path: str | None            # the Parquet dataset the tasks read (None: rows are scattered)
    out: str
    model_dir: str | None
    threshold: float | None
    users_per_task: int
    max_in_flight: int | None        # tasks submitted at once (default: 4 per worker thread)
    compile_model: bool = False      # score batches through torch.compile on the workers


@contextmanager
def _cluster(client, scheduler: str | None, workers: int | None):
    """(client, local): the given client, one connected to `scheduler`, or a LocalCluster of `workers`
    processes; what this opened is closed at the end."""
    from distributed import Client  # dask is imported when a population is scored, not with the package

    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster, client = start_local_cluster(workers)
    try:
        yield client, own_cluster is not None
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
        elif scheduler:
            client.close()


def _score_users(client, todo: list[str], frames: dict[str, pd.DataFrame] | None, job: _Job, result: ScoreResult,
                 progress: bool) -> None:
    """Score `todo` in tasks of `users_per_task` users, at most `max_in_flight` at once; fills `result`."""
    from distributed import as_completed

    n_threads = max(1, sum(client.nthreads().values()))
    max_in_flight = job.max_in_flight or 4 * n_threads
    batches = [todo[i:i + job.users_per_task] for i in range(0, len(todo), job.users_per_task)]
    t0 = time.perf_counter()
    bar = None
    if progress:
        bar = tqdm(total=len(todo), desc="scoring users", unit="user")

    def submit(batch: list[str]):
        if frames is None:
            items = [(u, None) for u in batch]
        else:
            items = [(u, client.scatter(frames.pop(u), hash=False)) for u in batch]
        fut = client.submit(_score_task, items, job.data_path, job.out, job.model_dir, job.threshold,
                            job.compile_model, pure=False,
                            key=f"score-{quote(batch[0], safe='')}-{len(batch)}-{time.time_ns()}")
        pending[fut] = batch
        return fut

    pending: dict[Any, list[str]] = {}
    queue = iter(batches)
    ac = as_completed([submit(b) for _, b in zip(range(max_in_flight), queue)])
    for fut in ac:
        batch = pending.pop(fut)
        try:
            infos = fut.result()
        except Exception as exc:  # the task itself died (worker lost, killed for memory...)
            infos = [{"user_id": u, "status": "failed", "error": f"{type(exc).__name__}: {exc}"} for u in batch]
        fut.release()
        for info in infos:
            user = info["user_id"]
            if info["status"] == "ok":
                result.done.append(user)
                result.windows_scored += info["windows"]
            elif info["status"] == "skipped":
                result.skipped.append(user)
            else:
                result.failures[user] = info["error"]
        if bar is not None:
            bar.update(len(batch))
            if result.failures:
                bar.set_postfix(failed=len(result.failures))
        nxt = next(queue, None)
        if nxt is not None:
            ac.add(submit(nxt))
    result.seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()


def _dashboard(client, local: bool) -> str | None:
    """The dashboard link, when there is one (a LocalCluster's needs bokeh installed here)."""
    if local and importlib.util.find_spec("bokeh") is None:
        return None
    try:
        info = client.scheduler_info()
        return client.dashboard_link if info.get("services", {}).get("dashboard") else None
    except Exception:
        return None


def _records_frame(input: Any, config: FeatureConfig) -> pd.DataFrame:
    if isinstance(input, pd.DataFrame):
        return input
    if isinstance(input, (str, Path)):
        input = load_any(input, config)
    if not isinstance(input, ValidationResult):
        raise TypeError("input: a Parquet dataset folder, a records file, a ValidationResult or a records frame")
    if not input.records:
        raise ValueError("no valid records to score:\n" + input.summary())
    return input.frame
