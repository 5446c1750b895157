"""Juries: each criterion judged by every model, aggregated; agreement measured; the jury
wherever a judge goes (CLI, eval, rewards)."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from judge.backends.base import YesNoScore
from judge.backends.fake import FakeBackend
from judge.build import JudgeOptions, build_judge
from judge.engine import Judge
from judge.eval import preference
from judge.jury import Jury, aggregate, jury_agreement
from judge.jury.agreement import alpha
from judge.rl.scorer import RewardRequest, build_scorer
from rubrics.model import Rubric
from rubrics.pairs import LabelledPair
from tests.conftest import ROOT


def jury_of(backends, method="mean", **options):
    """A jury of one judge per backend, as every door builds it (judge.build.build_judge)."""
    return build_judge(JudgeOptions(jury=method, **options), backends)


RUBRIC = Rubric.model_validate(
    {
        "id": "r",
        "criteria": [
            {"id": "correct", "text": "The answer states the correct capital city."},
            {"id": "brief", "text": "The answer is one short sentence."},
        ],
    }
)


def by_criterion(values):
    """A scripted judge: P(yes) by the criterion named in the question."""

    def script(question):
        text = question.messages[-1]["content"]
        return next(v for key, v in values.items() if key in text)

    return script


def backend(label, values):
    return FakeBackend(by_criterion(values), label=label)


@pytest.mark.parametrize(
    "method, p_values, decisions, expected",
    [
        ("mean", [0.9, 0.2, 0.7], [True, False, True], (0.6, True)),
        ("median", [0.9, 0.2, 0.7], [True, False, True], (0.7, True)),
        ("min", [0.9, 0.2, 0.7], [True, False, True], (0.2, False)),
        ("majority", [0.9, 0.2, 0.7], [True, False, True], (2 / 3, True)),
        ("majority", [0.9, 0.2], [True, False], (0.5, True)),  # a tie goes by the mean, 0.55
        ("majority", [0.6, 0.1], [True, False], (0.5, False)),  # mean 0.35
    ],
)
def test_each_aggregate(method, p_values, decisions, expected):
    p_yes, met = aggregate(p_values, decisions, method, 0.5)
    assert p_yes == pytest.approx(expected[0]) and met is expected[1]


def test_a_jury_keeps_every_judges_p_yes_and_marks_disputed_criteria():
    strict = backend("strict", {"capital city": 0.9, "short sentence": 0.1})
    lenient = backend("lenient", {"capital city": 0.8, "short sentence": 0.7})
    jury = jury_of([strict, lenient], "mean")
    verdict = jury.evaluate("Capital of France?", "Paris is the capital of France.", RUBRIC)
    correct, brief = verdict.results
    assert correct.p_yes == pytest.approx(0.85) and correct.met and correct.disputed is False
    assert correct.jury == {"fake:strict": 0.9, "fake:lenient": 0.8}
    assert brief.p_yes == pytest.approx(0.4) and not brief.met and brief.disputed is True
    assert verdict.jury == {"fake:strict": pytest.approx(0.5), "fake:lenient": pytest.approx(0.75)}
    assert verdict.score == pytest.approx(0.625) and verdict.model == "jury-mean[fake:strict, fake:lenient]"
    # each judge asked every criterion once, with its own backend
    assert len(strict.calls) == len(lenient.calls) == 2


def test_a_judge_that_fails_leaves_the_criterion_to_the_others_and_none_left_is_unscored():
    def broken_on_brief(question):
        if "short sentence" in question.messages[-1]["content"]:
            return YesNoScore(None, reason="server said 500")
        return 0.9

    good = backend("good", {"capital city": 0.7, "short sentence": 0.3})
    jury = jury_of([good, FakeBackend(broken_on_brief, label="flaky")], "mean")
    correct, brief = jury.evaluate("q", "Paris is the capital.", RUBRIC).results
    assert correct.p_yes == pytest.approx(0.8) and correct.jury == {"fake:good": 0.7, "fake:flaky": 0.9}
    assert (
        brief.status == "scored"
        and brief.p_yes == pytest.approx(0.3)
        and brief.jury == {"fake:good": 0.3, "fake:flaky": None}
    )
    assert brief.notes[0] == "fake:flaky could not score it: server said 500"
    nobody = jury_of([FakeBackend(None, label="a"), FakeBackend(None, label="b")])
    verdict = nobody.evaluate("q", "Paris is the capital.", RUBRIC)
    assert verdict.status == "unscored" and all(r.status == "unscored" for r in verdict.results)
    assert verdict.results[0].reason.startswith("no judge of the jury could score it: fake:a could not score it")


def test_criteria_decided_in_code_are_not_put_to_the_jury():
    a, b = FakeBackend(1.0, label="a"), FakeBackend(0.0, label="b")
    verdict = jury_of([a, b]).evaluate("Capital of France?", "Sure! Here is my answer:", RUBRIC)
    assert not a.calls and not b.calls
    assert all(
        r.p_yes == 0.0 and r.jury is None and r.reason.startswith("decided without the judge") for r in verdict.results
    )
    assert jury_agreement([verdict.model_dump()])["overall"]["units"] == 0


def test_a_jury_refuses_mixed_settings_repeated_models_and_unknown_methods():
    with pytest.raises(ValueError, match="differs in threshold"):
        Jury([Judge(FakeBackend(label="a")), Judge(FakeBackend(label="b"), threshold=0.7)])
    with pytest.raises(ValueError, match="names fake:a twice"):
        jury_of([FakeBackend(label="a"), FakeBackend(label="a")])
    with pytest.raises(ValueError, match="at least two"):
        Jury([Judge(FakeBackend(label="a"))])
    with pytest.raises(ValueError, match="one of mean, median, majority, min"):
        jury_of([FakeBackend(label="a"), FakeBackend(label="b")], "vote")  # type: ignore[arg-type]


def test_agreement_figures_by_hand():
    # two judges, four criterion judgements: alike on 3 of the 3 both scored; one missing
    verdicts = [
        {
            "item_id": "i1",
            "threshold": 0.5,
            "jury": {"a": 0.9, "b": 0.8},
            "rubric_id": "r",
            "results": [
                {"criterion_id": "x", "jury": {"a": 0.9, "b": 0.8}, "disputed": False},
                {"criterion_id": "y", "jury": {"a": 0.1, "b": 0.2}, "disputed": False},
            ],
        },
        {
            "item_id": "i2",
            "threshold": 0.5,
            "jury": {"a": 0.3, "b": None},
            "rubric_id": "r",
            "results": [
                {"criterion_id": "x", "jury": {"a": 0.9, "b": None}, "disputed": False},
                {"criterion_id": "y", "jury": {"a": 0.2, "b": 0.3}, "disputed": False},
            ],
        },
    ]
    figures = jury_agreement(verdicts)
    assert figures["judges"] == ["a", "b"]
    assert figures["overall"] == {"units": 4, "agreement": 1.0, "disputed": 0, "alpha": pytest.approx(1.0)}
    assert figures["criteria"]["r/x"]["alpha"] is None  # one value only: alpha is undefined
    # perfect disagreement on two units: alpha below zero; a unit with one judgement does not pair
    assert alpha({(1, 1): 2}) == pytest.approx(-0.5) and alpha({(1, 0): 1, (0, 1): 1}) is None


def test_alpha_from_counted_units_is_krippendorffs():
    krippendorff = pytest.importorskip("krippendorff")
    import random

    from judge.jury.agreement import Units

    rng = random.Random(3)
    for _ in range(20):
        judges = rng.randint(2, 4)
        rows = [
            [rng.choice([True, False, None]) if rng.random() < 0.3 else rng.random() < 0.7 for _ in range(judges)]
            for _ in range(40)
        ]
        units = Units()
        for row in rows:
            units.add(row)
        coders = [[float("nan") if row[k] is None else float(row[k]) for row in rows] for k in range(judges)]
        assert units.figures()["alpha"] == pytest.approx(
            krippendorff.alpha(reliability_data=coders, level_of_measurement="nominal")
        )


def test_each_judge_alone_is_measured_on_the_jurys_pairs():
    rubric = Rubric.from_principles(["The response is good."], "r")
    pairs = [LabelledPair(str(i), "q", f"answer {i} long", f"answer {i}", "A", "s") for i in range(4)]
    longer = FakeBackend(lambda q: 0.9 if "long" in q.messages[-1]["content"] else 0.1, label="longer")
    shorter = FakeBackend(lambda q: 0.2 if "long" in q.messages[-1]["content"] else 0.4, label="shorter")

    async def collect():
        return [
            r
            async for r in preference.judge_pairs(
                "pointwise", pairs, judge=jury_of([longer, shorter], guard=False), rubric=rubric
            )
        ]

    summary = preference.summarise(asyncio.run(collect()))
    assert summary["accuracy"]["value"] == 1.0  # mean 0.55 vs 0.25
    alone = summary["judges"]
    assert alone["fake:longer"]["accuracy"]["value"] == 1.0 and alone["fake:shorter"]["accuracy"]["value"] == 0.0
    assert (
        alone["fake:shorter"]["jury_minus_judge"]["value"] == 1.0
        and alone["fake:longer"]["jury_minus_judge"]["value"] == 0.0
    )
    assert "fake:shorter alone: accuracy 0.000" in preference.format_table({"by_source": {}, "overall": summary})


def test_rewards_from_a_list_of_models_are_a_jurys():
    scorer = build_scorer(["fake:yes", "fake:no"], rubric=RUBRIC, jury="min")
    (reward,) = scorer.score([RewardRequest(prompt="Capital of France?", response="Paris is the capital of France.")])
    assert reward.value == 0.0 and reward.verdict.jury == {"fake:yes": 1.0, "fake:no": 0.0}


def test_rubric_judge_with_two_models_resumes_and_refuses_another_method(rubric_exe, tmp_path):
    output = tmp_path / "v.jsonl"
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
        "fake:yes",
        "--model",
        "fake:random:3",
        "--no-cache",
    ]
    first = subprocess.run(command + ["--jury", "majority"], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "jury of 2: fake:yes, fake:random:3" in first.stdout and "most disputed items" in first.stdout
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 8 and all(set(v["jury"]) == {"fake:yes", "fake:random:3"} for v in lines)
    scored = [r for v in lines for r in v["results"] if r["jury"]]
    assert scored and all(r["disputed"] == (r["jury"]["fake:random:3"] < 0.5) for r in scored)
    again = subprocess.run(command + ["--jury", "majority"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "(0 judged now, 8 from an earlier run)" in again.stdout
    other = subprocess.run(command + ["--jury", "min"], capture_output=True, text=True, timeout=120)
    assert other.returncode == 2 and "jury" in other.stderr
    ambiguous = subprocess.run(command + ["--base-url", "http://x/v1"], capture_output=True, text=True, timeout=120)
    assert ambiguous.returncode == 2 and "--base-url is ambiguous with several --model" in ambiguous.stderr


def test_the_report_shows_the_jurys_agreement(rubric_exe, tmp_path):
    pytest.importorskip("matplotlib")
    from judge.eval.report import build_report

    output = tmp_path / "v.jsonl"
    subprocess.run(
        [
            rubric_exe,
            "judge",
            "--rubric",
            "helpfulness",
            "--input",
            str(ROOT / "examples/sample_responses.jsonl"),
            "--quiet",
            "--output",
            str(output),
            "--model",
            "fake:random:1",
            "--model",
            "fake:random:2",
            "--no-cache",
        ],
        check=True,
        timeout=120,
    )
    html = build_report(output)
    assert "<h2>Jury agreement</h2>" in html and 'id="jury-alpha"' in html and "<th>fake:random:2</th>" in html


def test_rubric_eval_pointwise_with_a_jury_reports_each_judge(rubric_exe, tmp_path):
    pytest.importorskip("matplotlib")
    from judge.eval.report import build_report

    pairs = tmp_path / "pairs.json"
    pairs.write_text(
        json.dumps(
            [
                {
                    "input": f"Question {n}?",
                    "output_1": f"A careful answer {n}.",
                    "output_2": f"Answer {n}.",
                    "label": 1,
                }
                for n in range(6)
            ]
        )
    )
    output = tmp_path / "eval.json"
    command = [
        rubric_exe,
        "eval",
        "--benchmark",
        str(pairs),
        "--mode",
        "pointwise",
        "--model",
        "fake:random:1",
        "--model",
        "fake:random:2",
        "--jury",
        "median",
        "--output",
        str(output),
        "--no-cache",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "fake:random:1 alone: accuracy" in done.stdout and "jury minus this judge" in done.stdout
    results = json.loads(output.read_text())
    alone = results["benchmarks"][str(pairs)]["overall"]["judges"]
    assert set(alone) == {"fake:random:1", "fake:random:2"} and all(a["accuracy"]["n"] == 6 for a in alone.values())
    assert 'id="judges-alone"' in build_report(output)
    pairwise = subprocess.run(
        command[:4] + ["--mode", "pairwise"] + command[6:], capture_output=True, text=True, timeout=120
    )
    assert pairwise.returncode == 2 and "a jury judges each response on its own" in pairwise.stderr


def test_a_reward_server_with_a_jury_scores_and_counts_every_judges_cache(tmp_path):
    pytest.importorskip("uvicorn")
    import httpx

    from judge.cache import CachedBackend
    from tests.serving import RunningServer

    backends = [
        CachedBackend(FakeBackend(0.9, label="a"), tmp_path / "a"),
        CachedBackend(FakeBackend(0.1, label="b"), tmp_path / "b"),
    ]
    scorer = build_scorer(jury_of(backends, "mean"), rubric=["The answer is correct.", "The answer is polite."])
    with RunningServer(scorer) as running:
        answer = httpx.post(
            running.url + "/score", json={"prompt": "Say hi", "response": "Hello there, friend!"}
        ).json()
        assert answer["status"] == "scored" and answer["reward"] == pytest.approx(0.5)
        httpx.post(running.url + "/score", json={"prompt": "Say hi", "response": "Hello there, friend!"})
        cache = running.metrics()["cache"]
        assert (cache["hits"], cache["misses"]) == (
            4,
            4,
        )  # two criteria x two judges, asked, then served from each cache
