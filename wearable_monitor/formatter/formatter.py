"""AnomalyFormatter: validate -> case -> render, and the LLMInput it returns."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import FeatureConfig, default_feature_config
from ..errors import FormatterInputError
from .case import CaseBuilder
from .prompts import SYSTEM_PROMPT
from .render import summaries, user_content
from .schema import LANGUAGES, FindingIn, PatternIn, ResultIn, _validate


@dataclass(frozen=True)
class LLMInput:
    """What the formatter produces: two prompt parts, a short summary and the case facts."""
    system_prompt: str
    user_content: str
    summary: str
    case: dict
    language: str = "en"

    def as_markdown(self) -> str:
        sys_h, user_h = ("系统提示", "用户输入") if self.language == "zh" else ("System prompt", "User content")
        return f"## {sys_h}\n\n{self.system_prompt}\n\n## {user_h}\n\n{self.user_content}\n"

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.user_content}]

    def case_json(self) -> str:
        return json.dumps(self.case, ensure_ascii=False, indent=2, allow_nan=False)


class AnomalyFormatter:
    """Format detector output for an LLM.

    >>> llm = AnomalyFormatter("zh").format(result, pattern=pattern, findings=findings)
    >>> llm.as_messages()  # [{"role": "system", ...}, {"role": "user", ...}]
    """

    def __init__(self, language: str = "en", feature_config: FeatureConfig | None = None,
                 max_features: int = 5, max_findings: int = 10, max_days: int = 14):
        if language not in LANGUAGES:
            raise ValueError(f"language: '{language}' is not one of {', '.join(LANGUAGES)}")
        self.language = language
        self.config = feature_config or default_feature_config()
        self.max_features, self.max_findings, self.max_days = max_features, max_findings, max_days

    # -- public API ------------------------------------------------------------------------

    def format(self, result: dict | None = None, pattern: dict | None = None,
               findings: list[dict] | None = None) -> LLMInput:
        """`result` is a realtime window result or (if it has 'days') a multi-day pattern result."""
        case = self.build_case(result, pattern, findings)
        return self.render(case)

    def build_case(self, result: dict | None = None, pattern: dict | None = None,
                   findings: list[dict] | None = None) -> dict:
        if isinstance(result, dict) and pattern is None and "anomaly_score" not in result and (
                "days" in result or "consecutive_anomalous_days" in result):
            result, pattern = None, result
        if result is None and pattern is None and not findings:
            raise FormatterInputError("nothing to format: give a result, a pattern or findings")
        res = _validate(ResultIn, result, "result") if result is not None else None
        pat = _validate(PatternIn, pattern, "pattern") if pattern is not None else None
        if findings is not None and not isinstance(findings, list):
            raise FormatterInputError(f"findings: expected a list, got {type(findings).__name__}")
        fnd = [_validate(FindingIn, f, f"findings[{i}]") for i, f in enumerate(findings or [])]
        return CaseBuilder(self.config, self.max_features, self.max_findings, self.max_days).build(res, pat, fnd)

    def render(self, case: dict) -> LLMInput:
        summary = summaries(case, self.config)[self.language]
        return LLMInput(system_prompt=SYSTEM_PROMPT[self.language],
                        user_content=user_content(case, self.config, self.language, summary),
                        summary=summary, case=case, language=self.language)
