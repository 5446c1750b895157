"""Rubric rewards for trainers: shaping, rubric resolution, the scorer, TRL and verl adapters."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re

import httpx
import pytest

from judge.backends.fake import FakeBackend
from judge.engine import Judge
from judge.rl.config import ServerConfig
from judge.rl import RewardRequest, RewardScorer, RubricError, Shaping, rubric_reward
from judge.rubric_lookup import RubricSource
from judge.rl.trl_reward import completion_text
from judge.verdict import CriterionResult
from rubrics.model import Criterion, Rubric


def result(criterion_id, p_yes, *, weight=1.0, kind="principle", status="scored"):
    met = None if p_yes is None else p_yes >= 0.5
    return CriterionResult(criterion_id=criterion_id, kind=kind, weight=weight, status=status, p_yes=p_yes, met=met)


# -- shaping ---------------------------------------------------------------------------------
def test_soft_and_hard_weighted_rewards_with_a_pitfall():
    results = [result("a", 0.9, weight=3), result("b", 0.4, weight=1), result("pit", 0.8, weight=-2)]
    assert Shaping().reward(results, "x")[0] == pytest.approx((3 * 0.9 + 0.4 - 2 * 0.8) / 4)
    assert Shaping(score="hard").reward(results, "x")[0] == pytest.approx((3 + 0 - 2) / 4)


def test_gate_caps_a_failed_hard_rule():
    failed = [result("rule", 0.1, kind="hard_rule"), result("a", 1.0, weight=3)]
    assert Shaping().reward(failed, "x")[0] == pytest.approx(0.1 / 4 + 0.75)  # raw: no gate
    assert Shaping(gate=True, gate_cap=0.2).reward(failed, "x")[:2] == (0.2, None)


def test_an_unscored_criterion_never_raises_the_reward():
    """A criterion whose check could not finish counts against the response: dropping it from
    the denominator (as before) paid an answer that times out the check more than a wrong one."""
    wrong = [result("rule", 0.0, kind="hard_rule", weight=5), result("a", 0.2, weight=3)]
    bomb = [result("rule", None, kind="hard_rule", weight=5, status="unscored"), result("a", 0.2, weight=3)]
    for shaping in (Shaping(), Shaping(gate=True), Shaping(score="hard")):
        shaped = shaping.reward(bomb, "x")
        assert shaped.value == shaping.reward(wrong, "x").value
        assert shaped.counted_against == ("rule",) and shaped.reason is None
    assert Shaping().reward(bomb, "x").value == pytest.approx(0.2 * 3 / 8)  # the rule's weight stays in
    value, reason, counted = Shaping(unscored="none").reward(bomb, "x")
    assert value is None and "'rule' could not be scored" in reason and counted == ()
    # a principle decided in code, and a pitfall: each read against the response
    checked = [result("exact", None, status="unscored"), result("b", 1.0)]
    assert Shaping().reward(checked, "x").value == pytest.approx(0.5)
    pitfall = [result("pit", None, weight=-2, status="unscored"), result("b", 1.0, weight=2)]
    assert Shaping().reward(pitfall, "x").value == pytest.approx(0.0)  # (2 - 2) / 2


def test_a_criterion_unscored_for_a_passing_cause_gives_no_reward():
    blip = result("rule", None, kind="hard_rule", status="unscored").model_copy(
        update={"transient": True, "reason": "backend error: ConnectError"}
    )
    value, reason, _ = Shaping().reward([blip, result("a", 1.0)], "x")
    assert value is None and "ConnectError" in reason


def test_length_penalty_is_zero_then_linear_then_flat():
    shaping = Shaping(length_limit=100, length_buffer=50, length_coef=0.4)
    assert shaping.length_penalty("x" * 50) == 0.0
    assert shaping.length_penalty("x" * 75) == pytest.approx(0.2)
    assert shaping.length_penalty("x" * 100) == pytest.approx(0.4)
    assert shaping.length_penalty("x" * 10_000) == pytest.approx(0.4)
    assert shaping.reward([result("a", 1.0)], "x" * 75)[0] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="length_buffer"):
        Shaping(length_limit=10, length_buffer=50)


def test_no_scored_criterion_gives_no_reward():
    value, reason, _ = Shaping().reward([result("a", None, status="unscored")], "x")
    assert value is None and "no positive-weight criterion" in reason


# -- rubric values ---------------------------------------------------------------------------
def test_rubric_values_in_every_accepted_form():
    resolve = RubricSource.from_option("helpfulness").resolve
    assert resolve(None).id == "helpfulness" and resolve("  ").id == "helpfulness"
    assert resolve("harmlessness").id == "harmlessness"  # a library id
    inline = {"id": "mine", "criteria": [{"id": "c", "text": "Is it right?"}]}
    assert resolve(json.dumps(inline)).id == "mine"
    assert resolve(inline).criteria[0].id == "c"
    assert [c.text for c in resolve(["Is short.", "Is kind."]).criteria] == ["Is short.", "Is kind."]
    assert [c.text for c in resolve(json.dumps(["Is short."])).criteria] == ["Is short."]
    numpy = pytest.importorskip("numpy")
    assert len(resolve(numpy.array(["Is short.", "Is kind."])).criteria) == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ("no-such-rubric", "unknown rubric id 'no-such-rubric'"),
        ({"id": "x", "criteria": []}, "invalid rubric at criteria"),
        (42, "must be a rubric object"),
    ],
)
def test_bad_rubric_values_name_the_problem(value, message):
    with pytest.raises(RubricError, match=message):
        RubricSource.from_option("helpfulness").resolve(value)


def test_no_rubric_anywhere_is_an_error():
    with pytest.raises(RubricError, match="names no rubric and no default rubric is set"):
        RubricSource.from_option(None).resolve(None)


# -- scorer ----------------------------------------------------------------------------------
RUBRIC = Rubric(
    id="r", criteria=[Criterion(id="good", text="Is it good?", weight=2), Criterion(id="kind", text="Is it kind?")]
)


def by_criterion(p_good, p_kind):
    return lambda q: p_good if "Is it good?" in q.messages[-1]["content"] else p_kind


def test_scorer_rewards_rows_and_explains_the_ones_it_cannot():
    backend = FakeBackend(lambda q: None if "BROKEN" in q.messages[-1]["content"] else by_criterion(0.8, 0.2)(q))
    scorer = RewardScorer(Judge(backend), rubric=RUBRIC)
    rewards = scorer.score(
        [
            RewardRequest("q", "a fine answer"),
            RewardRequest("q", "   "),  # content-free: decided without the judge, reward 0 with the reason
            RewardRequest("q", "BROKEN answer"),  # the backend gives no score
            RewardRequest("q", "x", rubric="{oops"),
            RewardRequest("q", ["not", "text"]),  # type: ignore[arg-type]
            RewardRequest("q", "another", rubric=["Is it good?"]),
        ]
    )
    assert rewards[0].value == pytest.approx((2 * 0.8 + 0.2) / 3)
    assert rewards[1].value == 0.0 and "decided without the judge" in rewards[1].verdict.results[0].reason
    assert rewards[2].value is None and rewards[2].reason == "no positive-weight criterion was scored"
    assert rewards[2].details()["criteria"][0]["reason"] == "scripted: no answer"
    assert rewards[3].value is None and rewards[3].reason.startswith("rubric: not valid JSON")
    assert rewards[4].value is None and "not text" in rewards[4].reason
    assert rewards[5].value == pytest.approx(0.8)
    details = rewards[0].details()
    assert details["status"] == "scored" and [c["id"] for c in details["criteria"]] == ["good", "kind"]


def test_scorer_judges_the_batch_in_one_engine_call():
    backend = FakeBackend(0.7)
    calls = []
    original = backend.p_yes

    async def counted(questions):
        calls.append(len(questions))
        return await original(questions)

    backend.p_yes = counted  # type: ignore[method-assign]
    RewardScorer(Judge(backend, batch_size=64), rubric=RUBRIC).score(
        [RewardRequest("q", f"answer {i}") for i in range(8)]
    )
    assert calls == [16]  # 8 responses x 2 criteria, one backend call


# -- TRL -------------------------------------------------------------------------------------
def test_completion_text_reads_plain_and_conversational_completions():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "hi"}]) == "hi"
    assert (
        completion_text(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}],
                }
            ]
        )
        == "ab"
    )
    assert completion_text([{"role": "tool", "content": "ignored"}, {"role": "assistant", "content": "kept"}]) == "kept"


def test_trl_reward_function_contract():
    metrics, extra = {}, {}
    reward = rubric_reward(FakeBackend(by_criterion(1.0, 0.0)), rubric=RUBRIC, name="rubric_quality")
    assert reward.__name__ == "rubric_quality"
    values = reward(
        prompts=["p1", "p1", [{"role": "user", "content": "p2"}]],
        completions=["one", [{"role": "assistant", "content": "two"}], [{"role": "assistant", "content": "three"}]],
        completion_ids=[[1], [2], [3]],
        rubric=[None, "{bad json", json.dumps(["Is it good?"])],
        trainer_state=object(),
        log_metric=metrics.__setitem__,
        log_extra=extra.__setitem__,
    )
    assert values[0] == pytest.approx(2 / 3) and values[1] is None and values[2] == 1.0
    assert {k for k in metrics if not k.startswith("rubric_quality/monitor/")} == {
        "rubric_quality/unscored_fraction",
        "rubric_quality/no_reward_fraction",
        "rubric_quality/counted_against_fraction",
        "rubric_quality/seconds",
    }
    assert "rubric_quality/monitor/quoted" in metrics  # the hack signs (tests/test_monitors.py)
    asked = len(reward.last_rewards[0].verdict.results) + 1  # row 1 has no verdict: one undecided unit
    assert metrics["rubric_quality/unscored_fraction"] == pytest.approx(1 / (asked + 1))
    assert metrics["rubric_quality/no_reward_fraction"] == pytest.approx(1 / 3)
    assert metrics["rubric_quality/counted_against_fraction"] == 0
    assert metrics["rubric_quality/seconds"] > 0  # the time the batch took to score: the reward's share of a step
    assert (
        extra["rubric_quality_unscored_reason"][0] == ""
        and "not valid JSON" in extra["rubric_quality_unscored_reason"][1]
    )


def test_trl_reward_through_a_reward_server_matches_in_process_in_one_request(monkeypatch):
    """rubric_reward(URL): the batch goes to `rubric serve` as one request, one engine call,
    and the rewards are those of the same judge in process; the bearer token is sent."""
    from tests.serving import RunningServer

    backend = FakeBackend(by_criterion(0.9, 0.3))
    rows = {
        "prompts": ["p1", "p1", "p2"],
        "completions": ["one", "two", "three"],
        "rubric": [None, "{bad json", json.dumps(["Is it good?"])],
    }
    local = rubric_reward(FakeBackend(by_criterion(0.9, 0.3)), rubric=RUBRIC)(**rows)
    monkeypatch.setenv("RUBRIC_JUDGE_API_KEY", "sesame")
    config = ServerConfig(api_key="sesame")
    with RunningServer(RewardScorer(Judge(backend, batch_size=256), rubric=RUBRIC), config) as running:
        served = rubric_reward(running.url, rubric=RUBRIC)
        values = served(**rows)
        metrics = httpx.get(running.url + "/metrics", headers={"Authorization": "Bearer sesame"}).json()
    assert values[0] == pytest.approx(local[0]) and values[2] == pytest.approx(local[2]) and values[1] is None
    assert "not valid JSON" in served.last_rewards[1].reason
    assert metrics["requests"] == {"score": 1} and metrics["engine_calls"] == 1
    with pytest.raises(ValueError, match="the server's own flags decide"):
        rubric_reward(running.url, judge_options={"threshold": 0.4})
    down = rubric_reward("http://127.0.0.1:9")(prompts=["p"], completions=["c"], rubric=[json.dumps(["Good?"])])
    assert down == [None]


def test_async_trl_reward_is_recognised_as_async_by_old_and_new_trl():
    reward = rubric_reward(FakeBackend(0.9), rubric=["Is it good?"], asynchronous=True, name="rubric_async")
    sync_reward = rubric_reward(FakeBackend(0.9), rubric=["Is it good?"])
    # TRL <= 1.13 (GRPOTrainer): inspect.iscoroutinefunction(func), and func.__name__ for logging
    assert inspect.iscoroutinefunction(reward) and reward.__name__ == "rubric_async"
    assert not inspect.iscoroutinefunction(sync_reward) and not inspect.iscoroutinefunction(sync_reward.__call__)
    assert asyncio.run(reward(prompts=["p"], completions=["c"])) == [pytest.approx(0.9)]
    assert len(reward.last_rewards) == 1 and reward.last_rewards[0].value == pytest.approx(0.9)
    trl_utils = pytest.importorskip("trl.trainer.utils")
    if hasattr(trl_utils, "is_async_callable"):  # TRL >= 1.14
        assert trl_utils.is_async_callable(reward) and not trl_utils.is_async_callable(sync_reward)
        assert trl_utils.get_callable_name(reward) == "rubric_async"

    async def called_inside_a_loop():  # a notebook, or a trainer calling a sync reward from async code
        return sync_reward(prompts=["p"], completions=["c"])

    assert asyncio.run(called_inside_a_loop()) == [pytest.approx(0.9)]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_grpo_trainer_logs_our_rewards(tmp_path, tiny_llama, smollm2_tokenizer, asynchronous):
    """TRL's real GRPOTrainer, two steps on a tiny random policy, judged by a tiny random judge."""
    pytest.importorskip("trl")
    import torch
    from datasets import Dataset
    from transformers import LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from judge.backends.local import LocalBackend

    reward = rubric_reward(
        LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny-random-llama"),
        rubric="helpfulness",
        name="rubric_reward",
        asynchronous=asynchronous,
    )
    dataset = Dataset.from_dict(
        {
            "prompt": ["Say hello.", "Name a colour.", "Count to three.", "Greet me politely."],
            "rubric": [json.dumps(["The answer greets the user."]), "", "{not a rubric", None],
        }
    )
    torch.manual_seed(1)
    policy = LlamaForCausalLM(tiny_llama.config)
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=8,
        max_steps=2,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        bf16=False,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=policy, reward_funcs=reward, args=args, train_dataset=dataset, processing_class=smollm2_tokenizer
    )
    trainer.train()

    steps = [h for h in trainer.state.log_history if "rewards/rubric_reward/mean" in h]
    assert len(steps) == 2
    assert all(math.isfinite(h["rewards/rubric_reward/mean"]) and h["rewards/rubric_reward/std"] > 0 for h in steps)
    assert all("rubric_reward/unscored_fraction" in h for h in steps)
    last = reward.last_rewards
    assert len(last) == 8
    scored = [r.value for r in last if r.value is not None]
    assert len(set(scored)) > 1  # the values vary across completions
    assert all(r.reason.startswith("rubric: not valid JSON") for r in last if r.value is None)


# -- reward integrity: what a policy or a dataset must not be able to do to the reward ---------
def test_the_reference_column_reaches_the_rubric_by_its_natural_name():
    """TRL passes dataset columns as keywords: ``reference=`` was ignored (the default column was
    None), so the math rubric's check was unscored for every completion and the reward constant."""
    pytest.importorskip("math_verify")
    completions = ["So the answer is \\boxed{1}.", "So the answer is \\boxed{2}.", "I am not sure."]
    for column in ("reference", "answer", "solution"):
        reward = rubric_reward("fake:yes", rubric="math_reference")
        right, wrong, unsure = reward(prompts=["What is 3 - 2?"] * 3, completions=completions, **{column: ["1"] * 3})
        assert right > wrong and right > unsure, column
        assert reward.last_rewards[0].verdict.results[0].reason.startswith("checked in code")
    numbers = rubric_reward("fake:yes", rubric="math_reference")(
        prompts=["What is 3 - 2?"], completions=["\\boxed{1}"], answer=[1]
    )  # a column of numbers
    assert numbers[0] == pytest.approx(1.0 - 3 / 9)  # met, and the hedging pitfall's "yes" subtracts


def test_a_rubric_that_needs_a_reference_without_a_column_is_refused_at_the_first_batch():
    reward = rubric_reward("fake:yes", rubric="math_reference")
    with pytest.raises(ValueError, match="checks 'final-answer-correct' against a reference answer.*'reference'"):
        reward(prompts=["What is 3 - 2?"], completions=["1"], gold=["1"])
    named = rubric_reward("fake:yes", rubric="math_reference", reference_column="gold")
    assert named(prompts=["What is 3 - 2?"], completions=["\\boxed{1}"], gold=["1"])[0] is not None
    with pytest.raises(ValueError, match="reference_column='gold' is not a column of the batch"):
        named(prompts=["q"], completions=["1"], reference=["1"])
    # a rubric without such a check needs no column
    assert rubric_reward("fake:yes", rubric="helpfulness")(prompts=["q"], completions=["a"])[0] is not None


def test_the_tower_earns_no_more_than_a_wrong_answer_through_the_trl_reward():
    pytest.importorskip("math_verify")
    from judge.checks import configure

    configure(timeout=1.5)
    try:
        reward = rubric_reward("fake:yes", rubric="math_reference")
        metrics = {}
        wrong, tower = reward(
            prompts=["What is 3 - 2?"] * 2,
            completions=["So \\boxed{2}.", "So \\boxed{9^{9^{9^{9}}}}."],
            reference=["1", "1"],
            log_metric=metrics.__setitem__,
        )
    finally:
        configure()
    assert tower <= wrong
    assert reward.last_rewards[1].counted_against == ("final-answer-correct",)
    assert metrics["rubric_reward/counted_against_fraction"] == 0.5
    assert metrics["rubric_reward/unscored_fraction"] == pytest.approx(1 / 8)  # one of 2 x 4 criteria


def test_a_malformed_completion_gets_no_reward_and_says_why():
    reward = rubric_reward(FakeBackend(0.9), rubric=["Is it good?"])
    extra = {}
    values = reward(
        prompts=["p"] * 3,
        completions=[[], [{"role": "assistant", "text": "typo"}], [{"role": "assistant", "content": "fine"}]],
        log_extra=extra.__setitem__,
    )
    assert values[:2] == [None, None] and values[2] == pytest.approx(0.9)
    reasons = extra["rubric_reward_unscored_reason"]
    assert "empty list of messages" in reasons[0] and "has no 'content'" in reasons[1] and reasons[2] == ""


@pytest.mark.parametrize(
    ("completion", "message"),
    [
        ([], "an empty list of messages"),
        ([{"role": "user", "content": "hi"}], "no assistant message to judge (roles: user)"),
        ([{"role": "assistant", "content": 7}], "message 1 (assistant): 'content' is a int"),
        ([{"role": "assistant", "text": "x"}], "message 1 (assistant) has no 'content' (keys: role, text)"),
        (["hi"], "message 1 is a str"),
        ([{"content": "hi"}], "message 1 has no 'role'"),
        ([{"role": "assistant", "content": [{"text": "x"}]}], "a content block without a 'type'"),
    ],
)
def test_completion_text_refuses_malformed_message_lists(completion, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        completion_text(completion)


def test_completion_text_keeps_a_turn_that_only_calls_tools():
    turns = [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
        {"role": "tool", "content": "42"},
        {"role": "assistant", "content": "It is 42."},
    ]
    assert completion_text(turns) == "It is 42."


def test_the_ifbench_quality_term_pays_only_once_the_constraints_pass():
    shaping = Shaping(quality_bonus=0.5, quality_penalty=0.25, quality_threshold=0.6)
    met = result("c", 1.0, weight=2)
    unmet = result("c", 0.0, weight=2)
    pitfall_clear = result("pit", 0.1, weight=-1)
    good, bad = result("task", 0.8, weight=2), result("task", 0.3, weight=2)
    base = Shaping()
    assert shaping.reward([good, met, pitfall_clear], "x").value == pytest.approx(
        base.reward([good, met, pitfall_clear], "x").value + 0.5
    )
    assert shaping.reward([bad, met], "x").value == pytest.approx(base.reward([bad, met], "x").value - 0.25)
    assert shaping.reward([good, unmet], "x").value == base.reward([good, unmet], "x").value  # a constraint fails
    assert shaping.reward([met], "x").value == base.reward([met], "x").value  # no quality criterion: no term
    assert Shaping().quality_term([good, met]) == 0.0  # off by default
