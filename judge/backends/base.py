"""The one protocol every backend implements, and the values it exchanges.

A backend has two capabilities: P(yes) scoring of yes/no questions from the next-token
distribution, and text generation (optionally validated into a pydantic model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class YesNoQuestion:
    """Chat messages ending in a yes/no question.

    Questions with the same ``group`` share everything but the end of their last
    message (one response, several criteria), so a backend may reuse that prefix.
    """

    messages: tuple[Message, ...]
    template_version: str = ""
    group: str | None = None


@dataclass(frozen=True)
class YesNoScore:
    """P(yes), or None with the reason it could not be read."""

    p_yes: float | None
    reason: str | None = None
    yes_no_mass: float | None = None  # how much probability Yes+No spellings got
    notes: tuple[str, ...] = field(default=())
    explanation: str | None = None  # the judge's own reasoning, where it gave one
    transient: bool = (
        False  # unscored for a passing cause (connection, timeout, 5xx, rate limit): worth asking again later
    )


def model_label(backend: Any) -> str:
    """How a backend is named in verdicts, logs and reports: ``name:model_id``."""
    return f"{backend.name}:{backend.model_id}"


class BackendError(RuntimeError):
    """A backend failed in a way that the engine records as unscored."""


class BackendFatalError(BackendError):
    """A failure no later request will escape (bad API key, no permission): the run stops."""


class GenerationError(BackendError):
    """Generated text could not be turned into what was asked."""

    def __init__(self, message: str, text: str | None = None):
        super().__init__(message)
        self.text = text


@runtime_checkable
class Backend(Protocol):
    name: str  # registry name: "local", "fake", ...
    model_id: str
    context_window: int | None  # tokens, where known; the engine truncates responses to fit

    def identity(self) -> dict[str, Any]:
        """Everything about the backend that changes its outputs (for cache keys)."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        """Prompt length in tokens as this backend would send it, or None if unknown."""
        ...

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        """One score per question, in order. A question that cannot be scored gets p_yes=None."""
        ...

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel: ...


class BackendBase:
    """A backend's optional capabilities, declared with their defaults: the built-in backends
    derive from this and override what they offer; a backend written to the ``Backend``
    protocol alone gets the defaults through ``capability``."""

    concurrency: int | None = None  # requests the backend keeps in flight itself (API backends bound their own)
    usage: Any = None  # API backends: tokens, requests and cost so far (judge.backends.usage.Usage)
    final_structured_output: bool = False  # generate(schema=...) re-asks invalid output itself: the caller need not
    samples: int = 1  # structured verdicts per question (P(yes) = share of yes), for models without logprobs

    def remember_prefixes(self, questions: Sequence[YesNoQuestion]) -> None:
        """Questions about to be asked together (Anthropic marks their shared prefix for its cache); others: nothing."""


CAPABILITIES = ("concurrency", "usage", "final_structured_output", "samples")


def capability(backend: Any, name: str) -> Any:
    """A declared capability of ``backend``, or its default for a backend without it."""
    if name not in CAPABILITIES:
        raise AttributeError(f"{name!r} is not a backend capability ({', '.join(CAPABILITIES)})")
    return getattr(backend, name, getattr(BackendBase, name))


def remember_prefixes(backend: Any, questions: Sequence[YesNoQuestion]) -> None:
    """Tell ``backend`` these questions go together, where it has a use for that."""
    if (remember := getattr(backend, "remember_prefixes", None)) is not None:
        remember(questions)
