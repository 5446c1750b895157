"""API backends against local servers that speak the providers' wire formats, through the
real SDKs over real HTTP, with injected faults (tests/provider_server.py)."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("instructor")

from judge.backends import BackendFatalError, get_backend  # noqa: E402
from judge.backends.api import BackendConfigError  # noqa: E402
from judge.backends.logprobs import score_top_logprobs  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.engine import Judge  # noqa: E402
from rubrics.model import Rubric  # noqa: E402
from tests.provider_clients import FAST, MAX_RETRIES, PROMPT, RESPONSE, backend_for, judge_one  # noqa: E402
from tests.provider_server import ProviderServer, hashed_p_yes  # noqa: E402


# -- P(yes) from logprobs ----------------------------------------------------------------------
def test_top_logprobs_sum_spellings_and_never_guess():
    score = score_top_logprobs(
        [("Yes", math.log(0.6)), (" yes", math.log(0.1)), ("No", math.log(0.2)), ("The", math.log(0.05))], 20
    )
    assert score.p_yes == pytest.approx(0.7 / 0.9)
    assert score.yes_no_mass == pytest.approx(0.9)
    missing = score_top_logprobs([("Maybe", math.log(0.8)), ("It", math.log(0.1))], 20)
    assert missing.p_yes is None and "neither Yes nor No" in missing.reason and "Maybe" in missing.reason
    assert score_top_logprobs(None, 20).p_yes is None


def test_openai_logprobs_give_the_servers_probability(server):
    criteria = ["States the capital correctly", "Is one sentence long", "Mentions the Eiffel Tower"]
    verdict = judge_one(backend_for(server, "openai/judge"), criteria)
    for criterion, result in zip(criteria, verdict.results):
        assert result.status == "scored"
        assert result.p_yes == pytest.approx(hashed_p_yes(criterion))
        assert result.yes_no_mass == pytest.approx(0.95)
    request = server.requests[-1].body
    assert request["logprobs"] is True and request["top_logprobs"] == 20 and request["max_tokens"] == 1


# -- faults: every criterion ends scored or unscored with a reason, attempts within the bound --
FAULTS = {  # fault: (status, attempts, words in the reason)
    "429": ("scored", 3, None),
    "500-once": ("scored", 2, None),
    "500": ("unscored", 1 + MAX_RETRIES, "HTTP 500"),
    "hang": ("scored", 2, None),
    "truncated": ("scored", 2, None),
    "malformed": ("unscored", 1 + MAX_RETRIES, "JSONDecodeError"),
    "400": ("unscored", 1, "maximum context length"),
}
GIVEN_UP = {"500", "malformed", "400", "badjson"}  # calls that end in an error, not an answer
LOGPROB_FAULTS = {
    **FAULTS,
    "nologprobs": ("unscored", 1, "no logprobs"),
    "maybe": ("unscored", 1, "neither Yes nor No"),
}
STRUCTURED_FAULTS = {
    **FAULTS,
    "badjson-once": ("scored", 2, None),
    "badjson": ("unscored", 3, "no valid structured verdict"),
}


@pytest.mark.parametrize(
    "spec, options, faults",
    [
        ("openai/judge", {}, LOGPROB_FAULTS),
        ("openai/judge", {"mode": "structured"}, STRUCTURED_FAULTS),
        ("anthropic/claude-test", {}, STRUCTURED_FAULTS),
    ],
    ids=["openai-logprobs", "openai-structured", "anthropic"],
)
def test_faults_end_scored_or_unscored_within_the_retry_bound(server, spec, options, faults):
    tag = f"{spec}-{options.get('mode', '')}"
    criteria = [f"Is accurate ({tag}) FAULT:{fault}" for fault in faults] + [f"Is concise ({tag})"]
    before = len(server.requests)
    backend = backend_for(server, spec, **options)
    verdict = judge_one(backend, criteria)
    new = server.requests[before:]
    assert len(verdict.results) == len(criteria)  # nothing lost
    for (fault, (status, attempts, reason)), result in zip(faults.items(), verdict.results):
        assert result.status == status, (fault, result)
        assert sum(1 for r in new if r.fault == fault) == attempts, fault
        if reason:
            assert reason in result.reason, (fault, result.reason)
    assert verdict.results[-1].status == "scored"
    assert backend.usage.requests == len(new)  # re-asks included
    reasked = sum(attempts - 1 for fault, (_, attempts, _) in faults.items() if fault.startswith("badjson"))
    assert backend.usage.retries == len(new) - len(criteria) - reasked
    assert backend.usage.failed == len(set(faults) & GIVEN_UP)


def test_retry_after_is_honoured(server):
    before = len(server.requests)
    judge_one(backend_for(server, "openai/judge"), ["Answers in French FAULT:429"])
    attempts = [r for r in server.requests[before:] if r.fault == "429"]
    assert len(attempts) == 3
    gaps = [b.time - a.time for a, b in zip(attempts, attempts[1:])]
    assert all(gap >= 0.3 for gap in gaps), gaps  # the server asked for 0.3 s


def test_bad_key_stops_the_run_after_one_request():
    with ProviderServer(api_key="sk-right") as guarded:
        backend = get_backend("openai/judge", base_url=guarded.url + "/v1", api_key_env="RJ_TEST_KEY", **FAST)
        with pytest.raises(BackendFatalError, match="HTTP 401: Incorrect API key"):
            judge_one(backend, ["Is polite"])
        assert len(guarded.requests) == 1


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendConfigError, match="OPENAI_API_KEY"):
        get_backend("openai/gpt-4.1-mini")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(BackendConfigError, match="ANTHROPIC_API_KEY"):
        get_backend("anthropic/claude-sonnet-4-5")
    with pytest.raises(BackendConfigError, match="samples"):
        get_backend("openai/x?samples=zero", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(BackendConfigError, match="no logprobs"):
        get_backend("anthropic/claude?mode=logprobs", base_url="http://127.0.0.1:9")


# -- structured verdicts and samples -------------------------------------------------------------
def test_structured_verdict_comes_from_the_tool_call_and_keeps_the_reasoning(server):
    verdict = judge_one(backend_for(server, "anthropic/claude-test"), ["Names the city"])
    (result,) = verdict.results
    assert result.p_yes == float(hashed_p_yes("Names the city") >= 0.5)
    assert result.explanation == "scripted verdict"
    body = server.requests[-1].body
    assert body["tools"] and body["system"].startswith("You are a strict")  # system prompt passed apart
    assert all(m["role"] != "system" for m in body["messages"])


def test_samples_estimate_p_yes_as_the_share_of_yes(server):
    criterion = "Uses a friendly tone (sampled)"
    before = len(server.requests)
    verdict = judge_one(backend_for(server, "openai/judge", mode="structured", samples=8), [criterion])
    (result,) = verdict.results
    new = server.requests[before:]
    assert len(new) == 8 and all(r.body["temperature"] == 1.0 for r in new)
    assert result.p_yes * 8 == pytest.approx(round(result.p_yes * 8))  # a share of 8 verdicts
    assert any("8 sampled verdicts" in note for note in result.notes)


# -- batched request shape ------------------------------------------------------------------------
def test_batched_shape_is_one_request_per_response(server):
    criteria = ["Gives the capital", "Is polite", "Cites a source", "Uses metric units"]
    before = len(server.requests)
    verdict = judge_one(backend_for(server, "openai/judge"), criteria, request_shape="batched")
    assert len(server.requests) - before == 1
    assert verdict.request_shape == "batched"
    for criterion, result in zip(criteria, verdict.results):
        assert result.status == "scored"
        assert result.p_yes == float(hashed_p_yes(criterion) >= 0.5)


def test_generated_shape_is_a_structured_verdict_per_criterion(server):
    criteria = ["Gives the capital", "Is polite", "Cites a source"]
    before = len(server.requests)
    verdict = judge_one(backend_for(server, "openai/judge"), criteria, request_shape="generated")
    assert len(server.requests) - before == 3 and verdict.request_shape == "generated"
    for criterion, result in zip(criteria, verdict.results):
        assert result.p_yes == float(hashed_p_yes(criterion) >= 0.5) and result.explanation == "scripted verdict"


def test_a_server_with_structured_outputs_gets_the_schema_to_decode_under(server):
    from judge.backends.structured import GeneratedVerdict

    verdict = judge_one(
        backend_for(server, "openai/judge", json_schema=True), ["Gives the capital"], request_shape="generated"
    )
    body = server.requests[-1].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == GeneratedVerdict.model_json_schema()  # maxLength and all
    assert verdict.results[0].status == "scored" and verdict.results[0].explanation == "scripted verdict"
    judge_one(backend_for(server, "openai/judge"), ["Gives the capital"], request_shape="generated")
    assert server.requests[-1].body["response_format"] == {"type": "json_object"}  # the default every server takes


def test_batched_unknown_label_and_extra_id_cost_one_criterion(server):
    criteria = ["Gives the capital FAULT:unknown-label", "Is polite", "Is short"]
    verdict = judge_one(backend_for(server, "anthropic/claude-test"), criteria, request_shape="batched")
    first, *rest = verdict.results
    assert first.status == "unscored" and "unknown label 'maybe'" in first.reason
    assert all(r.status == "scored" for r in rest)
    assert any("c99" in note for note in verdict.notes)


# -- replicas, litellm, cache, repeated sync calls ---------------------------------------------------
def test_requests_spread_over_replicas_and_survive_a_dead_one():
    with ProviderServer() as one, ProviderServer() as two:
        urls = [one.url + "/v1", two.url + "/v1"]
        backend = get_backend("openai/judge", base_url=urls, concurrency=8, **FAST)
        verdict = judge_one(backend, [f"Criterion number {i}" for i in range(40)])
        assert verdict.n_scored == 40
        assert len(one.requests) >= 10 and len(two.requests) >= 10
        assert sum(backend.usage.by_replica.values()) == 40
    with ProviderServer() as alive:
        dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
        backend = get_backend("openai/judge", base_url=[dead, alive.url + "/v1"], concurrency=4, **FAST)
        verdict = judge_one(backend, [f"Criterion number {i}" for i in range(12)])
        assert verdict.n_scored == 12 and backend.usage.failed == 0


def test_litellm_reads_logprobs_and_routes_over_a_router(server, tmp_path):
    pytest.importorskip("litellm")
    criteria = ["States the capital correctly", "Is one sentence long"]
    verdict = judge_one(backend_for(server, "litellm/openai/judge"), criteria)
    assert [r.p_yes for r in verdict.results] == pytest.approx([hashed_p_yes(c) for c in criteria])
    with ProviderServer() as one, ProviderServer() as two:
        config = tmp_path / "router.yaml"
        deployments = [
            {
                "model_name": "judge",
                "litellm_params": {"model": "openai/judge", "api_base": s.url + "/v1", "api_key": "EMPTY"},
            }
            for s in (one, two)
        ]
        config.write_text(
            json.dumps({"model_list": deployments, "router_settings": {"routing_strategy": "simple-shuffle"}})
        )
        backend = get_backend("litellm/judge", router_config=str(config), **FAST)
        verdict = judge_one(backend, [f"Criterion {i}" for i in range(24)])
        assert verdict.n_scored == 24
        assert one.requests and two.requests


def test_a_cached_rerun_makes_no_requests(server, tmp_path):
    criteria = [f"Cached criterion {i}" for i in range(6)]
    first = judge_one(CachedBackend(backend_for(server, "openai/judge"), tmp_path), criteria)
    before = len(server.requests)
    again = judge_one(CachedBackend(backend_for(server, "openai/judge"), tmp_path), criteria)
    assert len(server.requests) == before
    assert [r.p_yes for r in again.results] == [r.p_yes for r in first.results]
    batched = CachedBackend(backend_for(server, "openai/judge"), tmp_path)
    judge_one(batched, criteria, request_shape="batched")
    before = len(server.requests)
    judge_one(batched, criteria, request_shape="batched")
    assert len(server.requests) == before


def test_sync_calls_in_a_row_and_async_use_share_one_backend(server):
    backend = backend_for(server, "anthropic/claude-test")
    for _ in range(2):  # each sync call runs its own event loop
        assert judge_one(backend, ["Is polite"]).n_scored == 1

    async def twice():
        judge = Judge(backend)
        rubric = Rubric.from_principles(["Is polite", "Is short"], "r")
        return await asyncio.gather(
            judge.aevaluate(PROMPT, RESPONSE, rubric), judge.aevaluate(PROMPT, "Lyon", rubric, item_id="b")
        )

    assert [v.n_scored for v in asyncio.run(twice())] == [2, 2]


def test_limits_bound_requests_in_flight_and_per_period():
    from judge.backends.limits import RequestLimits

    async def run() -> tuple[int, list[float]]:
        limits = RequestLimits(concurrency=3, rpm=4, period=0.4)  # 4 requests per 0.4 s
        loop = asyncio.get_running_loop()
        in_flight, peak, starts = 0, 0, []

        async def request() -> None:
            nonlocal in_flight, peak
            async with limits.slot():
                starts.append(loop.time())
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.01)
                in_flight -= 1

        await asyncio.gather(*(request() for _ in range(12)))
        return peak, sorted(starts)

    peak, starts = asyncio.run(run())
    assert peak <= 3
    assert starts[-1] - starts[0] >= 0.4 * 0.9  # 12 requests need at least two more periods than the first burst


# -- the command line ------------------------------------------------------------------------------
def test_cli_judges_through_an_api_server_and_reports_usage(rubric_exe, tmp_path):
    import subprocess

    items = tmp_path / "items.jsonl"
    rows = [{"id": f"q{i}", "prompt": PROMPT, "response": f"Answer {i}: Paris."} for i in range(5)]
    rows.append({"id": "broken", "prompt": PROMPT, "response": "Paris", "rubric": ["Is right FAULT:500"]})
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rubric = tmp_path / "rubric.json"
    rubric.write_text(
        json.dumps(
            {"id": "capital", "criteria": [{"id": "right", "text": "Names Paris"}, {"id": "short", "text": "Is short"}]}
        )
    )

    def judge(output, *extra):
        return subprocess.run(
            [
                rubric_exe,
                "judge",
                "--rubric",
                rubric,
                "--input",
                items,
                "--output",
                output,
                "--cache-dir",
                tmp_path / "cache",
                "--model",
                "openai/judge?max_retries=1&retry_wait=0.01",
                "--base-url",
                server.url + "/v1",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    with ProviderServer() as server:
        result = judge(tmp_path / "out.jsonl")
        assert result.returncode == 1, result.stderr  # one criterion unscored
        verdicts = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert len(verdicts) == 6
        broken = next(v for v in verdicts if v["item_id"] == "broken")
        assert broken["status"] == "unscored" and "HTTP 500" in broken["results"][0]["reason"]
        assert "API usage: 12 requests (1 retries, 1 failed)" in result.stdout  # 5 x 2 criteria + 2 attempts
        sent = len(server.requests)

        again = judge(tmp_path / "again.jsonl")  # a fresh output file: everything comes from the cache
        assert "API usage: 2 requests" in again.stdout  # only the failed criterion is asked again
        assert len(server.requests) == sent + 2

        batched = judge(tmp_path / "batched.jsonl", "--request-shape", "batched", "--no-cache")
        records = [json.loads(line) for line in (tmp_path / "batched.jsonl").read_text().splitlines()]
        assert {r["request_shape"] for r in records} == {"batched"}
        assert "API usage: 7 requests" in batched.stdout  # one per response (+1 retry of the failing one)

        misuse = subprocess.run(
            [
                rubric_exe,
                "judge",
                "--rubric",
                rubric,
                "--input",
                items,
                "--output",
                tmp_path / "x.jsonl",
                "--model",
                "fake:yes",
                "--base-url",
                server.url,
            ],
            capture_output=True,
            text=True,
        )
        assert misuse.returncode == 2 and "--base-url applies to API models only" in misuse.stderr


# -- pure parts: retry decisions, Retry-After, prices ----------------------------------------------
class _Response:
    def __init__(self, headers):
        self.headers = headers


class _StatusError(Exception):
    def __init__(self, status, headers=None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = _Response(headers or {})
        self.body = {"error": {"message": f"provider says {status}"}}


def test_retry_decisions_and_waits():
    from email.utils import format_datetime
    from datetime import datetime, timedelta, timezone

    from judge.backends.retry import describe, is_retryable, retry_after

    assert [is_retryable(_StatusError(s)) for s in (400, 401, 403, 404, 408, 409, 422, 429, 500, 503)] == [
        False,
        False,
        False,
        False,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    assert is_retryable(json.JSONDecodeError("x", "doc", 0)) and is_retryable(TimeoutError())
    wrapped = RuntimeError("instructor gave up")
    wrapped.__cause__ = _StatusError(429)
    assert is_retryable(wrapped) and describe(wrapped) == "HTTP 429: provider says 429"
    assert retry_after(_StatusError(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after(_StatusError(429, {"retry-after": "3"})) == 3.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after(_StatusError(429, {"retry-after": later})) <= 30
    assert retry_after(_StatusError(429, {"retry-after": "soon"})) is None


def test_usage_prices_given_or_from_litellms_table():
    from judge.backends.usage import Usage, find_prices

    given = find_prices("my-model", price_in=0.4, price_out=1.6)
    usage = Usage(prices=given)
    usage.add_tokens(1_000_000, 500_000)
    assert usage.cost == pytest.approx(0.4 + 0.8) and "$1.2000" in usage.describe()
    assert find_prices("no-such-model-anywhere") is None and "cost unknown" in Usage().describe()
    if __import__("importlib.util").util.find_spec("litellm"):
        table = find_prices("openai/gpt-4.1-mini")
        assert table is not None and table.input > 0 and "litellm" in table.source
