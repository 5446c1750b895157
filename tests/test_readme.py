"""The README's examples run as written.

Every ```python block is executed. Shell examples that need no real model (scripted
`fake:` judges, rubric and library commands) are executed too; those naming a real
model id are checked for their syntax by parsing with the real argument parser.
"""

import re
import shlex
import subprocess

import pytest

import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def shell_commands():
    for block in blocks("bash"):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("#")[0].strip()
            if command.startswith("rubric "):
                yield command


def test_readme_has_examples():
    assert len(blocks("python")) >= 3 and len(list(shell_commands())) >= 3
    assert "make demo" in README and "make test" in README


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_example(index, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    exec(compile(blocks("python")[index], f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("command", list(shell_commands()))
def test_shell_example(command, rubric_exe, tmp_path):
    argv = shlex.split(command)[1:]
    cli.build_parser().parse_args(argv)  # every example parses
    if "--model" in argv and not argv[argv.index("--model") + 1].startswith("fake:"):
        pytest.skip("names a real model that this offline machine cannot download")
    result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def test_input_examples_are_valid_items():
    from judge.jsonl import parse_line
    from judge.run import RubricSource

    lines = [line for block in blocks("json") for line in block.splitlines() if line.strip()]
    assert len(lines) == 3
    for number, line in enumerate(lines, start=1):
        item = parse_line(line.encode(), number, RubricSource.from_option("helpfulness"))
        assert not hasattr(item, "message"), item
