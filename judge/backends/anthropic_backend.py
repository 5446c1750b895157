"""Anthropic's messages API (``--model anthropic/claude-...``, key from ANTHROPIC_API_KEY).

Anthropic gives no logprobs, so P(yes) comes from structured verdicts validated by
instructor: one verdict, or the yes share of ``samples`` verdicts. Recent SDKs no longer
take ``temperature`` (the model's default applies); with those, verdicts are sampled at
the provider's default and the cache identity says so instead of claiming temperature 0.
"""

from __future__ import annotations

import inspect
from typing import Any

import anthropic
import instructor
from pydantic import BaseModel

from judge.backends.api import ApiBackend, ApiOptions, Endpoint, TokenCounts, api_key, reasks
from judge.backends.base import Message
from judge.backends.openai_backend import aiohttp_client


def _tokens(usage: Any) -> TokenCounts:
    if usage is None:
        return None, None
    return getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)


def sdk_takes_temperature() -> bool:
    """Recent SDKs dropped `temperature` from messages.create (the model's default applies); older ones take it."""
    from anthropic.resources.messages import AsyncMessages

    return "temperature" in inspect.signature(AsyncMessages.create).parameters


def split_system(messages: list[Message]) -> tuple[dict[str, str], list[Message]]:
    """Anthropic takes the system prompt apart from the turns: ({"system": ...} or {}, turns)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    return ({"system": system} if system else {}), [m for m in messages if m["role"] != "system"]


class AnthropicBackend(ApiBackend):
    name = "anthropic"
    default_key_env = "ANTHROPIC_API_KEY"
    supports_logprobs = False

    def __init__(self, model: str, options: ApiOptions):
        self.key = api_key(self.name, options.api_key_env or self.default_key_env, options.base_url)
        super().__init__(model, options, mode="structured" if options.mode == "auto" else options.mode)
        self.sends_temperature = sdk_takes_temperature()

    def _endpoints(self) -> list[tuple[str, Endpoint]]:
        endpoints = []
        for url in self.options.base_url or [None]:
            client = anthropic.AsyncAnthropic(
                api_key=self.key, base_url=url, max_retries=0, timeout=self.options.timeout, http_client=aiohttp_client(anthropic)
            )
            endpoints.append((url or "api.anthropic.com", Endpoint(client, instructor.from_anthropic(client, mode=instructor.Mode.TOOLS))))
        return endpoints

    async def _structured(
        self, endpoint: Endpoint, messages: list[Message], *, schema: type[BaseModel], max_tokens: int, temperature: float
    ) -> tuple[BaseModel, TokenCounts]:
        system, turns = split_system(messages)
        value, completion = await endpoint.structured.messages.create_with_completion(
            model=self.model_id,
            **system,
            messages=turns,
            response_model=schema,
            max_retries=reasks(self.options.reasks),
            **self.request_parameters(max_tokens, temperature),
        )
        return value, _tokens(getattr(completion, "usage", None))

    async def _text(self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int, temperature: float) -> tuple[str, TokenCounts]:
        system, turns = split_system(messages)
        message = await endpoint.raw.messages.create(
            model=self.model_id, messages=turns, **system, **self.request_parameters(max_tokens, temperature)
        )
        text = "".join(block.text for block in message.content if getattr(block, "type", None) == "text")
        return text, _tokens(message.usage)
