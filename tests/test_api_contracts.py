"""Provider contracts as the providers state them: parameter limits, reasoning models, chat
template arguments, the temperature really sent, and where invalid output is re-asked."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("instructor")

from judge.backends import get_backend  # noqa: E402
from judge.backends.api import BackendConfigError  # noqa: E402
from tests.provider_clients import FAST, backend_for, judge_one  # noqa: E402


def test_top_logprobs_above_twenty_is_refused_with_the_reason(server):
    with pytest.raises(BackendConfigError, match="at most 20 alternatives"):
        backend_for(server, "openai/judge", top_logprobs=50)
    assert backend_for(server, "openai/judge", top_logprobs=20).options.top_logprobs == 20


def test_reasoning_models_get_structured_verdicts_without_temperature(server):
    from judge.backends.openai_backend import is_reasoning_model

    assert all(
        map(is_reasoning_model, ["o1", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5-mini", "ft:o4-mini:org::abc"])
    )
    assert not any(
        map(is_reasoning_model, ["gpt-4.1-mini", "gpt-5-chat-latest", "gpt-4o", "Qwen/Qwen3-8B", "omni-moderation"])
    )
    before = len(server.requests)
    backend = backend_for(server, "openai/o4-mini")
    assert backend.mode == "structured" and backend.identity()["temperature"] == "provider default"
    verdict = judge_one(backend, ["Names the city"])
    assert verdict.results[0].status == "scored"
    body = server.requests[before].body
    assert "temperature" not in body and "max_tokens" not in body and body["max_completion_tokens"] == 400 + 4096
    with pytest.raises(BackendConfigError, match="reasoning model and gives no logprobs"):
        backend_for(server, "openai/o3", mode="logprobs")
    assert backend_for(server, "openai/my-finetune", reasoning=True).mode == "structured"


def test_openai_itself_gets_max_completion_tokens(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    backend = get_backend("openai/gpt-4.1-mini")
    assert backend.request_parameters(1, 0.0) == {"max_completion_tokens": 1, "temperature": 0.0}


def test_chat_template_kwargs_reach_the_server_in_every_request_shape(server):
    spec = 'openai/judge?chat_template_kwargs={"enable_thinking": false}'
    before = len(server.requests)
    judge_one(get_backend(spec, base_url=server.url + "/v1", **FAST), ["Names the city"])
    judge_one(get_backend(spec, base_url=server.url + "/v1", mode="structured", **FAST), ["Names the city"])
    bodies = [r.body for r in server.requests[before:]]
    assert len(bodies) == 2 and all(b["chat_template_kwargs"] == {"enable_thinking": False} for b in bodies)
    assert "logprobs" in bodies[0] and "logprobs" not in bodies[1]
    backend = get_backend(spec, base_url=server.url + "/v1")
    assert backend.identity()["chat_template_kwargs"] == {"enable_thinking": False}  # part of the cache key
    with pytest.raises(BackendConfigError, match="not a JSON object"):
        get_backend("openai/judge?chat_template_kwargs={nope", base_url=server.url + "/v1")


def test_anthropic_records_the_temperature_it_really_uses(server):
    from judge.backends.anthropic_backend import sdk_takes_temperature

    before = len(server.requests)
    backend = backend_for(server, "anthropic/claude-test")
    judge_one(backend, ["Names the city"])
    body = server.requests[before].body
    if sdk_takes_temperature():
        assert body["temperature"] == 0.0 and backend.identity()["temperature"] == 0.0
    else:  # the installed SDK takes no temperature: the model's default applies, and the key says so
        assert "temperature" not in body and backend.identity()["temperature"] == "provider default"


def test_invalid_structured_output_is_reasked_in_one_place_only(server):
    """instructor re-asks inside the API backend; the generators' re-ask loop must not
    multiply it (3 x 3 = 9 requests for one item before)."""
    from judge.backends.api import YesNoVerdict
    from judge.backends.base import GenerationError
    from judge.generate.run import generate_structured

    backend = backend_for(server, "openai/judge", mode="structured", reasks=2)
    before = len(server.requests)
    messages = [{"role": "user", "content": "Criterion: anything FAULT:badjson"}]
    with pytest.raises(GenerationError, match="the backend re-asked already"):
        asyncio.run(generate_structured(backend, messages, YesNoVerdict, reasks=2))
    assert len(server.requests) - before == 3  # one call and instructor's two re-asks
