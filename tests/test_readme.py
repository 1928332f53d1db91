"""The README's Python code blocks run as written (copy-paste runnable)."""

import ast
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


PRINTED = re.compile(r"^(\s*)print\((.*)\)\s*#\s*(.+?)\s*$")


def _literal(comment):
    try:
        return ast.literal_eval(comment)
    except (ValueError, SyntaxError):
        return None


def with_printed_values_checked(code):
    """``print(expr)  # <Python literal>`` lines become checks that ``expr`` prints that literal."""
    lines = []
    for line in code.splitlines():
        match = PRINTED.match(line)
        if match and _literal(match.group(3)) is not None:
            indent, expr, value = match.groups()
            line = f"{indent}__readme_printed__({expr}, {value!r})"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _check_printed(value, comment):
    assert str(value) == str(ast.literal_eval(comment)), f"README says {comment}, the code prints {value}"


def test_readme_has_code_blocks():
    assert len(code_blocks()) >= 4
    checked = sum(with_printed_values_checked(block.values[0]).count("__readme_printed__") for block in code_blocks())
    assert checked >= 1  # the quickstart's "(1, 10)"


def test_printed_value_comments_become_checks():
    code = with_printed_values_checked("print(len([1]))  # 2\nprint(3)  # accuracy\n")
    assert code == "__readme_printed__(len([1]), '2')\nprint(3)  # accuracy\n"
    with pytest.raises(AssertionError, match="README says 2, the code prints 1"):
        exec(code, {"__readme_printed__": _check_printed})


@pytest.mark.parametrize("code", code_blocks())
def test_readme_code_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    namespace = {"__name__": "__readme__", "__readme_printed__": _check_printed}
    exec(compile(with_printed_values_checked(code), README, "exec"), namespace)
