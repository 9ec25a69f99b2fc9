"""Strict JSON for everything that leaves the process (CLI output, API results, files).

Strict JSON has no NaN or Infinity (`JSON.parse` and `jq` reject them): a missing or
undefined number is `null`. `json_safe` is the one cleaner used by the detector's results,
the CLI, the app and the case files; `dumps` writes with `allow_nan=False`, so a value that
slipped past the cleaner fails loudly instead of producing invalid JSON.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd


def json_safe(obj: Any) -> Any:
    """Plain JSON: NaN/inf -> None, numpy/pandas scalars -> Python, timestamps -> ISO strings."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(obj) else pd.Timestamp(obj).isoformat()
    if obj is pd.NaT or obj is None:
        return None
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `obj` (cleaned by `json_safe`; NaN can never be written)."""
    return json.dumps(json_safe(obj), indent=indent, ensure_ascii=False, allow_nan=False)


__all__ = ["json_safe", "dumps"]
