"""Turning generated text into a pydantic model, and the structured answers backends give."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from judge.backends.base import GenerationError

T = TypeVar("T", bound=BaseModel)


class CriterionLabel(BaseModel):
    id: str
    reasoning: str = ""
    satisfied: bool | str | int | None = Field(None, description="true if the response satisfies the criterion, else false")


class BatchedVerdict(BaseModel):
    """The answer to a batched request (judge/batched.py): one label per criterion key."""

    criteria: list[CriterionLabel]


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
