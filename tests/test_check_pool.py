"""Code checks run in worker processes under a hard time limit: an answer whose check explodes
(math-verify on a power tower) costs one timeout and is unscored with the reason; it never hangs
the caller, whichever thread or event loop it comes from, and never holds up another caller.

The joins and waits below have generous limits: they catch a hang, they do not time anything.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

import judge.checks.pool as pool_module
from judge import Judge
from judge.backends.fake import FakeBackend
from judge.checks import CheckCall, configure
from judge.rl import RewardRequest, RewardScorer
from rubrics import Criterion, Rubric

pytest.importorskip("math_verify")

TOWER = "The answer is \\boxed{9^{9^{9^{9}}}}"  # a number with ~10^(3.7e8) digits: math-verify never returns
HANG = 120  # seconds before a wait counts as a hang
TIMEOUT = 1.5
RUBRIC = Rubric(
    id="math",
    criteria=[
        Criterion(id="exact", text="The final answer matches the reference.", check={"type": "reference_answer"}),
        Criterion(id="shown", text="The working is shown."),
    ],
)
LOWERCASE = {"type": "change_case:english_lowercase"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pool():
    running = configure(workers=2, timeout=TIMEOUT)
    yield running
    configure()  # the next test gets a pool with the default settings (started when first used)


def call(response: str, reference: str | None = "18", spec: dict | None = None) -> CheckCall:
    spec = spec or {"type": "reference_answer"}
    return CheckCall(spec["type"], response, reference, spec)


def test_a_check_that_runs_out_of_time_is_unscored_and_its_worker_replaced(pool):
    outcomes = pool.run(
        [call(TOWER), call("So 18."), call("hello there", None, LOWERCASE), call("x", spec={"type": "no_such_check"})]
    )
    assert outcomes[0].met is None and outcomes[0].reason == f"check reference_answer timed out after {TIMEOUT:g} s"
    assert outcomes[1].met is True and outcomes[2].met is not None  # the rest of the turn went to a new worker
    assert outcomes[3].met is None and outcomes[3].reason == "check no_such_check failed: KeyError: 'no_such_check'"
    assert pool.timeouts == 1
    assert pool.run([call("The answer is 18.")])[0].met is True


def test_a_worker_that_cannot_start_leaves_the_check_unscored_with_why(pool, monkeypatch):
    monkeypatch.setattr(pool_module, "_BOOT", "import sys; print('no sympy here', file=sys.stderr); sys.exit(3)")
    (outcome,) = pool.run([call("18")])
    assert outcome.met is None
    assert (
        outcome.reason
        == "check reference_answer could not be made: the check worker did not start: exit code 3; no sympy here"
    )


@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_the_tower_through_the_engine_is_unscored_and_the_other_criteria_judged(pool, where):
    verdicts = []
    if where == "main thread":
        verdicts.append(Judge(FakeBackend(0.9)).evaluate("How many?", TOWER, RUBRIC, reference="18"))
    else:  # where TRL's async rewards and a server's handlers run: math-verify had no timeout at all there
        thread = threading.Thread(
            target=lambda: verdicts.append(Judge(FakeBackend(0.9)).evaluate("How many?", TOWER, RUBRIC, reference="18"))
        )
        thread.start()
        thread.join(HANG)
        assert not thread.is_alive(), "the check hung its thread"
    exact, shown = verdicts[0].results
    assert exact.status == "unscored" and exact.reason == f"check reference_answer timed out after {TIMEOUT:g} s"
    assert shown.status == "scored" and shown.p_yes == pytest.approx(0.9)
    assert verdicts[0].score == pytest.approx(0.9)  # the unscored criterion is left out, not counted as 0


def test_the_event_loop_keeps_running_while_a_check_explodes(pool):
    async def main() -> tuple[int, object]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        verdict = await Judge(FakeBackend(0.9)).aevaluate("How many?", TOWER, RUBRIC, reference="18")
        ticker.cancel()
        return ticks, verdict

    ticks, verdict = asyncio.run(main())
    assert verdict.results[0].status == "unscored"
    assert ticks >= 3  # the loop turned on through the check's 1.5 s (blocked, it had not turned once)


def test_callers_take_turns_so_one_callers_explosions_do_not_queue_another(pool):
    towers = pool.submit([call(TOWER) for _ in range(6)], caller="a")
    (quick,) = pool.submit([call("hello there", None, LOWERCASE)], caller="b")
    assert quick.result(HANG).met is not None
    assert sum(f.done() for f in towers) < len(towers)  # b was answered while a's checks were still queued
    assert all(f.result(HANG).reason.endswith("timed out after 1.5 s") for f in towers)


def test_two_clients_in_one_engine_call_take_separate_turns(pool, monkeypatch):
    """A server gathers concurrent requests into one engine call: each request is a caller of
    its own at the workers, so one client's towers hold another's check one timeout at most
    (as one caller, the probe queued behind a second round of towers)."""
    from judge.checks import pool as pools

    timeouts_when_answered = []
    submit = pools.CheckPool.submit

    def watched(self, calls, caller=None):
        futures = submit(self, calls, caller)
        if calls and calls[0].type != "reference_answer":
            futures[0].add_done_callback(lambda _: timeouts_when_answered.append(self.timeouts))
        return futures

    pool.run([call("hello", None, LOWERCASE)] * 4)  # the workers started
    monkeypatch.setattr(pools.CheckPool, "submit", watched)
    lowercase = Rubric(id="case", criteria=[Criterion(id="lower", text="All lowercase.", check=LOWERCASE)])
    towers, probe = object(), object()
    requests = [RewardRequest("How many?", TOWER, RUBRIC, "18", client=towers) for _ in range(8)]
    requests.append(RewardRequest("Say hi.", "hello there", lowercase, client=probe))
    rewards = RewardScorer(Judge(FakeBackend(0.9), batch_size=256), rubric=RUBRIC).score(requests)
    assert rewards[-1].value == 1.0 and all(r.counted_against == ("exact",) for r in rewards[:-1])
    # answered after the first round of towers (a worker's slow start may let one more in); as one
    # caller, the probe waited behind the first round and then a turn of each worker, 4 or more
    assert timeouts_when_answered and timeouts_when_answered[0] <= pool.workers + 1


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find the worker")
def test_a_worker_ends_with_its_parent_even_mid_check():
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from judge.checks import CheckCall, CheckPool
        CheckPool(workers=1, timeout=600).run([CheckCall("reference_answer", {TOWER!r}, "18", {{}})])
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + HANG
        while not (workers := _children(parent.pid)):
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        time.sleep(2)  # the worker is deep in the tower now
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        while any(
            Path(f"/proc/{pid}").exists()
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            for pid in workers
        ):
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.1)
    finally:
        parent.kill()


def test_settings_come_from_the_environment_and_bad_ones_say_which(monkeypatch):
    monkeypatch.setenv("RUBRIC_JUDGE_CHECK_WORKERS", "3")
    monkeypatch.setenv("RUBRIC_JUDGE_CHECK_TIMEOUT", "0.5")
    made = pool_module.CheckPool()
    assert (made.workers, made.timeout) == (3, 0.5)
    monkeypatch.setenv("RUBRIC_JUDGE_CHECK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="RUBRIC_JUDGE_CHECK_TIMEOUT='soon': expected a number of at least 0.01"):
        pool_module.CheckPool()


def test_a_grpo_step_with_the_async_trl_reward_survives_a_policy_writing_the_tower(
    pool, tiny_llama, smollm2_tokenizer, tmp_path
):
    """TRL runs async rewards on its own event-loop thread, where math-verify had no timeout:
    one such completion hung the run. Here half of each batch's completions are the tower."""
    pytest.importorskip("trl")
    import torch
    from datasets import Dataset
    from transformers import LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from judge.rl import rubric_reward

    judged = rubric_reward(FakeBackend(0.9), rubric=RUBRIC, reference_column="solution", asynchronous=True)

    async def rubric_reward_of_towers(prompts, completions, **columns):  # the policy, as it could write
        towers = [TOWER if n % 2 == 0 else completion for n, completion in enumerate(completions)]
        return await judged(prompts=prompts, completions=towers, **columns)

    dataset = Dataset.from_dict({"prompt": ["What is 9 * 2?", "What is 20 - 2?"], "solution": ["18", "18"]})
    torch.manual_seed(1)
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        max_steps=1,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        bf16=False,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=LlamaForCausalLM(tiny_llama.config),
        reward_funcs=rubric_reward_of_towers,
        args=args,
        train_dataset=dataset,
        processing_class=smollm2_tokenizer,
    )
    finished = []
    thread = threading.Thread(target=lambda: finished.append(trainer.train()))
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), "the GRPO step hung on the tower"
    rewards = judged.last_rewards
    towers = [r for n, r in enumerate(rewards) if n % 2 == 0]
    assert len(rewards) == 4 and finished
    assert all(r.verdict.results[0].reason == f"check reference_answer timed out after {TIMEOUT:g} s" for r in towers)
    # judged on the criterion that could be decided, the timed-out one counted against the answer
    assert all(r.value == pytest.approx(0.9 / 2) and r.counted_against == ("exact",) for r in towers)


def test_rubric_serve_answers_other_clients_while_one_request_explodes(rubric_exe):
    """Before: the check ran on the server's event loop; a plain request sent 2 s after eight
    towers waited 38 s. Now the towers' request takes its timeouts and the others do not wait."""
    process = subprocess.Popen(
        [rubric_exe, "serve", "--model", "fake:yes", "--no-cache", "--port", "0", "--rubric", "helpfulness"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUBRIC_JUDGE_CHECK_TIMEOUT": "2"},
    )
    try:
        url = re.search(r"http://[\d.]+:\d+", process.stderr.readline()).group(0)
        towers = {
            "items": [
                {
                    "id": n,
                    "prompt": "What is 9 * 2?",
                    "response": TOWER,
                    "reference": "18",
                    "rubric": RUBRIC.model_dump(),
                }
                for n in range(8)
            ]
        }
        answers: dict[str, object] = {}

        def post(name: str, body: dict) -> None:
            answers[name] = httpx.post(url + "/score", json=body, timeout=HANG).json()
            answers[name + " at"] = time.monotonic()

        flood = threading.Thread(target=post, args=("towers", towers))
        flood.start()
        deadline = time.monotonic() + HANG
        while httpx.get(url + "/metrics").json()["in_flight"] == 0:  # the towers are being checked
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(1)
        lowercase = {"id": "case", "criteria": [{"id": "lower", "text": "All lowercase.", "check": LOWERCASE}]}
        post(
            "probe", {"prompt": "Say hi.", "response": "hello there, friend.", "rubric": lowercase}
        )  # a check of its own, too
        post("plain", {"prompt": "Say hi.", "response": "Hello there!"})
        flood.join(HANG)
        assert answers["probe"]["status"] == "scored" and answers["plain"]["status"] == "scored"
        assert answers["plain at"] < answers["towers at"]  # answered while the towers were still being checked
        results = answers["towers"]["results"]
        assert len(results) == 8 and all(
            r["criteria"][0]["reason"] == "check reference_answer timed out after 2 s" for r in results
        )
        # the other criterion judged, and the timed-out one counted against the answer: a wrong answer's reward
        assert all(r["reward"] == pytest.approx(0.5) and r["counted_against"] == ["exact"] for r in results)
    finally:
        process.kill()


def test_verls_compute_score_on_the_tower_returns_from_a_worker_thread(pool, monkeypatch, tmp_path):
    from judge.rl import verl_reward

    rubric_file = tmp_path / "math.json"
    rubric_file.write_text(RUBRIC.model_dump_json())
    monkeypatch.setenv("RUBRIC_JUDGE_MODEL", "fake:yes")
    monkeypatch.setenv("RUBRIC_JUDGE_RUBRIC", str(rubric_file))
    monkeypatch.delenv("RUBRIC_JUDGE_SERVER", raising=False)
    verl_reward._judge_for.cache_clear()
    rows = []
    thread = threading.Thread(
        target=lambda: rows.append(
            verl_reward.compute_score(
                data_source="gsm8k", solution_str=TOWER, ground_truth="18", extra_info={"question": "What is 9 * 2?"}
            )
        )
    )
    thread.start()
    thread.join(HANG)
    verl_reward._judge_for.cache_clear()
    assert not thread.is_alive(), "compute_score hung on the tower"
    criteria = {c["id"]: c for c in json.loads(rows[0]["rubric_criteria"])}
    assert criteria["exact"]["status"] == "unscored" and criteria["exact"]["reason"].endswith(
        f"timed out after {TIMEOUT:g} s"
    )
    assert rows[0]["rubric_scored"] == 1.0 and rows[0]["score"] == pytest.approx(0.5)  # as a wrong answer
