"""Anthropic's messages API (``--model anthropic/claude-...``, key from ANTHROPIC_API_KEY).

Anthropic gives no logprobs, so P(yes) comes from structured verdicts validated by
instructor: one verdict, or the yes share of ``samples`` verdicts. Recent SDKs no longer
take ``temperature`` (the model's default applies); with those, verdicts are sampled at
the provider's default and the cache identity says so instead of claiming temperature 0.
The criteria of one response share a prompt-cache breakpoint (prompt_cache.py), in
synchronous requests and in Message Batches (``rubric judge --batch``) alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import anthropic
import instructor
from pydantic import BaseModel

from judge.backends.api import (
    STRUCTURED_INSTRUCTION,
    ApiBackend,
    ApiOptions,
    Endpoint,
    TokenCounts,
    YesNoVerdict,
    api_key,
    reasks,
    with_instruction,
)
from judge.backends.base import Message, YesNoQuestion, YesNoScore
from judge.backends.batch_jobs import JobStatus
from judge.backends.openai_backend import aiohttp_client
from judge.backends.prompt_cache import PrefixMemory, shared_prefixes, with_breakpoint

VERDICT_TOOL = {
    "name": YesNoVerdict.__name__,
    "description": "Your verdict on whether the response meets the criterion.",
    "input_schema": YesNoVerdict.model_json_schema(),
}


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
        self.prefixes = PrefixMemory()

    def _count_cache(self, usage: Any, *, batch: bool = False) -> None:
        self.usage.add_cache_tokens(
            getattr(usage, "cache_read_input_tokens", None),
            getattr(usage, "cache_creation_input_tokens", None),
            batch=batch,
        )

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        self.remember_prefixes(questions)
        return await super().p_yes(questions)

    def _endpoints(self) -> list[tuple[str, Endpoint]]:
        endpoints = []
        for url in self.options.base_url or [None]:
            client = anthropic.AsyncAnthropic(
                api_key=self.key,
                base_url=url,
                max_retries=0,
                timeout=self.options.timeout,
                http_client=aiohttp_client(anthropic),
            )
            endpoints.append(
                (
                    url or "api.anthropic.com",
                    Endpoint(client, instructor.from_anthropic(client, mode=instructor.Mode.TOOLS)),
                )
            )
        return endpoints

    async def call_structured(
        self,
        endpoint: Endpoint,
        messages: list[Message],
        *,
        schema: type[BaseModel],
        max_tokens: int,
        temperature: float,
    ) -> tuple[BaseModel, TokenCounts]:
        system, turns = split_system(messages)
        value, completion = await endpoint.structured.messages.create_with_completion(
            model=self.model_id,
            **system,
            messages=with_breakpoint(turns, self.prefixes),
            response_model=schema,
            max_retries=reasks(self.options.reasks),
            **self.request_parameters(max_tokens, temperature),
        )
        self._count_cache(getattr(completion, "usage", None))
        return value, _tokens(getattr(completion, "usage", None))

    async def call_text(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int, temperature: float
    ) -> tuple[str, TokenCounts]:
        system, turns = split_system(messages)
        message = await endpoint.raw.messages.create(
            model=self.model_id, messages=turns, **system, **self.request_parameters(max_tokens, temperature)
        )
        text = "".join(block.text for block in message.content if getattr(block, "type", None) == "text")
        return text, _tokens(message.usage)

    # -- Message Batches (judge/backends/batch_jobs.py) ----------------------------------------
    def batch_line(self, custom_id: str, messages: Sequence[Message]) -> dict[str, Any]:
        """A forced call of the verdict tool, as the synchronous path asks through instructor."""
        system, turns = split_system(with_instruction(messages, STRUCTURED_INSTRUCTION))
        temperature = 0.0 if self.samples == 1 else self.options.sample_temperature
        params = {
            "model": self.model_id,
            **system,
            "messages": with_breakpoint(turns, self.prefixes),
            "tools": [VERDICT_TOOL],
            "tool_choice": {"type": "tool", "name": VERDICT_TOOL["name"]},
            **self.request_parameters(400, temperature),
        }
        return {"custom_id": custom_id, "params": params}

    def remember_prefixes(self, questions: Sequence[YesNoQuestion]) -> None:
        if self.options.prompt_cache:
            self.prefixes.remember(shared_prefixes(questions))

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        batch = await (await self.raw_client()).messages.batches.create(requests=lines)
        return batch.id

    async def batch_poll(self, job_id: str) -> JobStatus:
        batch = await (await self.raw_client()).messages.batches.retrieve(job_id)
        counts = batch.request_counts
        total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
        detail = f"{counts.succeeded} succeeded, {counts.errored} errored, {counts.canceled} cancelled, {counts.expired} expired"
        if batch.processing_status != "ended":
            return JobStatus("running", total - counts.processing, total, f"{batch.processing_status}: {detail}")
        state = (
            "expired"
            if counts.expired and not counts.succeeded
            else "cancelled"
            if counts.canceled and not counts.succeeded
            else "ended"
        )
        return JobStatus(state, total, total, detail)  # type: ignore[arg-type]

    async def batch_results(self, job_id: str) -> dict[str, YesNoScore]:
        answers: dict[str, YesNoScore] = {}
        async for entry in await (await self.raw_client()).messages.batches.results(job_id):
            result = entry.result
            if result.type == "succeeded":
                message = result.message
                self.usage.add_batch_tokens(*_tokens(message.usage))
                self._count_cache(message.usage, batch=True)
                answers[entry.custom_id] = read_verdict(message.content)
            elif result.type == "errored":
                error = result.error.error
                answers[entry.custom_id] = YesNoScore(
                    None, reason=f"failed in the batch: {error.type}: {error.message}"
                )
            else:
                answers[entry.custom_id] = YesNoScore(
                    None, reason=f"{'cancelled' if result.type == 'canceled' else 'expired'} in the batch before it ran"
                )
        return answers


def read_verdict(content: Any) -> YesNoScore:
    """P(yes) from a message's verdict tool call: 1.0 or 0.0, the reasoning as explanation."""
    for block in content:
        if getattr(block, "type", None) == "tool_use":
            try:
                verdict = YesNoVerdict.model_validate(block.input)
            except ValueError as e:
                return YesNoScore(None, reason=f"invalid verdict in the batch answer: {str(e).splitlines()[0]}")
            return YesNoScore(float(verdict.satisfied), explanation=verdict.reasoning or None)
    return YesNoScore(None, reason="the batch answer holds no verdict tool call")
