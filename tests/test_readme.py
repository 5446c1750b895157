"""The README's examples run as written.

Every ```python block is executed. Shell examples that need no real model (scripted
`fake:` judges, rubric and library commands) are executed too, and API examples run
against a local server that speaks the providers' wire formats; those naming a real
local model id are checked for their syntax by parsing with the real argument parser.
"""

import re
import shlex
import shutil
import subprocess

import pytest

import cli
from tests.conftest import ROOT, third_party

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
    model = argv[argv.index("--model") + 1] if "--model" in argv else "fake:"
    if model.startswith(API_PREFIXES):
        return run_against_local_provider(argv, rubric_exe, tmp_path)
    if not model.startswith("fake:"):
        pytest.skip("names a real model that this offline machine cannot download")
    if argv[0] == "serve":
        return run_server_with_curl_examples(argv, rubric_exe)
    needs_registered_data(argv)
    if argv[0] == "report":  # reports what another example wrote: run that one first
        producer = next(shlex.split(c)[1:] for c in shell_commands() if f"--output {argv[1]}" in c)
        needs_registered_data(producer)
        subprocess.run([rubric_exe, *producer, "--overwrite"], capture_output=True, cwd=ROOT, timeout=120, check=True)
    if "--output" in argv and argv[0] != "report":  # as on a fresh machine: nothing of an earlier run
        output = ROOT / argv[argv.index("--output") + 1]
        for earlier in output.parent.glob(output.name + "*"):  # the output and its side files (.pairs.jsonl, .lock)
            shutil.rmtree(earlier) if earlier.is_dir() else earlier.unlink()  # a Ray run's output is a folder of shards
    result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


API_PREFIXES = ("openai/", "anthropic/", "litellm/")


def needs_registered_data(argv):
    """A benchmark named in the example must have a local copy here (tests never download)."""
    from judge.eval import datasets

    names = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--benchmark"]
    for name in names:
        if name in datasets.benchmarks():
            for relative in datasets.benchmarks()[name].files:
                third_party(relative)


def curl_commands():
    for block in blocks("bash"):
        for command in block.splitlines():
            if command.strip().startswith("curl "):
                yield command.strip()


def run_server_with_curl_examples(argv, rubric_exe):
    """`rubric serve` as written (on a free port), then the README's curl lines against it,
    then SIGTERM: the server must stop cleanly."""
    import json
    import re
    import shutil
    import signal

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    argv = [("0" if previous == "--port" else arg) for previous, arg in zip([None, *argv], argv)]
    process = subprocess.Popen([rubric_exe, *argv], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        address = re.search(r"http://([\d.]+:\d+)", process.stderr.readline()).group(1)
        commands = list(curl_commands())
        assert len(commands) >= 3
        for command in commands:
            words = [word.replace("localhost:8000", address) for word in shlex.split(command)]
            answer = json.loads(subprocess.run(words, capture_output=True, text=True, timeout=60, check=True).stdout)
            assert "error" not in answer, (command, answer)
            assert {"reward", "results", "rewards", "requests"} & set(answer), (command, answer)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()


def run_against_local_provider(argv, rubric_exe, tmp_path):
    """API examples run as written against a local server speaking the providers' wire
    formats: provider URLs come from the SDKs' own environment variables, and example
    server URLs (--base-url, the router file) are pointed at it."""
    import json
    import os

    from tests.provider_server import ProviderServer

    with ProviderServer() as server:
        argv = [server.url + "/v1" if previous == "--base-url" else arg for previous, arg in zip([None, *argv], argv)]
        (tmp_path / "examples").symlink_to(ROOT / "examples")
        deployment = {
            "model_name": "judge",
            "litellm_params": {"model": "openai/judge", "api_base": server.url + "/v1", "api_key": "EMPTY"},
        }
        (tmp_path / "router.yaml").write_text(json.dumps({"model_list": [deployment]}))
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": server.url + "/v1",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "ANTHROPIC_BASE_URL": server.url,
            "RUBRIC_JUDGE_CACHE_DIR": str(tmp_path / "cache"),
        }
        result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.requests, "the example made no request"
        assert "API usage:" in result.stdout


def test_input_examples_are_valid_items():
    from judge.runs.inputs import parse_line
    from judge.rubric_lookup import RubricSource

    lines = [line for block in blocks("json") for line in block.splitlines() if line.strip()]
    assert len(lines) == 3
    for number, line in enumerate(lines, start=1):
        item = parse_line(line.encode(), number, RubricSource.from_option("helpfulness"))
        assert not hasattr(item, "message"), item
