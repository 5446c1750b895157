"""What a newcomer runs into with the real `rubric` command: a reader that leaves, a file that
is not ours, standard input, bad positions, no rubric, chat-shaped responses, an outage,
out-of-range options and missing extras. Each test drives the installed command."""

from __future__ import annotations

import json
import re
import os
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "examples" / "sample_responses.jsonl"


def rubric(rubric_exe, *args, input=None, env=None, timeout=300):
    return subprocess.run(
        [rubric_exe, *map(str, args)], capture_output=True, text=True, input=input, env=env, timeout=timeout
    )


def judge(rubric_exe, source, output, *extra, **kwargs):
    return rubric(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        source,
        "--output",
        output,
        "--model",
        "fake:yes",
        "--no-cache",
        *extra,
        **kwargs,
    )


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def items(path: Path, count: int, **extra) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": n, "prompt": f"Question {n}?", "response": f"Answer {n}.", **extra}) + "\n"
            for n in range(count)
        )
    )
    return path


def test_a_reader_that_leaves_does_not_end_the_run(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(items(tmp_path / "good.jsonl", 6).read_text() + "{not json\n")
    out = tmp_path / "out.jsonl"
    command = [
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(source),
        "--output",
        str(out),
        "--model",
        "fake:yes",
        "--no-cache",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # `2>&1 | head -0`
    process.stdout.close()  # the reader is gone before the first warning
    assert process.wait(120) == 1  # one malformed line: the run's own status, not a broken pipe's
    assert len(lines(out)) == 6
    listing = subprocess.Popen([rubric_exe, "library", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()
    assert listing.wait(60) == 0 and b"Traceback" not in listing.stderr.read()


def test_an_output_that_is_not_a_runs_file_is_refused_unless_overwritten(rubric_exe, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("buy milk\ncall Ana")
    refused = judge(rubric_exe, SAMPLE, notes)
    assert refused.returncode == 2
    assert f"rubric: error: {notes}:1: not a record of a run" in refused.stderr and "--overwrite" in refused.stderr
    assert notes.read_text() == "buy milk\ncall Ana"  # untouched, not even its unfinished last line
    other = items(tmp_path / "dataset.jsonl", 3)  # JSON lines, but not verdicts
    assert judge(rubric_exe, SAMPLE, other).returncode == 2 and other.read_text().count("\n") == 3
    assert judge(rubric_exe, SAMPLE, notes, "--overwrite").returncode == 0
    assert all("item_id" in record for record in lines(notes))


def test_an_output_that_cannot_be_created_says_why(rubric_exe, tmp_path):
    result = judge(rubric_exe, SAMPLE, "/sys/rubric-verdicts.jsonl")  # not writable, even for root
    assert result.returncode == 2
    assert result.stderr.strip() == "rubric: error: /sys/rubric-verdicts.jsonl: Permission denied"


@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
def test_standard_input_is_read_once(rubric_exe, tmp_path, source):
    text = items(tmp_path / "in.jsonl", 5).read_text()
    out = tmp_path / "out.jsonl"
    result = judge(rubric_exe, source, out, input=text)
    assert result.returncode == 0, result.stderr
    assert sorted(v["id"] for v in lines(out)) == [0, 1, 2, 3, 4]
    again = judge(rubric_exe, source, out, input=text)  # resumes by content, like a file
    assert "items: 5 (0 judged now, 5 from an earlier run)" in again.stdout


def test_json_errors_name_line_and_column_as_an_editor_counts_them(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "prompt": "q", "response": "a"}\n{"id": 2, "prompt": "q", "response": \n{"id": 3, "prompt" "q"}\n'
    )
    result = judge(rubric_exe, source, tmp_path / "out.jsonl")
    assert f"{source}:2: not valid JSON: Expecting value (line 2, column 38)" in result.stderr
    assert f"{source}:3: not valid JSON: Expecting ':' delimiter (line 3, column 20)" in result.stderr


def test_a_file_with_nul_bytes_is_refused_whole(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        items(tmp_path / "good.jsonl", 3).read_bytes() + b'{"id": 9, "prompt": "q\x00", "response": "a"}\n'
    )
    out = tmp_path / "out.jsonl"
    result = judge(rubric_exe, source, out)
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.strip() == (
        f"rubric: error: {source}: this is a binary file (a NUL byte on line 4), not JSON lines "
        "(text, one JSON object per line); nothing was judged"
    )
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(items(tmp_path / "good.jsonl", 2).read_text(), encoding="utf-16")
    assert "this is UTF-16 text; save it as UTF-8" in judge(rubric_exe, utf16, out).stderr


def test_no_rubric_anywhere_is_said_once_up_front(rubric_exe, tmp_path):
    source = items(tmp_path / "in.jsonl", 30)
    result = rubric(
        rubric_exe, "judge", "--input", source, "--output", tmp_path / "out.jsonl", "--model", "fake:yes", "--no-cache"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"rubric: error: {source}: no rubric: pass --rubric NAME|FILE, or give each line a "
        "'rubric' or 'rubric_id'; no item to judge"
    )
    some = tmp_path / "some.jsonl"  # one line names a rubric: the others are skipped one by one, as before
    some.write_text(
        source.read_text() + json.dumps({"id": 99, "prompt": "q", "response": "a", "rubric_id": "helpfulness"}) + "\n"
    )
    mixed = rubric(
        rubric_exe, "judge", "--input", some, "--output", tmp_path / "mixed.jsonl", "--model", "fake:yes", "--no-cache"
    )
    assert mixed.returncode == 1 and "(line skipped)" in mixed.stderr and len(lines(tmp_path / "mixed.jsonl")) == 1


def test_a_response_given_as_chat_messages_is_judged_on_the_assistants_text(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    conversation = [{"role": "assistant", "content": "Paris is the capital."}]
    source.write_text(
        json.dumps(
            {"id": "trl", "prompt": [{"role": "user", "content": "Capital of France?"}], "response": conversation}
        )
        + "\n"
        + json.dumps({"id": "bad", "prompt": "q", "response": 42})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    result = judge(rubric_exe, source, out)
    assert "'response' must be a string or a list of chat messages" in result.stderr
    assert [v["id"] for v in lines(out)] == ["trl"] and lines(out)[0]["status"] == "scored"


def test_a_malformed_message_list_is_a_line_error_not_an_empty_answer(rubric_exe, tmp_path):
    """Before: each of these was judged as an empty response, scored 0.0, exit 0."""
    source = tmp_path / "in.jsonl"
    bad = [
        [],
        [{"role": "user", "content": "hi"}],
        [{"role": "assistant", "content": 7}],
        [{"role": "assistant", "text": "x"}],
    ]
    rows = [{"id": f"bad{n}", "prompt": "q", "response": response} for n, response in enumerate(bad)]
    rows.append({"id": "good", "prompt": "q", "response": [{"role": "assistant", "content": "Fine."}]})
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    result = judge(rubric_exe, source, out)
    assert result.returncode != 0 and [v["id"] for v in lines(out)] == ["good"]
    for number, message in enumerate(
        [
            "an empty list of messages",
            "no assistant message",
            "'content' is a int",
            "has no 'content' (keys: role, text)",
        ],
        1,
    ):
        assert re.search(rf"in.jsonl:{number}: 'response': .*{re.escape(message)}", result.stderr), message


def test_control_characters_in_ids_reach_the_terminal_escaped(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x\x1b[2J\x1b]0;owned\x07", "prompt": "q", "response": "a"}) + "\n")
    result = judge(rubric_exe, source, tmp_path / "out.jsonl")
    assert result.returncode == 0 and "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "x\\x1b[2J\\x1b]0;owned\\x07" in result.stdout  # shown, as text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_stops_the_run_and_passing_failures_are_retried_by_a_rerun(rubric_exe, tmp_path):
    from tests.provider_server import ProviderServer

    source = items(tmp_path / "in.jsonl", 60)
    out = tmp_path / "out.jsonl"
    model = [
        "--model",
        "openai/judge?max_retries=0&retry_wait=0.01",
        "--rubric",
        ROOT / "examples" / "answer_rubric.json",
    ]
    dead = rubric(
        rubric_exe,
        "judge",
        "--input",
        source,
        "--output",
        out,
        "--no-cache",
        *model,
        "--base-url",
        f"http://127.0.0.1:{free_port()}/v1",
        "--batch-size",
        "4",
    )
    assert dead.returncode == 2
    assert (
        "no answer from http://127.0.0.1:" in dead.stderr
        and "requests failed" in dead.stderr
        and "is the server running?" in dead.stderr
    )
    assert len(lines(out)) < 60 if out.exists() else True  # stopped early, not a line per row
    with ProviderServer() as server:
        back = rubric(
            rubric_exe,
            "judge",
            "--input",
            source,
            "--output",
            out,
            "--no-cache",
            *model,
            "--base-url",
            server.url + "/v1",
        )
        assert back.returncode == 0, back.stderr
        verdicts = {v["item_id"]: v for v in lines(out)}
        assert len(verdicts) == 60 and all(v["status"] == "scored" for v in verdicts.values())

        flaky = tmp_path / "flaky.jsonl"
        flaky.write_text(
            json.dumps({"id": "a", "prompt": "q", "response": "x", "rubric": ["Is it right? FAULT:500-once"]})
            + "\n"
            + json.dumps({"id": "b", "prompt": "q", "response": "x", "rubric": ["Is it short? FAULT:400"]})
            + "\n"
        )
        flaky_out = tmp_path / "flaky-out.jsonl"
        first = rubric(
            rubric_exe,
            "judge",
            "--input",
            flaky,
            "--output",
            flaky_out,
            "--no-cache",
            *model[:2],
            "--base-url",
            server.url + "/v1",
        )
        assert first.returncode == 1
        assert {v["item_id"]: v["results"][0]["transient"] for v in lines(flaky_out)} == {"a": True, "b": None}
        rerun = rubric(
            rubric_exe,
            "judge",
            "--input",
            flaky,
            "--output",
            flaky_out,
            "--no-cache",
            *model[:2],
            "--base-url",
            server.url + "/v1",
        )
        assert "1 verdicts left unscored by a passing failure" in rerun.stderr
        final = {v["item_id"]: v for v in lines(flaky_out)}
        assert final["a"]["status"] == "scored" and final["b"]["status"] == "unscored"  # a 400 is not retried
        assert len(lines(flaky_out)) == 2  # the failed record was replaced, not duplicated


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "argument --batch-size: expected an integer of at least 1, got '0'"),
        (["--concurrency", "0"], "argument --concurrency: expected an integer of at least 1, got '0'"),
        (["--threshold", "1.5"], "argument --threshold: expected a number from 0 to 1, got '1.5'"),
        (["--model", "fake:yes?delay=-1"], "fake:yes: delay must be a number of seconds of at least 0, got '-1'"),
        (["--model", "fake:random:abc"], "fake:random:abc: the seed of fake:random:SEED must be an integer, got 'abc'"),
    ],
)
def test_out_of_range_judge_options_are_one_line_naming_the_option(rubric_exe, tmp_path, args, message):
    result = rubric(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        SAMPLE,
        "--output",
        tmp_path / "o.jsonl",
        "--no-cache",
        *(["--model", "fake:yes"] if "--model" not in args else []),
        *args,
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_the_python_api_names_a_missing_response():
    from judge import Judge
    from judge.backends.fake import FakeBackend
    from rubrics import Criterion, Rubric

    rubric = Rubric(id="r", criteria=[Criterion(id="right", text="Is it right?")])
    with pytest.raises(TypeError, match=r"^response must be a string \(the text to judge\), got None$"):
        Judge(FakeBackend(1.0)).evaluate("q", None, rubric)
    with pytest.raises(TypeError, match=r"^rubric must be a Rubric .*got list$"):
        Judge(FakeBackend(1.0)).evaluate("q", "a", ["Is it right?"])


# -- optional extras: one install hint, whichever is missing --------------------------------------
BLOCKER = """
import importlib.abc, os, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in os.environ["RUBRIC_TEST_BLOCK"].split(","):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
"""


@pytest.mark.parametrize(
    ("extra", "blocked", "command"),
    [
        ("serve", "starlette", ["serve", "--model", "fake:yes", "--port", "0"]),
        ("serve", "httptools", ["serve", "--model", "fake:yes", "--port", "0"]),
        (
            "ray",
            "ray",
            [
                "judge",
                "--engine",
                "ray",
                "--rubric",
                "helpfulness",
                "--input",
                SAMPLE,
                "--output",
                "{tmp}/ray-out",
                "--model",
                "fake:yes",
            ],
        ),
        ("report", "matplotlib", ["report", "{tmp}/verdicts.jsonl", "--output", "{tmp}/report.html"]),
        (
            "data",
            "pyarrow",
            [
                "judge",
                "--rubric",
                "helpfulness",
                "--input",
                ROOT / "examples" / "rollouts.parquet",
                "--output",
                "{tmp}/o.jsonl",
                "--model",
                "fake:yes",
            ],
        ),
        (
            "api",
            "openai",
            [
                "judge",
                "--rubric",
                "helpfulness",
                "--input",
                SAMPLE,
                "--output",
                "{tmp}/o.jsonl",
                "--model",
                "openai/gpt-4o-mini",
            ],
        ),
        (
            "calibrate",
            "sklearn",
            [
                "calibrate",
                "--verdicts",
                "{tmp}/verdicts.jsonl",
                "--labels",
                "{tmp}/verdicts.jsonl",
                "--output",
                "{tmp}/c.json",
            ],
        ),
        (
            "local",
            "torch",
            [
                "judge",
                "--rubric",
                "helpfulness",
                "--input",
                SAMPLE,
                "--output",
                "{tmp}/o.jsonl",
                "--model",
                "local:/no/such/model",
            ],
        ),
        (
            "litellm",
            "litellm",
            [
                "judge",
                "--rubric",
                "helpfulness",
                "--input",
                SAMPLE,
                "--output",
                "{tmp}/o.jsonl",
                "--model",
                "litellm/gpt-4o-mini",
            ],
        ),
        (
            "generate",
            "sentence_transformers",
            [
                "judge",
                "--rubric",
                "helpfulness",
                "--input",
                SAMPLE,
                "--output",
                "{tmp}/o.jsonl",
                "--model",
                "fake:yes",
                "--semantic-guard",
            ],
        ),
    ],
)
def test_a_missing_extra_names_the_install_command(rubric_exe, tmp_path, extra, blocked, command):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(BLOCKER))
    verdicts = tmp_path / "verdicts.jsonl"
    judge(rubric_exe, SAMPLE, verdicts)
    env = {**os.environ, "PYTHONPATH": str(hook), "RUBRIC_TEST_BLOCK": blocked}
    result = rubric(rubric_exe, *[str(part).replace("{tmp}", str(tmp_path)) for part in command], env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("rubric: error: ") and f"needs the package '{blocked}'" in last, result.stderr
    # the extra's own packages, which pip finds whether rubric-judge came from a wheel or a checkout
    assert last.endswith(f"(rubric-judge's {extra!r} extra)") and "Traceback" not in result.stderr
    assert "pip install '" in last and "pip install 'rubric-judge[" not in last
