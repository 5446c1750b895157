"""One reader of records for every command: tables and datasets (parquet, CSV, Arrow,
Hugging Face) reach eval and generate as they reach `rubric judge` (issue 44)."""

from __future__ import annotations

import json
import subprocess

import pytest

import judge.generate  # noqa: F401 - the apps register the table reader
from judge.generate.constraints import load_instructions
from rubrics.pairs import load_pairs
from rubrics.records import LoadReport


def test_generate_reads_instructions_from_csv_and_parquet(tmp_path):
    rows = [
        {"id": "a", "prompt": "Write a poem about tea. Do not use any commas."},
        {"id": "b", "prompt": "Describe a city in at least 50 words."},
    ]
    csv_file = tmp_path / "instructions.csv"
    csv_file.write_text("id,prompt\n" + "".join(f'{r["id"]},"{r["prompt"]}"\n' for r in rows) + "c,x,extra\n")
    report = LoadReport()
    found = load_instructions(csv_file, report)
    assert [(i.id, i.text) for i in found] == [(r["id"], r["prompt"]) for r in rows]
    assert report.read == 3 and "more cells than the header has columns" in str(report.problems[0])
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    parquet_file = tmp_path / "instructions.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_file)
    assert [i.id for i in load_instructions(parquet_file)] == ["a", "b"]


def test_preference_pairs_from_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    rows = [{"id": "p1", "prompt": "2+2?", "chosen": "4.", "rejected": "5."}]
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    (pair,) = load_pairs(path)
    assert pair.id == "p1"


def test_rubric_generate_from_a_csv(rubric_exe, tmp_path):
    source = tmp_path / "instructions.csv"
    source.write_text('id,prompt\nt1,"Write a haiku about rain. Leave out every comma."\n')
    out = tmp_path / "rubrics.jsonl"
    command = [rubric_exe, "generate", "--method", "constraints", "--extract-only", "--input", str(source)]
    done = subprocess.run(command + ["--output", str(out), "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (rubric,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert [c["id"] for c in rubric["criteria"]] == ["task", "check-no_comma"]
