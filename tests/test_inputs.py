"""Judge inputs from every source: parquet (files and shards), CSV, JSON arrays, Hugging Face
datasets (saved folders, hf:NAME), with column mapping; bad rows named by file and row."""

from __future__ import annotations

import json
import subprocess

import pytest

from judge.engine import JudgeItem
from rubrics.records import Problem
from judge.runs.inputs import read_items
from judge.runs.sources import Columns, describe_missing
from judge.rubric_lookup import RubricSource

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

RUBRICS = RubricSource.from_option("helpfulness")
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]


def rows():
    return [
        {"uid": "a", "question": "Capital of France?", "answer": "Paris.", "rubric": None},
        {"uid": "b", "question": "Capital of Italy?", "answer": "Rome.", "rubric": None},
        {"uid": "c", "question": "Capital of Spain?", "answer": None, "rubric": None},  # bad: no response
        {"uid": "d", "question": None, "answer": "Madrid.", "rubric": None},  # bad: no prompt
        {"uid": "e", "question": "Name a prime.", "answer": "7", "rubric": '["The answer is a prime number."]'},
    ]


COLUMNS = Columns(id="uid", prompt="question", response="answer")


def read(source, columns=COLUMNS):
    return list(read_items(source, RUBRICS, columns=columns))


def check(entries):
    items = [e for e in entries if isinstance(e, JudgeItem)]
    errors = [e for e in entries if isinstance(e, Problem)]
    assert [i.id for i in items] == ["a", "b", "e"] and items[0].prompt == "Capital of France?"
    assert items[2].rubric.criteria[0].text == "The answer is a prime number." and items[0].rubric.id == "helpfulness"
    assert [(e.line, e.message) for e in errors] == [
        (3, "'response' must be a string or a list of chat messages"),
        (4, "'prompt' must be a string or a non-empty list of {role, content} messages"),
    ]


def test_parquet_rows_with_column_mapping_and_bad_rows(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows()), path)
    check(read(path))
    check(read_json_array(tmp_path))


def read_json_array(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(rows()))
    return read(path)


def test_a_chat_message_column_is_read_as_prompts(tmp_path):
    path = tmp_path / "chat.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"prompt": CHAT, "response": "Paris."}, {"prompt": CHAT[1:], "response": "Paris!"}]), path
    )
    first, second = read(path, Columns())
    assert first.prompt == CHAT and second.prompt == CHAT[1:] and first.id == "line-1"


def test_a_folder_of_parquet_shards_names_the_shard_of_a_bad_row(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(
        pa.Table.from_pylist([{"question": "q1", "answer": "one"}, {"question": "q2", "answer": None}]),
        folder / "part-0.parquet",
    )
    pq.write_table(pa.Table.from_pylist([{"question": CHAT, "answer": "two"}]), folder / "part-1.parquet")
    entries = read(folder, Columns(prompt="question", response="answer"))
    items = [e for e in entries if isinstance(e, JudgeItem)]
    errors = [e for e in entries if isinstance(e, Problem)]
    assert [i.id for i in items] == ["part-0.parquet:row-1", "part-1.parquet:row-1"] and items[1].prompt == CHAT
    assert [(e.file, e.line) for e in errors] == [("part-0.parquet", 2)]


def test_csv_cells_holding_json_and_a_row_with_extra_cells(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        'uid,question,answer\na,Capital of France?,Paris.\nb,"[{""role"": ""user"", ""content"": ""Hi""}]",Hello!\n'
        "c,q,a,surplus\n",
        encoding="utf-8",
    )
    entries = read(path)
    assert [e.id for e in entries if isinstance(e, JudgeItem)] == ["a", "b"]
    assert entries[1].prompt == [{"role": "user", "content": "Hi"}]
    assert entries[2] == Problem(3, "1 more cells than the header has columns")


def test_a_mapped_column_that_is_missing_is_named(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"question": "q", "reply": "r"}]))
    (error,) = read(path)
    assert error.message == "missing column 'answer' (--response-column)"


def test_saved_datasets_and_hf_names(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    data = datasets.Dataset.from_list(rows())
    data.save_to_disk(str(tmp_path / "saved"))
    check(read(tmp_path / "saved"))
    datasets.DatasetDict({"train": data, "test": data}).save_to_disk(str(tmp_path / "splits"))
    with pytest.raises(ValueError, match="several splits"):
        read(tmp_path / "splits")
    asked = []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: asked.append((name, split)) or data)
    check(read("hf:org/rollouts:validation"))
    read("hf:org/rollouts")
    assert asked == [("org/rollouts", "validation"), ("org/rollouts", "train")]
    assert describe_missing(tmp_path / "nothing.parquet") == f"{tmp_path / 'nothing.parquet'}: no such input file"


def test_rubric_judge_on_parquet_resumes_and_reports_rows(rubric_exe, tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows()), path)
    output = tmp_path / "v.jsonl"
    command = [
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(path),
        "--output",
        str(output),
        "--model",
        "fake:random:1",
        "--no-cache",
        "--id-column",
        "uid",
        "--prompt-column",
        "question",
        "--response-column",
        "answer",
        "--quiet",
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1  # two rows skipped
    assert f"{path}:3: 'response' must be a string or a list of chat messages (row skipped)" in first.stderr
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["a", "b", "e"]
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert len(output.read_text().splitlines()) == 3 and again.returncode == 1
    other = subprocess.run(command + ["--reference-column", "rubric"], capture_output=True, text=True, timeout=120)
    assert (
        other.returncode == 2 and "holds verdicts of another run (columns" in other.stderr
    )  # another mapping is another run


def test_a_parquet_output_opens_in_pandas_and_datasets_with_nested_results(rubric_exe, tmp_path):
    pandas = pytest.importorskip("pandas")
    datasets = pytest.importorskip("datasets")
    from tests.conftest import ROOT

    output = tmp_path / "verdicts.parquet"
    command = [
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(ROOT / "examples/sample_responses.jsonl"),
        "--output",
        str(output),
        "--model",
        "fake:random:4",
        "--model",
        "fake:yes",
        "--no-cache",
        "--quiet",
    ]
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    lines = [json.loads(line) for line in (tmp_path / "verdicts.parquet.jsonl").read_text().splitlines()]
    frame = pandas.read_parquet(output)
    assert list(frame["item_id"]) == [v["item_id"] for v in lines] and list(frame["score"]) == pytest.approx(
        [v["score"] for v in lines]
    )
    first = frame["results"][0]
    assert [r["criterion_id"] for r in first] == [r["criterion_id"] for r in lines[0]["results"]]
    assert first[0]["p_yes"] == pytest.approx(lines[0]["results"][0]["p_yes"])
    assert (
        json.loads(first[0]["jury_json"]) == lines[0]["results"][0]["jury"]
        and json.loads(frame["run_json"][0]) == lines[0]["run"]
    )
    table = datasets.Dataset.from_parquet(str(output))
    assert (
        table.num_rows == len(lines)
        and table[0]["results"][0]["criterion_id"] == lines[0]["results"][0]["criterion_id"]
    )
    again = subprocess.run(
        command[:-1], capture_output=True, text=True, timeout=120
    )  # not quiet: the summary says it resumed
    assert again.returncode == 0 and "(0 judged now, 8 from an earlier run)" in again.stdout
    assert len(pandas.read_parquet(output)) == len(lines)
