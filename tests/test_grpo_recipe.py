"""The GRPO recipe (examples/grpo/) end to end on a tiny random policy: prompts, rubrics from
`rubric generate --method constraints`, two training steps in each arm, a held-out evaluation."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "examples" / "grpo"
IFEVAL_ROWS = [  # IFEval's layout, written here: the test needs no third-party data
    {
        "key": 1,
        "prompt": "Write a riddle about a kettle. Your entire response should be in lowercase letters.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
    },
    {
        "key": 2,
        "prompt": "Describe a volcano without using any commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        "key": 3,
        "prompt": "Write an essay of at least 500 words about trains.",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"relation": "at least", "num_words": 500}],
    },
]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"grpo_{name}", RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_llama, smollm2_tokenizer, rubric_exe):
    pytest.importorskip("trl")
    folder = tmp_path_factory.mktemp("grpo")
    (folder / "ifeval").mkdir()
    (folder / "ifeval" / "input_data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in IFEVAL_ROWS))
    subprocess.run(
        [
            sys.executable,
            str(RECIPE / "make_prompts.py"),
            "--ifeval",
            str(folder / "ifeval"),
            "--out",
            str(folder),
            "--train",
            "8",
        ],
        check=True,
    )
    for name in ("train", "heldout"):
        subprocess.run(
            [
                rubric_exe,
                "generate",
                "--method",
                "constraints",
                "--extract-only",
                "--input",
                str(folder / f"{name}.jsonl"),
                "--output",
                str(folder / f"{name}.rubrics.jsonl"),
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
    policy = folder / "policy"
    tiny_llama.save_pretrained(policy)
    smollm2_tokenizer.save_pretrained(policy)
    return folder, policy


def test_the_prompt_sets(recipe):
    folder, _ = recipe
    train = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    held_out = [json.loads(line)["id"] for line in (folder / "heldout.jsonl").read_text().splitlines()]
    assert len(train) == 8 and held_out == ["ifeval-1", "ifeval-2"]  # 500 words cannot be met in a short answer
    rubrics = [json.loads(line) for line in (folder / "train.rubrics.jsonl").read_text().splitlines()]
    for rubric in rubrics:  # every training constraint is checked in code; the task criterion is for a judge
        task, *constraints = rubric["criteria"]
        assert task["id"] == "task" and "check" not in task and all("check" in c for c in constraints)


def train_argv(folder: Path, policy: Path, out: Path, arm: str) -> list[str]:
    return [
        "--prompts",
        str(folder / "train.jsonl"),
        "--rubrics",
        str(folder / "train.rubrics.jsonl"),
        "--out",
        str(out),
        "--arm",
        arm,
        "--policy",
        str(policy),
        "--steps",
        "2",
        "--save-every",
        "1",
        "--max-length",
        "8",
    ]


def completions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("arm", ["verifiable", "task-gated", "judged"])
def test_two_steps_in_each_arm_then_a_held_out_evaluation(recipe, arm, tmp_path):
    folder, policy = recipe
    out = tmp_path / arm
    argv = train_argv(folder, policy, out, arm)
    if arm != "verifiable":
        argv += ["--judge", f"local:{policy}"]
    load("train").main(argv)
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    assert all(0.0 <= s["rewards/rubric_reward/mean"] <= 1.0 and "guard_flagged" in s for s in steps)
    assert all({"markdown_share", "filler_mean", "repeated_mean", "words_mean"} <= s.keys() for s in steps)
    rows = completions(out)  # 2 prompts x 4 completions a step, each with its reward, truth and features
    assert [r["step"] for r in rows] == [1] * 8 + [2] * 8
    assert all({"completion", "reward", "truth", "markdown", "filler", "repeated", "words"} <= r.keys() for r in rows)
    if arm == "verifiable":  # the task criterion is skipped, never judged by the stand-in: the reward is the truth
        assert all(r["reward"] == r["truth"] for r in rows)
    run = json.loads((out / "run.json").read_text())
    assert run["lr_scheduler"] == "constant" and run["beta"] > 0 and run["generations"] == 8
    assert {s["learning_rate"] for s in steps} == {run["learning_rate"]}  # constant: the same rate at every step
    if arm == "task-gated":  # the task criterion's pass rate is a monitored sign of every step
        assert all("rubric_reward/monitor/task_pass" in s for s in steps)
    for step in (1, 2):
        logged = next(s["rewards/rubric_reward/mean"] for s in steps if s["step"] == step)
        assert logged == pytest.approx(sum(r["reward"] for r in rows if r["step"] == step) / 8)
    if arm == "judged":
        assert all("rewards/truth/mean" in s for s in steps)  # the code-checked truth, on the same completions
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    summary = load("evaluate").evaluate(
        str(out / "final"), folder / "heldout.jsonl", folder / "heldout.rubrics.jsonl", tmp_path / "eval", 8
    )
    assert summary["n"] == 2 and 0.0 <= summary["pass_rate"] <= 1.0


def test_the_judged_arm_applies_a_calibration_of_its_judge(recipe, tmp_path):
    """--calibration: every criterion the judge decides reads through the map (here a flat
    one, 0.25 whatever the judge said), and the run description names the file."""
    from judge.calibration import Calibration, Map

    folder, policy = recipe
    flat = Calibration(model=f"local:{policy}", global_map=Map(kind="platt", a=0.0, b=math.log(0.25 / 0.75)))
    (tmp_path / "cal.json").write_text(flat.model_dump_json())
    out = tmp_path / "calibrated"
    argv = train_argv(folder, policy, out, "judged") + ["--judge", f"local:{policy}"]
    load("train").main(argv + ["--calibration", str(tmp_path / "cal.json")])
    rows = completions(out)
    judged = [r["reward"] for r in rows if not r["guard_flagged"]]
    assert judged and all(reward == pytest.approx(0.25) for reward in judged)
    assert json.loads((out / "run.json").read_text())["calibration"] == str(tmp_path / "cal.json")


def test_the_reward_through_rubric_serve_trains_exactly_as_in_process(recipe, tmp_path):
    """--reward-server: the same seed and the same rewards (checked in code, on the server)
    give the same completions step for step; the server judged each step's batch in one call."""
    from judge import Judge
    from judge.backends.fake import FakeBackend
    from judge.rl import RewardScorer
    from tests.serving import RunningServer

    folder, policy = recipe
    load("train").main(train_argv(folder, policy, tmp_path / "local", "verifiable"))
    # the server started as the verifiable arm judges: --model fake:no --only-tags checked-in-code
    scorer = RewardScorer(Judge(FakeBackend(0.0), batch_size=256, only_tags=frozenset({"checked-in-code"})))
    with RunningServer(scorer) as running:
        load("train").main(
            train_argv(folder, policy, tmp_path / "served", "verifiable") + ["--reward-server", running.url]
        )
        metrics = running.metrics()
    local, served = completions(tmp_path / "local"), completions(tmp_path / "served")
    assert [(r["completion"], r["reward"]) for r in served] == [(r["completion"], r["reward"]) for r in local]
    assert metrics["requests"] == {"score": 2} and metrics["engine_calls"] == 2 and metrics["items"] == 16


def test_the_evaluation_counts_only_what_code_checked(tmp_path, rubric_exe):
    """Before: the criteria the extractor left to a model were judged by the stand-in judge
    (fake:no), so they failed and 21 of 119 held-out prompts could never pass."""
    rubric = {
        "id": "constraints-p1",
        "criteria": [
            {"id": "task", "text": "It answers the request.", "kind": "hard_rule", "weight": 4, "tags": ["task"]},
            {"id": "c", "text": "No commas.", "check": {"type": "punctuation:no_comma"}, "tags": ["checked-in-code"]},
            {"id": "stated-1", "text": "It sounds cheerful.", "tags": ["unparsed"]},
        ],
    }
    (tmp_path / "rubrics.jsonl").write_text(json.dumps(rubric) + "\n")
    (tmp_path / "answers.jsonl").write_text(
        json.dumps(
            {"id": "p1", "prompt": "Say hi without commas.", "response": "Hi there", "rubric_id": "constraints-p1"}
        )
        + "\n"
    )
    summary = load("evaluate").score_answers(tmp_path, tmp_path / "rubrics.jsonl")
    assert summary == {"n": 1, "pass_rate": 1.0, "mean_reward": 1.0}
