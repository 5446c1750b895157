"""OpenAI and every server that speaks its chat-completions API (vLLM, SGLang, Ollama, ...).

``--model openai/gpt-4.1-mini`` (key from OPENAI_API_KEY), or a self-hosted server with
``--base-url http://host:8000/v1``; several base URLs are replicas of one model and share
the load. P(yes) comes from the answer token's top logprobs; ``mode=structured`` asks for
an instructor-validated verdict instead (for models without logprobs).

Reasoning models (o1/o3/o4..., gpt-5 but its chat variants; ``reasoning=true|false``
overrides the name) take neither logprobs nor a temperature and count their reasoning in
``max_completion_tokens``: they get structured verdicts, no temperature, and
``reasoning_tokens`` more completion tokens. OpenAI itself gets ``max_completion_tokens``
(``max_tokens`` is deprecated there); OpenAI-compatible servers get ``max_tokens``, which
they all take, and ``chat_template_kwargs`` when set (vLLM, SGLang: e.g.
``{"enable_thinking": false}`` for a thinking judge).
"""

from __future__ import annotations

import os
import re
from typing import Any

import instructor
import openai
from openai.types.chat import ChatCompletion

from judge.backends.api import ApiBackend, ApiOptions, BackendConfigError, Endpoint, TokenCounts, api_key, usage_tokens
from judge.backends.base import Message
from judge.backends.logprobs import first_token_alternatives
from judge.backends.openai_batch import OpenAIBatches


def aiohttp_client(sdk: Any) -> Any:
    """The SDK's aiohttp transport where installed: httpx's connection pool spends time
    quadratic in the connections at high concurrency (measured: 52 requests/s at 64 in
    flight against 295 with aiohttp, bench/api_throughput.py)."""
    try:
        return sdk.DefaultAioHttpClient()
    except (AttributeError, RuntimeError, ImportError):  # older SDK, or the extra not installed
        return None


REASONING_MODEL = re.compile(r"^(ft:)?(o\d+([-.].*)?|gpt-5(?!-chat)([-.].*)?)$")


def is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning models by name: o1, o3-mini, o4-mini-2025-04-16, gpt-5, gpt-5-mini..."""
    return bool(REASONING_MODEL.match(model.lower()))


class OpenAIBackend(OpenAIBatches, ApiBackend):
    name = "openai"
    default_key_env = "OPENAI_API_KEY"

    def __init__(self, model: str, options: ApiOptions):
        self.urls = options.base_url or ([os.environ["OPENAI_BASE_URL"]] if os.environ.get("OPENAI_BASE_URL") else [])
        self.key = api_key(self.name, options.api_key_env or self.default_key_env, self.urls)
        self.reasoning = options.reasoning if options.reasoning is not None else is_reasoning_model(model)
        mode = options.mode
        if self.reasoning:
            if mode == "logprobs":
                raise BackendConfigError(f"{model} is a reasoning model and gives no logprobs; use mode=structured")
            mode = "structured"
            self.sends_temperature = False
        super().__init__(model, options, mode=mode)

    def request_parameters(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        parameters: dict[str, Any]
        if self.reasoning:
            parameters = {"max_completion_tokens": max_tokens + self.options.reasoning_tokens}
        elif self.urls:  # compatible servers: the parameter every one of them takes
            parameters = {"max_tokens": max_tokens, "temperature": temperature}
        else:
            parameters = {"max_completion_tokens": max_tokens, "temperature": temperature}
        if self.options.chat_template_kwargs:
            parameters["extra_body"] = {"chat_template_kwargs": self.options.chat_template_kwargs}
        return parameters

    def _endpoints(self) -> list[tuple[str, Endpoint]]:
        # Self-hosted servers do JSON mode more reliably than tool calls; those with structured
        # outputs (vLLM, SGLang) decode under the schema itself when it is sent (json_schema=true).
        structured_mode = instructor.Mode.TOOLS
        if self.urls:
            structured_mode = instructor.Mode.JSON_SCHEMA if self.options.json_schema else instructor.Mode.JSON
        endpoints = []
        for url in self.urls or [None]:
            client = openai.AsyncOpenAI(
                api_key=self.key,
                base_url=url,
                max_retries=0,
                timeout=self.options.timeout,
                http_client=aiohttp_client(openai),
            )
            endpoints.append(
                (url or "api.openai.com", Endpoint(client, instructor.from_openai(client, mode=structured_mode)))
            )
        return endpoints

    async def call_logprobs(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int
    ) -> tuple[list[tuple[str, float]] | None, TokenCounts]:
        # The SDK's create() re-walks its typed parameters on every call (about 2 ms of CPU,
        # the client's largest cost at 64 requests in flight); this body is plain JSON
        # already, so it goes through the same client's post() with the same errors.
        completion = await endpoint.raw.post(
            "/chat/completions", body=self.logprobs_body(messages, max_tokens), cast_to=ChatCompletion
        )
        return first_token_alternatives(completion), usage_tokens(completion.usage)

    def _body(self, messages: list[Message], max_tokens: int, temperature: float, **fields: Any) -> dict[str, Any]:
        """A chat-completions request body as plain JSON (what the Batch API's lines hold too)."""
        parameters = self.request_parameters(max_tokens, temperature)
        return {
            "model": self.model_id,
            "messages": messages,
            **{k: v for k, v in parameters.items() if k != "extra_body"},
            **parameters.get("extra_body", {}),
            **fields,
        }

    def logprobs_body(self, messages: list[Message], max_tokens: int = 1) -> dict[str, Any]:
        return self._body(messages, max_tokens, 0.0, logprobs=True, top_logprobs=self.options.top_logprobs)

    async def call_text(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int, temperature: float
    ) -> tuple[str, TokenCounts]:
        completion = await endpoint.raw.chat.completions.create(
            model=self.model_id, messages=messages, **self.request_parameters(max_tokens, temperature)
        )
        if not completion.choices:
            raise ValueError("the completion has no choices")
        return completion.choices[0].message.content or "", usage_tokens(completion.usage)
