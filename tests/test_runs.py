"""File runs as a new user (and a careless one) meets them: resume only what belongs to the
run, one writer per output, path mistakes and odd inputs as one clear line."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "examples" / "sample_responses.jsonl"


def rubric(rubric_exe, *args, timeout=120):
    return subprocess.run([rubric_exe, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def judge(rubric_exe, source, output, *extra, model="fake:random:7"):
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
        model,
        "--no-cache",
        *extra,
    )


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- resume -------------------------------------------------------------------------------------
def test_a_rerun_with_another_model_stops_and_names_the_difference(rubric_exe, tmp_path):
    output = tmp_path / "verdicts.jsonl"
    assert judge(rubric_exe, SAMPLE, output).returncode == 0
    first = lines(output)
    again = judge(rubric_exe, SAMPLE, output, model="fake:yes")
    assert (
        again.returncode == 2
        and "model 'fake:random:7' -> 'fake:yes'" in again.stderr
        and "--overwrite" in again.stderr
    )
    assert lines(output) == first  # nothing written, nothing lost
    threshold = judge(rubric_exe, SAMPLE, output, "--threshold", "0.7")
    assert threshold.returncode == 2 and "threshold 0.5 -> 0.7" in threshold.stderr
    fresh = judge(rubric_exe, SAMPLE, output, "--overwrite", model="fake:yes")
    assert fresh.returncode == 0 and "judged now" in fresh.stdout
    assert {r["model"] for r in lines(output)} == {"fake:yes"} and len(lines(output)) == len(first)


def test_resume_keeps_matching_verdicts_and_summarises_the_current_input_only(rubric_exe, tmp_path):
    output = tmp_path / "verdicts.jsonl"
    assert judge(rubric_exe, SAMPLE, output).returncode == 0
    one = tmp_path / "one.jsonl"
    one.write_text(SAMPLE.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    resumed = judge(rubric_exe, one, output)
    assert resumed.returncode == 0 and "items: 1 (0 judged now, 1 from an earlier run)" in resumed.stdout
    changed = tmp_path / "changed.jsonl"
    record = json.loads(one.read_text(encoding="utf-8"))
    changed.write_text(json.dumps({**record, "response": record["response"] + " Edited."}) + "\n", encoding="utf-8")
    stopped = judge(rubric_exe, changed, output)
    assert stopped.returncode == 2 and f"the verdict of {record['id']!r} was made for other input" in stopped.stderr


def test_every_resumable_command_checks_its_records(rubric_exe, tmp_path):
    pairs = ROOT / "examples" / "pairs.jsonl"
    out = tmp_path / "pairwise.jsonl"
    assert (
        rubric(
            rubric_exe, "pairwise", "--input", pairs, "--output", out, "--model", "fake:random:1", "--no-cache"
        ).returncode
        == 1
    )  # one record skipped
    other = rubric(rubric_exe, "pairwise", "--input", pairs, "--output", out, "--model", "fake:random:2", "--no-cache")
    assert other.returncode == 2 and "'fake:random:1' -> 'fake:random:2'" in other.stderr
    script = ROOT / "examples" / "scripted_judge.yaml"
    generated = tmp_path / "crg.jsonl"
    command = ["generate", "--method", "contrastive", "--input", pairs, "--output", generated, "--no-cache", "--quiet"]
    assert rubric(rubric_exe, *command, "--model", f"fake:script:{script}").returncode in (0, 1)
    other = rubric(rubric_exe, *command, "--model", f"fake:script:{script}", "--tau", "0.9")
    assert other.returncode == 2 and "holds outcomes of another run" in other.stderr and "'tau': 0.5" in other.stderr
    rows = ROOT / "examples" / "healthbench_rows.jsonl"
    graded = [
        "eval",
        "--mode",
        "graded",
        "--benchmark",
        rows,
        "--output",
        tmp_path / "graded.json",
        "--no-cache",
        "--quiet",
    ]
    assert rubric(rubric_exe, *graded, "--model", "fake:yes").returncode == 0
    other = rubric(rubric_exe, *graded, "--model", "fake:no")
    assert other.returncode == 2 and "'fake:yes' -> 'fake:no'" in other.stderr


# -- one writer, and path mistakes ------------------------------------------------------------------
def test_a_second_writer_is_refused_and_output_must_not_be_the_input(rubric_exe, tmp_path):
    import fcntl

    output = tmp_path / "verdicts.jsonl"
    with open(output, "ab") as held:  # another run holds the output
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = judge(rubric_exe, SAMPLE, output)
    assert busy.returncode == 2 and "another run is writing it" in busy.stderr and output.read_bytes() == b""
    assert judge(rubric_exe, SAMPLE, output).returncode == 0  # once released, the output is ours
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("verdicts")] == [
        "verdicts.jsonl"
    ]  # no lock file left
    copy = tmp_path / "in.jsonl"
    copy.write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    same = judge(rubric_exe, copy, copy)
    assert same.returncode == 2 and "is the input file" in same.stderr
    assert copy.read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["output-dir", "rubric-dir", "output-under-a-file"])
def test_path_mistakes_are_one_line_naming_the_path(rubric_exe, tmp_path, where):
    directory = tmp_path / "a-folder"
    directory.mkdir()
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    output, rubric_arg = tmp_path / "v.jsonl", "helpfulness"
    if where == "output-dir":
        output = directory
    elif where == "rubric-dir":
        rubric_arg = str(directory) + "/"
    else:
        output = a_file / "v.jsonl"
    result = rubric(
        rubric_exe,
        "judge",
        "--rubric",
        rubric_arg,
        "--input",
        SAMPLE,
        "--output",
        output,
        "--model",
        "fake:yes",
        "--no-cache",
    )
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("rubric: error: ") and "Traceback" not in result.stderr
    assert str(directory if where != "output-under-a-file" else a_file) in message[0]


def test_an_unwritable_output_is_one_line(tmp_path, monkeypatch, capsys):
    import builtins

    import cli

    real_open = builtins.open
    target = tmp_path / "locked.jsonl"

    def guarded(file, mode="r", *args, **kwargs):
        if str(file) == str(target) and "a" in mode:
            raise PermissionError(13, "Permission denied", str(target))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)  # root ignores file modes, so refuse the open itself
    code = cli.main(
        [
            "judge",
            "--rubric",
            "helpfulness",
            "--input",
            str(SAMPLE),
            "--output",
            str(target),
            "--model",
            "fake:yes",
            "--no-cache",
            "--quiet",
        ]
    )
    assert code == 2 and capsys.readouterr().err.strip() == f"rubric: error: {target}: Permission denied"


# -- rubric files that must not load --------------------------------------------------------------
@pytest.mark.parametrize(
    "criteria, message",
    [
        (
            [{"id": "exact", "text": "Matches.", "check": {"type": "reference_answr"}}],
            "criterion 'exact': unknown check type 'reference_answr'; known: ",
        ),
        (
            [
                {
                    "id": "long",
                    "text": "Long.",
                    "check": {"type": "length_constraints:number_words", "relation": "at least"},
                }
            ],
            "criterion 'long': length_constraints:number_words needs num_words",
        ),
        ([{"id": "a", "text": "A.", "weight": ".inf"}], "weight"),
        (
            [{"id": "a", "text": "A.", "weight": 1e308}, {"id": "b", "text": "B.", "weight": 1e308}],
            "more than a float can hold",
        ),
        ([{"id": "a", "text": "A."}, {"id": "a", "text": "B."}], "duplicate criterion id 'a'"),
    ],
)
def test_unusable_rubrics_are_refused_when_loaded(rubric_exe, tmp_path, criteria, message):
    path = tmp_path / "bad.yaml"
    import yaml

    text = yaml.safe_dump({"id": "bad", "criteria": criteria}).replace("'.inf'", ".inf")
    path.write_text(text)
    validated = rubric(rubric_exe, "rubrics", "validate", path)
    assert validated.returncode == 2 and message in validated.stderr, validated.stderr
    judged = rubric(
        rubric_exe,
        "judge",
        "--rubric",
        path,
        "--input",
        SAMPLE,
        "--output",
        tmp_path / "v.jsonl",
        "--model",
        "fake:yes",
        "--no-cache",
    )
    assert judged.returncode == 2 and message in judged.stderr and not (tmp_path / "v.jsonl").exists()


# -- inputs ---------------------------------------------------------------------------------------
def test_verdict_lines_echo_the_input_id(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": 7, "prompt": "q", "response": "a"},
                {"id": "s", "prompt": "q", "response": "b"},
                {"prompt": "q", "response": "c"},
            ]
        )
        + "\n"
    )
    assert judge(rubric_exe, source, tmp_path / "v.jsonl").returncode == 0
    by_item = {r["item_id"]: r for r in lines(tmp_path / "v.jsonl")}
    assert by_item["7"]["id"] == 7 and by_item["s"]["id"] == "s" and by_item["line-3"]["id"] is None


def test_a_bom_costs_no_record_and_a_json_array_reads_as_json(rubric_exe, tmp_path):
    records = [{"id": f"r{n}", "prompt": "q", "response": f"answer {n}"} for n in range(3)]
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in records).encode())
    result = judge(rubric_exe, bom, tmp_path / "v1.jsonl")
    assert result.returncode == 0 and "items: 3 (3 judged now" in result.stdout
    array = tmp_path / "array.json"
    array.write_text(json.dumps(records, indent=2))
    result = judge(rubric_exe, array, tmp_path / "v2.jsonl")
    assert result.returncode == 0 and "items: 3 (3 judged now" in result.stdout


@pytest.mark.parametrize(
    "content, hint",
    [
        (
            json.dumps([{"id": f"r{n}", "prompt": "q", "response": "a"} for n in range(40)], indent=2).encode(),
            "this is a JSON array; name the file .json",
        ),
    ],
)  # a binary file is refused whole instead: tests/test_cli_robustness.py
def test_a_file_that_is_not_json_lines_is_described_once(rubric_exe, tmp_path, content, hint):
    source = tmp_path / "input.jsonl"
    source.write_bytes(content)
    result = judge(rubric_exe, source, tmp_path / "v.jsonl")
    assert result.returncode == 2 and "no item to judge" in result.stderr
    assert result.stderr.count(hint) == 1
    assert result.stderr.count("(line skipped)") <= 10 and "more lines skipped" in result.stderr


def test_empty_input_and_tags_matching_nothing_are_not_silent_successes(rubric_exe, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = judge(rubric_exe, empty, tmp_path / "v.jsonl")
    assert result.returncode == 2 and "no item to judge" in result.stderr
    result = judge(rubric_exe, SAMPLE, tmp_path / "v2.jsonl", "--only-tags", "no-such-tag")
    assert result.returncode == 1 and "--only-tags no-such-tag matched no criterion" in result.stderr


def test_the_log_syncs_in_batches_and_at_close(tmp_path, monkeypatch):
    import judge.runs.log as log_module

    synced = []
    monkeypatch.setattr(log_module.os, "fsync", lambda fd: synced.append(fd))
    log = log_module.VerdictLog(tmp_path / "v.jsonl", sync_every=3, sync_seconds=3600)
    for n in range(7):
        log.write({"item_id": f"i{n}"})
        assert len((tmp_path / "v.jsonl").read_text().splitlines()) == n + 1  # each line is in the file at once
    assert len(synced) == 2
    log.close()
    assert len(synced) == 3  # the unsynced tail at close


def test_the_id_table_keeps_the_first_value_and_reads_like_a_mapping():
    from judge.runs.idtable import IdTable

    table = IdTable()
    assert table.add("a", "1") is None and table.add("b", "2") is None
    assert table.add("a", "9") == "1"  # a duplicate: the first value stays
    assert len(table) == 2 and "a" in table and "c" not in table and 3 not in table
    assert table["b"] == "2" and dict(table) == {"a": "1", "b": "2"}
    with pytest.raises(KeyError):
        table["c"]
    table.close()
