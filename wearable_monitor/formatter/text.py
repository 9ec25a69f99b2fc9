"""Safe pieces of text: cleaned strings from uploaded data, rounded numbers, dates."""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime
from typing import Any

from .schema import MAX_NAME


_LOOKALIKES = str.maketrans({"`": "ˋ", "|": "¦", "⟦": "[", "⟧": "]"})


def clean_text(value: Any, max_len: int = MAX_NAME) -> str:
    """Make an untrusted value safe to show inside an inline code span on one line.

    Removes control/format characters (incl. bidi overrides, zero-width), turns line breaks and
    tabs into spaces, collapses whitespace, replaces the characters that could end a code span,
    split a table cell or fake a data marker, and caps the length (ending in '…').
    """
    s = unicodedata.normalize("NFC", str(value))
    chars = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in "\t\n\v\f\r\x85" or cat in ("Zl", "Zp"):
            chars.append(" ")
        elif cat[0] != "C":  # Cc control, Cf format, Cs/Co/Cn: dropped
            chars.append(ch)
    s = " ".join("".join(chars).split()).translate(_LOOKALIKES)
    return s if len(s) <= max_len else s[: max_len - 1].rstrip() + "…"


def quote(value: str) -> str:
    """Inline code span around an already cleaned string (it contains no backticks)."""
    return f"`{value}`" if value else "`?`"


def _r(x: Any, nd: int) -> float | int | None:
    """Round for the case: None for missing/non-finite, ints stay ints, no negative zero."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    if nd == 0:
        return int(round(x))
    v = round(float(x), nd)
    return 0.0 if v == 0 else v


def _f(x: float | int | None, nd: int, sign: bool = False) -> str:
    """Fixed formatting of a case number (already rounded); huge values in scientific form."""
    if x is None:
        return "?"
    if abs(x) >= 1e6:
        return f"{x:+.3e}" if sign else f"{x:.3e}"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{round(100 * x):d} %"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _when(value: Any) -> str | None:
    """ISO timestamps become 'YYYY-MM-DD HH:MM' (local wall clock, offset dropped); else cleaned text."""
    if value is None:
        return None
    s = str(value).strip()
    if _DATE.match(s):
        return s
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return clean_text(s, 32)
