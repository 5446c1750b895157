"""What every API backend shares: options, P(yes) by logprobs or structured verdicts,
limits, retries, replicas and usage. A provider module adds only its three calls."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from judge.backends.base import BackendBase, GenerationError, Message, YesNoQuestion, YesNoScore
from judge.backends.limits import RequestLimits, estimate_tokens
from judge.backends.logprobs import score_top_logprobs
from judge.backends.replicas import ReplicaPool
from judge.backends.retry import BackendFatalError, RetryPolicy, describe, is_retryable, status_code, with_retries
from judge.backends.usage import Usage, find_prices

# instructor logs every failed attempt at ERROR level; our retries and unscored reasons say it once.
logging.getLogger("instructor").setLevel(logging.CRITICAL)

Mode = Literal["auto", "logprobs", "structured"]
TokenCounts = tuple[int | None, int | None]


class BackendConfigError(ValueError):
    """The backend cannot be set up as asked (missing key, unknown option, bad value)."""


class ApiOptions(BaseModel):
    """Options of every API backend, from keyword arguments or the model spec's ?query."""

    model_config = ConfigDict(extra="forbid")

    base_url: list[str] = Field(default_factory=list, description="one server, or several replicas of one model")
    api_key_env: str | None = None
    mode: Mode = "auto"
    samples: int = Field(1, ge=1, le=64, description="structured verdicts per criterion; P(yes) = share of yes")
    sample_temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_logprobs: int = Field(
        20, description="alternatives read per answer token: 1 to 20 (OpenAI's and vLLM's default limit)"
    )
    chat_template_kwargs: dict[str, Any] | None = Field(
        None,
        description='passed to the server\'s chat template (vLLM, SGLang), e.g. {"enable_thinking": false}; JSON in a spec',
    )
    reasoning: bool | None = Field(
        None, description="an OpenAI reasoning model (o-series, gpt-5): no temperature, no logprobs; default: by name"
    )
    reasoning_tokens: int = Field(
        4096, ge=0, description="reasoning models: completion tokens allowed for reasoning on top of the answer"
    )
    reasks: int = Field(2, ge=0, le=10, description="re-asks after invalid structured output")
    json_schema: bool = Field(
        False,
        description="compatible servers: send the schema as response_format json_schema, so a server "
        "with structured outputs (vLLM, SGLang) decodes under it (default: json_object, which every server takes)",
    )
    concurrency: int = Field(16, ge=1, description="requests in flight")
    rpm: float | None = Field(None, gt=0)
    tpm: float | None = Field(None, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    retry_wait: float = Field(0.5, gt=0, description="first backoff step, seconds")
    max_wait: float = Field(60.0, gt=0)
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    price_in: float | None = Field(None, ge=0, description="USD per 1M prompt tokens")
    price_out: float | None = Field(None, ge=0, description="USD per 1M completion tokens")
    prompt_cache: bool = Field(
        True, description="Anthropic: mark the prefix the criteria of one response share for the prompt cache"
    )
    router_config: str | None = None  # litellm only

    @field_validator("top_logprobs")
    @classmethod
    def top_logprobs_in_range(cls, value: int) -> int:
        if not 1 <= value <= 20:
            raise ValueError(
                f"top_logprobs={value}: OpenAI and vLLM (by default) return at most 20 alternatives; give 1 to 20"
            )
        return value

    @field_validator("chat_template_kwargs", mode="before")
    @classmethod
    def json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"not a JSON object ({e.msg})") from None
        return value

    @field_validator("base_url", mode="before")
    @classmethod
    def split_urls(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @classmethod
    def parse(cls, backend: str, options: dict[str, Any]) -> ApiOptions:
        try:
            return cls.model_validate({k: v for k, v in options.items() if v is not None})
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'options'}: {err['msg']}" for err in e.errors())
            raise BackendConfigError(f"{backend} backend options: {problems}") from None


class YesNoVerdict(BaseModel):
    """The structured verdict asked for when logprobs are not available."""

    reasoning: str = Field(description="At most two sentences on whether the response meets the criterion.")
    satisfied: bool = Field(description="true if the response satisfies the criterion (Yes), false if not (No).")


STRUCTURED_INSTRUCTION = (
    "\n\nInstead of a single word, give your verdict as the structured output: `reasoning` "
    "(at most two sentences), then `satisfied` (true for Yes, false for No)."
)


def usage_tokens(usage: Any) -> TokenCounts:
    """(prompt tokens, completion tokens) of an OpenAI-shaped usage record, None where absent."""
    if usage is None:
        return None, None
    return getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)


def reasks(count: int) -> AsyncRetrying:
    """instructor's re-ask policy: ask again after output that fails validation, and only
    then. A body that is not JSON at all is a transport fault, retried by our own policy
    (instructor would re-ask it too, multiplying the attempts). One object per call:
    tenacity keeps per-run state on it."""

    def invalid_output(error: BaseException) -> bool:
        return isinstance(error, ValidationError) or type(error).__name__ in (
            "ResponseParsingError",
            "AsyncValidationError",
        )

    return AsyncRetrying(stop=stop_after_attempt(count + 1), retry=retry_if_exception(invalid_output), reraise=True)


def with_instruction(messages: Sequence[Message], instruction: str) -> list[Message]:
    """The messages with the instruction appended to the last user message."""
    out = [dict(m) for m in messages]
    out[-1]["content"] = out[-1]["content"] + instruction
    return out


def api_key(backend: str, variable: str, base_urls: list[str]) -> str:
    """The key from the environment; self-hosted servers (a base URL given) may need none."""
    key = os.environ.get(variable)
    if key:
        return key
    if base_urls:
        return "EMPTY"
    raise BackendConfigError(f"the {backend} backend needs an API key: set the environment variable {variable}")


@dataclass
class Endpoint:
    """One server: the SDK client for plain calls and instructor's client for structured ones."""

    raw: Any
    structured: Any

    async def close(self) -> None:
        close = getattr(self.raw, "close", None)
        if close is not None:
            await close()


async def close_with_loop(endpoints: list[tuple[str, Endpoint]]) -> AsyncIterator[None]:
    """Parked after its first step until its event loop shuts down: asyncio.run() finalises
    pending async generators, which closes the clients on the loop that owns their sockets
    (closed later, from another loop, they fail noisily)."""
    try:
        yield
    finally:
        for _, endpoint in endpoints:
            try:
                await endpoint.close()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass


UNREACHED = 3  # requests with no answer at all, before any answer, that end a run


class ApiBackend(BackendBase):
    """Base of the openai, anthropic and litellm backends."""

    name: ClassVar[str]
    default_key_env: ClassVar[str]
    supports_logprobs: ClassVar[bool] = True
    final_structured_output: ClassVar[bool] = (
        True  # instructor re-asks invalid structured output itself (options.reasks)
    )
    context_window: int | None = None

    def __init__(self, model: str, options: ApiOptions, *, mode: Mode):
        if not model:
            raise BackendConfigError(f"name a model: --model {self.name}/MODEL")
        if mode == "logprobs" and not self.supports_logprobs:
            raise BackendConfigError(f"the {self.name} backend gives no logprobs; use mode=structured")
        self.model_id = model
        self.options = options
        self.mode: Literal["logprobs", "structured"] = "structured" if mode == "structured" else "logprobs"
        self.samples = options.samples
        self.concurrency = options.concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self.policy = RetryPolicy(options.max_retries, options.retry_wait, options.max_wait)
        self.usage = Usage(prices=find_prices(model, options.price_in, options.price_out))
        self._answered = False  # the provider has answered something (even an error status)
        self._unreached = 0  # requests that got no answer at all, before the first answer

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> ApiBackend:
        return cls(rest, ApiOptions.parse(cls.name, options))  # type: ignore[call-arg]

    def _endpoints(self) -> list[tuple[str, Endpoint]]:
        """(label, endpoint) per server; called once per event loop."""
        raise NotImplementedError

    async def _bind_to_running_loop(self) -> None:
        """SDK clients, semaphores and limiters belong to one event loop; a new loop (each
        sync evaluate() call runs one) gets fresh ones."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            endpoints = self._endpoints()
            for label, endpoint in endpoints:  # instructor's re-asks are requests too
                endpoint.structured.on(
                    "completion:kwargs", lambda *args, label=label, **kwargs: self._count_request(label)
                )
            self.pool: ReplicaPool[Endpoint] = ReplicaPool(endpoints)
            self.limits = RequestLimits(self.options.concurrency, self.options.rpm, self.options.tpm)
            self._closer = close_with_loop(endpoints)
            await anext(self._closer)

    async def raw_client(self) -> Any:
        """The first server's SDK client on the running loop (batch jobs live at one provider)."""
        await self._bind_to_running_loop()
        return self.pool.replicas[0].client.raw

    def identity(self) -> dict[str, Any]:
        # Replicas serve the same model, so base URLs are not part of it.
        identity: dict[str, Any] = {"backend": self.name, "model": self.model_id, "mode": self.mode}
        if self.mode == "logprobs":
            identity["top_logprobs"] = self.options.top_logprobs
        else:
            identity.update(samples=self.samples, temperature=self.verdict_temperature)
        if self.options.chat_template_kwargs:
            identity["chat_template_kwargs"] = self.options.chat_template_kwargs
        return identity

    # -- request parameters the provider accepts ----------------------------------------------
    sends_temperature: bool = True  # False: the provider's default temperature applies

    @property
    def verdict_temperature(self) -> float | str:
        """The temperature structured verdicts are sampled at, as recorded in the cache identity."""
        if not self.sends_temperature:
            return "provider default"
        return self.options.sample_temperature if self.samples > 1 else 0.0

    def request_parameters(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        """Length and sampling parameters of a generation request, as this provider takes them."""
        return {"max_tokens": max_tokens, **({"temperature": temperature} if self.sends_temperature else {})}

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return None

    # -- the backend protocol -----------------------------------------------------------------
    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        await self._bind_to_running_loop()
        return list(await asyncio.gather(*(self._p_yes_one(list(q.messages)) for q in questions)))

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel:
        await self._bind_to_running_loop()
        try:
            if schema is None:
                return await self._request(
                    self.call_text, list(messages), max_tokens=max_tokens, temperature=temperature
                )
            return await self._request(
                self.call_structured, list(messages), schema=schema, max_tokens=max_tokens, temperature=temperature
            )
        except BackendFatalError:
            raise
        except Exception as e:
            raise GenerationError(describe(e)) from e

    # -- provider calls, what a backend of another provider implements:
    # (endpoint, messages, **parameters) -> (value, (prompt_tokens, completion_tokens))
    async def call_logprobs(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int
    ) -> tuple[list[tuple[str, float]] | None, TokenCounts]:
        raise NotImplementedError

    async def call_structured(
        self,
        endpoint: Endpoint,
        messages: list[Message],
        *,
        schema: type[BaseModel],
        max_tokens: int,
        temperature: float,
    ) -> tuple[BaseModel, TokenCounts]:
        """A validated structured answer; by default through instructor's OpenAI-shaped client
        on ``endpoint.structured`` (openai, litellm)."""
        value, completion = await endpoint.structured.chat.completions.create_with_completion(
            model=self.model_id,
            messages=messages,
            response_model=schema,
            max_retries=reasks(self.options.reasks),
            **self.request_parameters(max_tokens, temperature),
        )
        return value, usage_tokens(getattr(completion, "usage", None))

    async def call_text(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int, temperature: float
    ) -> tuple[str, TokenCounts]:
        raise NotImplementedError

    # -- internals -----------------------------------------------------------------------------
    async def _p_yes_one(self, messages: list[Message]) -> YesNoScore:
        try:
            if self.mode == "logprobs":
                top = await self._request(self.call_logprobs, messages, max_tokens=1)
                return score_top_logprobs(top, self.options.top_logprobs)
            return await self._sampled_verdict(messages)
        except BackendFatalError:
            raise
        except Exception as e:  # noqa: BLE001 - recorded as the criterion's unscored reason
            return YesNoScore(None, reason=describe(e), transient=is_retryable(e))

    async def _sampled_verdict(self, messages: list[Message]) -> YesNoScore:
        """P(yes) from structured verdicts: one at temperature 0 (where the provider takes a
        temperature), or the yes share of k samples."""
        asked = with_instruction(messages, STRUCTURED_INSTRUCTION)
        temperature = 0.0 if self.samples == 1 else self.options.sample_temperature
        outcomes = await asyncio.gather(
            *(
                self._request(self.call_structured, asked, schema=YesNoVerdict, max_tokens=400, temperature=temperature)
                for _ in range(self.samples)
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BackendFatalError):
                raise outcome
        verdicts = [o for o in outcomes if isinstance(o, YesNoVerdict)]
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if not verdicts:
            return YesNoScore(
                None,
                reason=f"no valid structured verdict: {describe(failures[0])}",
                transient=all(map(is_retryable, failures)),
            )
        notes = [f"{len(failures)} of {self.samples} samples failed: {describe(failures[0])}"] if failures else []
        if self.samples > 1:
            notes.append(f"P(yes) from {len(verdicts)} sampled verdicts at temperature {self.verdict_temperature}")
        share = sum(v.satisfied for v in verdicts) / len(verdicts)
        return YesNoScore(share, notes=tuple(notes), explanation=verdicts[0].reasoning or None)

    async def _request(
        self, call: Callable[..., Awaitable[tuple[Any, TokenCounts]]], messages: list[Message], **parameters: Any
    ) -> Any:
        """One call through limits, replicas and bounded retries; counts requests and tokens."""
        estimate = estimate_tokens(sum(len(m["content"]) for m in messages), parameters.get("max_tokens", 0))

        async def attempt() -> Any:
            async with self.limits.slot(estimate):
                with self.pool.lease() as replica:
                    if call != self.call_structured:  # structured calls are counted by instructor's hook
                        self._count_request(replica.label)
                    try:
                        value, (prompt_tokens, completion_tokens) = await call(replica.client, messages, **parameters)
                    except Exception as e:
                        if is_retryable(e) and status_code(e) is None:  # no answer at all: try another replica
                            self.pool.rest_after_failure(replica)
                        else:
                            self._answered = True
                        raise
            self._answered = True
            self.usage.add_tokens(prompt_tokens, completion_tokens)
            return value

        try:
            return await with_retries(attempt, self.policy, on_retry=self._count_retry)
        except BackendFatalError:
            self.usage.failed += 1
            raise
        except Exception as e:
            self.usage.failed += 1
            self._give_up_if_unreachable(e)
            raise

    def _give_up_if_unreachable(self, error: Exception) -> None:
        """A server that has never answered, after UNREACHED requests each retried to the end,
        is not coming back within this run: stop it, instead of writing a million unscored lines."""
        if self._answered or not is_retryable(error) or status_code(error) is not None:
            return
        self._unreached += 1
        if self._unreached >= UNREACHED:
            where = ", ".join(self.options.base_url) or f"the {self.name} API"
            raise BackendFatalError(
                f"no answer from {where}: {self._unreached} requests failed, each tried {self.policy.max_attempts} times "
                f"({describe(error)}); is the server running?"
            ) from error

    def _count_request(self, label: str) -> None:
        self.usage.requests += 1
        self.usage.by_replica[label] = self.usage.by_replica.get(label, 0) + 1

    def _count_retry(self, error: BaseException, wait: float) -> None:
        self.usage.retries += 1
