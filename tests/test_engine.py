"""The engine with the scripted backend: scores, failures as values, batching, truncation."""

import asyncio
import math

import pytest

from judge import Judge, JudgeItem
from judge.backends.base import YesNoScore
from judge.backends.fake import FakeBackend
from rubrics import Criterion, Rubric


def criterion_of(question):
    return question.messages[-1]["content"].split("Criterion: ")[1].split("\n")[0]


def test_all_yes_and_all_no(rubric):
    yes = Judge(FakeBackend(1.0)).evaluate("Q?", "The answer is 4.", rubric)
    assert yes.status == "scored" and yes.score == pytest.approx((3 + 1 - 2) / 4) and yes.hard_score == yes.score
    assert [r.met for r in yes.results] == [True, True, True]
    no = Judge(FakeBackend(0.0)).evaluate("Q?", "The answer is 4.", rubric)
    assert no.score == 0.0 and [r.met for r in no.results] == [False, False, False]
    assert yes.template_version.startswith("entailment@") and yes.model == "fake:scripted"


def test_soft_and_hard_scores_differ_by_threshold(rubric):
    scripted = {"The answer is correct.": 0.7, "The answer explains its reasoning.": 0.4, "The answer is rude.": 0.1}
    verdict = Judge(FakeBackend(lambda q: scripted[criterion_of(q)]), threshold=0.6).evaluate("Q", "A", rubric)
    assert verdict.score == pytest.approx((3 * 0.7 + 0.4 - 2 * 0.1) / 4)
    assert verdict.hard_score == pytest.approx(3 / 4)


def test_one_unscorable_criterion_is_unscored_not_zero(rubric):
    backend = FakeBackend(lambda q: None if "explains" in criterion_of(q) else 1.0)
    verdict = Judge(backend).evaluate("Q", "A", rubric)
    explains = verdict.results[1]
    assert explains.status == "unscored" and explains.p_yes is None and explains.met is None
    assert explains.reason == "scripted: no answer"
    assert verdict.n_unscored == 1 and verdict.score == pytest.approx((3 - 2) / 3)


@pytest.mark.parametrize("bad", [math.nan, 1.5, -0.1])
def test_invalid_probabilities_are_unscored(rubric, bad):
    verdict = Judge(FakeBackend(bad)).evaluate("Q", "A", rubric)
    assert verdict.status == "unscored" and all("invalid P(yes)" in r.reason for r in verdict.results)


class Exploding(FakeBackend):
    async def p_yes(self, questions):
        raise ConnectionError("server went away")


class Miscounting(FakeBackend):
    async def p_yes(self, questions):
        return [YesNoScore(1.0)]


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (Exploding(), "backend error: ConnectionError: server went away"),
        (Miscounting(), "returned 1 scores for 3 questions"),
    ],
)
def test_backend_failures_make_items_unscored(rubric, backend, reason):
    verdict = Judge(backend).evaluate("Q", "A", rubric)
    assert verdict.status == "unscored" and verdict.score is None and verdict.hard_score is None
    assert verdict.reason == "no positive-weight criterion was scored"
    assert all(r.status == "unscored" and reason in r.reason for r in verdict.results)


@pytest.mark.parametrize("response", ["", "   \n\t", "...", " ? !! --- ", "**", "$$ $$"])
def test_content_free_responses_fail_every_criterion_without_the_judge(rubric, response):
    backend = FakeBackend(1.0)
    verdict = Judge(backend).evaluate("Q", response, rubric)
    assert backend.calls == []
    assert all(
        r.status == "scored" and r.met is False and r.reason.startswith("decided without the judge")
        for r in verdict.results
    )
    assert verdict.score == 0.0


def test_guard_can_be_turned_off(rubric):
    backend = FakeBackend(1.0)
    assert Judge(backend, guard=False).evaluate("Q", "...", rubric).score > 0 and backend.calls


def test_filtered_criteria_are_skipped(rubric):
    backend = FakeBackend(1.0)
    verdict = Judge(backend, include=lambda c: c.weight > 0).evaluate("Q", "A", rubric)
    assert [r.status for r in verdict.results] == ["scored", "scored", "skipped"]
    assert verdict.n_skipped == 1 and len(backend.calls) == 2 and verdict.score == 1.0


def test_hard_rule_gate_in_a_verdict():
    rubric = Rubric(
        id="g",
        criteria=[Criterion(id="rule", text="Uses JSON.", kind="hard_rule"), Criterion(id="x", text="Good.", weight=9)],
    )
    backend = FakeBackend(lambda q: 0.2 if "JSON" in criterion_of(q) else 1.0)
    assert Judge(backend).evaluate("Q", "A", rubric).score == 0.0
    assert Judge(backend).evaluate("Q", "A", rubric).gate == "failed"
    assert Judge(backend, gate=False).evaluate("Q", "A", rubric).score == pytest.approx((0.2 + 9) / 10)


def test_questions_of_one_response_share_group_and_prefix(rubric):
    backend = FakeBackend(1.0)
    Judge(backend).evaluate("Q", "A long answer.", rubric, item_id="x")
    assert {q.group for q in backend.calls} == {"x"}
    users = [q.messages[-1]["content"] for q in backend.calls]
    prefix = users[0][: users[0].index("Criterion:")]
    assert all(u.startswith(prefix) for u in users)


def test_many_items_are_batched_and_all_judged_once(rubric):
    backend = FakeBackend(0.9)
    items = [JudgeItem(f"i{n}", "Q", f"answer {n}", rubric) for n in range(25)]
    batch_sizes = []
    original = backend.p_yes

    async def recording(questions):
        batch_sizes.append(len(questions))
        return await original(questions)

    backend.p_yes = recording
    verdicts = Judge(backend, batch_size=7, concurrency=3).evaluate_many(items)
    assert sorted(v.item_id for v in verdicts) == sorted(i.id for i in items)
    assert sum(batch_sizes) == 75 and max(batch_sizes) == 9  # 3 items of 3 criteria reach 7


class Counting(FakeBackend):
    """A fake with a small context, counting 1 token per 4 characters."""

    context_window = 400

    def count_tokens(self, messages):
        return sum(len(m["content"]) for m in messages) // 4


def test_long_responses_are_cut_from_the_middle_with_a_note(rubric):
    backend = Counting(1.0)
    response = "HEAD " + "filler words " * 400 + " TAIL"
    verdict = Judge(backend, view=False).evaluate("Q", response, rubric)
    assert verdict.status == "scored" and "truncated from the middle" in verdict.notes[0]
    for question in backend.calls:
        assert backend.count_tokens(question.messages) <= 400
        content = question.messages[-1]["content"]
        assert "HEAD" in content and "TAIL" in content and "characters removed here" in content


def test_prompt_too_long_for_any_response_is_unscored(rubric):
    verdict = Judge(Counting(1.0)).evaluate("Q" * 2000, "Short answer.", rubric)
    assert verdict.status == "unscored"
    assert all("more than the model context" in r.reason for r in verdict.results)


def test_sync_api_works_inside_a_running_event_loop(rubric):
    """A notebook's kernel runs an event loop: the sync API runs on a loop of its own."""
    judge = Judge(FakeBackend(1.0))

    async def inside():
        verdict = judge.evaluate("Q", "A", rubric)
        many = judge.evaluate_many([JudgeItem(str(i), "Q", "A", rubric) for i in range(3)])
        return verdict, many, await judge.aevaluate("Q", "A", rubric)

    verdict, many, awaited = asyncio.run(inside())
    assert verdict.score == awaited.score == pytest.approx(0.5)
    assert sorted(v.item_id for v in many) == ["0", "1", "2"]


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="threshold"):
        Judge(FakeBackend(1.0), threshold=1.5)


# -- the generated request shape ------------------------------------------------------------------
def test_the_generated_shape_asks_each_criterion_for_reasoning_then_a_decision(rubric):
    backend = FakeBackend(lambda q: 0.9 if "correct" in q.messages[-1]["content"] else 0.2)
    verdict = Judge(backend, request_shape="generated", guard=False).evaluate("Q", "An answer.", rubric)
    assert verdict.request_shape == "generated" and verdict.n_unscored == 0
    by_id = {r.criterion_id: r for r in verdict.results}
    assert by_id["correct"].p_yes == 1.0 and by_id["explains"].p_yes == 0.0  # a decision, not a probability
    assert by_id["correct"].explanation == "scripted: P(yes) 0.90"  # the reasoning becomes the explanation
    assert not backend.calls  # no yes/no question was asked


def test_a_generated_verdict_that_fails_is_unscored_with_the_reason(rubric):
    backend = FakeBackend(lambda q: None if "rude" in q.messages[-1]["content"] else 0.9)
    verdict = Judge(backend, request_shape="generated", guard=False).evaluate("Q", "An answer.", rubric)
    rude = next(r for r in verdict.results if r.criterion_id == "rude")
    assert rude.status == "unscored" and rude.reason.startswith("generated verdict failed: GenerationError")
    assert verdict.n_unscored == 1 and verdict.score is not None


def test_a_local_model_always_returns_a_readable_generated_verdict(tiny_backend, rubric):
    verdict = Judge(tiny_backend, request_shape="generated", guard=False).evaluate("What is 2+2?", "4", rubric)
    assert verdict.n_unscored == 0  # a random model, yet every verdict parses: the grammar
    assert all(r.p_yes in (0.0, 1.0) and r.explanation for r in verdict.results)
