"""The installed `rubric` command, end to end."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "examples" / "sample_responses.jsonl"


def run(rubric_exe, *args, cwd=None, timeout=300):
    return subprocess.run([rubric_exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_items(path, count, **extra):
    lines = [
        json.dumps({"id": f"item-{n}", "prompt": f"Question {n}?", "response": f"Answer {n}.", **extra})
        for n in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return [f"item-{n}" for n in range(count)]


def test_help_texts(rubric_exe):
    top = run(rubric_exe, "--help")
    assert top.returncode == 0 and all(word in top.stdout for word in ("judge", "rubrics", "library"))
    judge = run(rubric_exe, "judge", "--help")
    for expected in (
        "--rubric",
        "--input",
        "--output",
        "--model",
        "--threshold",
        "fake:yes",
        "resumes",
        "exit status",
        "?delay=SECONDS",
        "fake:script:FILE",
        "--overwrite",
        "top_logprobs (1-20)",
    ):
        assert expected in judge.stdout


def test_the_fake_judge_answers_every_request_shape(rubric_exe, tmp_path):
    sample = ROOT / "examples" / "sample_responses.jsonl"
    scores = {}
    for shape in ("per-criterion", "generated", "batched"):
        out = tmp_path / f"{shape}.jsonl"
        result = run(
            rubric_exe,
            "judge",
            "--rubric",
            "helpfulness",
            "--input",
            sample,
            "--output",
            out,
            "--model",
            "fake:yes",
            "--no-cache",
            "--request-shape",
            shape,
            "--no-guard",
        )
        assert result.returncode == 0, result.stderr
        verdicts = [json.loads(line) for line in out.read_text().splitlines()]
        assert all(v["n_unscored"] == 0 and v["request_shape"] == shape.replace("-", "_") for v in verdicts)
        scores[shape] = [v["hard_score"] for v in sorted(verdicts, key=lambda v: v["item_id"])]
    assert scores["batched"] == scores["generated"] == scores["per-criterion"]  # yes to everything, in every shape


def test_installed_package_finds_its_templates_and_library(tmp_path):
    code = "import prompts, rubric_library; print(prompts.TEMPLATE_DIR); print(rubric_library.names())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert (Path(out.splitlines()[0]) / "entailment.jinja").is_file() and "helpfulness" in out


def test_judge_with_fake_model_writes_verdicts_and_summary(rubric_exe, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    result = run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        SAMPLE,
        "--output",
        out,
        "--model",
        "fake:random:1",
        "--cache-dir",
        tmp_path / "cache",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "demonstration judge" not in result.stdout  # the note is for the embedded model only
    verdicts = read_jsonl(out)
    assert [v["item_id"] for v in sorted(verdicts, key=lambda v: v["item_id"])] == sorted(
        i["id"] for i in read_jsonl(SAMPLE)
    )
    by_id = {v["item_id"]: v for v in verdicts}
    assert by_id["safety-refusal"]["rubric_id"] == "harmlessness"
    assert len(by_id["haiku-principles"]["results"]) == 3
    for v in verdicts:
        assert v["status"] == "scored" and v["model"] == "fake:random:1"
        assert all(0 <= r["p_yes"] <= 1 for r in v["results"])
    assert "items: 8 (8 judged now, 0 from an earlier run)" in result.stdout
    assert "addresses-request" in result.stdout and "pass rate" in result.stdout


def test_malformed_lines_are_reported_and_skipped(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                b'{"id": "ok-1", "prompt": "Q", "response": "A"}',
                b'{"id": "broken", "prompt": "Q", "response": ',
                b'{"id": "no-response", "prompt": "Q"}',
                b'{"id": "latin1", "prompt": "Q", "response": "caf\xe9"}',
                b'{"id": "surrogate", "prompt": "Q", "response": "\\ud800"}',
                b'{"id": "ok-1", "prompt": "Q", "response": "again"}',
                b'{"id": "bad-rubric", "prompt": "Q", "response": "A", "rubric_id": "nope"}',
                b'{"id": "bad-inline", "prompt": "Q", "response": "A", "rubric": {"id": "x", "criteria": []}}',
                b"[1, 2]",
                b'{"id": "empty", "prompt": "Q", "response": "   "}',
                b'{"id": "ok-2", "prompt": [{"role": "user", "content": "Q"}], "response": "A"}',
            ]
        )
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    result = run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        source,
        "--output",
        out,
        "--model",
        "fake:yes",
        "--no-cache",
    )
    assert result.returncode == 1
    for expected in [
        "in.jsonl:2: not valid JSON",
        "in.jsonl:3: missing field 'response'",
        "in.jsonl:4: not valid UTF-8",
        "in.jsonl:5: holds an unpaired UTF-16 surrogate",
        "in.jsonl:6: duplicate id 'ok-1' (first on line 1)",
        "in.jsonl:7: unknown rubric id 'nope'",
        "in.jsonl:8: inline rubric: criteria:",
        "in.jsonl:9: a line must be a JSON object",
    ]:
        assert expected in result.stderr, expected
    verdicts = {v["item_id"]: v for v in read_jsonl(out)}
    assert set(verdicts) == {"ok-1", "empty", "ok-2"}
    assert verdicts["empty"]["score"] == 0.0 and "whitespace-only" in verdicts["empty"]["results"][0]["reason"]
    assert "malformed input lines: 8" in result.stdout
    unguarded = tmp_path / "unguarded.jsonl"
    run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        source,
        "--output",
        unguarded,
        "--model",
        "fake:yes",
        "--no-cache",
        "--no-guard",
    )
    assert {v["item_id"]: v for v in read_jsonl(unguarded)}["empty"]["score"] > 0  # the gullible judge was asked


def test_resume_skips_judged_items_and_drops_a_partial_line(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    ids = write_items(source, 6)
    out = tmp_path / "out.jsonl"
    run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        source,
        "--output",
        out,
        "--model",
        "fake:yes",
        "--no-cache",
    )
    kept = out.read_text().splitlines()[:2]
    out.write_text("\n".join(kept) + "\n" + '{"item_id": "item-9", "rubr')  # cut short by a kill
    result = run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        source,
        "--output",
        out,
        "--model",
        "fake:yes",
        "--no-cache",
    )
    assert result.returncode == 0, result.stderr
    assert "dropped a partial last line" in result.stderr
    assert sorted(v["item_id"] for v in read_jsonl(out)) == sorted(ids)
    assert "items: 6 (4 judged now, 2 from an earlier run)" in result.stdout


def test_killed_run_resumes_without_duplicates_or_losses(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    ids = write_items(source, 40)
    out = tmp_path / "out.jsonl"
    args = [
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(source),
        "--output",
        str(out),
        "--model",
        "fake:random:5?delay=0.05",
        "--batch-size",
        "1",
        "--concurrency",
        "2",
        "--no-cache",
        "--quiet",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 5):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = read_jsonl(out)
    assert 5 <= len(partial) < 40
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    final = read_jsonl(out)
    assert sorted(v["item_id"] for v in final) == sorted(ids)  # none lost, none twice
    assert final[: len(partial)] == partial  # earlier lines untouched


def test_setup_errors_exit_2_with_a_clear_message(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    write_items(source, 1)
    unknown = run(
        rubric_exe,
        "judge",
        "--rubric",
        "nonexistent",
        "--input",
        source,
        "--output",
        tmp_path / "o.jsonl",
        "--model",
        "fake:yes",
    )
    assert unknown.returncode == 2 and "no rubric named 'nonexistent' in the library" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: r\ncriteria:\n  - text: fine\n    weight: lots\n")
    invalid = run(
        rubric_exe, "judge", "--rubric", bad, "--input", source, "--output", tmp_path / "o.jsonl", "--model", "fake:yes"
    )
    assert invalid.returncode == 2 and f"{bad}:1: rubric #1: criteria[0].weight" in invalid.stderr
    missing = run(
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        tmp_path / "none.jsonl",
        "--output",
        tmp_path / "o.jsonl",
    )
    assert missing.returncode == 2 and "no such input file" in missing.stderr
    no_rubric = run(
        rubric_exe, "judge", "--input", source, "--output", tmp_path / "o2.jsonl", "--model", "fake:yes", "--no-cache"
    )
    assert (
        no_rubric.returncode == 2
        and "no rubric: pass --rubric" in no_rubric.stderr
        and "no item to judge" in no_rubric.stderr
    )


def test_rubric_file_commands(rubric_exe, tmp_path):
    healthbench = tmp_path / "hb.json"
    healthbench.write_text(
        json.dumps(
            [
                {"criterion": "Gives the dose.", "points": 5, "tags": ["axis:accuracy"]},
                {"criterion": "Recommends a banned drug.", "points": -3, "tags": []},
            ]
        )
    )
    converted = tmp_path / "hb.yaml"
    assert run(rubric_exe, "rubrics", "convert", healthbench, converted).returncode == 0
    validated = run(rubric_exe, "rubrics", "validate", converted)
    assert validated.returncode == 0 and "hb: 2 criteria (1 pitfalls), positive weight 5" in validated.stdout
    assert (
        run(rubric_exe, "rubrics", "convert", converted, tmp_path / "back.json", "--to", "healthbench").returncode == 0
    )
    assert json.loads((tmp_path / "back.json").read_text()) == json.loads(healthbench.read_text())
    schema = run(rubric_exe, "rubrics", "schema")
    assert schema.returncode == 0 and "Criterion" in json.loads(schema.stdout)["$defs"]


def test_library_commands(rubric_exe):
    listing = run(rubric_exe, "library", "list")
    assert listing.returncode == 0 and "helpfulness" in listing.stdout and "harmlessness" in listing.stdout
    shown = run(rubric_exe, "library", "show", "helpfulness")
    assert shown.returncode == 0 and "addresses-request" in shown.stdout


@pytest.mark.slow
def test_end_to_end_with_the_embedded_smollm2(rubric_exe, tmp_path, smollm2_dir):
    """The real default model on three items: structure, ranges and resume (not quality)."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(line + "\n" for line in SAMPLE.read_text().splitlines()[:3]))
    out = tmp_path / "out.jsonl"
    args = ["judge", "--rubric", "helpfulness", "--input", source, "--output", out, "--cache-dir", tmp_path / "cache"]
    first = run(rubric_exe, *args)
    assert first.returncode == 0, first.stderr
    assert "tiny demonstration model and a weak judge" in first.stderr
    # and in the summary, beside the numbers: one line, last
    assert first.stdout.rstrip().splitlines()[-1].startswith("note: these scores come from the embedded demonstration")
    verdicts = read_jsonl(out)
    assert len(verdicts) == 3
    for v in verdicts:
        assert v["model"] == "local:SmolLM2-135M-Instruct" and v["status"] == "scored"
        assert -1.0 <= v["score"] <= 1.0 and len(v["results"]) == 6
        for r in v["results"]:
            assert r["status"] == "scored" and 0.0 <= r["p_yes"] <= 1.0 and 0.0 < r["yes_no_mass"] <= 1.0
    again = run(rubric_exe, *args)
    assert again.returncode == 0 and "items: 3 (0 judged now, 3 from an earlier run)" in again.stdout
    assert read_jsonl(out) == verdicts
