"""`wearable-monitor format result.json [--pattern p.json] [--findings f.jsonl] --language zh`:
LLM-ready text of a detector result (was `python -m wearable_monitor.formatter`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..formatter import LANGUAGES, AnomalyFormatter, FormatterInputError


def configure_format(ap: argparse.ArgumentParser):
    """Was `python -m wearable_monitor.formatter`."""
    ap.add_argument("result", nargs="?", help="realtime result (or multi-day pattern) JSON file")
    ap.add_argument("--pattern", help="multi-day pattern JSON file")
    ap.add_argument("--findings", help="rule findings, JSON list or JSON lines")
    ap.add_argument("--language", choices=LANGUAGES, default="en")
    ap.add_argument("--part", choices=("markdown", "summary", "case", "messages"), default="markdown")
    return _run


def _load(path: str | None) -> Any:
    if path is None:
        return None
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # JSON lines: one finding per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(args: argparse.Namespace) -> int:
    try:
        findings = _load(args.findings)
        findings = [findings] if isinstance(findings, dict) else findings  # a one-line JSONL file
        llm = AnomalyFormatter(args.language).format(_load(args.result), _load(args.pattern), findings)
    except (FormatterInputError, json.JSONDecodeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {"markdown": llm.as_markdown, "summary": lambda: llm.summary, "case": llm.case_json,
           "messages": lambda: json.dumps(llm.as_messages(), ensure_ascii=False, indent=2)}[args.part]()
    print(out)
    return 0
