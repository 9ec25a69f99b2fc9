"""API_USAGE.md: every python example runs, in order, in one namespace (the file is the API's documentation)."""
from __future__ import annotations

import os
import re
import warnings

from wearable_monitor.config import REPO_ROOT

DOC = REPO_ROOT / "API_USAGE.md"


def test_every_python_example_in_api_usage_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 10
    namespace: dict = {"__name__": "api_usage"}
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # the examples use the calibrated threshold
            for i, code in enumerate(blocks):
                try:
                    exec(compile(code, f"API_USAGE.md block {i + 1}", "exec"), namespace)
                except Exception as exc:  # pragma: no cover - the message names the block
                    raise AssertionError(f"API_USAGE.md python block {i + 1} failed: {exc!r}\n{code}") from exc
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "74.84 31.0" in out
    assert "personal" in out
