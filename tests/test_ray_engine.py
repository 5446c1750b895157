"""The Ray engine on a local Ray cluster (4 logical CPUs, fake judges, small data): the same
verdicts as a single-process run, a driver killed midway and rerun, bad rows inside a batch,
the Python API over a ray.data.Dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs rubric-judge[ray] (make test installs it)")

from cli import main  # noqa: E402
from judge.runs.ray_data import judge_dataset, split_budget  # noqa: E402
from judge.runs.options import parse_actors  # noqa: E402
from judge.runs.ray_run import verdict_records  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

MODEL = "fake:random:7"


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)  # 2 CPUs were seen to starve a resumed run
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def write_items(path, n, bad=()):
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            if i in bad:
                handle.write(
                    '{"id": "broken", "prompt": \n'
                    if i % 2
                    else json.dumps({"id": f"q{i}", "prompt": [], "response": "x"}) + "\n"
                )
            else:
                handle.write(
                    json.dumps({"id": f"q{i}", "prompt": f"What is {i} plus {i}?", "response": f"It is {2 * i}."})
                    + "\n"
                )
    return path


def judge_args(source, output, *extra, model=MODEL):
    return [
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(source),
        "--output",
        str(output),
        "--model",
        model,
        "--no-cache",
        "--quiet",
        *extra,
    ]


def by_id(records):
    return {r["id"]: r for r in records}


def test_2000_rows_give_exactly_2000_verdicts_scored_as_in_one_process(cluster, tmp_path):
    source = write_items(tmp_path / "items.jsonl", 2000)
    assert main(judge_args(source, tmp_path / "single.jsonl")) == 0
    ray_out = tmp_path / "verdicts.parquet"
    assert (
        main(
            judge_args(
                source,
                ray_out,
                "--engine",
                "ray",
                "--actors",
                "1,2",
                "--cpus-per-actor",
                "0.5",
                "--ray-batch-rows",
                "100",
            )
        )
        == 0
    )
    single = by_id(json.loads(line) for line in (tmp_path / "single.jsonl").read_text().splitlines())
    distributed = list(verdict_records(ray_out))
    assert len(distributed) == 2000 and set(by_id(distributed)) == set(single)
    for record in distributed:
        expected = single[record["id"]]
        assert (record["status"], record["score"], record["hard_score"]) == (
            expected["status"],
            expected["score"],
            expected["hard_score"],
        )
        assert [r["p_yes"] for r in record["results"]] == [r["p_yes"] for r in expected["results"]]
    import pandas as pd

    assert (
        len(pd.read_parquet(ray_out)) == 2000
    )  # the folder opens as one table: _run.json and _checkpoint are not data


def test_a_bad_row_inside_a_batch_is_unscored_and_the_others_judged(cluster, tmp_path):
    source = write_items(tmp_path / "items.jsonl", 60, bad={10, 11})
    output = tmp_path / "verdicts.jsonl"  # a folder of JSON-lines shards
    assert main(judge_args(source, output, "--engine", "ray", "--ray-batch-rows", "30")) == 1  # unscored rows: exit 1
    records = by_id(verdict_records(output))
    assert len(records) == 60
    assert records["q10"]["status"] == "unscored" and "prompt" in records["q10"]["reason"]
    assert records["line-12"]["status"] == "unscored" and "not valid JSON" in records["line-12"]["reason"]
    assert sum(r["status"] == "scored" for r in records.values()) == 58


def test_a_driver_killed_midway_and_rerun_loses_and_duplicates_nothing(cluster, tmp_path, rubric_exe):
    source = write_items(tmp_path / "items.jsonl", 600)
    output = tmp_path / "verdicts.parquet"
    slow = f"{MODEL}?delay=0.05"
    args = judge_args(
        source,
        output,
        "--engine",
        "ray",
        "--actors",
        "2",
        "--cpus-per-actor",
        "0.5",
        "--ray-batch-rows",
        "20",
        "--ray-address",
        cluster,
        "--concurrency",
        "1",
        model=slow,
    )
    driver = subprocess.Popen(
        [rubric_exe, *args[0:]], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(output.glob("*.parquet"))) < 3 and driver.poll() is None:
        time.sleep(0.2)
    assert driver.poll() is None, f"the run ended before it could be killed: {driver.stderr.read().decode()[-2000:]}"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = len(list(verdict_records(output)))
    assert 0 < before < 600
    assert main(args) == 0  # the rerun: only what no shard holds is judged
    ids = [r["id"] for r in verdict_records(output)]
    assert len(ids) == 600 and set(ids) == {f"q{i}" for i in range(600)}


def test_a_rerun_with_other_settings_stops_and_names_them(cluster, tmp_path, capsys):
    source = write_items(tmp_path / "items.jsonl", 20)
    output = tmp_path / "verdicts.parquet"
    assert main(judge_args(source, output, "--engine", "ray")) == 0
    assert main(judge_args(source, output, "--engine", "ray", model="fake:yes")) == 2
    assert "model" in capsys.readouterr().err and len(list(verdict_records(output))) == 20
    assert main(judge_args(source, output, "--engine", "ray", "--overwrite", model="fake:yes")) == 0
    assert {r["model"] for r in verdict_records(output)} == {"fake:yes"}


def test_the_python_api_judges_a_ray_dataset(cluster):
    rows = [{"id": f"r{i}", "question": f"Name {i}?", "answer": f"Number {i}."} for i in range(50)]
    rows.append({"id": "r-bad", "question": "Name?", "answer": None})
    from judge.runs.sources import Columns

    verdicts = judge_dataset(
        ray.data.from_items(rows),
        MODEL,
        rubric="helpfulness",
        actors=(1, 2),
        cpus_per_actor=0.5,
        columns=Columns(prompt="question", response="answer"),
    ).take_all()
    assert len(verdicts) == 51
    status = {v["id"]: v["status"] for v in verdicts}
    assert status.pop("r-bad") == "unscored" and set(status.values()) == {"scored"}


def test_an_api_budget_is_split_across_the_pool():
    assert (
        split_budget("openai/gpt-4.1-mini?rpm=600&tpm=90000&price_in=0.4", 4)
        == "openai/gpt-4.1-mini?rpm=150&tpm=22500&price_in=0.4"
    )
    assert split_budget("openai/gpt-4.1-mini?rpm=600", 1) == "openai/gpt-4.1-mini?rpm=600"
    assert split_budget("fake:yes", 4) == "fake:yes"
    assert parse_actors("2,8") == (2, 8) and parse_actors("3") == (3, 3)
    with pytest.raises(Exception, match="MIN <= MAX"):
        parse_actors("4,2")
