"""Provider batch APIs (`rubric judge --batch`) and Anthropic prompt caching, against the
loopback provider's batch endpoints (tests/provider_batches.py) through the real SDKs."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("instructor")

from judge.backends.base import BackendError  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.engine import Judge, JudgeItem  # noqa: E402
from judge.build import JudgeOptions, build_judge  # noqa: E402
from judge.runs.provider_jobs import prefetch, state_path  # noqa: E402
from rubrics.model import Rubric  # noqa: E402
from tests.provider_clients import backend_for  # noqa: E402
from tests.provider_server import ProviderServer, hashed_p_yes  # noqa: E402

CRITERIA = [
    "The answer names the capital correctly.",
    "The answer is a single sentence.",
    "The answer is polite in tone.",
]
RUBRIC = Rubric.from_principles(CRITERIA, "r")
RESPONSES = ["Paris is the capital of France.", "It is Paris.", "Lyon, I believe."]


def items(responses=RESPONSES):
    return [JudgeItem(f"i{n}", "What is the capital of France?", text, RUBRIC) for n, text in enumerate(responses)]


def cached(server, spec, tmp_path, **options):
    return CachedBackend(backend_for(server, spec, **options), tmp_path / "cache")


def chat_requests(server, path_end):
    return [r for r in server.requests if r.path.endswith(path_end)]


def run(judge, todo, output, **options):
    return asyncio.run(prefetch(judge, todo, output, poll_seconds=0.01, progress=False, **options))


def test_openai_batch_answers_every_question_and_the_run_sends_none(tmp_path):
    with ProviderServer() as server:
        server.batches.polls = 3  # in progress at the first two polls
        backend = cached(server, "openai/judge?price_in=1&price_out=2", tmp_path)
        judge = Judge(backend)
        (outcome,) = run(judge, items(), tmp_path / "v.jsonl")
        assert (outcome.sent, outcome.answered, outcome.failed, outcome.state) == (9, 9, 0, "ended")
        assert server.batches.created == 1 and not state_path(tmp_path / "v.jsonl").exists()
        job = next(iter(server.batches.jobs.values()))
        # polled until it ended, then retrieved once more for its result files
        assert job.polls == server.batches.polls + 1 and {line["body"]["top_logprobs"] for line in job.lines} == {20}
        verdicts = judge.evaluate_many(items())
        assert not chat_requests(server, "/chat/completions")  # every answer came from the batch, through the cache
        for verdict in verdicts:
            for result, text in zip(verdict.results, CRITERIA):
                assert result.p_yes == pytest.approx(hashed_p_yes(text), abs=1e-6)
        usage = backend.inner.usage
        assert usage.batch_requests == 9 and usage.requests == 0 and usage.batch_prompt_tokens > 0
        full = (usage.batch_prompt_tokens * 1 + usage.batch_completion_tokens * 2) / 1e6
        assert usage.cost == pytest.approx(full / 2) and "batch at half price" in usage.describe()
        # a second run finds everything cached: nothing is sent
        (again,) = run(judge, items(), tmp_path / "v.jsonl")
        assert again.job_id is None and again.cached == 9 and server.batches.created == 1


def test_failures_inside_the_batch_and_an_expired_job_are_asked_synchronously(tmp_path):
    with ProviderServer() as server:
        judge = Judge(cached(server, "openai/judge", tmp_path))
        todo = items(["Paris. FAULT:batch-error", *RESPONSES[1:]])
        (outcome,) = run(judge, todo, tmp_path / "v.jsonl")
        assert (outcome.answered, outcome.failed) == (6, 3)
        assert "failed in the batch: invalid_request: scripted failure inside the batch" in next(iter(outcome.reasons))
        assert "asked synchronously" in outcome.describe()
        verdicts = judge.evaluate_many(todo)
        assert len(chat_requests(server, "/chat/completions")) == 3 and all(v.status == "scored" for v in verdicts)
    with ProviderServer() as server:
        server.batches.outcome = "expired"
        judge = Judge(cached(server, "openai/judge", tmp_path / "second"))
        (outcome,) = run(judge, items(), tmp_path / "w.jsonl")
        assert outcome.state == "expired" and (outcome.answered, outcome.failed) == (4, 5)
        assert any("could not be executed before the completion window expired" in r for r in outcome.reasons)


def test_a_job_that_fails_validation_leaves_everything_to_the_synchronous_path(tmp_path):
    with ProviderServer() as server:
        server.batches.outcome = "failed"
        (outcome,) = run(Judge(cached(server, "openai/judge", tmp_path)), items(), tmp_path / "v.jsonl")
        assert outcome.state == "failed" and outcome.failed == 9
        assert "invalid_file: scripted validation failure" in next(iter(outcome.reasons))


def test_an_interrupted_run_resumes_polling_the_same_job(tmp_path):
    output = tmp_path / "v.jsonl"
    with ProviderServer() as server:
        server.batches.polls = 10_000  # never ends while the first run waits
        judge = Judge(cached(server, "openai/judge", tmp_path))

        async def interrupted():
            task = asyncio.ensure_future(prefetch(judge, items(), output, poll_seconds=0.01, progress=False))
            while not state_path(output).exists():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(interrupted())
        saved = json.loads(state_path(output).read_text())
        assert list(saved) == ["openai:judge"] and len(saved["openai:judge"]["requests"]) == 9
        server.batches.polls = 0
        (outcome,) = run(judge, items(), output)
        assert outcome.resumed and outcome.job_id == saved["openai:judge"]["id"] and outcome.answered == 9
        assert server.batches.created == 1 and not state_path(output).exists()


def test_failed_polls_are_tried_again_and_too_many_stop_with_the_job_kept(tmp_path):
    from judge.runs.provider_jobs import POLL_FAILURES

    with ProviderServer() as server:
        server.batches.poll_errors = 2
        (outcome,) = run(Judge(cached(server, "anthropic/claude-judge", tmp_path)), items(), tmp_path / "v.jsonl")
        assert outcome.answered == 9
        server.batches.poll_errors = POLL_FAILURES
        judge = Judge(cached(server, "openai/judge", tmp_path))
        with pytest.raises(BackendError, match="rerun the command to resume polling it"):
            run(judge, items(), tmp_path / "w.jsonl")
        assert state_path(tmp_path / "w.jsonl").exists()
        (outcome,) = run(judge, items(), tmp_path / "w.jsonl")
        assert outcome.resumed and outcome.answered == 9 and server.batches.created == 2


def test_anthropic_message_batches_with_a_shared_cache_breakpoint(tmp_path):
    with ProviderServer() as server:
        backend = cached(server, "anthropic/claude-judge?price_in=3&price_out=15", tmp_path)
        (outcome,) = run(Judge(backend), items(), tmp_path / "v.jsonl")
        assert (outcome.sent, outcome.answered) == (9, 9)
        job = next(iter(server.batches.jobs.values()))
        params = job.lines[0]["params"]
        assert params["tool_choice"] == {"type": "tool", "name": "YesNoVerdict"}
        first, rest = params["messages"][-1]["content"]
        assert first["cache_control"] == {"type": "ephemeral"} and "Paris is the capital of France." in first["text"]
        assert "Criterion:" in rest["text"] and "Criterion:" not in first["text"]
        verdicts = Judge(backend).evaluate_many(items())
        assert not chat_requests(server, "/messages")
        for verdict in verdicts:
            assert [r.p_yes for r in verdict.results] == [float(hashed_p_yes(t) >= 0.5) for t in CRITERIA]
            assert all(r.explanation == "scripted verdict" for r in verdict.results)
        usage = backend.inner.usage  # one write, two reads per response, all in the batch
        assert (
            usage.batch_cache_write_tokens > 0 and usage.batch_cache_read_tokens == 2 * usage.batch_cache_write_tokens
        )
        # the batch discount applies to cache reads (0.1x) and writes (1.25x) as to the rest
        full = (
            usage.batch_prompt_tokens * 3
            + usage.batch_completion_tokens * 15
            + usage.batch_cache_read_tokens * 0.3
            + usage.batch_cache_write_tokens * 3.75
        ) / 1e6
        assert usage.cost == pytest.approx(full / 2)


def test_anthropic_synchronous_requests_share_the_prefix_cache(server):
    backend = backend_for(server, "anthropic/claude-cache")
    Judge(backend).evaluate_many(items())
    usage = backend.usage
    assert usage.cache_write_tokens > 0 and usage.cache_read_tokens == 2 * usage.cache_write_tokens
    assert "prompt cache" in usage.describe()
    single = backend_for(server, "anthropic/claude-single")
    Judge(single).evaluate("q", "Paris.", Rubric.from_principles(CRITERIA[:1], "one"))
    assert single.usage.cache_write_tokens == 0  # one criterion: nothing would read the cache
    unmarked = backend_for(server, "anthropic/claude-unmarked?prompt_cache=false")
    Judge(unmarked).evaluate_many(items())
    assert unmarked.usage.cache_write_tokens == unmarked.usage.cache_read_tokens == 0


def test_a_jury_sends_one_job_per_judge_with_a_batch_api(tmp_path):
    with ProviderServer() as server:
        from judge.backends.fake import FakeBackend

        jury = build_judge(
            JudgeOptions(),
            [cached(server, "openai/judge", tmp_path), CachedBackend(FakeBackend(0.5, label="half"), tmp_path / "c2")],
        )
        said = []
        (outcome,) = run(jury, items(), tmp_path / "v.jsonl", say=said.append)
        assert outcome.model == "openai:judge" and outcome.answered == 9
        assert any("fake:half has no batch API" in line for line in said)


def test_batch_needs_the_cache_and_a_provider_with_a_batch_api(tmp_path):
    with ProviderServer() as server:
        with pytest.raises(ValueError, match="drop --no-cache"):
            run(Judge(backend_for(server, "openai/judge")), items(), tmp_path / "v.jsonl")
        with pytest.raises(ValueError, match="per-criterion"):
            run(Judge(cached(server, "openai/judge", tmp_path), request_shape="batched"), items(), tmp_path / "v.jsonl")
    from judge.backends.fake import FakeBackend

    with pytest.raises(ValueError, match="has no provider batch API"):
        run(Judge(CachedBackend(FakeBackend(), tmp_path / "c")), items(), tmp_path / "v.jsonl")


def test_rubric_judge_batch_end_to_end(rubric_exe, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": n, "prompt": "Capital of France?", "response": text}) + "\n"
            for n, text in enumerate(RESPONSES)
        )
    )
    with ProviderServer() as server:
        command = [
            rubric_exe,
            "judge",
            "--rubric",
            "helpfulness",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "v.jsonl"),
            "--model",
            "openai/judge?price_in=2.5&price_out=10",
            "--base-url",
            server.url + "/v1",
            "--batch",
            "--batch-poll",
            "0.01",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "18 questions sent, 18 answered, 0 failed there" in done.stdout
        assert (
            "in provider batches 18 requests (0 failed there)" in done.stdout and "batch at half price" in done.stdout
        )
        assert "0 requests (0 retries, 0 failed)" in done.stdout and not chat_requests(server, "/chat/completions")
        assert len((tmp_path / "v.jsonl").read_text().splitlines()) == 3
