"""Fitbit intraday heart rate + steps CSV pair -> 5-minute records.

Input (the Stanford COVID-19 wearables files, Mishra et al. 2020): ``<ID>_hr.csv[.zip]``
with columns (row index), user, datetime, heartrate (a sample every few seconds or
every minute) and ``<ID>_steps.csv[.zip]`` with (row index), user, datetime, steps
(one row a minute). Datetimes are local wall-clock time.

Rules, per user and 5-minute bin (timestamp = bin start):

- raw cleaning: HR samples outside the config ``hr.valid_range`` and negative or
  non-numeric steps are dropped and counted. Duplicate timestamps are collapsed
  independently of row order: HR duplicates -> their mean, steps duplicates ->
  their maximum (a re-synced minute repeats the count; summing would double it).
- minute HR = mean of the samples in that minute; ``hr`` = mean of the minute HRs
  of the bin (every minute weighs the same, whatever the sampling rate).
- ``hr_resting`` = mean HR of the bin's minutes that are *resting*: the minute
  and the 12 minutes before it all have a steps row equal to 0 (Mishra et al.
  2020). A minute without a steps row is unknown, so it is not counted as rest.
  Absent when no minute of the bin qualifies.
- ``steps`` = sum of the bin's step rows; absent (not 0) when the bin has none.
- ``data_quality`` from HR coverage = share of the bin's 5 minutes with HR:
  ``high`` >= 0.8 (4-5 minutes), ``medium`` >= 0.4 (2-3), else ``low`` (1).
- a bin without HR is a gap: no record. Steps-only bins are not exported either
  (HR is the required feature; a record without it would be rejected), they are
  counted in the summary.
"""
from __future__ import annotations

import json
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import FeatureConfig, default_feature_config
from .records import TIME, TIMESTAMP_MAX, TIMESTAMP_MIN, USER
from .validation import InputFileError

HR_COLUMN, STEPS_COLUMN = "heartrate", "steps"
_PAIR = re.compile(r"^(?P<id>.+)_(?P<kind>hr|steps)\.csv(?P<zip>\.zip)?$", re.IGNORECASE)
QUALITY_LABELS = ("high", "medium", "low")
MAX_UNZIPPED_BYTES = 1 << 30  # a zip inflating beyond this is refused before reading (zip bomb)
SEGMENT_GAP_MINUTES = 24 * 60  # a user's timeline is binned in pieces split at gaps longer than this


@dataclass(frozen=True)
class FitbitImportConfig:
    bin_minutes: int = 5
    rest_minutes: int = 12          # no steps in the preceding 12 minutes (Mishra et al. 2020)
    quality_high: float = 0.8       # share of the bin's minutes with HR
    quality_medium: float = 0.4


@dataclass
class FitbitImportSummary:
    users: list[str] = field(default_factory=list)
    hr_rows: int = 0
    steps_rows: int = 0
    bad_rows: int = 0               # unparsable datetime or value
    out_of_range_dates: int = 0     # rows dated outside records.TIMESTAMP_MIN .. TIMESTAMP_MAX (dropped)
    first_out_of_range: str = ""    # "<file> line N: <datetime>" of the first such row
    hr_out_of_range: int = 0
    negative_steps: int = 0
    hr_duplicates: int = 0
    steps_duplicates: int = 0
    records: int = 0
    days: int = 0
    gaps: int = 0                   # runs of missing bins between consecutive records of a user
    gap_hours: float = 0.0
    longest_gap_hours: float = 0.0
    steps_only_bins: int = 0
    resting_records: int = 0
    quality: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None

    def text(self) -> str:
        q = ", ".join(f"{k} {v}" for k, v in self.quality.items())
        return "\n".join([
            f"users: {', '.join(self.users) or '-'}",
            f"records: {self.records} five-minute records over {self.days} days ({self.first} .. {self.last})",
            f"data quality: {q}; with hr_resting: {self.resting_records}",
            f"gaps: {self.gaps} (total {self.gap_hours:.1f} h, longest {self.longest_gap_hours:.1f} h); "
            f"steps-only bins not exported: {self.steps_only_bins}",
            f"raw rows: {self.hr_rows} HR, {self.steps_rows} steps; dropped: {self.bad_rows} unparsable, "
            f"{self.out_of_range_dates} dated outside {TIMESTAMP_MIN.year}..{TIMESTAMP_MAX.year - 1}, "
            f"{self.hr_out_of_range} HR out of range, {self.negative_steps} negative steps; "
            f"duplicate timestamps collapsed: {self.hr_duplicates} HR (mean), {self.steps_duplicates} steps (max)",
        ])


@dataclass
class FitbitImport:
    bins: pd.DataFrame              # user_id, timestamp, hr, hr_resting, steps, data_quality, hr_minutes
    summary: FitbitImportSummary
    steps_only: pd.DataFrame | None = None  # user_id, timestamp of bins with steps but no HR (not exported)

    @property
    def records(self) -> list[dict]:
        return bins_to_records(self.bins)

    @property
    def frame(self) -> pd.DataFrame:
        return bins_to_frame(self.bins)


# ---------------------------------------------------------------- reading

def is_fitbit_file(path: str | Path) -> bool:
    """True for a file named as one half of a Fitbit pair (<ID>_hr.csv[.zip], <ID>_steps.csv[.zip])."""
    return fitbit_kind(path) is not None


def fitbit_kind(path: str | Path) -> str | None:
    """"hr" or "steps" for a file named as one half of a Fitbit pair, else None."""
    m = _PAIR.match(Path(path).name)
    return m["kind"].lower() if m else None


def find_pair(path: str | Path, heart_rate_alone: bool = False) -> tuple[Path, Path | None]:
    """(hr, steps) paths from either file of a pair; the sibling may be .csv or .csv.zip. With
    `heart_rate_alone`, a heart-rate file without its steps file gives (hr, None): activity unknown."""
    path = Path(path)
    m = _PAIR.match(path.name)
    if not m:
        raise InputFileError(f"{path}: cannot tell heart rate from steps; name the files <ID>_hr.csv[.zip] and "
                             "<ID>_steps.csv[.zip], or use import-fitbit --hr F --steps F")
    other = "steps" if m["kind"].lower() == "hr" else "hr"
    for suffix in (".csv.zip", ".csv"):
        sibling = path.with_name(f"{m['id']}_{other}{suffix}")
        if sibling.exists():
            return (path, sibling) if other == "steps" else (sibling, path)
    if other == "steps" and heart_rate_alone:
        return path, None
    raise InputFileError(f"{path}: the matching {m['id']}_{other}.csv[.zip] file was not found next to it")


def read_fitbit_csv(path: str | Path, value_column: str) -> tuple[pd.DataFrame, int]:
    """CSV (plain or zipped) -> (frame user/datetime/value, rows dropped as unparsable)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    wanted = {"user", "datetime", value_column}
    # datetime as fixed-width bytes: building millions of Python strings is the slowest part of reading
    raw = _read_csv(path, usecols=lambda c: c in wanted, dtype={"user": object, "datetime": "S32"})
    missing = {"datetime", value_column} - set(raw.columns)
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected "
                             f"(row index), user, datetime, {value_column}")
    if "user" not in raw.columns:  # fall back to the <ID> of the file name
        m = _PAIR.match(path.name)
        raw["user"] = m["id"] if m else path.name.split(".")[0]
    times = _fast_times(raw["datetime"].to_numpy())
    if times is None:  # another format (offsets, fractions, 'T'...): re-read as text, parse robustly
        times = _parse_times(_read_csv(path, usecols=["datetime"], dtype={"datetime": object})["datetime"])
    values = pd.to_numeric(raw[value_column], errors="coerce")
    # the contract's date range (records.py): a row dated 1600 or 9999 would otherwise make a
    # minute grid of centuries (np.bincount asking for tens of GiB)
    t64 = times.to_numpy(dtype="datetime64[s]")
    in_range = (t64 >= np.datetime64(TIMESTAMP_MIN, "s")) & (t64 < np.datetime64(TIMESTAMP_MAX, "s"))
    out_of_range = times.notna().to_numpy() & ~in_range
    ok = times.notna() & values.notna() & raw["user"].notna() & ~out_of_range
    frame = pd.DataFrame({"user": raw["user"][ok].to_numpy(dtype=object),
                          "datetime": t64[ok.to_numpy()],
                          "value": values[ok].to_numpy(dtype=np.float64)})
    n_out = int(out_of_range.sum())
    first = ""
    if n_out:
        i = int(np.flatnonzero(out_of_range)[0])
        first = f"{path.name} line {i + 2}: {str(t64[i])}"  # line 1 is the header
    frame.attrs["out_of_range"] = (n_out, first)
    return frame, int((~ok).sum()) - n_out


def _check_zip(path: Path) -> None:
    """A readable zip holding one file of a sane unpacked size; InputFileError otherwise."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise InputFileError(f"{path}: not a readable zip file ({exc})") from None
    if len(infos) != 1:
        raise InputFileError(f"{path}: a zipped Fitbit file must hold exactly one CSV, found {len(infos)} files")
    if infos[0].file_size > MAX_UNZIPPED_BYTES:
        raise InputFileError(f"{path}: unzips to {infos[0].file_size:,} bytes, over the limit of "
                             f"{MAX_UNZIPPED_BYTES:,}")


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    zipped = path.suffix.lower() == ".zip"
    if zipped:
        _check_zip(path)
    try:
        return pd.read_csv(path, compression="zip" if zipped else None, **kw)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{path}: the file is empty") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # a corrupt, truncated, encrypted or oddly compressed zip member
        raise InputFileError(f"{path}: not a readable zip file ({str(exc).splitlines()[0][:200]})") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as exc:
        raise InputFileError(f"{path}: not a readable CSV ({str(exc).splitlines()[0][:200]})") from None


def _fast_times(raw: np.ndarray) -> pd.Series | None:
    """'YYYY-MM-DD HH:MM:SS' bytes -> datetimes with numpy (~20x faster); None if any value differs."""
    if raw.dtype.kind != "S" or len(raw) == 0:
        return None
    chars = raw.view(np.uint8).reshape(len(raw), raw.dtype.itemsize)
    if chars.shape[1] > 19 and chars[:, 19].any():  # longer than seconds: fraction or UTC offset
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (and converts to UTC) on offsets like 'Z'
            return pd.Series(raw.astype("datetime64[s]"))
    except (ValueError, TypeError, Warning):
        return None


def _parse_times(text: pd.Series) -> pd.Series:
    """The files' fixed format is parsed fast; anything else (e.g. 'T', fractions, offsets) as ISO-8601."""
    times = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    retry = times.isna() & text.notna()
    if retry.any():
        # keep the wall-clock time: drop a UTC offset textually (mixed offsets cannot be parsed together)
        wall = text[retry].astype(str).str.replace(r"(Z|[+-]\d{2}:?\d{2})$", "", regex=True)
        other = pd.to_datetime(wall, format="ISO8601", errors="coerce")
        times = times.astype("datetime64[ns]")
        times[retry] = other.astype("datetime64[ns]")
    return times


# ---------------------------------------------------------------- conversion

def _collapse(t: np.ndarray, v: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by time and collapse equal timestamps (mean or max): independent of row order."""
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if len(t) == 0:
        return t, v, 0
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    if how == "mean":
        vals = np.add.reduceat(v, starts) / np.diff(np.r_[starts, len(t)])
    else:
        vals = np.maximum.reduceat(v, starts)
    return t[starts], vals, len(t) - len(starts)


def _per_minute(minutes: np.ndarray, values: np.ndarray, n: int, how: str) -> np.ndarray:
    """Values on a dense minute grid of length n (NaN where the minute has no row)."""
    counts = np.bincount(minutes, minlength=n)
    sums = np.bincount(minutes, weights=values, minlength=n)
    out = np.full(n, np.nan)
    has = counts > 0
    out[has] = sums[has] / counts[has] if how == "mean" else sums[has]
    return out


def _user_bins(hr_t, hr_v, st_t, st_v, cfg: FitbitImportConfig) -> pd.DataFrame:
    """Bins of one user's timeline, computed per stretch between gaps of over a day: the dense
    minute grid then spans the data, never the empty years between two far-apart rows (one row
    dated decades later cost seconds and gigabytes). Results equal one pass over the whole grid:
    bins never straddle such a gap and the rest rule looks back far less than a day."""
    both = np.unique(np.concatenate([hr_t, st_t]).astype("datetime64[m]"))
    cuts = both[1:][np.diff(both) > np.timedelta64(SEGMENT_GAP_MINUTES, "m")]
    if len(cuts) == 0:
        return _segment_bins(hr_t, hr_v, st_t, st_v, cfg)
    hr_m, st_m = hr_t.astype("datetime64[m]"), st_t.astype("datetime64[m]")
    hr_seg, st_seg = np.searchsorted(cuts, hr_m, side="right"), np.searchsorted(cuts, st_m, side="right")
    parts, steps_only = [], []
    for k in range(len(cuts) + 1):
        h, s_ = hr_seg == k, st_seg == k
        if not h.any() and not s_.any():
            continue
        b = _segment_bins(hr_t[h], hr_v[h], st_t[s_], st_v[s_], cfg)
        steps_only.append(b.attrs.pop("steps_only"))
        parts.append(b)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["steps_only"] = np.concatenate(steps_only)
    return out


def _segment_bins(hr_t, hr_v, st_t, st_v, cfg: FitbitImportConfig) -> pd.DataFrame:
    B = cfg.bin_minutes
    bin_ns = np.timedelta64(B, "m")
    both = np.concatenate([hr_t, st_t]).astype("datetime64[m]")
    t0 = both.min().astype("datetime64[ns]")
    t0 = pd.Timestamp(t0).floor(f"{B}min").to_datetime64().astype("datetime64[m]")
    n = int((both.max() - t0) // np.timedelta64(1, "m")) + 1
    n = -(-n // B) * B  # whole bins
    hr_m = _per_minute(((hr_t.astype("datetime64[m]") - t0) // np.timedelta64(1, "m")).astype(np.int64), hr_v, n, "mean")
    st_m = _per_minute(((st_t.astype("datetime64[m]") - t0) // np.timedelta64(1, "m")).astype(np.int64), st_v, n, "sum")
    # resting minute: this minute and the rest_minutes before all have a steps row == 0
    zero = np.r_[0, np.cumsum(st_m == 0)]  # NaN == 0 is False: unknown minutes are not rest
    w = cfg.rest_minutes + 1
    resting = np.zeros(n, dtype=bool)
    if n >= w:
        resting[w - 1:] = (zero[w:] - zero[:-w]) == w
    hr_b, st_b = hr_m.reshape(-1, B), st_m.reshape(-1, B)
    has_hr, has_st = ~np.isnan(hr_b), ~np.isnan(st_b)
    rest = resting.reshape(-1, B) & has_hr
    hr_cnt, st_cnt, rest_cnt = has_hr.sum(1), has_st.sum(1), rest.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hr = np.where(has_hr, hr_b, 0).sum(1) / hr_cnt
        hr_rest = np.where(rest, hr_b, 0).sum(1) / rest_cnt
    steps = np.where(st_cnt > 0, np.where(has_st, st_b, 0).sum(1), np.nan)
    coverage = hr_cnt / B
    quality = np.where(coverage >= cfg.quality_high, "high", np.where(coverage >= cfg.quality_medium, "medium", "low"))
    keep = hr_cnt > 0
    starts = t0 + np.arange(n // B) * bin_ns
    out = pd.DataFrame({TIME: starts[keep].astype("datetime64[ns]"), "hr": hr[keep],
                        "hr_resting": np.where(rest_cnt > 0, hr_rest, np.nan)[keep], "steps": steps[keep],
                        "data_quality": quality[keep], "hr_minutes": hr_cnt[keep]})
    out.attrs["steps_only"] = starts[(hr_cnt == 0) & (st_cnt > 0)].astype("datetime64[ns]")
    return out


def fitbit_to_bins(hr: pd.DataFrame, steps: pd.DataFrame, feature_config: FeatureConfig | None = None,
                   cfg: FitbitImportConfig | None = None, summary: FitbitImportSummary | None = None) -> FitbitImport:
    """Raw frames (user, datetime, value) -> 5-minute bins for every user, plus a summary."""
    cfg = cfg or FitbitImportConfig()
    feature_config = feature_config or default_feature_config()
    s = summary or FitbitImportSummary()
    s.hr_rows, s.steps_rows = len(hr), len(steps)
    lo, hi = feature_config.features["hr"].valid_range or (-np.inf, np.inf)
    hr_ok = hr["value"].between(lo, hi).to_numpy()
    st_ok = (steps["value"] >= 0).to_numpy()
    s.hr_out_of_range, s.negative_steps = int((~hr_ok).sum()), int((~st_ok).sum())
    hr, steps = hr[hr_ok], steps[st_ok]
    parts, steps_only = [], []
    users = sorted(set(hr["user"].unique()) | set(steps["user"].unique()))
    hr_groups = dict(tuple(hr.groupby("user", sort=False))) if len(users) > 1 else {u: hr for u in users}
    st_groups = dict(tuple(steps.groupby("user", sort=False))) if len(users) > 1 else {u: steps for u in users}
    for user in users:
        h, st = hr_groups.get(user, hr.iloc[:0]), st_groups.get(user, steps.iloc[:0])
        ht, hv, d_h = _collapse(h["datetime"].to_numpy(), h["value"].to_numpy(), "mean")
        stt, stv, d_s = _collapse(st["datetime"].to_numpy(), st["value"].to_numpy(), "max")
        s.hr_duplicates += d_h
        s.steps_duplicates += d_s
        if len(ht) == 0:  # steps only: nothing to export, but say so
            so = np.unique(pd.DatetimeIndex(stt).floor(f"{cfg.bin_minutes}min").to_numpy())
        else:
            b = _user_bins(ht, hv, stt, stv, cfg)
            so = b.attrs.pop("steps_only")
            b.insert(0, USER, user)
            parts.append(b)
        steps_only.append(pd.DataFrame({USER: user, TIME: so}))
    cols = [USER, TIME, "hr", "hr_resting", "steps", "data_quality", "hr_minutes"]
    bins = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    s.users = users
    so = pd.concat(steps_only, ignore_index=True) if steps_only else pd.DataFrame(columns=[USER, TIME])
    result = FitbitImport(bins, s, so)
    _fill_summary(result, cfg)
    return result


def restrict(result: FitbitImport, start: str | None = None, end: str | None = None,
             cfg: FitbitImportConfig | None = None) -> FitbitImport:
    """Keep bins with start <= timestamp < end (after binning, so the rest rule sees earlier minutes)."""
    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        if start:
            frame = frame[frame[TIME] >= pd.Timestamp(start)]
        if end:
            frame = frame[frame[TIME] < pd.Timestamp(end)]
        return frame.reset_index(drop=True)

    result = FitbitImport(cut(result.bins), result.summary, cut(result.steps_only))
    _fill_summary(result, cfg or FitbitImportConfig())
    return result


def _fill_summary(result: FitbitImport, cfg: FitbitImportConfig) -> None:
    b, s = result.bins, result.summary
    s.records = len(b)
    s.steps_only_bins = len(result.steps_only) if result.steps_only is not None else 0
    s.quality = {q: int((b["data_quality"] == q).sum()) for q in QUALITY_LABELS}
    s.resting_records = int(b["hr_resting"].notna().sum())
    s.days = int(b.groupby(USER)[TIME].apply(lambda t: t.dt.normalize().nunique()).sum()) if len(b) else 0
    s.first = b[TIME].min().isoformat() if len(b) else None
    s.last = b[TIME].max().isoformat() if len(b) else None
    step = pd.Timedelta(minutes=cfg.bin_minutes)
    dt = b.groupby(USER)[TIME].diff().dropna() if len(b) else pd.Series(dtype="timedelta64[ns]")
    gaps = dt[dt > step] - step  # missing time between two records
    s.gaps = int(len(gaps))
    s.gap_hours = float(gaps.sum() / pd.Timedelta(hours=1)) if len(gaps) else 0.0
    s.longest_gap_hours = float(gaps.max() / pd.Timedelta(hours=1)) if len(gaps) else 0.0


def import_fitbit(hr_path: str | Path, steps_path: str | Path | None, start: str | None = None, end: str | None = None,
                  feature_config: FeatureConfig | None = None, cfg: FitbitImportConfig | None = None) -> FitbitImport:
    """Read a Fitbit CSV pair and convert it; `start`/`end` (dates) restrict the exported bins.

    `steps_path` None: heart rate alone. The records then carry no step count (activity unknown, never
    assumed to be rest) and no resting-HR estimate, which needs minutes known to be without steps."""
    cfg = cfg or FitbitImportConfig()
    summary = FitbitImportSummary()
    hr, bad_hr = read_fitbit_csv(hr_path, HR_COLUMN)
    if steps_path is None:
        steps, bad_st = pd.DataFrame({"user": pd.Series(dtype=object), "datetime": pd.Series(dtype="datetime64[s]"),
                                      "value": pd.Series(dtype=np.float64)}), 0
        steps.attrs["out_of_range"] = (0, "")
    else:
        steps, bad_st = read_fitbit_csv(steps_path, STEPS_COLUMN)
    summary.bad_rows = bad_hr + bad_st
    (n_hr, first_hr), (n_st, first_st) = hr.attrs.pop("out_of_range"), steps.attrs.pop("out_of_range")
    summary.out_of_range_dates, summary.first_out_of_range = n_hr + n_st, first_hr or first_st
    result = fitbit_to_bins(hr, steps, feature_config, cfg, summary)
    return restrict(result, start, end, cfg)


HR_DECIMALS = 2  # a bin's mean heart rate to 0.01 bpm: finer is noise, and it keeps the JSONL short


def bins_to_records(bins: pd.DataFrame) -> list[dict]:
    """Bins -> contract records (NaN fields omitted, never filled)."""
    out = []
    cols = [bins[c].to_numpy() for c in (USER, TIME, "hr", "hr_resting", "steps", "data_quality")]
    for user, ts, hr, rest, steps, q in zip(*cols):
        feats = {"hr": round(float(hr), HR_DECIMALS)}
        if rest == rest:  # not NaN
            feats["hr_resting"] = round(float(rest), HR_DECIMALS)
        if steps == steps:
            feats["steps"] = int(steps) if float(steps).is_integer() else float(steps)
        feats["data_quality"] = str(q)
        out.append({"timestamp": pd.Timestamp(ts).isoformat(), "deviceId": str(user), "features": feats})
    return out


def _round_hr(values: pd.Series) -> np.ndarray:
    # Python's round, as bins_to_records writes the JSONL (np.round differs on ties such as 70.765)
    return np.array([round(v, HR_DECIMALS) for v in values.to_numpy(np.float64).tolist()], dtype=np.float64)


def bins_to_frame(bins: pd.DataFrame) -> pd.DataFrame:
    """Bins -> the columns `frame_validation.validate_frame` reads: the records of `bins_to_records`
    as a table (user, timestamp, hr, hr_resting, steps, data_quality), without a dict per record."""
    return pd.DataFrame({USER: bins[USER].astype(str).to_numpy(dtype=object),
                         TIME: bins[TIME].to_numpy("datetime64[ns]"),
                         "hr": _round_hr(bins["hr"]), "hr_resting": _round_hr(bins["hr_resting"]),
                         "steps": bins["steps"].to_numpy(np.float64),
                         "data_quality": bins["data_quality"].astype(str).to_numpy(dtype=object)})


def write_jsonl(records: list[dict], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


# ---------------------------------------------------------------- CLI

