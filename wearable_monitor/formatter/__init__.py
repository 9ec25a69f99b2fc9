"""AnomalyFormatter: detector results, multi-day patterns and rule findings -> LLM-ready text.

Flow (one direction, like the rest of the package):

    result / pattern / findings --validate--> case --render(en|zh)--> system prompt + user content + summary

The *case* is a language-neutral dict of rounded facts (JSON-safe, fixed key order). Both languages
render the same case, so the English and Chinese texts carry the same facts and numbers by
construction, and the same input always gives byte-identical text (no "now", fixed rounding).

Safety: every string that came from uploaded data (device/user ids, rule titles, dates, feature
names we do not know...) goes through `clean_text` (control characters and newlines removed,
length capped, backticks / pipes / data-marker brackets replaced by look-alikes) and is shown only
as an inline code span between the data markers. It can therefore never start a line (no injected
headings or list items), never close the code span, and the system prompt tells the model that
everything between the markers is data, not instructions.

A screening aid, not a diagnosis: both the system prompt and the user content say so.

    schema.py     what is accepted (validated input models) and the fixed values of a case
    text.py       safe pieces of text: cleaned strings, rounded numbers, dates
    case.py       the case builder
    strings.py    the string table (en / zh)
    render.py     a case -> user message and summary
    prompts.py    the system prompts
    formatter.py  AnomalyFormatter (validate -> case -> render) and LLMInput
The command line is `wearable-monitor format` (cli/format.py).
"""
from ..errors import FormatterInputError
from .case import CaseBuilder
from .formatter import AnomalyFormatter, LLMInput
from .prompts import SYSTEM_PROMPT
from .render import summaries, user_content
from .schema import CASE_SCHEMA, DATA_BEGIN, DATA_END, LANGUAGES, SUMMARY_MAX_CHARS
from .text import clean_text, quote

__all__ = ["AnomalyFormatter", "LLMInput", "CaseBuilder", "FormatterInputError", "SYSTEM_PROMPT", "CASE_SCHEMA",
           "DATA_BEGIN", "DATA_END", "LANGUAGES", "SUMMARY_MAX_CHARS", "clean_text", "quote", "summaries",
           "user_content"]
