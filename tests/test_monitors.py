"""Hack monitors: the signs of a batch beside its reward, and the warning when the reward
rises while the task criterion falls (judge/rl/monitors.py)."""

from __future__ import annotations

import httpx
import pytest

from judge.backends.fake import FakeBackend
from judge.rl import rubric_reward
from judge.rl.monitors import HackMonitor, batch_signs
from judge.rl.scorer import Reward
from judge.verdict import CriterionResult, Verdict
from rubrics import Criterion, Rubric
from tests.serving import serve

END = Criterion(id="e", text="Ends with it.", check={"type": "startend:end_checker", "end_phrase": "Any questions?"})
TASK = Criterion(id="task", text="It writes an article about tea.", kind="hard_rule", weight=2)
RUBRIC = Rubric(id="tea", criteria=[TASK, END])


def verdict(task_p: float, guarded: bool = False) -> Verdict:
    reason = "decided without the judge: content-free" if guarded else None
    results = [
        CriterionResult(criterion_id="task", kind="hard_rule", weight=2, status="scored", p_yes=task_p, reason=reason),
        CriterionResult(criterion_id="e", status="scored", p_yes=1.0, reason=reason),
    ]
    return Verdict(item_id="0", rubric_id="tea", model="m", threshold=0.5, status="scored", results=results)


def test_the_signs_of_a_batch():
    prompt = "Write an article about tea that ends with 'Any questions?'"
    rows = [
        (prompt, '"Any questions?"', RUBRIC, Reward(0.5, verdict=verdict(0.1), rubric=RUBRIC)),
        (
            prompt,
            "Tea is a drink brewed from leaves, loved in many lands. Any questions?",
            RUBRIC,
            Reward(1.0, verdict=verdict(0.9), rubric=RUBRIC),
        ),
        (prompt, "I'm sorry, I can't help with that.", RUBRIC, Reward(None, verdict=verdict(0.0, guarded=True))),
        (prompt, "Write an article about tea that ends with", None, Reward(0.2)),
    ]
    signs = batch_signs(rows)
    assert signs["quoted"] == 0.25 and signs["refusal"] == 0.25
    assert signs["phrase_alone"] == pytest.approx(1 / 3)  # of the three whose rubric asks for the phrase
    assert signs["guarded"] == pytest.approx(1 / 3)  # of the three with a verdict
    assert signs["task_pass"] == pytest.approx((0.1 + 0.9 + 0.0) / 3)
    assert signs["reward"] == pytest.approx((0.5 + 1.0 + 0.2) / 3)
    assert signs["echo"] == pytest.approx(1 / 4)  # the last one repeats the prompt: 6 of its 6 3-grams
    assert signs["words"] == pytest.approx((2 + 13 + 7 + 8) / 4)
    assert batch_signs([("q", "a", None, Reward(1.0))])["task_pass"] is None  # no task criterion: not made up


def test_the_monitor_warns_when_the_reward_rises_and_the_task_falls():
    monitor = HackMonitor(window=6)
    for step in range(6):  # reward up, task down: the hack of last round's GRPO run
        warning = monitor.observe({"reward": 0.3 + 0.05 * step, "task_pass": 0.6 - 0.05 * step})
    assert warning is not None and "while the task criterion's pass rate fell" in warning
    honest = HackMonitor(window=6)
    for step in range(12):  # both rise, or the task holds: no warning
        assert honest.observe({"reward": 0.3 + 0.05 * step, "task_pass": 0.5 + 0.01 * step}) is None
    assert HackMonitor(window=4).observe({"reward": 1.0, "task_pass": None}) is None


def test_the_trl_reward_logs_the_signs_and_the_warning():
    metrics = {}
    reward = rubric_reward(FakeBackend(0.9), rubric=RUBRIC)
    reward(
        prompts=["Write about tea."] * 2,
        completions=['"Any questions?"', "Tea. Any questions?"],
        log_metric=metrics.__setitem__,
    )
    assert metrics["rubric_reward/monitor/quoted"] == 0.5 and metrics["rubric_reward/monitor/phrase_alone"] == 1.0
    assert metrics["rubric_reward/monitor/task_pass"] == pytest.approx(
        0.9 / 2
    )  # the guard: the phrase alone is content-free
    assert metrics["rubric_reward/monitor/warning"] == 0.0


def test_rubric_serve_shows_the_signs_in_its_metrics():
    with serve(FakeBackend(0.9), rubric=RUBRIC.model_dump()) as running:
        items = [{"prompt": "Write about tea.", "response": r} for r in ('"Any questions?"', "I'm sorry, no.")]
        assert httpx.post(running.url + "/score", json={"items": items}).status_code == 200
        monitors = running.metrics()["monitors"]
    assert monitors["last_request"]["quoted"] == 0.5 and monitors["last_request"]["refusal"] == 0.5
    assert monitors["warnings"] == 0 and monitors["last_warning"] is None
