"""Structured generation of local models under the schema's grammar (judge/backends/grammar.py).

The model is the tiny random Llama, sampled at temperature 1: it writes noise, so every
output that validates does so because of the grammar, not the model."""

import asyncio
import json
from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from judge.backends import grammar
from judge.backends.base import GenerationError
from judge.backends.structured import BatchedVerdict, GeneratedVerdict, at_most, short_text
from judge.generate.contrastive import GeneratedRubric
from judge.generate.nuggets import ExtractedNuggets

ASK = [{"role": "user", "content": "Answer with JSON."}]


class Step(BaseModel):
    kind: Literal["claim", "check", "answer"]
    text: str = short_text(40)
    weight: int = Field(ge=1, le=3)


class Plan(BaseModel):  # nested objects, a bounded list of them, enums, integers in a range
    title: str = short_text(30)
    steps: list[Step] = at_most(3)
    done: bool


def generate(backend, schema, seed, max_tokens=1200):
    import torch

    torch.manual_seed(seed)
    return asyncio.run(backend.generate(ASK, schema=schema, max_tokens=max_tokens, temperature=1.0))


@pytest.mark.parametrize("schema", [Plan, GeneratedRubric, ExtractedNuggets, BatchedVerdict, GeneratedVerdict])
def test_a_random_model_writes_valid_json_for_every_schema_within_its_bounds(tiny_backend, schema):
    closed = grammar.closed(schema.model_json_schema())
    for seed in range(4):
        result = generate(tiny_backend, schema, seed)
        assert isinstance(result, schema)
        document = json.loads(result.model_dump_json(exclude_unset=True))
        jsonschema.validate(document, closed)  # maxItems, maxLength, enums, ranges, no extra keys


def test_lists_stop_at_their_bound_and_enums_hold(tiny_backend):
    seen_kinds, longest = set(), 0
    for seed in range(6):
        plan = generate(tiny_backend, Plan, seed)
        longest = max(longest, len(plan.steps))
        seen_kinds |= {step.kind for step in plan.steps}
        assert all(1 <= len(step.text) <= 40 and 1 <= step.weight <= 3 for step in plan.steps)
    assert longest <= 3 and seen_kinds <= {"claim", "check", "answer"}


def test_the_verdict_is_written_reasoning_first(tiny_backend):
    import torch

    for seed in range(3):
        torch.manual_seed(seed)
        text = grammar.generate_sync(tiny_backend, ASK, 1200, 1.0, GeneratedVerdict)
        assert text.startswith('{"reasoning":"') and text.endswith(("true}", "false}"))


def test_a_budget_too_small_is_reported_not_returned_as_broken_json(tiny_backend):
    with pytest.raises(GenerationError, match="not finished within max_tokens=5"):
        generate(tiny_backend, Plan, 0, max_tokens=5)


def test_the_free_text_path_remains_for_parse(tiny_llama, smollm2_tokenizer, monkeypatch):
    from judge.backends.local import LocalBackend

    backend = LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny", structured="parse")
    assert backend.identity()["structured"] == "parse"
    monkeypatch.setattr(grammar, "generate_sync", lambda *args: 'Sure: {"done": true, "title": "t"} and more')
    assert asyncio.run(backend.generate(ASK, schema=Plan)).done is True
    monkeypatch.setattr(grammar, "generate_sync", lambda *args: "no json at all")
    with pytest.raises(GenerationError, match="no JSON object"):
        asyncio.run(backend.generate(ASK, schema=Plan))
    with pytest.raises(ValueError, match="structured must be"):
        LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny", structured="json")


def test_a_validator_the_grammar_cannot_express_is_a_generation_error(tiny_backend):
    from pydantic import field_validator

    class Shouting(BaseModel):
        word: str = short_text(8)

        @field_validator("word")
        @classmethod
        def upper(cls, value: str) -> str:
            if value != value.upper() or not value.strip():
                raise ValueError("must be upper case")
            return value

    with pytest.raises(GenerationError, match="does not match Shouting"):
        for seed in range(3):
            generate(tiny_backend, Shouting, seed)


def test_constrained_output_is_final_so_only_semantic_problems_are_re_asked(tiny_backend):
    from judge.generate.run import generate_structured

    calls = []
    original = tiny_backend.generate

    async def counted(*args, **kwargs):
        calls.append(kwargs.get("max_tokens"))
        return await original(*args, **kwargs)

    tiny_backend.generate = counted
    with pytest.raises(GenerationError, match="not finished within"):
        asyncio.run(generate_structured(tiny_backend, ASK, Plan, reasks=2, max_tokens=5))
    assert len(calls) == 1  # a token budget is not fixed by asking again
    calls.clear()
    with pytest.raises(GenerationError, match="after 3 attempts: always wrong"):
        asyncio.run(
            generate_structured(tiny_backend, ASK, Plan, reasks=2, max_tokens=1200, check=lambda plan: "always wrong")
        )
    assert len(calls) == 3  # a semantic check is
