"""Turning generated text into a pydantic model, and the structured answers backends give."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, create_model

from judge.backends.base import BackendFatalError, GenerationError, Message

T = TypeVar("T", bound=BaseModel)


# Bounds for decoding. They sit in the JSON schema, which is the grammar a local model is
# decoded under (grammar.py), so a small model that would repeat itself forever has to close
# the list or the string. Validation does not enforce them: a longer answer from an API model
# is trimmed by its reader, as the prompts' "at most N" always were.
def at_most(items: int) -> Any:
    return Field(default_factory=list, json_schema_extra={"maxItems": items})


@functools.cache
def _bounded(schema: type[BaseModel], items: tuple[tuple[str, int], ...]) -> type[BaseModel]:
    fields: Any = {name: (schema.model_fields[name].annotation, at_most(n)) for name, n in items}
    return create_model(schema.__name__, __base__=schema, __doc__=schema.__doc__, **fields)


def with_bounds(schema: type[T], **items: int) -> type[T]:
    """The schema with these list fields bounded to at most N items: a generator asks for
    the number its settings keep, so a small model does not write lists it would lose."""
    return _bounded(schema, tuple(sorted(items.items())))  # type: ignore[return-value]


def short_text(max_chars: int, min_chars: int = 1) -> Any:
    return Field(json_schema_extra={"minLength": min_chars, "maxLength": max_chars})


Statement = Annotated[str, short_text(300, min_chars=10)]  # a criterion, a query, a nugget: a few words at least


class CriterionLabel(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"required": ["id", "reasoning", "satisfied"]}
    )  # all three written, in order

    id: str = Field(json_schema_extra={"maxLength": 16})
    reasoning: str = Field("", json_schema_extra={"maxLength": 200})
    # The schema (and so the grammar) asks for a boolean; the reader still takes "yes", 1, ...
    satisfied: Annotated[bool | str | int | None, WithJsonSchema({"type": "boolean"})] = Field(
        None, description="true if the response satisfies the criterion, else false"
    )


class BatchedVerdict(BaseModel):
    """The answer to a batched request (judge/shapes/batched.py): one label per criterion key."""

    criteria: list[CriterionLabel]


class GeneratedVerdict(BaseModel):
    """One criterion judged by a generated answer: the reasoning first, then the decision
    (the order the grammar makes a local model write them in)."""

    reasoning: str = short_text(600)
    satisfied: bool


async def instance_or_error(backend: Any, messages: list[Message], schema: type[T], max_tokens: int) -> T | Exception:
    """The backend's answer as a schema instance (temperature 0), or the exception that
    stopped it: the caller records it as unscored. A fatal backend error still raises."""
    try:
        answer = await backend.generate(messages, schema=schema, max_tokens=max_tokens, temperature=0.0)
        if not isinstance(answer, schema):
            raise TypeError(f"expected a {schema.__name__}, got {type(answer).__name__}")
    except BackendFatalError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes an unscored value
        return e
    return answer


def first_json_object(text: str) -> str | None:
    """The first balanced {...} in text (models often wrap JSON in prose or fences)."""
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char == "{":
            try:
                _, end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            return text[start:end]
    return None


def parse_structured(text: str, schema: type[T]) -> T:
    candidate = first_json_object(text)
    if candidate is None:
        raise GenerationError(f"no JSON object in the output for {schema.__name__}", text)
    try:
        return schema.model_validate_json(candidate)
    except ValidationError as e:
        raise GenerationError(f"output does not match {schema.__name__}: {e.errors()[0]['msg']}", text) from None
