"""Two escaping helpers, used wherever visitor-supplied text (ids, file names, messages) leaves the
program: `markdown_text` for Markdown/HTML the app renders, `csv_cell` / `csv_safe_frame` for CSV
files a spreadsheet may open. One helper per output kind, not one patch per call site.
"""
from __future__ import annotations

import html
import re

import pandas as pd

from .jsonio import iso_seconds

_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")   # inline markup: code, emphasis, links/images, tables
_MD_LEADING = re.compile(r"^(\s*\d*)([#+\->=.)])")  # block markup at the start of the (single) line
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(value: object, max_len: int = 200) -> str:
    """Plain text safe inside Markdown and HTML: control characters (newlines included) become
    one space (so the text stays on one line), HTML is escaped (&, <, >, quotes), the inline
    markup characters \\ ` * [ ] | ~ are backslash-escaped and so is block markup at the start
    (# + - > = or "1."): `![i](http://host/x.png)` shows as those characters, never an image, and
    no id can open or close a code fence, a table or a heading. (`_` is left alone: inside words
    it is no markup, and the worst it does elsewhere is italics.)"""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > max_len:
        text = text[:max_len - 1] + "…"
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))
    return _MD_LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_lines(value: object, max_len: int = 4000) -> str:
    """Multi-line text, each line escaped as `markdown_text`, joined by Markdown hard line breaks."""
    return "  \n".join(markdown_text(line, max_len) for line in str(value)[:max_len].splitlines())


def preformatted(text: object) -> str:
    """Multi-line text (a validation report quoting the input) as an HTML <pre> block for Markdown:
    HTML-escaped, so nothing in it can close the block, start a fence or render as markup."""
    return f"<pre>{html.escape(str(text), quote=True)}</pre>"


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab/CR) gets a leading
    apostrophe (the OWASP CSV-injection rule). Numbers are left alone (-3.5 stays a number)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with `csv_cell` applied to every text (object) column; call just before `to_csv`."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            try:
                risky = out[col].str.startswith(FORMULA_PREFIXES, na=False).to_numpy(bool)  # non-text cells: False
            except AttributeError:  # pandas refuses .str on a column without any text: nothing to neutralise
                continue
            if risky.any():
                out[col] = out[col].astype(object)
                out.loc[risky, col] = "'" + out.loc[risky, col].astype(str)
    out.columns = [csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_safe_csv(frame: pd.DataFrame, path) -> None:
    """`frame` as a CSV file a spreadsheet can open safely (`csv_safe_frame`): timestamps as
    '2024-01-01T00:05:00', text quoted only where needed, written by Arrow's C++ CSV writer (pandas'
    `to_csv` formats every cell in Python: several times slower on a window table)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    out = csv_safe_frame(frame)
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = iso_seconds(out[col])
    table = pa.Table.from_pandas(out, preserve_index=False)
    pa_csv.write_csv(table, str(path), write_options=pa_csv.WriteOptions(quoting_style="needed"))
