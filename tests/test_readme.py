"""The README's Python code blocks run as written (copy-paste runnable)."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
SKIP = "<!-- readme-test: skip"


def code_blocks():
    text = open(README, encoding="utf-8").read()
    blocks = []
    for match in re.finditer(r"(<!-- readme-test: skip[^>]*-->\n)?```python\n(.*?)```", text, re.S):
        line = text[: match.start()].count("\n") + 1
        blocks.append(pytest.param(match.group(2), id=f"line{line}",
                                   marks=[pytest.mark.skip(reason=match.group(1).strip())] if match.group(1) else []))
    return blocks


def test_readme_has_code_blocks():
    assert len(code_blocks()) >= 4


@pytest.mark.parametrize("code", code_blocks())
def test_readme_code_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    namespace = {"__name__": "__readme__"}
    exec(compile(code, README, "exec"), namespace)
