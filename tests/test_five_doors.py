"""The same item, rubric and judging flags give the same score through every door: `rubric
judge`, the Python API, the TRL reward, verl's compute_score and `rubric serve` (issue 30:
one ``build_judge`` behind them all)."""

import json
import re
import subprocess
import urllib.request

import pytest

from judge.build import JudgeOptions, build_judge
from judge.models import ModelOptions, open_backends
from judge.rl.trl_reward import rubric_reward
from judge.rl.verl_reward import compute_score
from rubrics.model import Rubric

MODEL = "fake:random:11"
PROMPT = "A train leaves at 3 pm and travels 120 km at 60 km/h. When does it arrive?"
RESPONSES = [
    "It arrives at 5 pm: 120 km at 60 km/h takes two hours.",
    "Around five, I think.",
    "<think>120/60 = 2 hours</think>It arrives at 5 pm.",
    "The train is blue.",
]
RUBRIC = {
    "id": "arrival",
    "criteria": [
        {
            "id": "answer",
            "text": "The response says the train arrives at 5 pm.",
            "kind": "hard_rule",
            "weight": 3,
            "tags": ["core"],
        },
        {"id": "working", "text": "The response shows how the time was worked out.", "weight": 2, "tags": ["core"]},
        {"id": "tone", "text": "The response is polite.", "weight": 1, "tags": ["style"]},
        {"id": "guess", "text": "The response hedges with words such as 'I think'.", "weight": -1, "tags": ["core"]},
    ],
}
# Non-default judging options everywhere, as flags and as the options object; --no-gate keeps the
# reward (the reward gate is off by default) equal to the verdict's score.
FLAGS = ["--threshold", "0.4", "--no-gate", "--reasoning", "include", "--only-tags", "core", "--batch-size", "3"]
OPTIONS = JudgeOptions(threshold=0.4, gate=False, reasoning="include", only_tags="core", batch_size=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("doors")
    (folder / "rubric.json").write_text(json.dumps(RUBRIC))
    rows = [{"id": f"r{i}", "prompt": PROMPT, "response": r} for i, r in enumerate(RESPONSES)]
    (folder / "in.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def cli_scores(rubric_exe, files, flags=FLAGS) -> list[float]:
    output = files / "out.jsonl"
    done = subprocess.run(
        [
            rubric_exe,
            "judge",
            "--model",
            MODEL,
            "--no-cache",
            "--rubric",
            str(files / "rubric.json"),
            "--input",
            str(files / "in.jsonl"),
            "--output",
            str(output),
            "--overwrite",
            "--quiet",
            *flags,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    verdicts = {v["id"]: v["score"] for v in map(json.loads, output.read_text().splitlines())}
    return [verdicts[f"r{i}"] for i in range(len(RESPONSES))]


def python_scores(options=OPTIONS) -> list[float]:
    judge = build_judge(options, open_backends(ModelOptions(model=MODEL, cache=False)))
    return [judge.evaluate(PROMPT, r, Rubric.model_validate(RUBRIC)).score for r in RESPONSES]


def trl_scores(options=OPTIONS) -> list[float]:
    reward = rubric_reward(MODEL, rubric=RUBRIC, judge_options=options)
    return reward([PROMPT] * len(RESPONSES), RESPONSES)


VERL_OPTIONS = {"threshold": 0.4, "gate": False, "reasoning": "include", "only_tags": ["core"], "batch_size": 3}


def verl_scores(options=VERL_OPTIONS) -> list[float]:
    settings = {"model": MODEL, "options": options}
    info = {"prompt": PROMPT, "rubric": RUBRIC, "rubric_judge": settings}
    return [compute_score("parity", r, None, info)["score"] for r in RESPONSES]


def serve_scores(rubric_exe, files, flags=FLAGS) -> tuple[list[float], list[float]]:
    server = subprocess.Popen(
        [
            rubric_exe,
            "serve",
            "--model",
            MODEL,
            "--no-cache",
            "--rubric",
            str(files / "rubric.json"),
            "--port",
            "0",
            *flags,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:
            if found := re.search(r"listening on (http://\S+)", line):
                break
        else:
            pytest.fail("rubric serve did not start")
        body = json.dumps({"items": [{"prompt": PROMPT, "response": r} for r in RESPONSES]}).encode()
        request = urllib.request.Request(found.group(1) + "/score", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            results = json.load(answer)["results"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [r["reward"] for r in results], [r["score"] for r in results]


def test_the_same_item_rubric_and_flags_give_the_same_score_through_every_door(rubric_exe, files):
    cli = cli_scores(rubric_exe, files)
    served_rewards, served_scores = serve_scores(rubric_exe, files)
    doors = {
        "rubric judge": cli,
        "Python API": python_scores(),
        "TRL reward": trl_scores(),
        "verl compute_score": verl_scores(),
        "rubric serve (reward)": served_rewards,
        "rubric serve (score)": served_scores,
    }
    assert len(set(cli)) > 1  # the responses score differently, so agreement is not chance
    for door, scores in doors.items():
        assert scores == pytest.approx(cli, abs=1e-9), door


def test_with_default_flags_every_door_agrees_too(rubric_exe, files):
    """No flags: the verdict's score keeps the gate through every door, and the reward (its gate
    off by default) is the same reward through every door. Before, `rubric serve` and `rubric
    judge` shared one argparse destination for two gates, and serve's verdicts went ungated."""
    cli = cli_scores(rubric_exe, files, flags=[])
    served_rewards, served_scores = serve_scores(rubric_exe, files, flags=[])
    assert served_scores == pytest.approx(cli, abs=1e-9)
    assert python_scores(JudgeOptions()) == pytest.approx(cli, abs=1e-9)
    rewards = trl_scores(JudgeOptions())
    assert served_rewards == pytest.approx(rewards, abs=1e-9)
    assert [row for row in verl_scores({})] == pytest.approx(rewards, abs=1e-9)
    assert rewards != pytest.approx(cli), "a hard rule fails somewhere, so the reward gate's default shows"


def test_the_options_change_the_score(files):
    """Parity above is not parity of defaults: these options move the score of the same judge."""
    default = build_judge(JudgeOptions(), open_backends(ModelOptions(model=MODEL, cache=False)))
    assert [default.evaluate(PROMPT, r, Rubric.model_validate(RUBRIC)).score for r in RESPONSES] != pytest.approx(
        python_scores()
    )


def test_a_new_judging_option_reaches_every_door_with_no_other_edit():
    """Issue 44: an option is a field of JudgeOptions and nothing else: the CLI's flags come
    from it, the Judge keeps the options as its state, a jury's members share them, a run's
    settings record it once it leaves its default, and the rewards pass it through."""
    import argparse
    from dataclasses import make_dataclass

    import cli
    from judge.backends.fake import FakeBackend
    from judge.flags import option
    from judge.rl.scorer import build_scorer

    Extended = make_dataclass(
        "Extended", [("strictness", int, option(0, "a new judging option"))], bases=(JudgeOptions,), frozen=True
    )
    parser = argparse.ArgumentParser()
    cli.add_options(parser, Extended)
    assert cli.options_of(parser.parse_args(["--strictness", "2"]), Extended).strictness == 2
    with pytest.raises(ValueError, match="destination is taken"):  # a second owner of the same flag is refused
        cli.add_options(parser, Extended)
    options = Extended(strictness=2, threshold=0.4)
    judge = build_judge(options, [FakeBackend(0.9)])
    assert judge.options.strictness == 2 and judge.settings()["strictness"] == 2
    assert "strictness" not in build_judge(Extended(), [FakeBackend(0.9)]).settings()  # earlier runs still resume
    jury = build_judge(options, [FakeBackend(0.9, label="a"), FakeBackend(0.8, label="b")])
    assert all(member.options.strictness == 2 for member in jury.judges)
    assert build_scorer(FakeBackend(0.9), judge_options=options).judge.options.strictness == 2
