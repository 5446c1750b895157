"""A disk cache in front of any backend (diskcache: process- and thread-safe).

The key covers what changes a backend's output and nothing else: the backend identity
(backend, model, revision, dtype), the operation, the rendered messages, the template
version and decoding parameters. Failed scores are not cached, so a rerun retries them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import diskcache
from pydantic import BaseModel

from judge.backends.base import Backend, BackendBase, Message, YesNoQuestion, YesNoScore, capability, remember_prefixes
from judge.paths import cache_root

KEY_VERSION = 1


def default_cache_dir() -> Path:
    return cache_root() / "judgements"


class CachedBackend(BackendBase):
    """Wraps a backend; behaves as one. ``hits`` and ``misses`` count P(yes) lookups."""

    def __init__(self, inner: Backend, directory: str | Path | None = None, *, cache_sampled: bool = False):
        self.inner = inner
        self.name = inner.name
        self.model_id = inner.model_id
        self.context_window = inner.context_window
        self.cache_sampled = cache_sampled
        self.store = diskcache.Cache(str(directory or default_cache_dir()))
        self.hits = 0
        self.misses = 0

    # The wrapped backend's capabilities, forwarded one by one (judge.backends.base.BackendBase).
    @property
    def concurrency(self) -> int | None:  # type: ignore[override]
        return capability(self.inner, "concurrency")

    @property
    def usage(self) -> Any:
        return capability(self.inner, "usage")

    @property
    def final_structured_output(self) -> bool:  # type: ignore[override]
        return capability(self.inner, "final_structured_output")

    @property
    def samples(self) -> int:  # type: ignore[override]
        return capability(self.inner, "samples")

    def remember_prefixes(self, questions: Sequence[YesNoQuestion]) -> None:
        remember_prefixes(self.inner, questions)

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return self.inner.count_tokens(messages)

    def key(self, operation: str, messages: Sequence[Message], **parameters: Any) -> str:
        material = {
            "v": KEY_VERSION,
            "backend": self.inner.identity(),
            "op": operation,
            "messages": list(messages),
            **parameters,
        }
        return hashlib.sha256(
            json.dumps(material, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
        ).hexdigest()

    def p_yes_key(self, question: YesNoQuestion) -> str:
        return self.key("p_yes", question.messages, template=question.template_version)

    def known(self, key: str) -> bool:
        return key in self.store

    def remember(self, key: str, score: YesNoScore) -> None:
        """Keep a score under its key (failed scores are not kept: a rerun asks again)."""
        if score.p_yes is not None:
            self.store.set(
                key,
                {
                    "p_yes": score.p_yes,
                    "yes_no_mass": score.yes_no_mass,
                    "notes": list(score.notes),
                    "explanation": score.explanation,
                },
            )

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        keys = [self.p_yes_key(q) for q in questions]
        results: list[YesNoScore | None] = [self._lookup(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        self.hits += len(questions) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = await self.inner.p_yes([questions[i] for i in missing])
            for index, score in zip(missing, fresh):
                results[index] = score
                self.remember(keys[index], score)
        return results  # type: ignore[return-value]

    def _lookup(self, key: str) -> YesNoScore | None:
        value = self.store.get(key)
        if value is None:
            return None
        return YesNoScore(
            value["p_yes"],
            yes_no_mass=value["yes_no_mass"],
            notes=tuple(value["notes"]),
            explanation=value.get("explanation"),
        )

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel:
        use_cache = temperature == 0 or self.cache_sampled
        schema_json = schema.model_json_schema() if schema is not None else None
        key = self.key("generate", messages, schema=schema_json, max_tokens=max_tokens, temperature=temperature)
        if use_cache and (text := self.store.get(key)) is not None:
            return schema.model_validate_json(text) if schema is not None else text
        result = await self.inner.generate(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)
        if use_cache:
            self.store.set(key, result.model_dump_json() if isinstance(result, BaseModel) else result)
        return result

    def close(self) -> None:
        self.store.close()
