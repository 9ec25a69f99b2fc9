"""Read records from files or pasted text and validate them (see `validation` for the policy).

Accepted inputs:

- JSON window: a list of records, or ``{"window": [...], "history": [...]}``
  (history optional), or a single record object. Line numbers in the report are
  the lines where each record starts.
- JSONL history: one record per line, any number of users (by ``deviceId``).
  A file that starts with ``[`` is read as a JSON list instead.
- Records CSV: one record per row (comma, semicolon or tab separated, as the header
  line shows; with semicolons a decimal comma is read too), a header naming the columns: ``timestamp``,
  ``deviceId`` (optional), one column per feature (config names, or the aliases
  `validation` accepts), static features by name (``age_group``) or as
  ``static_<name>``. Empty cells and ``NaN``/``null``/``NA`` mean "not measured".
  Columns that name nothing the config knows are ignored with one warning each.
  Line numbers are the file's lines (the header is line 1).
- Fitbit intraday CSV pair (``<ID>_hr.csv[.zip]`` + ``<ID>_steps.csv[.zip]``):
  converted by `fitbit` into 5-minute records, then validated like any other.

Whole-input problems (missing, empty, binary, too large, not JSON) raise
`InputFileError` with a readable message; per-record problems go into the report.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import FeatureConfig, default_feature_config
from .fitbit import find_pair, import_fitbit, is_fitbit_file
from .frame_validation import validate_frame, validate_parsed
from .records import ANONYMOUS_PREFIX, JSON_DECODER, is_valid_unicode
from .validation import (
    IGNORED,
    KEY_HINTS,
    NOTED,
    REJECTED,
    TOP_LEVEL_NAMES,
    InputFileError,
    Issue,
    Limits,
    ParseFailure,
    ValidationResult,
    canonical_feature_name,
    validate_items,
)

JSON_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".csv.zip", ".zip")
_WS = re.compile(r"[ \t\n\r]*")

Source = str | bytes | Path


# ---------------------------------------------------------------- raw input

def anonymous_id(name: str | None = None, text: str | None = None) -> str:
    """Stable user id for records without deviceId: from the file name, else from the text."""
    if name:
        stem = Path(name).name.split(".")[0].lower()
        stem = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-")[:40]
        if stem:
            return f"{ANONYMOUS_PREFIX}{stem}"
    digest = hashlib.sha1((text or "").encode("utf-8", "replace")).hexdigest()[:10]
    return f"{ANONYMOUS_PREFIX}{digest}"


BAD_LINE = "\x00"  # prefix of a line `decode_bytes(lines=True)` could not decode; the message follows


def _decode_lines(data: bytes, name: str) -> str:
    """Line-oriented text (JSONL, CSV) with its undecodable lines kept as `BAD_LINE` + message, so
    one bad byte costs its line, not the file. A file most of whose lines are bad is binary."""
    out, bad, total = [], 0, 0
    for i, raw in enumerate(data.split(b"\n")):
        if i == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        total += bool(raw.strip())
        nul = raw.find(b"\x00")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(f"{BAD_LINE}not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
            bad += 1
            continue
        if nul >= 0:
            out.append(f"{BAD_LINE}NUL byte at column {nul + 1}")
            bad += 1
            continue
        out.append(line)
    if bad * 2 > max(total, 1) or (bad and total < 2):
        raise InputFileError(f"{name}: looks like a binary file ({bad} of {total} lines are not UTF-8 text), "
                             "expected UTF-8 JSONL or CSV text")
    return "\n".join(out)


def decode_bytes(data: bytes, name: str, limits: Limits, lines: bool = False) -> str:
    """Bytes -> text, refusing oversize, empty and binary inputs with a clear message.
    `lines`: a line-oriented format (JSONL, CSV): a few bad lines are reported per line instead."""
    if len(data) > limits.max_bytes:
        raise InputFileError(f"{name}: {len(data):,} bytes is over the size limit of {limits.max_bytes:,} bytes")
    if not data.strip():
        raise InputFileError(f"{name}: the input is empty")
    if lines:
        try:
            if b"\x00" not in data:
                return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        return _decode_lines(data, name)
    nul = data.find(b"\x00", 0, 8192)
    if nul >= 0:
        raise InputFileError(f"{name}: looks like a binary file (NUL byte at offset {nul}), "
                             "expected UTF-8 JSON or JSONL text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{name}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
                             f"{exc.start}); expected JSON or JSONL") from None


def read_path(path: str | Path, limits: Limits, lines: bool = False) -> str:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    if not path.is_file():
        raise InputFileError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > limits.max_bytes:  # check before reading: a huge file must not be loaded at all
        raise InputFileError(f"{path}: {size:,} bytes is over the size limit of {limits.max_bytes:,} bytes")
    return decode_bytes(path.read_bytes(), str(path), limits, lines)


def _is_path_like(source: Source) -> bool:
    if isinstance(source, Path):
        return True
    if isinstance(source, str):
        s = source.lstrip()
        return bool(s) and s[0] not in "[{" and "\n" not in s
    return False


def _resolve(source: Source, limits: Limits, lines: bool = False) -> tuple[str, str, str]:
    """(text, source name, anonymous id) for a path, JSON/JSONL text or bytes."""
    if _is_path_like(source):
        text = read_path(source, limits, lines)
        return text, str(source), anonymous_id(name=str(source))
    if isinstance(source, bytes):
        text = decode_bytes(source, "<bytes>", limits, lines)
    else:
        text = decode_bytes(source.encode("utf-8", "surrogatepass"), "<text>", limits, lines)
    return text, "<text>", anonymous_id(text=text)


# ---------------------------------------------------------------- JSON with line numbers

class _LineCounter:
    """Line number of a character offset; offsets must be visited in increasing order."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, idx: int) -> int:
        self.line += self.text.count("\n", self.pos, idx)
        self.pos = idx
        return self.line


def _skip(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _text_only(value: Any, raw: str) -> Any:
    """`value`, or a ParseFailure when its JSON spelled a lone UTF-16 surrogate (`"\\ud800"`): valid JSON
    but no character, refused by every UTF-8 sink later (SQLite, CSV, the page). Checked only when the
    raw text has such an escape at all (a pair, as in an emoji, is one valid character)."""
    if "\\u" not in raw or not _SURROGATE_ESCAPE.search(raw) or not _has_lone_surrogate(value):
        return value
    return ParseFailure("a string spells a lone UTF-16 surrogate (such as \\ud800), which is not text")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not is_valid_unicode(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _array_items(text: str, idx: int, line_of: _LineCounter) -> tuple[list[tuple[int, Any]], int]:
    """Items of the JSON array starting at text[idx] == '[' with the line each starts on."""
    dec, items = JSON_DECODER, []
    idx = _skip(text, idx + 1)
    if text[idx] == "]":
        return items, idx + 1
    while True:
        line = line_of(idx)
        start = idx
        value, idx = dec.raw_decode(text, idx)
        items.append((line, _text_only(value, text[start:idx])))
        idx = _skip(text, idx)
        if text[idx] == "]":
            return items, idx + 1
        idx = _skip(text, idx + 1)  # the ','


def _object_parts(text: str, idx: int, line_of: _LineCounter) -> dict[str, list[tuple[int, Any]] | Any]:
    """Top-level object: arrays under 'window'/'history' keep line numbers, other values are decoded."""
    dec, parts = JSON_DECODER, {}
    idx = _skip(text, idx + 1)
    if text[idx] == "}":
        return parts
    while True:
        key, idx = dec.raw_decode(text, idx)
        idx = _skip(text, _skip(text, idx) + 1)  # the ':'
        if key in ("window", "history") and text[idx] == "[":
            parts[key], idx = _array_items(text, idx, line_of)
        else:
            parts[key], idx = dec.raw_decode(text, idx)
        idx = _skip(text, idx)
        if text[idx] == "}":
            return parts
        idx = _skip(text, idx + 1)


def _parse_json(text: str, name: str) -> Any:
    try:
        return JSON_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputFileError(f"{name}: JSON nested too deeply to be a record file") from None


def _prepare_text(text: str | bytes, source: str, limits: Limits, anon_id: str | None,
                  lines: bool = False) -> tuple[str, str]:
    """Decoded, non-empty text and the anonymous id for its records without deviceId."""
    if isinstance(text, bytes):
        text = decode_bytes(text, source, limits, lines)
    elif not text.strip():
        raise InputFileError(f"{source}: the input is empty")
    return text, anon_id or anonymous_id(text=text)


# ---------------------------------------------------------------- public API

def parse_window_text(text: str | bytes, *, config: FeatureConfig | None = None, source: str = "<text>",
                      anon_id: str | None = None, limits: Limits | None = None) -> ValidationResult:
    """A JSON window (list, {"window", "history"} object or one record) -> result with `.history`."""
    limits = limits or Limits()
    text, anon_id = _prepare_text(text, source, limits, anon_id)
    doc = _parse_json(text, source)  # full parse first: it gives the clearest syntax errors
    start = _skip(text, 0)
    line_of = _LineCounter(text)
    if isinstance(doc, list):
        window, history, extra = _array_items(text, start, line_of)[0], None, []
    elif isinstance(doc, dict) and "window" in doc:
        parts = _object_parts(text, start, line_of)
        window, history = parts.pop("window"), parts.pop("history", None)
        extra = list(parts)
        for key, value in (("window", window), ("history", history)):
            if value is not None and not isinstance(value, list):
                raise InputFileError(f"{source}: '{key}' must be a list of records, got {type(value).__name__}")
    elif isinstance(doc, dict) and "timestamp" in doc:
        window, history, extra = [(line_of(start), doc)], None, []
    else:
        raise InputFileError(f"{source}: expected a list of records or an object with key 'window' "
                             f"(and optional 'history'), got {type(doc).__name__}")
    if not window:
        raise InputFileError(f"{source}: the window holds no records")
    kw = dict(config=config, source=source, anonymous_id=anon_id, limits=limits)
    result = validate_items(window, **kw)
    for key in extra:
        result.warnings.append(Issue(None, key, "unknown top-level key of the window object", IGNORED))
        result.counts["warnings"] += 1
    if history:
        result.history = validate_items(history, **{**kw, "source": f"{source} (history)"})
    return result


def iter_jsonl(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value or ParseFailure) for each non-blank line."""
    # split on '\n' only: str.splitlines would also split on U+2028 inside JSON strings
    for lineno, raw in enumerate(text.split("\n"), start=1):
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith(BAD_LINE):
            yield lineno, ParseFailure(raw[len(BAD_LINE):], "<line>")
            continue
        try:
            yield lineno, _text_only(JSON_DECODER.decode(raw), raw)
        except json.JSONDecodeError as exc:
            yield lineno, ParseFailure(f"not valid JSON ({exc.msg} at column {exc.colno})")
        except RecursionError:
            yield lineno, ParseFailure("JSON nested too deeply")


def _first_line_alone(text: str) -> bool:
    """True when the first non-blank line is a whole JSON value and more lines follow: JSONL whose
    first line happens to be a list (e.g. `[]`), not one JSON document spread over lines."""
    body = text.strip()
    first, sep, _ = body.partition("\n")
    if not sep:
        return False
    try:
        JSON_DECODER.decode(first)
    except (ValueError, RecursionError):
        return False
    return True


def parse_jsonl_text(text: str | bytes, *, config: FeatureConfig | None = None, source: str = "<text>",
                     anon_id: str | None = None, limits: Limits | None = None) -> ValidationResult:
    """JSONL history text (one record per line, any users) -> validated result."""
    limits = limits or Limits()
    text, anon_id = _prepare_text(text, source, limits, anon_id, lines=True)
    items = iter_jsonl(text)
    if text.lstrip().startswith("[") and not _first_line_alone(text):  # a JSON list saved as .jsonl
        doc = _parse_json(text, source)
        items = _array_items(text, _skip(text, 0), _LineCounter(text))[0] if isinstance(doc, list) else []
    return validate_parsed(items, config, source=source, anonymous_id=anon_id, limits=limits)


_CSV_FIELD = re.compile(r"^(static_)?features\.")
MISSING_CELLS = frozenset({"", "nan", "null", "none", "na", "n/a"})  # compared lower-cased


def _cell(text: str, numeric: bool, decimal_comma: bool = False) -> Any:
    """A CSV cell as the JSON value it stands for: None (missing), a number, or the text itself
    (a non-number in a numeric column stays text, so validation reports it at its line)."""
    text = text.strip()
    if text.lower() in MISSING_CELLS:
        return None
    try:
        number = float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        return text
    if numeric:
        return number
    return int(number) if number.is_integer() else text  # category codes ("2") count as codes


def _csv_columns(header: list[str], config: FeatureConfig) -> tuple[list[tuple[str, str, bool] | None], list[str]]:
    """Per column (section, name, numeric) or None to skip; and the names of skipped columns.
    section: "top" (timestamp, deviceId and their KEY_HINTS aliases), "features", "static_features"."""
    columns: list[tuple[str, str, bool] | None] = []
    skipped = []
    for name in header:
        static = name[len("static_"):] if name.startswith("static_") else name
        feature = canonical_feature_name(name, config)
        if name in TOP_LEVEL_NAMES:
            columns.append(("top", name, False))
        elif static in config.static:
            columns.append(("static_features", static, False))
        elif feature is not None:
            columns.append(("features", name, config.features[feature].is_numeric))
        else:
            columns.append(None)
            skipped.append(name)
    return columns, skipped


def iter_csv_records(text: str, config: FeatureConfig, source: str) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line, record dict or ParseFailure) for each data row of a records CSV, and the header
    names of the columns that were skipped. Raises InputFileError for an unusable header."""
    lines = text.split("\n")
    first_line = lines[0].rstrip("\r")
    delimiter = max(",;\t", key=first_line.count)  # spreadsheets in some locales write ';', others tabs
    if first_line.startswith(BAD_LINE):
        raise InputFileError(f"{source}: not a readable CSV header ({first_line[len(BAD_LINE):]})")
    try:
        header = [h.strip() for h in _csv_row(first_line, delimiter)]
    except csv.Error as exc:
        raise InputFileError(f"{source}: not a readable CSV header ({exc})") from None
    if not any(header):
        raise InputFileError(f"{source}: the first line (the header) is empty")
    columns, skipped = _csv_columns(header, config)
    if not any(c and c[0] == "top" and "timestamp" in (c[1], KEY_HINTS.get(c[1])) for c in columns):
        raise InputFileError(f"{source}: the header has no 'timestamp' column (columns: {', '.join(header)}); "
                             "a records CSV needs timestamp, optional deviceId, and one column per feature")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputFileError(f"{source}: column(s) {', '.join(dup)} appear more than once in the header")
    items: list[tuple[int, Any]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if line.startswith(BAD_LINE):
            items.append((lineno, ParseFailure(line[len(BAD_LINE):], "<line>")))
            continue
        if not line.strip():
            continue  # blank line
        try:
            row = _csv_row(line, delimiter)
        except csv.Error as exc:
            items.append((lineno, ParseFailure(f"not a readable CSV row ({exc})", "<csv>")))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            items.append((lineno, ParseFailure(f"{len(row)} cells, the header has {len(header)}", "<csv>")))
            continue
        item: dict[str, Any] = {"features": {}, "static_features": {}}
        for column, cell in zip(columns, row):
            if column is None:
                continue
            section, name, numeric = column
            value = _cell(cell, numeric, decimal_comma=delimiter == ";")
            if value is None:
                continue
            if section == "top":
                item[name] = cell.strip()  # timestamps and ids stay text
            else:
                item[section][name] = value
        items.append((lineno, item))
    return items, skipped


def _csv_row(line: str, delimiter: str) -> list[str]:
    """One physical line as CSV cells. Each line is parsed on its own: a record never spans lines,
    so an unclosed quote is an error at its line instead of swallowing the rest of the file."""
    if '"' not in line and "\x00" not in line:
        return line.split(delimiter)
    return next(csv.reader([line], delimiter=delimiter, strict=True), [])


def parse_csv_text(text: str | bytes, *, config: FeatureConfig | None = None, source: str = "<text>",
                   anon_id: str | None = None, limits: Limits | None = None) -> ValidationResult:
    """Records CSV text (one record per row, any users) -> validated result (module docstring)."""
    limits = limits or Limits()
    config = config or default_feature_config()
    text, anon_id = _prepare_text(text, source, limits, anon_id, lines=True)
    items, skipped = iter_csv_records(text, config, source)
    result = validate_items(items, config, source=source, anonymous_id=anon_id, limits=limits)
    # In a CSV the field of an issue is its column: "features.hr" -> "hr"
    result.errors, result.warnings = ([replace(i, field=_CSV_FIELD.sub("", i.field)) for i in issues]
                                      for issues in (result.errors, result.warnings))
    notes = [Issue(None, name or "<unnamed column>", "column names no feature of the config; ignored", IGNORED)
             for name in skipped]
    result.warnings[:0] = notes
    result.counts["warnings"] += len(notes)
    return result


def load_records_csv(source: Source, config: FeatureConfig | None = None,
                     limits: Limits | None = None) -> ValidationResult:
    """A records CSV (any number of users) from a path, text or bytes."""
    limits = limits or Limits()
    text, name, anon = _resolve(source, limits, lines=True)
    return parse_csv_text(text, config=config, source=name, anon_id=anon, limits=limits)


def load_window(source: Source, config: FeatureConfig | None = None,
                limits: Limits | None = None) -> ValidationResult:
    """A window from a path, JSON text or bytes; `.history` holds the optional history part."""
    limits = limits or Limits()
    text, name, anon = _resolve(source, limits)
    return parse_window_text(text, config=config, source=name, anon_id=anon, limits=limits)


def load_history(source: Source, config: FeatureConfig | None = None,
                 limits: Limits | None = None) -> ValidationResult:
    """A JSONL history (any number of users) from a path, text or bytes."""
    limits = limits or Limits()
    text, name, anon = _resolve(source, limits, lines=True)
    return parse_jsonl_text(text, config=config, source=name, anon_id=anon, limits=limits)


def load_fitbit(hr_path: str | Path, steps_path: str | Path | None = None, config: FeatureConfig | None = None,
                limits: Limits | None = None, steps_beside: bool = True) -> ValidationResult:
    """Fitbit CSV pair -> 5-minute records, validated (line = record index in the converted JSONL). A
    heart-rate file whose steps file is not beside it (or, `steps_beside` False, not looked for) is read
    alone, with a note (activity unknown)."""
    limits = limits or Limits()
    if steps_path is not None:
        hr_path, steps_path = Path(hr_path), Path(steps_path)
    elif steps_beside:  # the steps file next to the heart-rate file, if there is one
        hr_path, steps_path = find_pair(hr_path, heart_rate_alone=True)
    else:  # an upload: the file's folder is a temp dir, never look beside it
        hr_path = Path(hr_path)
    for p in (hr_path, steps_path):
        if p is not None and p.exists() and p.stat().st_size > limits.max_bytes:
            raise InputFileError(f"{p}: {p.stat().st_size:,} bytes is over the size limit of {limits.max_bytes:,} bytes")
    imported = import_fitbit(hr_path, steps_path, feature_config=config)
    result = validate_frame(imported.frame, config, source=f"fitbit:{hr_path.name}",
                            anonymous_id=anonymous_id(name=str(hr_path)), limits=limits)
    result.counts["fitbit_steps_only_bins"] = imported.summary.steps_only_bins
    s = imported.summary
    dropped = [(s.bad_rows, "datetime", "row(s) with an unparsable datetime, value or user dropped")]
    if s.out_of_range_dates:
        dropped.append((s.out_of_range_dates, "datetime",
                        f"row(s) dated outside the supported range dropped (first: {s.first_out_of_range})"))
    for n, field_, message in dropped:
        if n:
            result.errors.insert(0, Issue(None, field_, f"{n:,} {message}", REJECTED))
            result.counts["errors"] += 1
    result.counts["fitbit_rows_dropped"] = s.bad_rows + s.out_of_range_dates
    if steps_path is None:
        result.warnings.insert(0, Issue(None, "steps", f"no {hr_path.name.split('_')[0]}_steps.csv[.zip] beside "
                                        f"{hr_path.name}: heart rate alone, activity unknown (never assumed to be "
                                        "rest: flags that need rest are reported one level lower, and there is no "
                                        "resting-HR estimate)", NOTED))
        result.counts["warnings"] += 1
    return result


def load_device_export(path: str | Path | list, config: FeatureConfig | None = None, limits: Limits | None = None,
                       progress=None) -> ValidationResult:
    """A device export (Apple Health, Fitbit Takeout, Health Connect, Garmin FIT, Oura; see `importers`)
    -> 5-minute records, validated (line = record index); the per-source import report is kept as the
    result's `import_report` attribute."""
    from .importers import import_file
    limits = limits or Limits()
    paths = list(path) if isinstance(path, (list, tuple)) else [path]  # several files: imported one by one
    records, reports = [], []
    for i, p in enumerate(paths):
        step = None if progress is None else (lambda f, d, i=i: progress((i + f) / len(paths), d))
        imported = import_file(p, progress=step)
        records += imported.records
        reports.append(imported.report)
    # the importers write plain records (ISO timestamps, the config's names): validated by columns
    result = validate_parsed(enumerate(records, start=1), config,
                             source=", ".join(f"{r.source}:{Path(p).name}" for r, p in zip(reports, paths)),
                             anonymous_id=anonymous_id(name=str(paths[0])), limits=limits)
    result.import_report = reports[0] if len(reports) == 1 else _Reports(reports)
    return result


class _Reports(list):
    """Several import reports shown together."""

    def text(self) -> str:
        return "\n\n".join(r.text() for r in self)

    def to_dict(self) -> list:
        return [r.to_dict() for r in self]


def load_any(path: str | Path, config: FeatureConfig | None = None, limits: Limits | None = None) -> ValidationResult:
    """Dispatch by name: .json window, .jsonl/.ndjson history, a Fitbit <ID>_hr/_steps.csv[.zip]
    pair, a device export an importer recognises (`importers`), any other .csv a records CSV."""
    from .importers import is_device_export
    name = str(path).lower()
    if not name.endswith(JSONL_SUFFIXES) and not is_fitbit_file(path) and is_device_export(path):
        return load_device_export(path, config, limits)
    if name.endswith(JSON_SUFFIXES):
        return load_window(Path(path), config, limits)
    if name.endswith(JSONL_SUFFIXES):
        return load_history(Path(path), config, limits)
    if is_fitbit_file(path):
        return load_fitbit(path, None, config, limits)
    if name.endswith(".csv"):
        return load_records_csv(Path(path), config, limits)
    raise InputFileError(f"{path}: unsupported file type (expected .json, .jsonl/.ndjson, a records .csv, a "
                         "Fitbit <ID>_hr.csv[.zip] / <ID>_steps.csv[.zip] pair, or a device export: Apple Health "
                         "export.zip, Fitbit Takeout .zip, Health Connect .zip, Garmin .fit, Oura JSON)")


# ---------------------------------------------------------------- CLI

